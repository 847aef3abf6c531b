//! Fuzzes the patch engine end to end (read → run → write): see `checks::engine`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::engine(data));

//! Fuzzes the patch-file loader: any text is a patch set or an error, never a panic or a hang.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::patchfile_parse(data));

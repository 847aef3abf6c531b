//! Fuzzes the stream reader: any bytes either fail to read with an error, or read and write
//! back byte for byte (nothing was changed, so nothing may be re-emitted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::stream_roundtrip(data));

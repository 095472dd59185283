//! `cargo fuzz run --fuzz-dir tests/fuzz wav`: see `sqrtspace::fuzz::wav`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrtspace::fuzz::wav(data));

//! `cargo fuzz run --fuzz-dir tests/fuzz lines`: see `sqrtspace::fuzz::lines`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrtspace::fuzz::lines(data));

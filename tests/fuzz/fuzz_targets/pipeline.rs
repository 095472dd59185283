//! `cargo fuzz run --fuzz-dir tests/fuzz pipeline`: see `sqrtspace::fuzz::pipeline`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrtspace::fuzz::pipeline(data));

//! `cargo fuzz run --fuzz-dir tests/fuzz npy`: see `sqrtspace::fuzz::npy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrtspace::fuzz::npy(data));

//! `cargo fuzz run --fuzz-dir tests/fuzz plugin_output`: see `sqrtspace::fuzz::plugin_output`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrtspace::fuzz::plugin_output(data));

//! Paths of the Wasm plugins the tests use, built by this crate's build script: the example
//! plugins and the hostile ones that must be stopped.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

//! Hostile: a correct plugin, built against `sqrtspace:pipeline@0.0.1`, a version no host
//! ever spoke (the first contract was 0.1.0), so it stays unknown as the contract moves on.
//! The host must refuse it and name the versions.
#![cfg(target_arch = "wasm32")]
// The bindings wit-bindgen generates here export functions by symbol name.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::sqrtspace::pipeline::stage::{
    Block, Configured, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

struct OldWit;

impl Guest for OldWit {
    fn describe() -> StageInfo {
        StageInfo {
            name: "old-wit".into(),
            version: "0.1.0".into(),
            description: String::new(),
            stateful: false,
        }
    }
    fn configure(_: Params, inputs: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        let output = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        Ok(Configured { output, context: 0 })
    }
    fn process(_: Block, inputs: Vec<Tensor>) -> Result<Tensor, Error> {
        inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))
    }
    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("not a kernel".into()))
    }
    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("not a kernel".into()))
    }
}

export!(OldWit);

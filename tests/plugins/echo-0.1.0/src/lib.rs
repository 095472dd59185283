//! A plugin as it was written for `sqrtspace:pipeline@0.1.0`, against the frozen copy of that
//! contract (`wit/0.1.0/`): it returns its first input unchanged, whatever its element type,
//! and text arrives and leaves as one `String` per element. Hosts that speak a newer contract
//! must still load and run it: the tests build it from this source and compare its output
//! with the input and with `echo`'s, built against the current contract. Do not port it.
#![cfg(target_arch = "wasm32")]
// The bindings wit-bindgen generates here export functions by symbol name.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "plugin" });

use exports::sqrtspace::pipeline::stage::{
    Block, Configured, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

struct Echo;

impl Guest for Echo {
    fn describe() -> StageInfo {
        StageInfo {
            name: "echo-0.1.0".into(),
            version: "0.1.0".into(),
            description: "returns its input, as a plugin built against contract 0.1.0".into(),
            stateful: false,
        }
    }

    fn configure(_: Params, inputs: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        let output = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("echo needs an input".into()))?;
        Ok(Configured { output, context: 0 })
    }

    fn process(_: Block, inputs: Vec<Tensor>) -> Result<Tensor, Error> {
        inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("echo needs an input".into()))
    }

    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("echo is a stage, not a kernel".into()))
    }

    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("echo is a stage, not a kernel".into()))
    }
}

export!(Echo);

//! Hostile: declares rows as wide as its input, then returns rows one element shorter.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::bindings::exports::sqrtspace::pipeline::stage::{
    Block, Configured, Data, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

struct WrongShape;

impl Guest for WrongShape {
    fn describe() -> StageInfo {
        StageInfo {
            name: "wrong-shape".into(),
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
    fn process(block: Block, _: Vec<Tensor>) -> Result<Tensor, Error> {
        Ok(Tensor {
            shape: vec![block.rows, 3],
            data: Data::F32(vec![0.0; block.rows as usize * 3]),
        })
    }
    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("not a kernel".into()))
    }
    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("not a kernel".into()))
    }
}

sqrtspace_sdk::bindings::__export_plugin!(WrongShape with_types_in sqrtspace_sdk::bindings);

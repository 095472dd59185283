//! Hostile: declares its input's layout, then returns something else: rows one element
//! short with `params: (returns: Shape)`, f64 values with `params: (returns: Dtype)`. It
//! bypasses the SDK, which would not let a stage lie about its layout.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use sqrtspace_sdk::bindings::exports::sqrtspace::pipeline::stage::{
    Block, Configured, Data, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

thread_local! {
    /// Whether to lie about the element type (else about the row shape), and the row width.
    static LIE: Cell<(bool, u32)> = const { Cell::new((false, 0)) };
}

struct Malformed;

impl Guest for Malformed {
    fn describe() -> StageInfo {
        StageInfo {
            name: "malformed".into(),
            version: "0.1.0".into(),
            description: String::new(),
            stateful: false,
        }
    }

    fn configure(params: Params, inputs: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        let output = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        let width = output.row_shape.iter().product();
        LIE.with(|lie| lie.set((params.ron.contains("Dtype"), width)));
        Ok(Configured { output, context: 0 })
    }

    fn process(block: Block, _: Vec<Tensor>) -> Result<Tensor, Error> {
        let (dtype, width) = LIE.with(Cell::get);
        let rows = block.rows;
        Ok(if dtype {
            Tensor {
                shape: vec![rows, width],
                data: Data::F64(vec![0.0; (rows * width) as usize]),
            }
        } else {
            Tensor {
                shape: vec![rows, width - 1],
                data: Data::F32(vec![0.0; (rows * (width - 1)) as usize]),
            }
        })
    }

    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("not a kernel".into()))
    }

    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("not a kernel".into()))
    }
}

sqrtspace_sdk::bindings::__export_plugin!(Malformed with_types_in sqrtspace_sdk::bindings);

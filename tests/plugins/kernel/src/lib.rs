//! Hostile kernel: passes its input through and misbehaves as `params: (does: "...", n: N)`
//! says:
//! - `init-fails`: `init-state` returns an error;
//! - `init-traps`: `init-state` panics (a trap);
//! - `init-loops`: `init-state` never returns;
//! - `big-state`: a state of `n` bytes;
//! - `growing-state`: a state `n` bytes longer after every call.
//!
//! It bypasses the SDK, which would not let a kernel do most of this.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;

use sqrtspace_sdk::bindings::exports::sqrtspace::pipeline::stage::{
    Block, Configured, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

thread_local! {
    /// What to do, and how many bytes.
    static DOES: RefCell<(String, usize)> = const { RefCell::new((String::new(), 0)) };
}

mod params;
use params::parse;

fn does() -> (String, usize) {
    DOES.with(|d| d.borrow().clone())
}

struct Hostile;

impl Guest for Hostile {
    fn describe() -> StageInfo {
        StageInfo {
            name: "hostile-kernel".into(),
            version: "0.1.0".into(),
            description: String::new(),
            stateful: true,
        }
    }

    fn configure(params: Params, inputs: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        let output = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        DOES.with(|d| *d.borrow_mut() = parse(&params.ron));
        Ok(Configured { output, context: 0 })
    }

    fn process(_: Block, _: Vec<Tensor>) -> Result<Tensor, Error> {
        Err(Error::Failed("a kernel".into()))
    }

    fn init_state() -> Result<Vec<u8>, Error> {
        let (does, n) = does();
        match does.as_str() {
            "init-fails" => Err(Error::State("no initial state today".into())),
            "init-traps" => panic!("init-state panics on purpose"),
            "init-loops" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "big-state" => Ok(vec![7; n]),
            _ => Ok(Vec::new()),
        }
    }

    fn step(_: Block, inputs: Vec<Tensor>, state: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        let (does, n) = does();
        let mut state = state;
        if does == "growing-state" {
            state.resize(state.len() + n, 1);
        }
        let input = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        Ok((input, state))
    }
}

sqrtspace_sdk::bindings::__export_plugin!(Hostile with_types_in sqrtspace_sdk::bindings);

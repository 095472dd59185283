//! Hostile: `describe` never returns. `sqrtspace plugin inspect` must stop it at its deadline
//! and say so.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::bindings::exports::sqrtspace::pipeline::stage::{
    Block, Configured, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

struct Hostile;

impl Guest for Hostile {
    fn describe() -> StageInfo {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn configure(_: Params, _: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        Err(Error::Failed("never configured".into()))
    }

    fn process(_: Block, _: Vec<Tensor>) -> Result<Tensor, Error> {
        Err(Error::Failed("never called".into()))
    }

    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("never called".into()))
    }

    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("never called".into()))
    }
}

sqrtspace_sdk::bindings::__export_plugin!(Hostile with_types_in sqrtspace_sdk::bindings);

//! Returns its input rows unchanged: what a plugin call costs, without the work.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::ndarray::Array2;
use sqrtspace_sdk::{Block, Error, NoParams};

fn identity(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
    Ok(block.f32(0)?.to_owned())
}

sqrtspace_sdk::export_stage!(identity, name = "identity", version = "0.1.0");

//! Hostile: panics on the first block (in Wasm, a trap).
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::ndarray::Array2;
use sqrtspace_sdk::{Block, Error, NoParams};

fn panics(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
    let input = block.f32(0)?;
    assert!(input.nrows() == 0, "this plugin panics on purpose");
    Ok(input.to_owned())
}

sqrtspace_sdk::export_stage!(panics, name = "panic", version = "0.1.0");

//! Hostile: loops forever on the first block. The host's epoch deadline must stop it.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::ndarray::Array2;
use sqrtspace_sdk::{Block, Error, NoParams};

fn spin(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
    let input = block.f32(0)?;
    let mut x = 0u64;
    // Zero rows only happens while configuring, which must succeed.
    while input.nrows() > 0 {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    Ok(input.to_owned())
}

sqrtspace_sdk::export_stage!(spin, name = "spin", version = "0.1.0");

//! Hostile: asks for a gigabyte on every block. The host's memory cap must refuse it.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::ndarray::Array2;
use sqrtspace_sdk::{Block, Error, NoParams};

fn hog(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
    let input = block.f32(0)?;
    if input.nrows() > 0 {
        let big = vec![1u8; 1 << 30];
        std::hint::black_box(&big);
    }
    Ok(input.to_owned())
}

sqrtspace_sdk::export_stage!(hog, name = "hog", version = "0.1.0");

//! Write [sqrtspace](https://github.com/sqrtspace/sqrtspace) stages in Rust and compile them to
//! sandboxed Wasm components.
//!
//! A **stage** is one function from a [`Block`] of windows (and its parameters) to output rows,
//! plus one export line:
//!
//! ```
//! use sqrtspace_sdk::ndarray::Array2;
//! use sqrtspace_sdk::{Block, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Params { gain: f32 }
//!
//! /// Every element times `gain`.
//! fn scale(block: &Block, params: &Params) -> Result<Array2<f32>, Error> {
//!     Ok(block.f32(0)?.mapv(|v| v * params.gain))
//! }
//!
//! sqrtspace_sdk::export_stage!(scale, name = "scale", version = "0.1.0");
//! ```
//!
//! A **kernel** carries state from block to block; the state is a serde type that the host
//! stores as bytes in its checkpoints:
//!
//! ```
//! use sqrtspace_sdk::ndarray::Array2;
//! use sqrtspace_sdk::{Block, Config, Error, Kernel, NoParams};
//!
//! /// Running sum of every element over time.
//! struct Cumulative;
//!
//! impl Kernel for Cumulative {
//!     type Params = NoParams;
//!     type State = Vec<f32>;
//!     type Output = Array2<f32>;
//!     fn init(_: &NoParams, config: &Config) -> Result<Vec<f32>, Error> {
//!         Ok(vec![0.0; config.inputs[0].row_len()])
//!     }
//!     fn step(block: &Block, _: &NoParams, sums: &mut Vec<f32>) -> Result<Array2<f32>, Error> {
//!         let mut out = block.f32(0)?.to_owned();
//!         for mut row in out.rows_mut() {
//!             for (v, s) in row.iter_mut().zip(sums.iter_mut()) {
//!                 *s += *v;
//!                 *v = *s;
//!             }
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! sqrtspace_sdk::export_kernel!(Cumulative, name = "cumulative", version = "0.1.0");
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` and
//! `linker = "wasm-component-ld"` for that target (the sqrtspace workspace's
//! `.cargo/config.toml` sets it): the result is a component that imports nothing.
//!
//! Parameters come from the pipeline file (`Plugin(path: "...", params: (gain: 2.0))`) and are
//! read with serde from their RON text; use [`NoParams`] when there are none. At configuration the host tells the
//! stage its inputs' layouts and the stage says what it outputs: the function is called once
//! on a block of zero rows, so it must work on empty input (row-by-row code does).

#![deny(missing_docs)]

pub use ndarray;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[doc(hidden)]
#[path = "rt.rs"]
pub mod __rt;
mod block;
mod export;
mod params;

pub use block::{Block, Config, Layout, Output, TextBuilder, TextRow, TextRows, map_rows};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "::sqrtspace_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub(crate) use bindings::exports::sqrtspace::pipeline::stage as wit;

/// Why a stage refused a block or its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Parameters missing, malformed or out of range.
    Params(String),
    /// An input has the wrong number, type or shape.
    Input(String),
    /// A kernel state cannot be used.
    State(String),
    /// Anything else.
    Failed(String),
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> wit::Error {
        match e {
            Error::Params(m) => wit::Error::Params(m),
            Error::Input(m) => wit::Error::Input(m),
            Error::State(m) => wit::Error::State(m),
            Error::Failed(m) => wit::Error::Failed(m),
        }
    }
}

/// Parameters of a stage that takes none (`()`, or nothing at all, in the pipeline).
#[derive(Debug, Default, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Element types.
pub use wit::Dtype;

/// A spectrum's frequency axis: element `i` is at `first_hz + i * step_hz`.
pub use wit::FrequencyAxis;

/// A kernel: `step(block, state) -> (rows, state')`, with its state serialized by serde.
pub trait Kernel {
    /// Parameters, read from the pipeline with serde.
    type Params: DeserializeOwned;
    /// The state carried from block to block.
    type State: Serialize + DeserializeOwned;
    /// The rows each step returns.
    type Output: Output;
    /// The state before the first window, given the parameters and the configuration.
    fn init(params: &Self::Params, config: &Config) -> Result<Self::State, Error>;
    /// One block: the output rows, with `state` advanced past them.
    fn step(
        block: &Block,
        params: &Self::Params,
        state: &mut Self::State,
    ) -> Result<Self::Output, Error>;
}

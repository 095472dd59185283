//! Hostile pure stage: misbehaves as `params: (does: "...", n: N)` says:
//! - `overflow-shape`: declares rows of 65536 × 65536 × 65536 × 65536 elements;
//! - `huge-context`: declares a context of u32::MAX rows;
//! - `wide`: rows of `n` f32 zeros, whatever its input;
//! - `forged-error`: fails with a message holding a newline, a forged `error:` line, ANSI
//!   escapes and BEL;
//! - `huge-error`: fails with a message of `n` bytes;
//! - `nondeterministic`: adds the number of calls so far to every value, so two runs over the
//!   same rows differ.
//!
//! It bypasses the SDK, which would not let a stage do most of this.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};

use sqrtspace_sdk::bindings::exports::sqrtspace::pipeline::stage::{
    Block, Configured, Data, Dtype, Error, Guest, Layout, Params, Signal, StageInfo, Tensor,
};

thread_local! {
    /// What to do, and how many.
    static DOES: RefCell<(String, usize)> = const { RefCell::new((String::new(), 0)) };
    /// Calls of `process` so far.
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

#[path = "../../kernel/src/params.rs"]
mod params;
use params::parse;

struct Hostile;

impl Guest for Hostile {
    fn describe() -> StageInfo {
        StageInfo {
            name: "hostile-stage".into(),
            version: "0.1.0".into(),
            description: String::new(),
            stateful: false,
        }
    }

    fn configure(params: Params, inputs: Vec<Layout>, _: Signal) -> Result<Configured, Error> {
        let input = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        let (does, n) = parse(&params.ron);
        let configured = match does.as_str() {
            "overflow-shape" => Configured {
                output: Layout {
                    dtype: Dtype::F32,
                    row_shape: vec![65536; 4],
                    frequency: None,
                },
                context: 0,
            },
            "huge-context" => Configured {
                output: input,
                context: u32::MAX,
            },
            "wide" => Configured {
                output: Layout {
                    dtype: Dtype::F32,
                    row_shape: vec![n as u32],
                    frequency: None,
                },
                context: 0,
            },
            _ => Configured {
                output: input,
                context: 0,
            },
        };
        DOES.with(|d| *d.borrow_mut() = (does, n));
        Ok(configured)
    }

    fn process(block: Block, inputs: Vec<Tensor>) -> Result<Tensor, Error> {
        let (does, n) = DOES.with(|d| d.borrow().clone());
        let calls = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let input = inputs
            .into_iter()
            .next()
            .ok_or(Error::Input("needs an input".into()))?;
        match does.as_str() {
            "wide" => Ok(Tensor {
                shape: vec![block.rows, n as u32],
                data: Data::F32(vec![0.0; block.rows as usize * n]),
            }),
            "forged-error" if block.rows > 0 => Err(Error::Failed(
                "bad\nerror: all your data is gone\x1b[2J\x1b[31mred\x07".into(),
            )),
            "huge-error" if block.rows > 0 => Err(Error::Failed("x".repeat(n))),
            "nondeterministic" => {
                let skip = block.context_rows as usize;
                let Data::F32(values) = input.data else {
                    return Err(Error::Input("takes f32".into()));
                };
                let width: u32 = input.shape[1..].iter().product();
                let out: Vec<f32> = values[skip * width as usize..]
                    .iter()
                    .map(|v| v + calls as f32)
                    .collect();
                let mut shape = input.shape;
                shape[0] = block.rows;
                Ok(Tensor {
                    shape,
                    data: Data::F32(out),
                })
            }
            _ => {
                let skip = block.context_rows as usize;
                let width: u32 = input.shape[1..].iter().product();
                let mut shape = input.shape;
                shape[0] = block.rows;
                let data = match input.data {
                    Data::F32(v) => Data::F32(v[skip * width as usize..].to_vec()),
                    other => other,
                };
                Ok(Tensor { shape, data })
            }
        }
    }

    fn init_state() -> Result<Vec<u8>, Error> {
        Err(Error::Failed("not a kernel".into()))
    }

    fn step(_: Block, _: Vec<Tensor>, _: Vec<u8>) -> Result<(Tensor, Vec<u8>), Error> {
        Err(Error::Failed("not a kernel".into()))
    }
}

sqrtspace_sdk::bindings::__export_plugin!(Hostile with_types_in sqrtspace_sdk::bindings);

//! One instantiated plugin of whichever contract version it was built against, called in the
//! current contract's types: [`Exports`], and the input tensors it is handed, [`Inputs`]. A
//! plugin built against 0.1.0 gets its arguments converted, and its results converted back.

use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::contract::{Contract, bindings, bindings_0_1, wit, wit_0_1};
use super::convert::{to_wit, to_wit_0_1};
use super::sandbox::Limiter;

/// Input tensors in the types of a plugin's contract, kept from call to call so their
/// buffers are reused.
pub(super) enum Inputs {
    Current(Vec<wit::Tensor>),
    V0_1(Vec<wit_0_1::Tensor>),
}

impl Inputs {
    pub(super) fn new(contract: Contract) -> Inputs {
        match contract {
            Contract::Current => Inputs::Current(Vec::new()),
            Contract::V0_1 => Inputs::V0_1(Vec::new()),
        }
    }

    /// Makes them copies of `views`.
    pub(super) fn fill(
        &mut self,
        views: &[crate::tensor::TensorView<'_>],
    ) -> Result<(), crate::stage::StageError> {
        match self {
            Inputs::Current(tensors) => {
                tensors.resize_with(views.len(), || wit::Tensor {
                    shape: Vec::new(),
                    data: wit::Data::F32(Vec::new()),
                });
                for (view, tensor) in views.iter().zip(tensors) {
                    to_wit(view, tensor)?;
                }
            }
            Inputs::V0_1(tensors) => {
                tensors.resize_with(views.len(), || wit_0_1::Tensor {
                    shape: Vec::new(),
                    data: wit_0_1::Data::F32(Vec::new()),
                });
                for (view, tensor) in views.iter().zip(tensors) {
                    to_wit_0_1(view, tensor)?;
                }
            }
        }
        Ok(())
    }
}

/// One instantiated plugin, of whichever contract; every call takes and returns the current
/// contract's types, converting for an older plugin.
pub(super) enum Exports {
    Current(bindings::Plugin),
    V0_1(bindings_0_1::Plugin),
}

type Call<T> = wasmtime::Result<Result<T, wit::Error>>;

impl Exports {
    pub(super) fn instantiate(
        contract: Contract,
        store: &mut Store<Limiter>,
        component: &Component,
        linker: &Linker<Limiter>,
    ) -> wasmtime::Result<Exports> {
        Ok(match contract {
            Contract::Current => {
                Exports::Current(bindings::Plugin::instantiate(store, component, linker)?)
            }
            Contract::V0_1 => {
                Exports::V0_1(bindings_0_1::Plugin::instantiate(store, component, linker)?)
            }
        })
    }

    pub(super) fn describe(&self, store: &mut Store<Limiter>) -> wasmtime::Result<wit::StageInfo> {
        match self {
            Exports::Current(p) => p.sqrtspace_pipeline_stage().call_describe(store),
            Exports::V0_1(p) => {
                let i = p.sqrtspace_pipeline_stage().call_describe(store)?;
                Ok(wit::StageInfo {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                    stateful: i.stateful,
                })
            }
        }
    }

    pub(super) fn configure(
        &self,
        store: &mut Store<Limiter>,
        params: &wit::Params,
        inputs: &[wit::Layout],
        signal: wit::Signal,
    ) -> Call<wit::Configured> {
        match self {
            Exports::Current(p) => p
                .sqrtspace_pipeline_stage()
                .call_configure(store, params, inputs, signal),
            Exports::V0_1(p) => {
                let params = wit_0_1::Params {
                    ron: params.ron.clone(),
                    json: params.json.clone(),
                };
                let inputs: Vec<_> = inputs.iter().map(layout_to_0_1).collect();
                let signal = wit_0_1::Signal {
                    sample_rate: signal.sample_rate,
                    window: signal.window,
                    hop: signal.hop,
                };
                let configured = p
                    .sqrtspace_pipeline_stage()
                    .call_configure(store, &params, &inputs, signal)?;
                Ok(configured
                    .map(|c| wit::Configured {
                        output: layout_from_0_1(c.output),
                        context: c.context,
                    })
                    .map_err(error_from_0_1))
            }
        }
    }

    pub(super) fn process(
        &self,
        store: &mut Store<Limiter>,
        block: wit::Block,
        inputs: &Inputs,
    ) -> Call<wit::Tensor> {
        match (self, inputs) {
            (Exports::Current(p), Inputs::Current(inputs)) => p
                .sqrtspace_pipeline_stage()
                .call_process(store, block, inputs),
            (Exports::V0_1(p), Inputs::V0_1(inputs)) => {
                let out = p.sqrtspace_pipeline_stage().call_process(
                    store,
                    block_to_0_1(block),
                    inputs,
                )?;
                Ok(out.map(tensor_from_0_1).map_err(error_from_0_1))
            }
            _ => Ok(Err(mismatched())),
        }
    }

    pub(super) fn init_state(&self, store: &mut Store<Limiter>) -> Call<Vec<u8>> {
        match self {
            Exports::Current(p) => p.sqrtspace_pipeline_stage().call_init_state(store),
            Exports::V0_1(p) => Ok(p
                .sqrtspace_pipeline_stage()
                .call_init_state(store)?
                .map_err(error_from_0_1)),
        }
    }

    pub(super) fn step(
        &self,
        store: &mut Store<Limiter>,
        block: wit::Block,
        inputs: &Inputs,
        state: &[u8],
    ) -> Call<(wit::Tensor, Vec<u8>)> {
        match (self, inputs) {
            (Exports::Current(p), Inputs::Current(inputs)) => p
                .sqrtspace_pipeline_stage()
                .call_step(store, block, inputs, state),
            (Exports::V0_1(p), Inputs::V0_1(inputs)) => {
                let out = p.sqrtspace_pipeline_stage().call_step(
                    store,
                    block_to_0_1(block),
                    inputs,
                    state,
                )?;
                Ok(out
                    .map(|(tensor, state)| (tensor_from_0_1(tensor), state))
                    .map_err(error_from_0_1))
            }
            _ => Ok(Err(mismatched())),
        }
    }
}

/// Inputs prepared for another contract than the instance's (a host bug, never a plugin's).
fn mismatched() -> wit::Error {
    wit::Error::Failed("the host prepared inputs for another contract version".into())
}

fn dtype_to_0_1(d: wit::Dtype) -> wit_0_1::Dtype {
    match d {
        wit::Dtype::F32 => wit_0_1::Dtype::F32,
        wit::Dtype::F64 => wit_0_1::Dtype::F64,
        wit::Dtype::C32 => wit_0_1::Dtype::C32,
        wit::Dtype::S32 => wit_0_1::Dtype::S32,
        wit::Dtype::U8 => wit_0_1::Dtype::U8,
        wit::Dtype::Text => wit_0_1::Dtype::Text,
    }
}

fn dtype_from_0_1(d: wit_0_1::Dtype) -> wit::Dtype {
    match d {
        wit_0_1::Dtype::F32 => wit::Dtype::F32,
        wit_0_1::Dtype::F64 => wit::Dtype::F64,
        wit_0_1::Dtype::C32 => wit::Dtype::C32,
        wit_0_1::Dtype::S32 => wit::Dtype::S32,
        wit_0_1::Dtype::U8 => wit::Dtype::U8,
        wit_0_1::Dtype::Text => wit::Dtype::Text,
    }
}

fn layout_to_0_1(l: &wit::Layout) -> wit_0_1::Layout {
    wit_0_1::Layout {
        dtype: dtype_to_0_1(l.dtype),
        row_shape: l.row_shape.clone(),
        frequency: l.frequency.map(|a| wit_0_1::FrequencyAxis {
            first_hz: a.first_hz,
            step_hz: a.step_hz,
        }),
    }
}

fn layout_from_0_1(l: wit_0_1::Layout) -> wit::Layout {
    wit::Layout {
        dtype: dtype_from_0_1(l.dtype),
        row_shape: l.row_shape,
        frequency: l.frequency.map(|a| wit::FrequencyAxis {
            first_hz: a.first_hz,
            step_hz: a.step_hz,
        }),
    }
}

fn block_to_0_1(b: wit::Block) -> wit_0_1::Block {
    wit_0_1::Block {
        t0: b.t0,
        rows: b.rows,
        context_rows: b.context_rows,
    }
}

fn error_from_0_1(e: wit_0_1::Error) -> wit::Error {
    match e {
        wit_0_1::Error::Params(m) => wit::Error::Params(m),
        wit_0_1::Error::Input(m) => wit::Error::Input(m),
        wit_0_1::Error::State(m) => wit::Error::State(m),
        wit_0_1::Error::Failed(m) => wit::Error::Failed(m),
    }
}

/// A 0.1.0 plugin's output in the current types: numbers move as they are, text is packed
/// into one buffer (its ends checked by [`super::convert::accept`] like any plugin's).
fn tensor_from_0_1(t: wit_0_1::Tensor) -> wit::Tensor {
    let data = match t.data {
        wit_0_1::Data::F32(v) => wit::Data::F32(v),
        wit_0_1::Data::F64(v) => wit::Data::F64(v),
        wit_0_1::Data::C32(v) => wit::Data::C32(v),
        wit_0_1::Data::S32(v) => wit::Data::S32(v),
        wit_0_1::Data::U8(v) => wit::Data::U8(v),
        wit_0_1::Data::Text(strings) => {
            let mut buffer = wit::TextBuffer {
                bytes: Vec::with_capacity(strings.iter().map(String::len).sum()),
                ends: Vec::with_capacity(strings.len()),
            };
            for s in &strings {
                buffer.bytes.extend_from_slice(s.as_bytes());
                // Past 4 GiB the ends wrap and `accept` refuses them.
                buffer.ends.push(buffer.bytes.len() as u32);
            }
            wit::Data::Text(buffer)
        }
    };
    wit::Tensor {
        shape: t.shape,
        data,
    }
}

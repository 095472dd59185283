//! Stages: the named steps of a pipeline. A stage is one of two kinds: **pure** (a function of
//! its input rows, [`Pure`]) or a **kernel** (rows plus explicit state, [`Kernel`]); the
//! planner builds an [`Operator`] for each stage, and each executor (each worker) makes its
//! own [`Instance`] of it. Built-in operators are in [`builtin`]; plugins are built by the
//! plugin host.
//!
//! The contract that makes classic and sqrt mode bit-identical: output row `t` of a pure stage
//! depends only on input rows `t - context ..= t`, computed by the same code whatever block it
//! falls in; a kernel's output and next state depend only on its inputs and its state, and
//! stepping over `[a, b)` then `[b, c)` gives the same bits as stepping over `[a, c)`.

pub mod builtin;

use std::fmt;

use crate::tensor::{DType, Layout, Tensor, TensorError, TensorView};

/// One call of a stage or kernel on a block of windows.
#[derive(Clone, Copy, Debug)]
pub struct StageCall<'a> {
    /// Window index of the first output row.
    pub t0: u64,
    /// Number of output rows.
    pub rows: usize,
    /// Leading rows of every input that come before `t0` (the declared context, or fewer at
    /// the start of the stream). Each input has `context_rows + rows` rows.
    pub context_rows: usize,
    /// The inputs, in the order the pipeline lists them.
    pub inputs: &'a [TensorView<'a>],
}

impl<'a> StageCall<'a> {
    /// Input `index`, or an error naming it when a stage is called with fewer inputs.
    pub fn input(&self, index: usize) -> Result<&TensorView<'a>, StageError> {
        self.inputs
            .get(index)
            .ok_or(StageError::MissingInput { index })
    }
}

/// A pure stage: output rows from input rows, nothing carried between calls.
///
/// `&mut self` is for scratch buffers only (an FFT's work area); it must not change results.
pub trait Pure: Send {
    /// Computes `call.rows` output rows into `out` (which the stage resets to its layout).
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError>;
    /// Memory the instance holds beyond its outputs (a Wasm instance's linear memory), bytes.
    fn memory_bytes(&self) -> u64 {
        0
    }
    /// Time spent so far copying blocks across a plugin boundary, ns (0 for a native stage).
    fn copy_nanos(&self) -> u64 {
        0
    }
}

/// A kernel: a stage that carries state, `step(inputs, state) -> (output, state')`.
///
/// The state lives in the instance; the executor copies it out as a byte blob for
/// checkpoints and puts it back to resume from one.
pub trait Kernel: Send {
    /// Puts the kernel in its initial state (window 0); a kernel whose initial state cannot be
    /// made (a plugin's `init-state` that fails, traps or runs past its deadline) says why, and
    /// the run stops.
    fn reset(&mut self) -> Result<(), StageError>;
    /// Computes `call.rows` output rows and advances the state past them.
    fn step(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError>;
    /// The current state as bytes.
    fn save_state(&self) -> Vec<u8>;
    /// Restores a state from [`Kernel::save_state`].
    fn load_state(&mut self, state: &[u8]) -> Result<(), StageError>;
    /// Time spent so far copying blocks across a plugin boundary, ns (0 for a native kernel).
    fn copy_nanos(&self) -> u64 {
        0
    }
}

/// A ready-to-run instance of an operator.
pub enum Instance {
    /// A pure stage.
    Pure(Box<dyn Pure>),
    /// A stateful kernel.
    Kernel(Box<dyn Kernel>),
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Instance::Pure(_) => "Instance::Stage",
            Instance::Kernel(_) => "Instance::Kernel",
        })
    }
}

/// Frequency of each element along a spectrum's row: element `i` is at
/// `first_hz + i * step_hz`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct FreqAxis {
    /// Frequency of the first element.
    pub first_hz: f64,
    /// Spacing between elements.
    pub step_hz: f64,
}

impl FreqAxis {
    /// Frequency of element `i`.
    pub fn hz(&self, i: usize) -> f64 {
        self.first_hz + i as f64 * self.step_hz
    }
}

/// What flows out of a stage: its layout, and what its row axis means when it is a spectrum.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Port {
    /// Element type and row shape.
    pub layout: Layout,
    /// Set when rows are spectra.
    pub freq_axis: Option<FreqAxis>,
}

impl Port {
    /// A port with no frequency axis.
    pub fn plain(dtype: DType, row_shape: Vec<usize>) -> Port {
        Port {
            layout: Layout::new(dtype, row_shape),
            freq_axis: None,
        }
    }
}

/// A validated, built operator: the planner's view of a stage.
pub trait Operator: Send + Sync + fmt::Debug {
    /// What the operator outputs.
    fn output(&self) -> &Port;
    /// Earlier input rows each output row needs.
    fn context(&self) -> usize {
        0
    }
    /// Whether it carries state (a kernel).
    fn is_kernel(&self) -> bool {
        false
    }
    /// A fresh instance (one per executor, later one per worker).
    fn instantiate(&self) -> Result<Instance, StageError>;
}

/// What an operator is built against.
#[derive(Clone, Copy, Debug)]
pub struct BuildContext<'a> {
    /// The ports of the stage's inputs, in order.
    pub inputs: &'a [Port],
    /// Samples per second of the input signal.
    pub sample_rate: f64,
    /// Window length in samples.
    pub window: usize,
    /// Hop between windows in samples.
    pub hop: usize,
    /// Directory of the pipeline file, where relative plugin paths are looked for.
    pub base_dir: Option<&'a std::path::Path>,
}

impl BuildContext<'_> {
    /// Rows per second: windows are `hop` samples apart.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate / self.hop as f64
    }

    /// Checks the number of inputs.
    pub fn expect_inputs(&self, expected: usize) -> Result<(), BuildError> {
        if self.inputs.len() == expected {
            Ok(())
        } else {
            Err(BuildError::Arity {
                expected: expected.to_string(),
                found: self.inputs.len(),
            })
        }
    }

    /// Checks that there is at least one input.
    pub fn expect_some_inputs(&self) -> Result<(), BuildError> {
        if self.inputs.is_empty() {
            Err(BuildError::Arity {
                expected: "at least 1".into(),
                found: 0,
            })
        } else {
            Ok(())
        }
    }

    /// Input `index`, checked to have `dtype`.
    pub fn input(&self, index: usize, dtype: DType) -> Result<&Port, BuildError> {
        let port = self.inputs.get(index).ok_or(BuildError::Arity {
            expected: format!("more than {index}"),
            found: self.inputs.len(),
        })?;
        if port.layout.dtype == dtype {
            Ok(port)
        } else {
            Err(BuildError::DType {
                index,
                expected: dtype,
                found: port.layout.dtype,
            })
        }
    }
}

/// Why a stage could not be built from its spec and inputs.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BuildError {
    /// Wrong number of inputs.
    #[error("takes {expected} input(s), got {found}")]
    Arity {
        /// How many it takes.
        expected: String,
        /// How many the pipeline gives it.
        found: usize,
    },
    /// An input has the wrong element type.
    #[error("input {index} must be {expected}, but it is {found}")]
    DType {
        /// Which input.
        index: usize,
        /// What the stage takes.
        expected: DType,
        /// What the input stage produces.
        found: DType,
    },
    /// An input has an unusable shape or meaning.
    #[error("input {index}: {message}")]
    Input {
        /// Which input.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A parameter is out of range or inconsistent.
    #[error("{0}")]
    Param(String),
    /// A plugin could not be loaded or configured.
    #[error("{0}")]
    Plugin(String),
}

/// A stage or kernel failed on a block.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Input data did not match what the stage was built for.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The call had fewer inputs than the stage reads.
    #[error("input {index} is missing")]
    MissingInput {
        /// Which input.
        index: usize,
    },
    /// A state blob could not be restored.
    #[error("cannot restore kernel state: {0}")]
    State(String),
    /// A plugin trapped, ran past its deadline or memory cap, or returned something
    /// malformed.
    #[error("{0}")]
    Plugin(String),
    /// Anything else the stage reports.
    #[error("{0}")]
    Failed(String),
}

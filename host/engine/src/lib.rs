//! sqrtspace runs long window/hop pipelines (audio DSP, log analytics, ML preprocessing) in
//! bounded memory.
//!
//! A pipeline is a graph of stages declared in a RON file ([`Spec`]), validated into a
//! [`Plan`], and run by one of two executors over a stream of samples cut into windows:
//! *classic* runs each stage over the whole stream (the reference), *sqrt* one block of
//! windows at a time — a forward sweep over the whole stream, or depth-first with checkpoints
//! every `k` windows and a byte-bounded block cache for random access ([`Evaluator`]) and
//! backward passes — so its memory stays flat however long the stream is. All call the same
//! per-block code, so their outputs are bit-identical.
//!
//! ```
//! use sqrtspace::{evaluate, Mode, Plan, Spec, WindowRange};
//!
//! let mut spec = Spec::from_ron(r#"Pipeline(
//!     window: 256, hop: 64, sample_rate: 8000,
//!     stages: [
//!         (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
//!         (name: "band", inputs: ["fft"], op: Bandpass(lo_hz: 300.0, hi_hz: 3000.0)),
//!         (name: "magnitude", inputs: ["band"], op: Magnitude),
//!         (name: "features", inputs: ["magnitude"], op: SpectralFeatures),
//!     ],
//! )"#, "example.ron").unwrap();
//! let samples: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.3).sin()).collect();
//!
//! spec.mode = Mode::Classic;
//! let classic = evaluate(&Plan::new(&spec, None).unwrap(), samples.clone(), WindowRange::all()).unwrap();
//! spec.mode = Mode::Sqrt;
//! spec.block = Some(7);
//! let sqrt = evaluate(&Plan::new(&spec, None).unwrap(), samples, WindowRange::all()).unwrap();
//! assert!(classic.bit_identical(&sqrt));
//! ```
//!
//! The API, by what it is for:
//!
//! - a pipeline: [`Spec::from_file`], [`Spec::from_ron`] (with [`Spec::with_base_dir`] for
//!   the plugins' directory), the operators in [`spec`];
//! - a plan for a machine, with the reasons for each setting: [`Plan::new`],
//!   [`Plan::for_machine`], [`Plan::decisions`](plan::Plan::decisions); the probe that
//!   measures the first windows, [`exec::probe`], and [`Plan::apply_probe`];
//! - a run from a source to a sink: [`run`] over an [`io::Framer`] of any
//!   [`io::SampleSource`] into any [`io::Sink`]; random access with [`evaluate`] and
//!   [`Evaluator`]; push/pull streaming with [`Session`]; checkpoints on disk with
//!   [`exec::run_persisted`];
//! - what a run did: [`RunStats`]; what the process cost: [`metrics`];
//! - plugins: [`plugin::inspect`], [`plugin::Runtime`];
//! - stages the embedding program provides (a language binding's functions): [`extend`],
//!   named by `Host(name: ..)` in a pipeline and handed to [`Plan::with_host_ops`].
//!
//! Everything else (the built-in operators, the executors' insides) is private to the crate:
//! the layers are `spec` → `machine`, `io` → stages → `plugin` → `extend` → `plan` → `exec`,
//! and none imports one above it.
#![deny(missing_docs)]

pub mod exec;
pub mod extend;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod fuzz;
pub mod io;
pub mod machine;
pub mod metrics;
pub mod plan;
pub mod plugin;
pub mod spec;
mod stage;
pub mod tensor;

/// The engine's insides, for its own benchmarks (feature `internals`): one stage called on one
/// block, without a plan or an executor around it. Not part of the API; no stability promised.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    use std::sync::Arc;

    use crate::plan::{BuildError, PluginLoad};
    use crate::spec::OpSpec;
    pub use crate::stage::{BuildContext, Instance, Kernel, Operator, Pure, StageCall};

    /// Builds the operator for one stage, as the planner does: a built-in, or a plugin (with
    /// how it was loaded).
    pub fn build_operator(
        stage: &str,
        op: &OpSpec,
        ctx: &BuildContext<'_>,
    ) -> Result<(Arc<dyn Operator>, Option<PluginLoad>), BuildError> {
        crate::plan::build_operator(stage, op, ctx, &crate::extend::HostOps::default())
    }
}

pub use exec::{Evaluator, ExecError, RunStats, Session, WindowRange, evaluate, run};
pub use plan::{Plan, PlanError};
pub use spec::{Mode, Spec, SpecError};
pub use tensor::{DType, Tensor, TensorView};

/// The README's Rust examples, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! Stages the program running the engine provides: a language binding's functions (the Python
//! package's `@pipeline.stage`), or a Rust program's own operators, run by the same planner
//! and executors as the built-ins, so they get classic, sqrt and auto mode, checkpoints,
//! random access and sessions with the same guarantees.
//!
//! A pipeline names such a stage `Host(name: "...")`; [`Plan::with_host_ops`](crate::Plan::with_host_ops) builds it with
//! the [`HostOp`] registered under that name in a [`HostOps`]. A host operator is built against
//! its inputs' [`Port`]s and declares its output port, like a built-in or a plugin's
//! `configure`; it then makes one [`Instance`] per executor and worker: a [`Pure`] stage (a
//! function of its input rows) or a [`Kernel`] (rows and explicit state, saved and restored
//! as bytes). The contract that keeps the modes bit-identical is the one in [`Pure`] and
//! [`Kernel`]: output row `t` depends only on input rows `t - context ..= t`, and a kernel
//! stepped over `[a, b)` then `[b, c)` gives the bits of one step over `[a, c)`.
//!
//! ```
//! use std::sync::Arc;
//! use sqrtspace::extend::*;
//! use sqrtspace::{DType, Plan, Spec, Tensor, WindowRange, evaluate};
//!
//! /// Each window's sum, one f32 per row.
//! #[derive(Debug)]
//! struct Sum;
//! #[derive(Debug)]
//! struct SumOp(Port);
//! impl Pure for Sum {
//!     fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
//!         let rows = call.input(0)?.typed::<f32>()?;
//!         let sums = out.reset::<f32>(call.rows, &[1]);
//!         for (sum, row) in sums.iter_mut().zip(rows.iter().skip(call.context_rows)) {
//!             *sum = row.iter().sum();
//!         }
//!         Ok(())
//!     }
//! }
//! impl Operator for SumOp {
//!     fn output(&self) -> &Port { &self.0 }
//!     fn instantiate(&self) -> Result<Instance, StageError> { Ok(Instance::Pure(Box::new(Sum))) }
//! }
//! impl HostOp for SumOp {
//!     fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
//!         ctx.expect_inputs(1)?;
//!         ctx.input(0, DType::F32)?;
//!         Ok(Arc::new(SumOp(self.0.clone())))
//!     }
//! }
//!
//! let spec = Spec::from_ron(r#"(window: 4, hop: 2, sample_rate: 8,
//!     stages: [(name: "sum", inputs: ["input"], op: Host(name: "sum"))])"#, "doc").unwrap();
//! let mut host = HostOps::default();
//! host.insert("sum", Arc::new(SumOp(Port::plain(DType::F32, vec![1]))));
//! let plan = Plan::with_host_ops(&spec, None, &host).unwrap();
//! let y = evaluate(&plan, vec![1.0; 10], WindowRange::all()).unwrap();
//! assert_eq!(y.view().typed::<f32>().unwrap().row(3), &[4.0]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Kernel, Operator, Port, Pure, StageCall,
    StageError,
};
pub use crate::tensor::Layout;

/// Builds a host stage's operator against its inputs (the planner calls it once per plan).
pub trait HostOp: Send + Sync + fmt::Debug {
    /// The operator for a stage reading `ctx.inputs`; an input it cannot read is a
    /// [`BuildError`] the plan reports with the stage's name.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError>;
}

/// The host operators a plan may use, by the name pipelines give them in `Host(name: ..)`.
#[derive(Clone, Debug, Default)]
pub struct HostOps {
    ops: BTreeMap<String, Arc<dyn HostOp>>,
}

impl HostOps {
    /// Registers `op` under `name`, replacing any operator registered under it before.
    pub fn insert(&mut self, name: impl Into<String>, op: Arc<dyn HostOp>) {
        self.ops.insert(name.into(), op);
    }

    /// The operator registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn HostOp>> {
        self.ops.get(name)
    }

    /// The registered names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.ops.keys().map(String::as_str)
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

//! The per-block code both executors share: one call of a stage or kernel on a block, timed,
//! counted, and checked against the layout the plan promised before anything reads it.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ExecError;
use crate::plan::{NodeId, Plan};
use crate::stage::{Instance, StageCall};
use crate::tensor::{Tensor, TensorView};

/// Counters of one stage over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StageStats {
    /// The stage.
    pub name: String,
    /// Its operator.
    pub op: String,
    /// Calls (blocks).
    pub calls: u64,
    /// Windows computed; more than the output has when blocks are recomputed.
    pub windows: u64,
    /// Time inside the stage.
    pub nanos: u64,
    /// Of that time, what a plugin stage spent copying blocks into the contract's types and
    /// its output back into the host's, checked (the copy into and out of the plugin's memory
    /// happens inside the call and counts as the plugin's). 0 for a native stage.
    #[serde(default)]
    pub copy_nanos: u64,
    /// Bytes of output produced.
    pub bytes_out: u64,
}

impl StageStats {
    /// Adds `other`'s counts (the same stage on another worker).
    pub(crate) fn add(&mut self, other: &StageStats) {
        self.calls += other.calls;
        self.windows += other.windows;
        self.nanos += other.nanos;
        self.copy_nanos += other.copy_nanos;
        self.bytes_out += other.bytes_out;
    }

    /// The counts since `earlier` (the same stage, counted before).
    pub(crate) fn since(&self, earlier: &StageStats) -> StageStats {
        StageStats {
            calls: self.calls.saturating_sub(earlier.calls),
            windows: self.windows.saturating_sub(earlier.windows),
            nanos: self.nanos.saturating_sub(earlier.nanos),
            copy_nanos: self.copy_nanos.saturating_sub(earlier.copy_nanos),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            ..self.clone()
        }
    }
}

/// Instances of every needed stage, their counters, and output buffers to reuse.
pub(crate) struct Runner<'p> {
    plan: &'p Plan,
    instances: Vec<Option<Instance>>,
    /// Output tensors no one reads any more, per node, to be filled again.
    spare: Vec<Vec<Tensor>>,
    pub(crate) stats: Vec<StageStats>,
    /// [`super::stop_flag`], checked before every call.
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Spare buffers kept per node: enough for a block in flight and one being read.
const SPARES: usize = 2;

impl<'p> Runner<'p> {
    pub(crate) fn new(plan: &'p Plan) -> Result<Runner<'p>, ExecError> {
        Runner::for_worker(plan, true)
    }

    /// Memory the pure stages' instances hold (Wasm linear memory): what each further worker,
    /// which has instances of its own, adds.
    pub(crate) fn pure_instance_bytes(&self) -> u64 {
        self.instances
            .iter()
            .map(|i| match i {
                Some(Instance::Pure(stage)) => stage.memory_bytes(),
                _ => 0,
            })
            .sum()
    }

    /// Instances of every needed stage, and of the kernels too when `kernels` (a parallel
    /// worker runs pure stages only; the kernels' state lives on one instance).
    pub(crate) fn for_worker(plan: &'p Plan, kernels: bool) -> Result<Runner<'p>, ExecError> {
        let mut instances = Vec::with_capacity(plan.nodes().len());
        let mut stats = Vec::with_capacity(plan.nodes().len());
        for node in plan.nodes() {
            let instance = match (&node.op, node.needed && (kernels || !node.kernel)) {
                (Some(op), true) => Some(op.instantiate().map_err(|source| ExecError::Stage {
                    stage: node.name.clone(),
                    t0: 0,
                    t1: 0,
                    source,
                })?),
                _ => None,
            };
            instances.push(instance);
            stats.push(StageStats {
                name: node.name.clone(),
                op: node.op_name.to_string(),
                ..StageStats::default()
            });
        }
        Ok(Runner {
            plan,
            spare: vec![Vec::new(); instances.len()],
            instances,
            stats,
            stop: super::stop_flag(),
        })
    }

    /// Runs `node` on one block: `rows` output rows from window `t0`, each input holding
    /// `context_rows` earlier rows first.
    pub(crate) fn call(
        &mut self,
        node: NodeId,
        t0: u64,
        rows: usize,
        context_rows: usize,
        inputs: &[TensorView<'_>],
    ) -> Result<Tensor, ExecError> {
        if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ExecError::Stopped);
        }
        let spec = &self.plan.nodes()[node];
        let t1 = t0 + rows as u64;
        let call = StageCall {
            t0,
            rows,
            context_rows,
            inputs,
        };
        let mut out = self.spare[node]
            .pop()
            .unwrap_or_else(|| Tensor::empty(&spec.port.layout));
        let started = Instant::now();
        let (result, copy_nanos) = match self.instances[node].as_mut() {
            Some(Instance::Pure(stage)) => {
                let before = stage.copy_nanos();
                let result = stage.process(&call, &mut out);
                (result, stage.copy_nanos() - before)
            }
            Some(Instance::Kernel(kernel)) => {
                let before = kernel.copy_nanos();
                let result = kernel.step(&call, &mut out);
                (result, kernel.copy_nanos() - before)
            }
            None => {
                return Err(ExecError::Internal(format!(
                    "stage `{}` has no instance",
                    spec.name
                )));
            }
        };
        let nanos = started.elapsed().as_nanos() as u64;
        result.map_err(|source| ExecError::Stage {
            stage: spec.name.clone(),
            t0,
            t1,
            source,
        })?;
        if out.rows() != rows || out.layout() != spec.port.layout {
            return Err(ExecError::BadOutput {
                stage: spec.name.clone(),
                t0,
                t1,
                expected: format!("{} rows of {}", rows, spec.port.layout),
                found: format!("{} rows of {}", out.rows(), out.layout()),
            });
        }
        let stats = &mut self.stats[node];
        stats.calls += 1;
        stats.windows += rows as u64;
        stats.nanos += nanos;
        stats.copy_nanos += copy_nanos;
        stats.bytes_out += (rows * spec.port.layout.row_bytes()) as u64;
        Ok(out)
    }

    /// Takes back an output of `node` that nothing reads any more, to fill it again.
    pub(crate) fn recycle(&mut self, node: NodeId, tensor: Tensor) {
        if self.spare[node].len() < SPARES {
            self.spare[node].push(tensor);
        }
    }

    fn kernel(&mut self, node: NodeId) -> Result<&mut Box<dyn crate::stage::Kernel>, ExecError> {
        match self.instances[node].as_mut() {
            Some(Instance::Kernel(kernel)) => Ok(kernel),
            _ => Err(ExecError::Internal(format!(
                "stage `{}` is not a kernel",
                self.plan.nodes()[node].name
            ))),
        }
    }

    /// Puts a kernel in its initial state.
    pub(crate) fn reset(&mut self, node: NodeId) -> Result<(), ExecError> {
        let name = self.plan.nodes()[node].name.clone();
        self.kernel(node)?
            .reset()
            .map_err(|source| ExecError::Stage {
                stage: name,
                t0: 0,
                t1: 0,
                source,
            })
    }

    /// A kernel's state as bytes.
    pub(crate) fn save_state(&mut self, node: NodeId) -> Result<Vec<u8>, ExecError> {
        Ok(self.kernel(node)?.save_state())
    }

    /// Restores a kernel's state saved at window `t`.
    pub(crate) fn load_state(
        &mut self,
        node: NodeId,
        t: u64,
        state: &[u8],
    ) -> Result<(), ExecError> {
        let name = self.plan.nodes()[node].name.clone();
        self.kernel(node)?
            .load_state(state)
            .map_err(|source| ExecError::Stage {
                stage: name,
                t0: t,
                t1: t,
                source,
            })
    }
}

//! Sqrt mode: the target is produced one block at a time, each block evaluated depth-first
//! from the target down to the input. A block of a stage comes from the block cache, from a
//! checkpoint, or from its inputs' blocks; a kernel's state comes from the block before it, or
//! from the nearest checkpoint followed by recomputation forward. Memory holds a path of
//! blocks down the graph, the checkpoints and the cache, whatever the length of the stream.

use std::borrow::BorrowMut;
use std::sync::Arc;

use super::runner::Runner;
use super::{ExecError, WindowRange};
use crate::exec::cache::BlockCache;
use crate::exec::checkpoint_ring::CheckpointRing;
use crate::exec::spool::Spool;
use crate::io::{Framer, Sink};
use crate::plan::{INPUT_NODE, NodeId, Plan};
use crate::tensor::Tensor;

/// Stack left when the depth-first walk moves to a new segment of stack.
const STACK_RED_ZONE: usize = 128 << 10;
/// Size of each new segment.
const STACK_GROWTH: usize = 4 << 20;

pub(crate) struct DepthFirst<'p, F: BorrowMut<Framer>> {
    plan: &'p Plan,
    pub(crate) runner: Runner<'p>,
    framer: F,
    pub(crate) cache: BlockCache,
    pub(crate) ring: CheckpointRing,
    /// For each kernel, the block whose start its current state belongs to.
    cursor: Vec<Option<u64>>,
    /// Whether a node's blocks are worth caching: read by several stages, or with context.
    keep: Vec<bool>,
    /// For each stage that runs backward in time, its output and the stream's window count,
    /// once its backward pass has run.
    spools: Vec<Option<(Spool, u64)>>,
    /// How many kernels are stepping forward to reach a block (nested through their inputs).
    catching_up: usize,
    /// How many blocks back a reader can reach through context.
    reach: u64,
    block: u64,
}

impl<'p, F: BorrowMut<Framer>> DepthFirst<'p, F> {
    pub(crate) fn new(plan: &'p Plan, framer: F) -> Result<Self, ExecError> {
        let nodes = plan.nodes();
        Ok(DepthFirst {
            plan,
            runner: Runner::new(plan)?,
            framer,
            cache: BlockCache::new(plan.lru_bytes),
            ring: CheckpointRing::new(
                nodes.len(),
                plan.checkpoint_every as u64,
                plan.checkpoint_slots,
            ),
            cursor: vec![None; nodes.len()],
            spools: (0..nodes.len()).map(|_| None).collect(),
            catching_up: 0,
            keep: nodes
                .iter()
                .map(|n| n.needed && (n.fan_out > 1 || n.read_with_context))
                .collect(),
            reach: nodes
                .iter()
                .filter(|n| n.needed)
                .map(|n| (n.context as u64).div_ceil(plan.block as u64))
                .max()
                .unwrap_or(0),
            block: plan.block as u64,
        })
    }

    /// Writes the target's rows in `range` to `sink`; returns how many.
    /// The input's framer.
    pub(crate) fn framer(&self) -> &Framer {
        self.framer.borrow()
    }

    pub(crate) fn run(
        &mut self,
        range: WindowRange,
        sink: &mut dyn Sink,
    ) -> Result<u64, ExecError> {
        let target = self.plan.target();
        let end = range.end.unwrap_or(u64::MAX);
        let mut written = 0;
        let mut b = range.start / self.block;
        while b * self.block < end {
            let out = self.block(target, b)?;
            let start = b * self.block;
            let rows = out.rows() as u64;
            let lo = range.start.max(start) - start;
            let hi = end.min(start + rows).saturating_sub(start);
            if hi > lo {
                sink.write(start + lo, &out.slice_rows(lo as usize..hi as usize))?;
                written += hi - lo;
            }
            self.give_back(target, out);
            // The sweep never reads blocks before `b - reach` again.
            self.cache.retire_before((b + 1).saturating_sub(self.reach));
            if rows < self.block {
                break;
            }
            b += 1;
        }
        Ok(written)
    }

    /// Block `b` of `node`.
    pub(crate) fn block(&mut self, node: NodeId, b: u64) -> Result<Arc<Tensor>, ExecError> {
        // The walk recurses once per stage along the deepest chain of inputs: a long chain
        // would overflow the thread's stack, so the stack grows on the heap instead.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.block_on_stack(node, b)
        })
    }

    fn block_on_stack(&mut self, node: NodeId, b: u64) -> Result<Arc<Tensor>, ExecError> {
        if self.keep[node]
            && let Some(hit) = self.cache.get((node, b))
        {
            return Ok(hit);
        }
        let t0 = b * self.block;
        let plan = self.plan;
        let spec = &plan.nodes()[node];
        if spec.checkpoint_output
            && self.ring.is_checkpoint(t0)
            && let Some(saved) = self.ring.output(node, t0)
        {
            return Ok(saved);
        }
        let out = if node == INPUT_NODE {
            Arc::new(self.framer.borrow_mut().frame(t0, self.block as usize)?)
        } else if spec.reverse {
            Arc::new(self.reverse_block(node, b)?)
        } else if spec.kernel {
            self.seek_kernel(node, b)?;
            self.step_kernel(node, b)?
        } else {
            Arc::new(self.compute(node, b)?)
        };
        self.keep_block(node, b, &out);
        Ok(out)
    }

    /// Files a freshly computed block in the checkpoint ring and the cache, as the plan says.
    fn keep_block(&mut self, node: NodeId, b: u64, out: &Arc<Tensor>) {
        let t0 = b * self.block;
        let plan = self.plan;
        if plan.nodes()[node].checkpoint_output && self.ring.is_checkpoint(t0) && out.rows() > 0 {
            self.ring.save_output(node, t0, Arc::clone(out));
        }
        if self.keep[node] {
            self.cache.put((node, b), Arc::clone(out));
        }
    }

    /// Block `b` of a stage that runs backward in time, from its spool; the backward pass
    /// runs the first time one is asked for.
    fn reverse_block(&mut self, node: NodeId, b: u64) -> Result<Tensor, ExecError> {
        if self.spools[node].is_none() {
            self.sweep_backward(node)?;
        }
        let scratch = |source| ExecError::Scratch {
            stage: self.plan.nodes()[node].name.clone(),
            source,
        };
        let (spool, total) = self.spools[node]
            .as_ref()
            .ok_or_else(|| ExecError::Internal("spool missing after the backward pass".into()))?;
        let t0 = b * self.block;
        let rows = total.saturating_sub(t0).min(self.block) as usize;
        spool.read(t0, rows).map_err(scratch)
    }

    /// Runs a backward kernel over the whole stream, last window first, one segment of
    /// `checkpoint_every` windows at a time: each segment of its inputs is recomputed forward
    /// from the checkpoints at its start (the first pass to the end leaves them), reversed,
    /// stepped through, and its output stored at its place in the spool. Memory holds one
    /// segment, never the whole forward result.
    fn sweep_backward(&mut self, node: NodeId) -> Result<(), ExecError> {
        let plan = self.plan;
        let spec = &plan.nodes()[node];
        let total = self.total_windows()?;
        let spool = Spool::new(spec.port.layout.clone()).map_err(|source| ExecError::Scratch {
            stage: spec.name.clone(),
            source,
        })?;
        self.runner.reset(node)?;
        let segment = self.ring.every().max(self.block);
        let mut end = total;
        while end > 0 {
            let start = (end - 1) / segment * segment;
            let mut joined: Vec<Tensor> = spec
                .inputs
                .iter()
                .map(|&i| Tensor::empty(&plan.nodes()[i].port.layout))
                .collect();
            for bb in start / self.block..end.div_ceil(self.block) {
                for (slot, &input) in joined.iter_mut().zip(&spec.inputs) {
                    let part = self.block(input, bb)?;
                    slot.extend_rows(&part.view());
                    self.give_back(input, part);
                }
            }
            let rows = (end - start) as usize;
            if let Some(odd) = joined.iter().find(|t| t.rows() != rows) {
                return Err(ExecError::Internal(format!(
                    "inputs of `{}` have {} rows for windows {start}..{end}",
                    spec.name,
                    odd.rows()
                )));
            }
            let reversed: Vec<Tensor> = joined.iter().map(|t| t.view().reversed()).collect();
            drop(joined);
            let views: Vec<_> = reversed.iter().map(Tensor::view).collect();
            let out = self.runner.call(node, start, rows, 0, &views)?;
            spool
                .write(start, &out.view().reversed().view())
                .map_err(|source| ExecError::Scratch {
                    stage: spec.name.clone(),
                    source,
                })?;
            self.runner.recycle(node, out);
            end = start;
        }
        self.spools[node] = Some((spool, total));
        Ok(())
    }

    /// Windows in the input, reading to its end once when the source does not say.
    fn total_windows(&mut self) -> Result<u64, ExecError> {
        let mut b = 0;
        while self.framer.borrow().total_windows().is_none() {
            let block = self
                .framer
                .borrow_mut()
                .frame(b * self.block, self.block as usize)?;
            if (block.rows() as u64) < self.block {
                break;
            }
            b += 1;
        }
        self.framer
            .borrow()
            .total_windows()
            .ok_or_else(|| ExecError::Internal("the input's end was not found".into()))
    }

    /// Brings a kernel's state to the start of block `b`: continue from where it is, or restore
    /// the nearest checkpoint, or start over, whichever leaves the least to recompute.
    fn seek_kernel(&mut self, node: NodeId, b: u64) -> Result<(), ExecError> {
        if self.cursor[node] == Some(b) {
            return Ok(());
        }
        let checkpoint = self.ring.state_at_or_before(node, b * self.block);
        let from = match (self.cursor[node], checkpoint) {
            (Some(c), Some((t, _))) if c < b && c * self.block >= t => c,
            (Some(c), None) if c < b => c,
            (_, Some((t, state))) => {
                self.runner.load_state(node, t, &state)?;
                self.ring.note_restore();
                t / self.block
            }
            (_, None) => {
                self.runner.reset(node)?;
                0
            }
        };
        self.catching_up += 1;
        let stepped = (from..b).try_for_each(|bb| {
            let out = self.step_kernel(node, bb)?;
            self.keep_block(node, bb, &out);
            Ok(())
        });
        self.catching_up -= 1;
        stepped
    }

    /// Steps a kernel whose state is at the start of block `b` over that block.
    fn step_kernel(&mut self, node: NodeId, b: u64) -> Result<Arc<Tensor>, ExecError> {
        let out = self.compute(node, b)?;
        if self.catching_up > 0 {
            // Stepped only to bring some kernel's state to a requested block.
            self.ring.note_recompute(out.rows() as u64);
        }
        self.cursor[node] = Some(b + 1);
        let next = (b + 1) * self.block;
        if out.rows() as u64 == self.block && self.ring.is_checkpoint(next) {
            let state = self.runner.save_state(node)?;
            self.ring.save_state(node, next, state);
        }
        Ok(Arc::new(out))
    }

    /// Computes block `b` of a stage from its inputs' blocks (and context rows before them).
    fn compute(&mut self, node: NodeId, b: u64) -> Result<Tensor, ExecError> {
        let plan = self.plan;
        let spec = &plan.nodes()[node];
        let t0 = b * self.block;
        let first = t0.saturating_sub(spec.context as u64);
        let mut context_rows = (t0 - first) as usize;
        let mut inputs = Vec::with_capacity(spec.inputs.len());
        for &input in &spec.inputs {
            if context_rows == 0 {
                inputs.push(self.block(input, b)?);
                continue;
            }
            let mut joined = Tensor::empty(&plan.nodes()[input].port.layout);
            let mut before = 0;
            for bb in first / self.block..=b {
                let part = self.block(input, bb)?;
                let skip = (first.saturating_sub(bb * self.block) as usize).min(part.rows());
                joined.extend_rows(&part.slice_rows(skip..part.rows()));
                if bb < b {
                    before = joined.rows();
                }
            }
            // Past the end of the stream the context is shorter (and the block empty).
            context_rows = context_rows.min(before);
            inputs.push(Arc::new(joined));
        }
        let rows = inputs
            .first()
            .map_or(0, |t| t.rows())
            .saturating_sub(context_rows);
        if let Some(odd) = inputs.iter().find(|t| t.rows() != rows + context_rows) {
            return Err(ExecError::Internal(format!(
                "inputs of `{}` disagree on block {b}: {} rows and {} rows",
                spec.name,
                rows + context_rows,
                odd.rows()
            )));
        }
        let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
        let out = self.runner.call(node, t0, rows, context_rows, &views);
        drop(views);
        for (&input, tensor) in spec.inputs.iter().zip(inputs) {
            self.give_back(input, tensor);
        }
        out
    }

    /// Reuses the buffer of a block once no one else holds it (not cached, not checkpointed).
    fn give_back(&mut self, node: NodeId, block: Arc<Tensor>) {
        if let Ok(tensor) = Arc::try_unwrap(block) {
            if node == INPUT_NODE {
                self.framer.borrow_mut().recycle(tensor);
            } else {
                self.runner.recycle(node, tensor);
            }
        }
    }
}

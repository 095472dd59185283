//! The forward sweep: every needed stage runs over a batch of consecutive windows, in
//! dependency order, the batch cut into parts of one block each. Pure stages run their parts
//! in parallel, each part a task that whichever worker is free takes ([`Plan::parts_per_batch`]
//! parts a batch: the workers meet once per batch, not once per block), each worker with
//! instances of its own (a Wasm stage gets an instance per worker); kernels step through the parts in time order on one instance, so
//! their state is carried exactly as in one pass. Stages that read context keep the last rows
//! of their inputs from batch to batch. Output row `t` is computed by the same code from the
//! same rows whatever the batch, the part or the worker, so the bits do not depend on the
//! number of workers; memory holds one batch (its parts x one block's rows across the graph).
//!
//! The next batch is framed on a thread of its own while the workers compute this one.
//!
//! Streaming sessions and parallel sqrt runs both drive it.

use rayon::prelude::*;

use super::runner::{Runner, StageStats};
use super::{ExecError, WindowRange};
use crate::io::{Framer, Sink};
use crate::plan::{INPUT_NODE, Plan};
use crate::tensor::{Tensor, TensorView};

/// Everything a forward sweep carries from one batch to the next (pure stages carry
/// nothing): a sweep given it at window `done` goes on exactly as one that ran from the start.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepState {
    /// Windows computed before it.
    pub done: u64,
    /// Each kernel's state, by node.
    pub kernels: Vec<(usize, Vec<u8>)>,
    /// The context rows kept of each node (little-endian elements), by node.
    pub history: Vec<(usize, Vec<u8>)>,
}

/// Told after each batch whose rows are in the sink: the place to save a [`SweepState`].
pub(crate) trait AfterBatch {
    fn after_batch(
        &mut self,
        sweep: &mut ForwardSweep<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), ExecError>;
}

/// Saves nothing.
pub(crate) struct NoCheckpoints;

impl AfterBatch for NoCheckpoints {
    fn after_batch(&mut self, _: &mut ForwardSweep<'_>, _: &mut dyn Sink) -> Result<(), ExecError> {
        Ok(())
    }
}

pub(crate) struct ForwardSweep<'p> {
    plan: &'p Plan,
    /// One per worker; kernels live on the first only.
    runners: Vec<Runner<'p>>,
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    /// Stages each worker takes its part through in one go (pure, no context, fed only by the
    /// input or each other), in dependency order.
    chain: Vec<usize>,
    /// Whether anything after the chain reads each chain stage's output (a later stage, the
    /// run, the context kept); the others' buffers go back to their worker at once.
    chain_read_after: Vec<bool>,
    /// The last rows of each node that some reader needs as context, before window `done`.
    history: Vec<Option<Tensor>>,
    /// Most context rows any reader needs from each node.
    keep_rows: Vec<usize>,
    /// Windows computed so far.
    done: u64,
    /// The input parts of the last batch, spent: their buffers can frame the next ones.
    spent_input: Vec<Tensor>,
}

impl<'p> ForwardSweep<'p> {
    /// A sweep from window 0 on `workers` workers.
    pub(crate) fn new(plan: &'p Plan, workers: usize) -> Result<ForwardSweep<'p>, ExecError> {
        ForwardSweep::build(plan, workers, false)
    }

    /// A sweep that runs backward kernels forward: for timing them in a probe only.
    pub(crate) fn for_probe(plan: &'p Plan) -> Result<ForwardSweep<'p>, ExecError> {
        ForwardSweep::build(plan, 1, true)
    }

    fn build(plan: &'p Plan, workers: usize, probing: bool) -> Result<ForwardSweep<'p>, ExecError> {
        let nodes = plan.nodes();
        if let Some(node) = nodes.iter().find(|n| n.needed && n.reverse && !probing) {
            return Err(ExecError::Unsupported(format!(
                "stage `{}` runs backward in time, so it needs the whole stream before its \
                 first output; a forward sweep cannot run it",
                node.name
            )));
        }
        let workers = workers.max(1);
        let mut runners = Vec::with_capacity(workers);
        for worker in 0..workers {
            runners.push(Runner::for_worker(plan, worker == 0)?);
        }
        for (id, node) in nodes.iter().enumerate() {
            if node.needed && node.kernel {
                runners[0].reset(id)?;
            }
        }
        let pool = if workers > 1 {
            Some(std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("sqrtspace-worker-{i}"))
                    .build()
                    .map_err(|e| ExecError::Internal(format!("cannot start workers: {e}")))?,
            ))
        } else {
            None
        };
        let keep_rows = plan.context_rows();
        let (chain, chain_read_after) = plan.pure_prefix(&keep_rows);
        Ok(ForwardSweep {
            plan,
            runners,
            pool,
            chain,
            chain_read_after,
            history: vec![None; nodes.len()],
            keep_rows,
            done: 0,
            spent_input: Vec::new(),
        })
    }

    /// The input parts of the batches stepped since the last call, for the framer to reuse
    /// (see [`Framer::recycle`]).
    pub(crate) fn take_spent_input(&mut self) -> Vec<Tensor> {
        std::mem::take(&mut self.spent_input)
    }

    /// Workers the sweep runs parts on.
    pub(crate) fn workers(&self) -> usize {
        self.runners.len()
    }

    /// Memory one worker's pure-stage instances hold, from the first worker's.
    pub(crate) fn worker_instance_bytes(&self) -> u64 {
        self.runners.first().map_or(0, Runner::pure_instance_bytes)
    }

    /// Windows computed so far.
    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    /// What the sweep carries into the next batch.
    pub(crate) fn state(&mut self) -> Result<SweepState, ExecError> {
        let mut kernels = Vec::new();
        for (id, node) in self.plan.nodes().iter().enumerate() {
            if node.needed && node.kernel {
                kernels.push((id, self.runners[0].save_state(id)?));
            }
        }
        let history = self
            .history
            .iter()
            .enumerate()
            .filter_map(|(id, rows)| rows.as_ref().map(|r| (id, r.view().to_le_bytes())))
            .collect();
        Ok(SweepState {
            done: self.done,
            kernels,
            history,
        })
    }

    /// Continues from `state`, saved by a sweep of the same plan.
    pub(crate) fn restore(&mut self, state: &SweepState) -> Result<(), ExecError> {
        let nodes = self.plan.nodes();
        let node = |id: usize, what: &str| {
            nodes.get(id).ok_or_else(|| {
                ExecError::Unsupported(format!(
                    "the saved state names {what} {id}, which the plan lacks"
                ))
            })
        };
        for (id, bytes) in &state.kernels {
            if !node(*id, "kernel")?.kernel {
                return Err(ExecError::Unsupported(format!(
                    "the saved state holds kernel state for `{}`, which is not a kernel",
                    nodes[*id].name
                )));
            }
            self.runners[0].load_state(*id, state.done, bytes)?;
        }
        let mut history = vec![None; nodes.len()];
        for (id, bytes) in &state.history {
            let layout = &node(*id, "stage")?.port.layout;
            let rows = Tensor::from_le_bytes(layout, bytes).map_err(|e| {
                ExecError::Unsupported(format!(
                    "the saved context rows of `{}` do not fit its rows: {e}",
                    nodes[*id].name
                ))
            })?;
            history[*id] = Some(rows);
        }
        self.history = history;
        self.done = state.done;
        Ok(())
    }

    /// Per stage counters, summed over the workers.
    pub(crate) fn stats(&self) -> Vec<StageStats> {
        let mut total = self.runners[0].stats.clone();
        for runner in &self.runners[1..] {
            for (sum, part) in total.iter_mut().zip(&runner.stats) {
                sum.add(part);
            }
        }
        total
    }

    /// Computes every needed stage over the windows the input `parts` hold (consecutive,
    /// from window `done`) and returns the target's parts, in order.
    pub(crate) fn step(&mut self, parts: Vec<Tensor>) -> Result<Vec<Tensor>, ExecError> {
        let plan = self.plan;
        let nodes = plan.nodes();
        let mut starts = Vec::with_capacity(parts.len());
        let mut t = self.done;
        for part in &parts {
            starts.push(t);
            t += part.rows() as u64;
        }
        let end = t;
        let mut outputs: Vec<Option<Vec<Tensor>>> = vec![None; nodes.len()];
        if !self.chain.is_empty() {
            // Each part through the whole chain of pure, context-free stages on one worker,
            // while its rows are hot in that core's cache.
            let pool = self.pool.as_deref();
            let chain = (&self.chain[..], &self.chain_read_after[..]);
            let runners = &mut self.runners;
            let jobs: Vec<(&Tensor, u64)> = parts.iter().zip(starts.iter().copied()).collect();
            let per_part = on_workers(pool, runners, &jobs, |runner, &(input, t0)| {
                run_chain(plan, runner, chain, input, t0)
            })?;
            self.chain_outputs(per_part, &mut outputs);
        }
        outputs[INPUT_NODE] = Some(parts);
        self.step_after_prefix(&starts, end, outputs)
    }

    /// Each chain stage's parts, into `outputs`, from each part's outputs in chain order.
    fn chain_outputs(&self, per_part: Vec<Vec<Tensor>>, outputs: &mut [Option<Vec<Tensor>>]) {
        let mut per_part: Vec<_> = per_part.into_iter().map(Vec::into_iter).collect();
        for &id in &self.chain {
            outputs[id] = Some(
                per_part
                    .iter_mut()
                    .map(|outs| {
                        outs.next()
                            .unwrap_or_else(|| Tensor::empty(&self.plan.nodes()[id].port.layout))
                    })
                    .collect(),
            );
        }
    }

    /// Frames and computes parts of `sizes` windows from window `done`, as [`ForwardSweep::step`]
    /// computes framed parts, but each part framed by the worker that takes it, with its own
    /// framer of the input (one per worker, each [`Framer::try_clone`] of the run's): no
    /// framing thread takes the workers' cores, and each part's samples are read into the
    /// cache of the core that computes them. Returns the target's parts and whether the
    /// input ended (a part came back short).
    pub(crate) fn step_framing(
        &mut self,
        framers: &mut [Framer],
        sizes: &[usize],
    ) -> Result<(Vec<Tensor>, bool), ExecError> {
        let plan = self.plan;
        let nodes = plan.nodes();
        let mut starts = Vec::with_capacity(sizes.len());
        let mut t = self.done;
        for &rows in sizes {
            starts.push(t);
            t += rows as u64;
        }
        let jobs: Vec<(u64, usize)> = starts.iter().copied().zip(sizes.iter().copied()).collect();
        let chain = (&self.chain[..], &self.chain_read_after[..]);
        let mut workers: Vec<(&mut Runner<'p>, &mut Framer, usize)> = self
            .runners
            .iter_mut()
            .zip(framers.iter_mut())
            .enumerate()
            .map(|(i, (runner, framer))| (runner, framer, i))
            .collect();
        let done = on_workers(
            self.pool.as_deref(),
            &mut workers,
            &jobs,
            |(runner, framer, worker), &(t0, rows)| -> Result<_, ExecError> {
                let input = framer.frame(t0, rows)?;
                let outs = if input.rows() > 0 {
                    run_chain(plan, runner, chain, &input, t0)?
                } else {
                    Vec::new()
                };
                Ok((input, outs, *worker))
            },
        )?;
        drop(workers);
        // The parts up to the first short one; none after it can hold a window.
        let kept = done
            .iter()
            .zip(sizes)
            .position(|((input, ..), &rows)| input.rows() < rows)
            .map_or(done.len(), |short| short + 1);
        if done[kept..].iter().any(|(input, ..)| input.rows() > 0) {
            return Err(ExecError::Internal(
                "the workers' framers disagree on where the input ends".into(),
            ));
        }
        let ended = kept < done.len() || done.last().is_some_and(|(input, ..)| input.rows() == 0);
        let mut parts = Vec::with_capacity(kept);
        let mut per_part = Vec::with_capacity(kept);
        let mut framed_by = Vec::with_capacity(kept);
        for (input, outs, framer) in done.into_iter().take(kept) {
            if input.rows() > 0 {
                parts.push(input);
                per_part.push(outs);
                framed_by.push(framer);
            }
        }
        if parts.is_empty() {
            return Ok((Vec::new(), true));
        }
        let mut outputs: Vec<Option<Vec<Tensor>>> = vec![None; nodes.len()];
        self.chain_outputs(per_part, &mut outputs);
        let end = starts[parts.len() - 1] + parts[parts.len() - 1].rows() as u64;
        starts.truncate(parts.len());
        outputs[INPUT_NODE] = Some(parts);
        let target = self.step_after_prefix(&starts, end, outputs)?;
        // Each spent input buffer goes back to the framer that filled it: a worker that takes
        // more parts than another (the machine is busy) then reuses its own buffers rather
        // than allocating while the other's spares pile up.
        for (spent, worker) in self.take_spent_input().into_iter().zip(framed_by) {
            framers[worker].recycle(spent);
        }
        Ok((target, ended))
    }

    /// Goes on from the pure prefix's outputs of the windows `starts` to `end` (parts from
    /// window `done`), computed elsewhere: `given` holds, for each node the prefix hands on
    /// (see [`Plan::pure_prefix`]), its parts; `input` the input's parts when a stage after the prefix
    /// reads them. Returns the target's parts, as [`ForwardSweep::step`] does.
    pub(crate) fn step_given(
        &mut self,
        sizes: &[usize],
        given: Vec<(usize, Vec<Tensor>)>,
        input: Option<Vec<Tensor>>,
    ) -> Result<Vec<Tensor>, ExecError> {
        let nodes = self.plan.nodes();
        let mut starts = Vec::with_capacity(sizes.len());
        let mut t = self.done;
        for &rows in sizes {
            starts.push(t);
            t += rows as u64;
        }
        let mut outputs: Vec<Option<Vec<Tensor>>> = vec![None; nodes.len()];
        // What the prefix does not hand on, nothing after it reads: it stays uncomputed.
        for &id in &self.chain {
            outputs[id] = Some(Vec::new());
        }
        for (id, parts) in given {
            if parts.len() != sizes.len() || parts.iter().zip(sizes).any(|(p, &n)| p.rows() != n) {
                return Err(ExecError::Internal(format!(
                    "the rows given for `{}` do not match the windows stepped",
                    nodes.get(id).map_or("?", |n| n.name.as_str())
                )));
            }
            outputs[id] = Some(parts);
        }
        outputs[INPUT_NODE] = Some(input.unwrap_or_default());
        self.step_after_prefix(&starts, t, outputs)
    }

    /// Every needed stage not computed yet in `outputs`, over the parts from `starts`, up to
    /// window `end`; the target's parts.
    fn step_after_prefix(
        &mut self,
        starts: &[u64],
        end: u64,
        mut outputs: Vec<Option<Vec<Tensor>>>,
    ) -> Result<Vec<Tensor>, ExecError> {
        let plan = self.plan;
        let nodes = plan.nodes();
        for (id, node) in nodes.iter().enumerate().skip(1) {
            if !node.needed || outputs[id].is_some() {
                continue;
            }
            // Each part's inputs, with the context rows before it joined on where declared.
            let mut joined: Vec<Vec<Option<Tensor>>> = Vec::with_capacity(starts.len());
            let mut context: Vec<usize> = Vec::with_capacity(starts.len());
            for (i, &t0) in starts.iter().enumerate() {
                let want = usize::try_from(t0).unwrap_or(usize::MAX).min(node.context);
                let mut per_input = Vec::with_capacity(node.inputs.len());
                for &input in &node.inputs {
                    let input_parts = outputs[input].as_deref().ok_or_else(|| {
                        ExecError::Internal(format!("`{}` ran before its input", node.name))
                    })?;
                    per_input.push(if want == 0 {
                        None
                    } else {
                        Some(self.with_context(input, input_parts, i, want)?)
                    });
                }
                joined.push(per_input);
                context.push(want);
            }
            let mut calls = Vec::with_capacity(starts.len());
            for (i, &t0) in starts.iter().enumerate() {
                let views: Vec<TensorView<'_>> = node
                    .inputs
                    .iter()
                    .zip(&joined[i])
                    .map(|(&input, j)| match j {
                        Some(j) => j.view(),
                        None => outputs[input].as_ref().map_or_else(
                            || unreachable!("inputs were checked present above"),
                            |p| p[i].view(),
                        ),
                    })
                    .collect();
                let rows = views
                    .first()
                    .map_or(0, |v| v.rows().saturating_sub(context[i]));
                calls.push((t0, rows, context[i], views));
            }
            // A kernel steps through the parts in time order, on the first worker's instance;
            // so does a stage whose parts have taken less time than waking the workers costs.
            let pool = if node.kernel || self.cheap(id) {
                None
            } else {
                self.pool.as_deref()
            };
            let out = on_workers(
                pool,
                &mut self.runners,
                &calls,
                |runner, (t0, rows, ctx, views)| runner.call(id, *t0, *rows, *ctx, views),
            )?;
            drop(calls);
            drop(joined);
            outputs[id] = Some(out);
        }
        for (id, &keep) in self.keep_rows.iter().enumerate() {
            if keep == 0 {
                continue;
            }
            if let Some(parts) = &outputs[id] {
                let mut rows = self.history[id]
                    .take()
                    .unwrap_or_else(|| Tensor::empty(&nodes[id].port.layout));
                for part in parts {
                    rows.extend_rows(&part.view());
                }
                let from = rows.rows().saturating_sub(keep);
                self.history[id] = Some(rows.slice_rows(from..rows.rows()).to_tensor());
            }
        }
        self.done = end;
        let target = outputs[plan.target()]
            .take()
            .ok_or_else(|| ExecError::Internal("the target was not computed".into()))?;
        let workers = self.runners.len();
        let mut outputs = outputs.into_iter();
        if let Some(Some(input)) = outputs.next() {
            self.spent_input
                .extend(input.into_iter().filter(|part| part.rows() > 0));
        }
        for (id, spent) in outputs.enumerate().map(|(i, s)| (i + 1, s)) {
            // (Chain outputs already given back are left as empty tensors.)
            for (i, tensor) in spent.into_iter().flatten().enumerate() {
                if tensor.rows() > 0 {
                    self.runners[i % workers].recycle(id, tensor);
                }
            }
        }
        Ok(target)
    }

    /// Whether stage `id`'s parts have been cheaper than a meeting of the workers (their
    /// wake-ups, tens of microseconds), over enough of them to tell: then the next batch's
    /// parts run in order on this thread. Which thread computes a part does not change its
    /// bits, so this only moves time.
    fn cheap(&self, id: usize) -> bool {
        let (calls, nanos) = self.runners.iter().fold((0u64, 0u64), |(c, n), r| {
            r.stats
                .get(id)
                .map_or((c, n), |s| (c + s.calls, n + s.nanos))
        });
        calls >= CHEAP_AFTER_CALLS && nanos < calls * CHEAP_PART_NANOS
    }

    /// Part `i` of `input` with the `want` rows before it in front: from the parts before it
    /// in this batch, then from the rows kept from earlier batches.
    fn with_context(
        &self,
        input: usize,
        parts: &[Tensor],
        i: usize,
        want: usize,
    ) -> Result<Tensor, ExecError> {
        let mut pieces: Vec<TensorView<'_>> = Vec::new();
        let mut missing = want;
        for part in parts[..i].iter().rev() {
            let take = missing.min(part.rows());
            pieces.push(part.slice_rows(part.rows() - take..part.rows()));
            missing -= take;
            if missing == 0 {
                break;
            }
        }
        if missing > 0 {
            let history = self.history[input].as_ref().ok_or_else(|| {
                ExecError::Internal(format!(
                    "no context rows kept for `{}`",
                    self.plan.nodes()[input].name
                ))
            })?;
            if history.rows() < missing {
                return Err(ExecError::Internal(format!(
                    "{} context rows of `{}` wanted, {} kept",
                    missing,
                    self.plan.nodes()[input].name,
                    history.rows()
                )));
            }
            pieces.push(history.slice_rows(history.rows() - missing..history.rows()));
        }
        let mut joined = Tensor::empty(&parts[i].layout());
        for piece in pieces.iter().rev() {
            joined.extend_rows(piece);
        }
        joined.extend_rows(&parts[i].view());
        Ok(joined)
    }
}

/// Parts a stage runs on the workers before [`ForwardSweep::cheap`] judges its cost.
const CHEAP_AFTER_CALLS: u64 = 64;

/// A part quicker than this is not worth a meeting of the workers, nanoseconds.
const CHEAP_PART_NANOS: u64 = 20_000;

/// `f` of each item on the pool's workers, each call with the runner (and whatever else each
/// worker holds) of the worker it lands on, results in order, or the first item's error in order. Each item is a task of its own,
/// so a worker that falls behind (the machine is busy) leaves more of the batch to the others
/// rather than holding it up; which worker computes an item does not change its bits. Without
/// a pool the items run in order on the first runner, on this thread, up to the first error.
fn on_workers<W: Send, T: Sync, R: Send, E: Send>(
    pool: Option<&rayon::ThreadPool>,
    runners: &mut [W],
    items: &[T],
    f: impl Fn(&mut W, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let Some(pool) = pool else {
        return match runners.first_mut() {
            Some(runner) => items.iter().map(|item| f(runner, item)).collect(),
            None => Ok(Vec::new()),
        };
    };
    // A worker only ever locks its own runner: the locks are never contended.
    let runners: Vec<std::sync::Mutex<&mut W>> =
        runners.iter_mut().map(std::sync::Mutex::new).collect();
    let results: Vec<Result<R, E>> = pool.install(|| {
        items
            .par_iter()
            .with_max_len(1)
            .map(|item| {
                let worker = rayon::current_thread_index().unwrap_or(0) % runners.len();
                let mut runner = runners[worker]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&mut runner, item)
            })
            .collect()
    });
    // (Collected in order first: rayon's own collect into a `Result` keeps whichever error
    // came first in time, and which part failed first must not depend on the workers.)
    results.into_iter().collect()
}

/// One input part through the chain of pure stages without context, in order; their outputs
/// in chain order.
pub(crate) fn run_chain(
    plan: &Plan,
    runner: &mut Runner<'_>,
    (chain, read_after): (&[usize], &[bool]),
    input: &Tensor,
    t0: u64,
) -> Result<Vec<Tensor>, ExecError> {
    let nodes = plan.nodes();
    let mut outs: Vec<Tensor> = Vec::with_capacity(chain.len());
    for &id in chain {
        let views: Vec<TensorView<'_>> = nodes[id]
            .inputs
            .iter()
            .map(|&i| {
                if i == INPUT_NODE {
                    Ok(input.view())
                } else {
                    chain
                        .iter()
                        .position(|&c| c == i)
                        .map(|k| outs[k].view())
                        .ok_or_else(|| {
                            ExecError::Internal(format!("`{}` outside the chain", nodes[i].name))
                        })
                }
            })
            .collect::<Result<_, _>>()?;
        let out = runner.call(id, t0, input.rows(), 0, &views)?;
        drop(views);
        outs.push(out);
    }
    // What only the chain reads is spent: its buffers serve this worker's next part, while
    // they are still in its cache.
    for (k, &id) in chain.iter().enumerate() {
        if !read_after[k] {
            let spent = std::mem::replace(&mut outs[k], Tensor::empty(&nodes[id].port.layout));
            runner.recycle(id, spent);
        }
    }
    Ok(outs)
}

/// Writes the target's rows in `range` to `sink`, sweeping the input a batch of `workers`
/// blocks at a time from window 0; returns the rows written and the stage counters.
pub(crate) fn run(
    plan: &Plan,
    framer: &mut Framer,
    range: WindowRange,
    sink: &mut dyn Sink,
) -> Result<(u64, Vec<StageStats>), ExecError> {
    let mut sweep = ForwardSweep::new(plan, plan.max_workers)?;
    let written = run_from(&mut sweep, framer, range, sink, &mut NoCheckpoints)?;
    Ok((written, sweep.stats()))
}

/// Goes on with `sweep` from the window it has reached, writing the target's rows in `range`
/// to `sink` and telling `after` after every batch; returns the rows written.
pub(crate) fn run_from(
    sweep: &mut ForwardSweep<'_>,
    framer: &mut Framer,
    range: WindowRange,
    sink: &mut dyn Sink,
    after: &mut dyn AfterBatch,
) -> Result<u64, ExecError> {
    if sweep.workers() > 1
        && let Some(framers) = (0..sweep.workers())
            .map(|_| framer.try_clone())
            .collect::<Option<Vec<_>>>()
    {
        return run_framing_on_workers(sweep, framer, framers, range, sink, after);
    }
    let end = range.end.unwrap_or(u64::MAX);
    let block = sweep.plan.block.max(1);
    let batch = sweep.plan.parts_per_batch(sweep.workers());
    let start = sweep.done();
    // The next batch is framed on a thread of its own while the workers compute this one (on
    // the workers' pool, framing would hold up a worker, which then takes its part late).
    // The rendezvous channel holds no batch: one in the making, one being computed. Spent
    // input parts go back to the framing thread, which frames the next into their buffers
    // (memory allocated and freed on one thread, and no fresh pages per batch).
    std::thread::scope(|scope| {
        let (batches, framed) = std::sync::mpsc::sync_channel(0);
        let (spent, returned) = std::sync::mpsc::channel::<Vec<Tensor>>();
        let framing = std::thread::Builder::new().name("sqrtspace-framing".into());
        let spawned = framing.spawn_scoped(scope, move || {
            let mut t = start;
            loop {
                for part in returned.try_iter().flatten() {
                    framer.recycle(part);
                }
                let next = frame_batch(framer, t, end, block, batch);
                let last = match &next {
                    Ok((parts, finished)) => {
                        t += parts.iter().map(|p| p.rows() as u64).sum::<u64>();
                        *finished || parts.is_empty()
                    }
                    Err(_) => true,
                };
                // A closed channel: the sweep stopped (an error), nothing more to frame.
                if batches.send(next).is_err() || last {
                    return;
                }
            }
        });
        if let Err(e) = spawned {
            return Err(ExecError::Internal(format!(
                "cannot start the framing thread: {e}"
            )));
        }
        let mut written = 0;
        for next in framed {
            let (parts, _) = next?;
            if parts.is_empty() {
                break;
            }
            let first = sweep.done();
            let outputs = sweep.step(parts)?;
            // The framing thread may have stopped (the input ended): then nothing is reused.
            let _ = spent.send(sweep.take_spent_input());
            written += write_in_range(sink, range, first, &outputs)?;
            after.after_batch(sweep, sink)?;
        }
        Ok(written)
    })
}

/// [`run_from`] for a source each worker can read on its own (a file): each worker frames
/// the parts it takes with one of `framers`, and no framing thread runs.
fn run_framing_on_workers(
    sweep: &mut ForwardSweep<'_>,
    framer: &mut Framer,
    mut framers: Vec<Framer>,
    range: WindowRange,
    sink: &mut dyn Sink,
    after: &mut dyn AfterBatch,
) -> Result<u64, ExecError> {
    // Parts past the input's end come back empty; a file's header says where that is.
    let end = range
        .end
        .unwrap_or(u64::MAX)
        .min(framer.total_windows().unwrap_or(u64::MAX));
    let block = sweep.plan.block.max(1) as u64;
    let batch = sweep.plan.parts_per_batch(sweep.workers());
    // Each framer keeps buffers for its share of a batch, and one more for a busy moment's
    // extra part: with the batch being computed, about two batches of parts at most.
    for framer in &mut framers {
        framer.keep_spares(batch.div_ceil(sweep.workers()) + 1);
    }
    let mut written = 0;
    let result = loop {
        let first = sweep.done();
        let mut sizes = Vec::with_capacity(batch);
        let mut t = first;
        while sizes.len() < batch && t < end {
            let rows = (end - t).min(block);
            sizes.push(rows as usize);
            t += rows;
        }
        if sizes.is_empty() {
            break Ok(written);
        }
        let (outputs, ended) = match sweep.step_framing(&mut framers, &sizes) {
            Ok((outputs, _)) if outputs.is_empty() => break Ok(written),
            Ok(stepped) => stepped,
            Err(e) => break Err(e),
        };
        match write_in_range(sink, range, first, &outputs) {
            Ok(rows) => written += rows,
            Err(e) => break Err(e),
        }
        if let Err(e) = after.after_batch(sweep, sink) {
            break Err(e);
        }
        if ended {
            break Ok(written);
        }
    };
    framer.count_read(framers.iter().map(Framer::samples_read).sum());
    result
}

/// Writes the rows of `outputs` (consecutive parts from window `first`) that fall in `range`
/// to `sink`; returns how many.
fn write_in_range(
    sink: &mut dyn Sink,
    range: WindowRange,
    first: u64,
    outputs: &[Tensor],
) -> Result<u64, ExecError> {
    let end = range.end.unwrap_or(u64::MAX);
    let mut written = 0;
    let mut t0 = first;
    for out in outputs {
        let t1 = t0 + out.rows() as u64;
        let (lo, hi) = (range.start.clamp(t0, t1), end.clamp(t0, t1));
        if hi > lo {
            sink.write(lo, &out.slice_rows((lo - t0) as usize..(hi - t0) as usize))?;
            written += hi - lo;
        }
        t0 = t1;
    }
    Ok(written)
}

/// Up to `batch` blocks of windows from `t`, stopping at `end`; whether the input ended.
fn frame_batch(
    framer: &mut Framer,
    mut t: u64,
    end: u64,
    block: usize,
    batch: usize,
) -> Result<(Vec<Tensor>, bool), crate::io::InputError> {
    let mut parts = Vec::with_capacity(batch);
    while parts.len() < batch && t < end {
        let rows = usize::try_from(end - t).unwrap_or(usize::MAX).min(block);
        let part = framer.frame(t, rows)?;
        let short = part.rows() < rows;
        t += part.rows() as u64;
        if part.rows() > 0 {
            parts.push(part);
        }
        if short {
            return Ok((parts, true));
        }
    }
    Ok((parts, t >= end))
}

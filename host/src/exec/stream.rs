//! Push/pull streaming: samples arrive in chunks of any size, outputs leave as soon as the
//! buffered input completes their windows. Every needed stage runs forward over the newly
//! completed windows, in dependency order, with the same per-block code as the other
//! executors; stages that read context keep the last rows of their inputs, kernels keep their
//! state. So any chunking of a stream gives exactly the bits of one push of the whole stream,
//! and memory is bounded by the input buffer, whatever the stream's length.

use super::runner::Runner;
use super::{ExecError, RunStats};
use crate::plan::{INPUT_NODE, Plan, windows_in};
use crate::spec::Mode;
use crate::tensor::{Data, Tensor};

/// A pipeline fed by [`Session::push_samples`] and drained by [`Session::pull_until`].
///
/// ```
/// use sqrtspace::{Plan, Session, Spec};
/// let spec = Spec::from_ron(r#"(window: 4, hop: 2, sample_rate: 8, input_buffer_blocks: 4,
///     stages: [(name: "fft", inputs: ["input"], op: WindowFft(window: Rectangular))])"#, "doc").unwrap();
/// let plan = Plan::new(&spec, None).unwrap();
/// let mut session = Session::new(&plan).unwrap();
/// let mut rows = 0;
/// for chunk in vec![0.5f32; 100].chunks(3) {
///     while !session.push_samples(chunk) {
///         rows += session.pull_until(u64::MAX).unwrap().rows(); // buffer full: drain it
///     }
/// }
/// rows += session.pull_until(u64::MAX).unwrap().rows();
/// assert_eq!(rows, 49); // (100 - 4) / 2 + 1 windows
/// ```
pub struct Session<'p> {
    plan: &'p Plan,
    runner: Runner<'p>,
    /// Samples `[buffer_start, buffer_start + buffer.len())` of the stream.
    buffer: Vec<f32>,
    buffer_start: u64,
    /// Samples the buffer may hold.
    capacity: usize,
    /// Windows computed so far (every needed stage is at the same window).
    done: u64,
    /// The last rows of each node that some reader needs as context, before window `done`.
    history: Vec<Option<Tensor>>,
    /// Most context rows any reader needs from each node.
    keep_rows: Vec<usize>,
    /// Windows per call.
    chunk: usize,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("buffered", &self.buffer.len())
            .field("capacity", &self.capacity)
            .field("done", &self.done)
            .finish()
    }
}

impl<'p> Session<'p> {
    /// A session at the start of a stream. Its input buffer holds `plan.input_buffer_blocks`
    /// windows' worth of new samples beyond one window (see [`Session::capacity`]).
    ///
    /// A plan with a stage that runs backward in time cannot stream: it needs the end of the
    /// stream before its first output.
    pub fn new(plan: &'p Plan) -> Result<Session<'p>, ExecError> {
        if let Some(node) = plan.nodes().iter().find(|n| n.needed && n.reverse) {
            return Err(ExecError::Unsupported(format!(
                "stage `{}` runs backward in time, so it needs the whole stream before its first \
                 output; it cannot run on a live stream (run it on a file instead)",
                node.name
            )));
        }
        let nodes = plan.nodes();
        let mut keep_rows = vec![0; nodes.len()];
        for node in nodes.iter().filter(|n| n.needed) {
            for &input in &node.inputs {
                keep_rows[input] = keep_rows[input].max(node.context);
            }
        }
        let capacity = plan
            .input_buffer_blocks
            .saturating_mul(plan.hop)
            .saturating_add(plan.window);
        let mut runner = Runner::new(plan)?;
        for (id, node) in nodes.iter().enumerate() {
            if node.needed && node.kernel {
                runner.reset(id)?;
            }
        }
        Ok(Session {
            plan,
            runner,
            buffer: Vec::new(),
            buffer_start: 0,
            capacity,
            done: 0,
            history: vec![None; nodes.len()],
            keep_rows,
            chunk: plan.block.max(1),
        })
    }

    /// Samples the input buffer holds at most; a chunk larger than this is never accepted,
    /// so split it.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Samples buffered and not yet consumed by a pulled window.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Windows output so far.
    pub fn windows_done(&self) -> u64 {
        self.done
    }

    /// Complete windows in the samples pushed so far.
    pub fn windows_available(&self) -> u64 {
        let pushed = self.buffer_start + self.buffer.len() as u64;
        windows_in(pushed, self.plan.window, self.plan.hop)
    }

    /// Appends `chunk` to the stream and returns true, or enqueues nothing and returns false
    /// when the buffer is full: the chunk does not fit and the buffered samples already
    /// complete a window, so a pull makes room. A chunk larger than [`Session::capacity`] is
    /// always refused. (When no window is complete the chunk is taken even if it overflows the
    /// capacity, since no pull could make room; the buffer then holds less than the capacity
    /// plus one window.)
    pub fn push_samples(&mut self, chunk: &[f32]) -> bool {
        let fits = self.buffer.len() + chunk.len() <= self.capacity;
        let pending = self.windows_available() > self.done;
        if chunk.len() > self.capacity || (!fits && pending) {
            return false;
        }
        self.buffer.extend_from_slice(chunk);
        true
    }

    /// The target's rows for every window before `t` that the pushed samples complete and
    /// that no earlier pull returned (none when there are none: nothing is repeated). The
    /// windows left out come from a later call once their samples are pushed.
    pub fn pull_until(&mut self, t: u64) -> Result<Tensor, ExecError> {
        let end = t.min(self.windows_available());
        let target = self.plan.target();
        let mut out = Tensor::empty(&self.plan.target_node().port.layout);
        while self.done < end {
            let rows = usize::try_from(end - self.done)
                .unwrap_or(usize::MAX)
                .min(self.chunk);
            let block = self.step(rows)?;
            if out.rows() == 0 {
                out = block;
            } else {
                out.extend_rows(&block.view());
                self.runner.recycle(target, block);
            }
        }
        Ok(out)
    }

    /// Like [`Session::pull_until`] with no bound, handing each computed block to `emit` as it
    /// completes instead of collecting them.
    pub fn pull_each(
        &mut self,
        mut emit: impl FnMut(u64, &Tensor) -> Result<(), ExecError>,
    ) -> Result<u64, ExecError> {
        let end = self.windows_available();
        let start = self.done;
        while self.done < end {
            let rows = usize::try_from(end - self.done)
                .unwrap_or(usize::MAX)
                .min(self.chunk);
            let t0 = self.done;
            let block = self.step(rows)?;
            emit(t0, &block)?;
            self.runner.recycle(self.plan.target(), block);
        }
        Ok(self.done - start)
    }

    /// Counters of the stages so far.
    pub fn stats(&self) -> RunStats {
        RunStats {
            mode: Mode::Sqrt,
            windows_out: self.done,
            samples_read: self.buffer_start + self.buffer.len() as u64,
            elapsed: std::time::Duration::ZERO,
            stages: self.runner.stats.clone(),
            cache: Default::default(),
            checkpoints: Default::default(),
        }
    }

    /// Computes windows `done .. done + rows` of every needed stage; returns the target's.
    fn step(&mut self, rows: usize) -> Result<Tensor, ExecError> {
        let plan = self.plan;
        let t0 = self.done;
        let (window, hop) = (plan.window, plan.hop);
        let first = t0 * hop as u64 - self.buffer_start;
        let span = (rows - 1) * hop + window;
        let start = usize::try_from(first).unwrap_or(usize::MAX);
        let samples = self.buffer[start..start + span].to_vec();
        let input = Tensor::strided(Data::F32(samples), rows, vec![window], hop)
            .map_err(|e| ExecError::Internal(format!("framing a streamed block: {e}")))?;
        let mut outputs: Vec<Option<Tensor>> = vec![None; plan.nodes().len()];
        outputs[INPUT_NODE] = Some(input);
        for (id, node) in plan.nodes().iter().enumerate().skip(1) {
            if !node.needed {
                continue;
            }
            let context_rows = usize::try_from(t0).unwrap_or(usize::MAX).min(node.context);
            let mut joined = Vec::with_capacity(node.inputs.len());
            for &input in &node.inputs {
                let Some(current) = outputs[input].as_ref() else {
                    return Err(ExecError::Internal(format!(
                        "`{}` ran before its input",
                        node.name
                    )));
                };
                joined.push(if context_rows == 0 {
                    None
                } else {
                    let history = self.history[input].as_ref().ok_or_else(|| {
                        ExecError::Internal(format!("no context rows kept for `{}`", node.name))
                    })?;
                    let mut rows = history
                        .slice_rows(history.rows() - context_rows..history.rows())
                        .to_tensor();
                    rows.extend_rows(&current.view());
                    Some(rows)
                });
            }
            let views: Vec<_> = joined
                .iter()
                .zip(&node.inputs)
                .map(|(j, &i)| match j {
                    Some(j) => j.view(),
                    None => outputs[i].as_ref().map(Tensor::view).unwrap_or_else(|| {
                        unreachable!("every input was checked to be present just above")
                    }),
                })
                .collect();
            let out = self.runner.call(id, t0, rows, context_rows, &views)?;
            drop(views);
            outputs[id] = Some(out);
        }
        for (id, keep) in self.keep_rows.iter().enumerate() {
            if *keep == 0 {
                continue;
            }
            if let Some(current) = &outputs[id] {
                let mut rows = self.history[id]
                    .take()
                    .unwrap_or_else(|| Tensor::empty(&current.layout()));
                rows.extend_rows(&current.view());
                let from = rows.rows().saturating_sub(*keep);
                self.history[id] = Some(rows.slice_rows(from..rows.rows()).to_tensor());
            }
        }
        self.done += rows as u64;
        // Samples before the next window's start are never read again.
        let next = self.done * hop as u64;
        let drop_to = usize::try_from(next - self.buffer_start)
            .unwrap_or(usize::MAX)
            .min(self.buffer.len());
        self.buffer.drain(..drop_to);
        self.buffer_start += drop_to as u64;
        let target = plan.target();
        let out = outputs[target]
            .take()
            .ok_or_else(|| ExecError::Internal("the target was not computed".into()));
        for (id, spent) in outputs.into_iter().enumerate().skip(1) {
            if let Some(tensor) = spent {
                self.runner.recycle(id, tensor);
            }
        }
        out
    }
}

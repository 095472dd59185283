//! Push/pull streaming: samples arrive in chunks of any size, outputs leave as soon as the
//! buffered input completes their windows. Every needed stage runs forward over the newly
//! completed windows, in dependency order, with the same per-block code as the other
//! executors; stages that read context keep the last rows of their inputs, kernels keep their
//! state. So any chunking of a stream gives exactly the bits of one push of the whole stream,
//! and memory is bounded by the input buffer, whatever the stream's length.

use super::forward_sweep::ForwardSweep;
use super::{ExecError, RunStats};
use crate::io::windows_in;
use crate::plan::Plan;
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
    sweep: ForwardSweep<'p>,
    /// Samples `[buffer_start, buffer_start + buffer.len())` of the stream.
    buffer: Vec<f32>,
    buffer_start: u64,
    /// Samples the buffer may hold.
    capacity: usize,
    /// Windows computed so far (every needed stage is at the same window).
    done: u64,
    /// Blocks a batch of the sweep takes (the plan's rule for its workers, worked out once).
    batch: usize,
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
        let capacity = plan
            .input_buffer_blocks
            .saturating_mul(plan.hop)
            .saturating_add(plan.window);
        let sweep = ForwardSweep::new(plan, plan.max_workers)?;
        Ok(Session {
            plan,
            batch: plan.parts_per_batch(sweep.workers()),
            sweep,
            buffer: Vec::new(),
            buffer_start: 0,
            capacity,
            done: 0,
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
        let mut out = Tensor::empty(&self.plan.target_node().port.layout);
        self.pull(t, |_, block| {
            out.extend_rows(&block.view());
            Ok(())
        })?;
        Ok(out)
    }

    /// Like [`Session::pull_until`] with no bound, handing each computed block to `emit` (with
    /// the window index of its first row) as it completes instead of collecting them.
    pub fn pull_each(
        &mut self,
        emit: impl FnMut(u64, &Tensor) -> Result<(), ExecError>,
    ) -> Result<u64, ExecError> {
        let start = self.done;
        self.pull(u64::MAX, emit)?;
        Ok(self.done - start)
    }

    /// Computes the windows before `t` that the buffer completes, a batch of blocks at a time.
    fn pull(
        &mut self,
        t: u64,
        mut emit: impl FnMut(u64, &Tensor) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let end = t.min(self.windows_available());
        let block = self.plan.block.max(1) as u64;
        while self.done < end {
            let batch = self.batch;
            let mut parts = Vec::with_capacity(batch);
            let mut t0 = self.done;
            while parts.len() < batch && t0 < end {
                let rows = (end - t0).min(block) as usize;
                parts.push(self.frame(t0, rows)?);
                t0 += rows as u64;
            }
            let mut first = self.done;
            for block in self.sweep.step(parts)? {
                emit(first, &block)?;
                first += block.rows() as u64;
            }
            self.done = t0;
            // Samples before the next window's start are never read again.
            let next = self.done * self.plan.hop as u64;
            let drop_to = usize::try_from(next - self.buffer_start)
                .unwrap_or(usize::MAX)
                .min(self.buffer.len());
            self.buffer.drain(..drop_to);
            self.buffer_start += drop_to as u64;
        }
        Ok(())
    }

    /// Windows `t0 .. t0 + rows` of the buffered samples.
    fn frame(&self, t0: u64, rows: usize) -> Result<Tensor, ExecError> {
        let (window, hop) = (self.plan.window, self.plan.hop);
        let first = usize::try_from(t0 * hop as u64 - self.buffer_start).unwrap_or(usize::MAX);
        let span = (rows - 1) * hop + window;
        let samples = self.buffer[first..first + span].to_vec();
        Tensor::strided(Data::F32(samples), rows, vec![window], hop)
            .map_err(|e| ExecError::Internal(format!("framing a streamed block: {e}")))
    }

    /// Counters of the stages so far.
    pub fn stats(&self) -> RunStats {
        RunStats {
            mode: Mode::Sqrt,
            windows_out: self.done,
            samples_read: self.buffer_start + self.buffer.len() as u64,
            elapsed: std::time::Duration::ZERO,
            stages: self.sweep.stats(),
            cache: Default::default(),
            checkpoints: Default::default(),
        }
    }
}

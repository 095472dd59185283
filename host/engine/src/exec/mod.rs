//! Executors: classic (each stage over the whole stream) and sqrt (one block at a time: a
//! forward sweep over the whole stream, or depth-first with checkpoints and a block cache for
//! random access and backward passes). All call the same per-block code, so their outputs are
//! the same bits.
//!
//! | file | what it is |
//! |---|---|
//! | `classic.rs` | classic mode: each stage once over the whole stream (the reference) |
//! | `depth_first.rs` | sqrt mode's random access (`--range`, [`Evaluator`]) and backward passes: each block of the target evaluated depth-first, down to the input |
//! | `forward_sweep.rs` | sqrt mode over a whole stream (one worker or several), streaming sessions and the probe: every stage over a batch of consecutive windows, in dependency order |
//! | `checkpoint_ring.rs` | the in-memory checkpoints of the depth-first engine: every `k` windows, in a ring of slots per stage |
//! | `disk_checkpoints.rs` | checkpoints on disk (`--checkpoint-dir`): the forward sweep's state, synced, so a killed run resumes |
//! | `cache.rs` | the byte-bounded LRU of blocks the depth-first engine reuses |
//! | `runner.rs` | one call of one stage on one block, timed and checked, shared by all of them |
//! | `probe.rs` | the probe: the first windows timed, the facts the planner predicts from |
//! | `segments.rs` | one long stream over many workers: the pure prefix anywhere, segment by segment, the stateful rest in time order ([`Split`]) |
//! | `session.rs` | push samples, pull rows: a [`Session`] over the forward sweep |
//! | `spool.rs` | the rows of a reversed kernel, spooled to disk |

mod cache;
mod checkpoint_ring;
mod classic;
mod depth_first;
mod disk_checkpoints;
mod forward_sweep;
mod probe;
mod runner;
mod segments;
mod session;
mod spool;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use crate::stage::StageError;
pub use cache::CacheStats;
pub use checkpoint_ring::CheckpointStats;
pub use disk_checkpoints::{
    CheckpointDir, DiskCheckpointError, DiskCheckpointStats, Identity, InputIdentity, Saved,
    read_checkpoint,
};
pub use forward_sweep::SweepState;
pub use probe::probe;
pub use runner::StageStats;
pub use segments::{PrefixWorker, SegmentRows, Split, StatefulPart};
pub use session::Session;

use crate::io::{Framer, InputError, MemorySink, MemorySource, OutputError, Sink};
use crate::plan::Plan;
use crate::spec::Mode;
use crate::tensor::Tensor;

/// A half-open range of window indices, `[start, end)`; no end means to the end of the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowRange {
    /// First window.
    pub start: u64,
    /// One past the last window, if bounded.
    pub end: Option<u64>,
}

impl WindowRange {
    /// Every window.
    pub fn all() -> WindowRange {
        WindowRange::default()
    }

    /// Windows `start..end`.
    pub fn new(start: u64, end: u64) -> WindowRange {
        WindowRange {
            start,
            end: Some(end),
        }
    }

    /// How many windows of an input of `total` windows the range covers.
    pub fn rows_of(&self, total: u64) -> u64 {
        self.end
            .unwrap_or(total)
            .min(total)
            .saturating_sub(self.start)
    }
}

impl std::str::FromStr for WindowRange {
    type Err = String;
    /// `t0:t1`, `t0:` or `:t1`.
    fn from_str(s: &str) -> Result<WindowRange, String> {
        let bad = || format!("`{s}` is not a window range; write t0:t1, t0: or :t1");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let start = if a.is_empty() {
            0
        } else {
            a.trim().parse().map_err(|_| bad())?
        };
        let end = if b.is_empty() {
            None
        } else {
            Some(b.trim().parse().map_err(|_| bad())?)
        };
        if end.is_some_and(|e| e < start) {
            return Err(format!("window range `{s}` ends before it starts"));
        }
        Ok(WindowRange { start, end })
    }
}

/// A run failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A stage reported an error.
    #[error("stage `{stage}` failed on windows {t0}..{t1}: {source}")]
    Stage {
        /// The stage.
        stage: String,
        /// First window of the block.
        t0: u64,
        /// One past the last window of the block.
        t1: u64,
        /// What it said.
        source: StageError,
    },
    /// A stage returned something other than what it declared.
    #[error("stage `{stage}` returned {found} for windows {t0}..{t1}, but it declared {expected}")]
    BadOutput {
        /// The stage.
        stage: String,
        /// First window of the block.
        t0: u64,
        /// One past the last window of the block.
        t1: u64,
        /// What it declared.
        expected: String,
        /// What came back.
        found: String,
    },
    /// Reading the input failed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing the output failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Scratch space for a stage's output could not be used.
    #[error("stage `{stage}`: cannot use temporary space for its backward pass: {source}")]
    Scratch {
        /// The stage.
        stage: String,
        /// Why.
        source: std::io::Error,
    },
    /// A checkpoint on disk could not be used or written.
    #[error(transparent)]
    Checkpoint(#[from] DiskCheckpointError),
    /// The plan asks for something this way of running cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A broken invariant of the executor itself.
    #[error("internal error: {0}")]
    Internal(String),
    /// The run was asked to stop ([`stop_flag`]), and stopped before its next stage call.
    #[error("stopped on request")]
    Stopped,
}

/// The flag that asks every run in this process to stop: it is checked before each stage
/// call, and a run that finds it set ends with [`ExecError::Stopped`] (its output is not
/// committed; checkpoints already on disk stay valid). Setting it is one atomic store, so a
/// signal handler may do it: `signal_hook::flag::register(SIGINT, stop_flag())`.
pub fn stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    static FLAG: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
        std::sync::OnceLock::new();
    FLAG.get_or_init(Default::default).clone()
}

/// What a run did: the counters the report shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunStats {
    /// The executor that ran.
    pub mode: Mode,
    /// Rows written to the sink.
    pub windows_out: u64,
    /// Samples read from the input (re-reads included).
    pub samples_read: u64,
    /// Time from the first block to the last row written.
    #[serde(serialize_with = "as_secs", deserialize_with = "from_secs")]
    pub elapsed: Duration,
    /// Per stage, in plan order (the input first).
    pub stages: Vec<StageStats>,
    /// Block cache counters (sqrt mode).
    pub cache: CacheStats,
    /// Checkpoint counters (sqrt mode).
    pub checkpoints: CheckpointStats,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn from_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

/// Runs `plan` over the windows of `framer` in `range`, writing the target's rows to `sink`
/// with the executor the plan chose.
pub fn run(
    plan: &Plan,
    framer: &mut Framer,
    range: WindowRange,
    sink: &mut dyn Sink,
) -> Result<RunStats, ExecError> {
    let started = Instant::now();
    let (windows_out, stages, cache, checkpoints) = match plan.mode {
        Mode::Classic => {
            let mut runner = runner::Runner::new(plan)?;
            let written = classic::run(plan, &mut runner, framer, range, sink)?;
            (
                written,
                runner.stats,
                CacheStats::default(),
                CheckpointStats::default(),
            )
        }
        Mode::Sqrt | Mode::Auto if sweeps_forward(plan, range) => {
            let (written, stages) = forward_sweep::run(plan, framer, range, sink)?;
            (
                written,
                stages,
                CacheStats::default(),
                CheckpointStats::default(),
            )
        }
        Mode::Sqrt | Mode::Auto => {
            let mut executor = depth_first::DepthFirst::new(plan, &mut *framer)?;
            let written = executor.run(range, sink)?;
            let cache = executor.cache.stats();
            let checkpoints = executor.ring.stats();
            (written, executor.runner.stats, cache, checkpoints)
        }
    };
    Ok(RunStats {
        mode: plan.mode,
        windows_out,
        samples_read: framer.samples_read(),
        elapsed: started.elapsed(),
        stages,
        cache,
        checkpoints,
    })
}

/// Runs `plan` like [`run`] in sqrt mode's forward sweep, keeping a checkpoint on disk in
/// `dir` (see [`CheckpointDir`]), and going on from `saved` (read by [`CheckpointDir::open`]
/// and matched to this run) when given. `sink` must be one a run can be resumed into
/// ([`crate::io::FileSink::resumable`]), cut back to `saved`'s committed length.
pub fn run_persisted(
    plan: &Plan,
    framer: &mut Framer,
    range: WindowRange,
    sink: &mut dyn Sink,
    dir: &mut CheckpointDir,
    saved: Option<&Saved>,
) -> Result<RunStats, ExecError> {
    let started = Instant::now();
    let mut sweep = forward_sweep::ForwardSweep::new(plan, plan.max_workers)?;
    if let Some(saved) = saved {
        sweep.restore(&saved.sweep)?;
    }
    let windows_out = forward_sweep::run_from(&mut sweep, framer, range, sink, dir)?;
    Ok(RunStats {
        mode: Mode::Sqrt,
        windows_out,
        samples_read: framer.samples_read(),
        elapsed: started.elapsed(),
        stages: sweep.stats(),
        cache: CacheStats::default(),
        checkpoints: CheckpointStats::default(),
    })
}

/// Random access to the target's rows of one input: each request runs sqrt mode over just
/// the blocks it needs, and the checkpoints one request leaves (kernel states every
/// `checkpoint_every` windows) serve the next, so once they exist a request late in a long
/// stream recomputes at most `checkpoint_every` windows per kernel instead of replaying the
/// stream from its start.
///
/// ```
/// use sqrtspace::{Evaluator, Plan, Spec, WindowRange};
/// use sqrtspace::io::{Framer, MemorySource};
/// let spec = Spec::from_ron(r#"(window: 4, hop: 2, sample_rate: 8, block: 4, checkpoint_every: 8,
///     stages: [(name: "smooth", inputs: ["input"], op: Iir(filter: Lowpass(cutoff_hz: 1.0, q: 0.7)))])"#, "doc").unwrap();
/// let plan = Plan::new(&spec, Some(999)).unwrap();
/// let samples: Vec<f32> = (0..2000).map(|i| (i as f32).sin()).collect();
/// let mut at = Evaluator::new(&plan, Framer::new(Box::new(MemorySource::new(samples)), 4, 2)).unwrap();
/// let late = at.evaluate(WindowRange::new(900, 904)).unwrap();   // cold: steps 0..900 once
/// let again = at.evaluate(WindowRange::new(901, 902)).unwrap();  // warm: from the checkpoint at 896
/// assert!(late.slice_rows(1..2).bit_identical(&again.view()));
/// assert!(at.last_request().checkpoints.windows_recomputed <= 8);
/// ```
pub struct Evaluator<'p> {
    executor: depth_first::DepthFirst<'p, Framer>,
    plan: &'p Plan,
    last: RunStats,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("input", &self.executor.framer().describe())
            .finish()
    }
}

impl<'p> Evaluator<'p> {
    /// An evaluator of `plan` over the windows of `framer` (a source that can seek, for
    /// requests that go back in time).
    pub fn new(plan: &'p Plan, framer: Framer) -> Result<Evaluator<'p>, ExecError> {
        Ok(Evaluator {
            executor: depth_first::DepthFirst::new(plan, framer)?,
            plan,
            last: RunStats {
                mode: Mode::Sqrt,
                windows_out: 0,
                samples_read: 0,
                elapsed: Duration::ZERO,
                stages: Vec::new(),
                cache: CacheStats::default(),
                checkpoints: CheckpointStats::default(),
            },
        })
    }

    /// The target's rows in `range`.
    pub fn evaluate(&mut self, range: WindowRange) -> Result<Tensor, ExecError> {
        let mut sink = MemorySink::new(&self.plan.target_node().port.layout);
        self.run(range, &mut sink)?;
        Ok(sink.tensor)
    }

    /// Writes the target's rows in `range` to `sink`; returns how many.
    pub fn run(&mut self, range: WindowRange, sink: &mut dyn Sink) -> Result<u64, ExecError> {
        let started = Instant::now();
        let before = self.totals();
        let written = self.executor.run(range, sink)?;
        let after = self.totals();
        self.last = after.since(&before);
        self.last.windows_out = written;
        self.last.elapsed = started.elapsed();
        Ok(written)
    }

    /// What the last request did: windows computed per stage, windows recomputed to reach
    /// it, checkpoints restored.
    pub fn last_request(&self) -> &RunStats {
        &self.last
    }

    /// Counters since the evaluator was made.
    pub fn totals(&self) -> RunStats {
        RunStats {
            mode: Mode::Sqrt,
            windows_out: 0,
            samples_read: self.executor.framer().samples_read(),
            elapsed: Duration::ZERO,
            stages: self.executor.runner.stats.clone(),
            cache: self.executor.cache.stats(),
            checkpoints: self.executor.ring.stats(),
        }
    }
}

impl RunStats {
    /// The counters that grew from `earlier` to `self` (levels such as bytes held stay).
    fn since(&self, earlier: &RunStats) -> RunStats {
        let mut out = self.clone();
        out.samples_read -= earlier.samples_read;
        for (now, then) in out.stages.iter_mut().zip(&earlier.stages) {
            *now = now.since(then);
        }
        let (k, k0) = (&mut out.checkpoints, &earlier.checkpoints);
        k.states_saved -= k0.states_saved;
        k.outputs_saved -= k0.outputs_saved;
        k.restores -= k0.restores;
        k.output_hits -= k0.output_hits;
        k.windows_recomputed -= k0.windows_recomputed;
        let (c, c0) = (&mut out.cache, &earlier.cache);
        c.hits -= c0.hits;
        c.misses -= c0.misses;
        c.evictions -= c0.evictions;
        c.evicted_bytes -= c0.evicted_bytes;
        c.inserts -= c0.inserts;
        c.rejected -= c0.rejected;
        c.retired -= c0.retired;
        out
    }
}

/// Whether a sqrt run goes through the forward sweep: from the start of the stream, with no
/// stage that runs backward in time ([`Plan::sweeps_forward`]). It frames the next batch on a
/// thread of its own while the workers (one or more) compute this one. Random access and
/// backward passes run depth-first on one worker, with checkpoints and the block cache.
fn sweeps_forward(plan: &Plan, range: WindowRange) -> bool {
    range.start == 0 && plan.sweeps_forward()
}

/// Runs `plan` over samples in memory and returns the target's rows in `range`.
///
/// ```
/// use sqrtspace::{evaluate, Plan, Spec, WindowRange};
/// let spec = Spec::from_ron(r#"(window: 4, hop: 2, sample_rate: 8,
///     stages: [(name: "fft", inputs: ["input"], op: WindowFft(window: Rectangular))])"#, "doc").unwrap();
/// let plan = Plan::new(&spec, None).unwrap();
/// let rows = evaluate(&plan, vec![1.0; 10], WindowRange::all()).unwrap();
/// assert_eq!((rows.rows(), rows.row_shape()), (4, &[3][..]));
/// ```
pub fn evaluate(plan: &Plan, samples: Vec<f32>, range: WindowRange) -> Result<Tensor, ExecError> {
    let mut framer = Framer::new(Box::new(MemorySource::new(samples)), plan.window, plan.hop);
    let mut sink = MemorySink::new(&plan.target_node().port.layout);
    run(plan, &mut framer, range, &mut sink)?;
    Ok(sink.tensor)
}

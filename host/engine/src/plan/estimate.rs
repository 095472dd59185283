//! Predictions: a probe (run by the executor layer, [`crate::exec::probe`]) measures time per
//! window of every stage over the first windows of the input; with the layouts (bytes per window), the machine facts and the stream
//! length, the planner predicts peak memory and wall time for classic and sqrt mode, and auto
//! mode picks classic only when it fits comfortably and is not predicted slower.

use serde::{Deserialize, Serialize};

use super::{Decision, Plan};
use crate::spec::{ByteSize, Mode};

/// Windows a probe runs through each stage, at most.
pub const PROBE_WINDOWS: usize = 64;
/// Executor cost per block beyond the stages (measured by `bench/benches/executor.rs`).
const BLOCK_OVERHEAD_SECS: f64 = 1.2e-6;
/// The executors' cost of one stage call beyond the stage's own time (its output buffer, its
/// inputs' views, the cache and checkpoint checks): 1.9 µs measured on a chain of 2,000
/// pass-through stages at one window a block, where it is all there is (57 s against 1 s in
/// classic mode, which calls each stage once).
const STAGE_CALL_SECS: f64 = 1.9e-6;
/// Starting a worker thread and its stage instances.
const POOL_START_SECS: f64 = 100e-6;
/// Classic is chosen only when its predicted peak is at most this share of available memory.
const COMFORTABLE: f64 = 0.5;

/// What a probe measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Windows it ran.
    pub windows: u64,
    /// Nanoseconds per window for each node, in plan order (the input: reading and framing).
    pub ns_per_window: Vec<f64>,
    /// Peak RSS of the process when the probe had run (binary, engine, plugins, buffers):
    /// what any run starts from.
    pub baseline_rss: u64,
    /// The file-backed part of `baseline_rss` (mostly the executable's pages).
    #[serde(default)]
    pub baseline_file_rss: u64,
    /// Memory one worker's pure-stage instances held after the probe (Wasm linear memory):
    /// each worker beyond the first has instances of its own.
    #[serde(default)]
    pub worker_instance_bytes: u64,
    /// Bytes of each kernel's state after the probe, in plan order (0 for other nodes):
    /// every checkpoint keeps a copy.
    #[serde(default)]
    pub state_bytes: Vec<u64>,
}

/// Predicted peak RSS and wall time of a whole run in each mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    /// Windows the predictions are for.
    pub windows: u64,
    /// Classic mode: peak RSS, bytes.
    pub classic_peak_bytes: u64,
    /// Classic mode: wall time, seconds.
    pub classic_secs: f64,
    /// Sqrt mode: peak RSS, bytes.
    pub sqrt_peak_bytes: u64,
    /// Sqrt mode: wall time, seconds.
    pub sqrt_secs: f64,
    /// File-backed bytes included in both peaks (the probe's baseline).
    #[serde(default)]
    pub file_bytes: u64,
}

impl Estimates {
    /// The prediction for `mode`: (peak bytes, seconds).
    pub fn for_mode(&self, mode: Mode) -> (u64, f64) {
        match mode {
            Mode::Classic => (self.classic_peak_bytes, self.classic_secs),
            _ => (self.sqrt_peak_bytes, self.sqrt_secs),
        }
    }
}

/// Predicts both modes for `windows` windows.
pub fn estimate(plan: &Plan, probe: &Probe, windows: u64) -> Estimates {
    let nodes = plan.nodes();
    let t = windows as f64;
    let needed = |i: usize| nodes[i].needed;
    let ns = |i: usize| probe.ns_per_window.get(i).copied().unwrap_or(0.0);
    let read_ns = ns(0);
    let (mut pure_ns, mut kernel_ns) = (0.0, 0.0);
    for (i, node) in nodes.iter().enumerate().skip(1).filter(|&(i, _)| needed(i)) {
        if node.kernel {
            kernel_ns += ns(i);
        } else {
            pure_ns += ns(i);
        }
    }

    // Classic: the input and every intermediate whole, each freed after its last reader.
    let input_bytes = if windows == 0 {
        0
    } else {
        ((windows - 1) * plan.hop as u64 + plan.window as u64)
            * nodes[0].port.layout.dtype.size() as u64
    };
    let whole = |i: usize| {
        if i == 0 {
            input_bytes
        } else {
            windows * nodes[i].port.layout.row_bytes() as u64
        }
    };
    let mut readers: Vec<usize> = nodes.iter().map(|n| n.fan_out).collect();
    let (mut live, mut peak, mut materialized) = (whole(0), whole(0), whole(0));
    for (i, node) in nodes.iter().enumerate().skip(1).filter(|&(i, _)| needed(i)) {
        live += whole(i);
        materialized += whole(i);
        peak = peak.max(live);
        for &input in &node.inputs {
            readers[input] = readers[input].saturating_sub(1);
            if readers[input] == 0 && input != plan.target() {
                live -= whole(input);
            }
        }
    }
    let classic_peak_bytes = probe.baseline_rss + peak + 2 * probe.state_bytes.iter().sum::<u64>();
    // What does not fit in the last-level cache goes to fresh memory and back.
    let spilled = materialized.saturating_sub(plan.machine.llc_bytes);
    let classic_secs = t * (read_ns + pure_ns + kernel_ns) * 1e-9
        + spilled as f64 * plan.machine.fresh_ns_per_byte * 1e-9;

    // Sqrt: a batch of blocks per worker (and a spare set), the checkpoints, the cache.
    let sweeps = plan.sweeps_forward();
    let workers = if sweeps { plan.max_workers.max(1) } else { 1 };
    // At the peak, three batches of parts: the one being computed, the next being framed,
    // and the buffers handed back to the framer before it fills them again; and each worker's
    // prefix rows twice (the block in use and a spare).
    let held = plan.sweep_bytes();
    let batch = 3 * plan.parts_per_batch(workers) as u64 * held.per_part as u64
        + 2 * workers as u64 * held.per_worker as u64;
    let ring = checkpoint_bytes(plan, probe).saturating_mul(plan.checkpoint_slots as u64);
    let cached: u64 = nodes
        .iter()
        .filter(|n| n.needed && (n.fan_out > 1 || n.read_with_context))
        .map(|n| 3 * plan.block as u64 * n.port.layout.row_bytes() as u64)
        .sum();
    let cache = if sweeps {
        0
    } else {
        cached.min(plan.lru_bytes)
    };
    let instances = probe.worker_instance_bytes * (workers as u64 - 1);
    // A kernel's state lives in the host, and the state a step returns arrives while the old
    // one is still held: two copies beside the ring's (the plugin's own copies are in its
    // linear memory, which the baseline holds).
    let live_states = 2 * probe.state_bytes.iter().sum::<u64>();
    let sqrt_peak_bytes = probe.baseline_rss + batch + ring + cache + instances + live_states;
    let parallel = workers.min(plan.machine.cores.max(1)) as f64;
    let stages = nodes.iter().skip(1).filter(|n| n.needed).count();
    let blocks = t / plan.block.max(1) as f64;
    let start = if workers > 1 {
        POOL_START_SECS * workers as f64
    } else {
        0.0
    };
    let sqrt_secs = t * (read_ns + kernel_ns + pure_ns / parallel) * 1e-9
        + blocks * BLOCK_OVERHEAD_SECS
        + blocks * stages as f64 * STAGE_CALL_SECS
        + start;
    Estimates {
        windows,
        classic_peak_bytes,
        classic_secs,
        sqrt_peak_bytes,
        sqrt_secs,
        file_bytes: probe.baseline_file_rss,
    }
}

/// Bytes one checkpoint holds: the blocks of stages whose output is checkpointed and every
/// kernel's state (as the probe measured it; four rows' worth when it did not).
fn checkpoint_bytes(plan: &Plan, probe: &Probe) -> u64 {
    plan.nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.needed && (n.checkpoint_output || n.kernel))
        .map(|(i, n)| {
            let row = n.port.layout.row_bytes() as u64;
            let output = if n.checkpoint_output {
                (plan.block as u64).saturating_mul(row)
            } else {
                0
            };
            let state = if n.kernel {
                probe
                    .state_bytes
                    .get(i)
                    .copied()
                    .filter(|&b| b > 0)
                    .unwrap_or(4 * row)
            } else {
                0
            };
            output.saturating_add(state)
        })
        .fold(0, u64::saturating_add)
}

impl Plan {
    /// Attaches predictions from `probe` for the input's length, and in auto mode picks the
    /// mode from them: classic only when its peak is at most half the available memory and it
    /// is not predicted slower than sqrt.
    pub fn apply_probe(&mut self, probe: &Probe) {
        // The ring the planner sized before the probe counted no kernel state: with the
        // states measured, it keeps as many checkpoints as fit its budget (two at least).
        let per_checkpoint = checkpoint_bytes(self, probe);
        if self.auto_slots
            && per_checkpoint.saturating_mul(self.checkpoint_slots as u64)
                > super::CHECKPOINT_BUDGET as u64
        {
            let slots = usize::try_from(super::CHECKPOINT_BUDGET as u64 / per_checkpoint.max(1))
                .unwrap_or(usize::MAX)
                .max(2);
            if slots < self.checkpoint_slots {
                self.checkpoint_slots = slots;
                set_decision(
                    &mut self.decisions,
                    "checkpoint_slots",
                    slots.to_string(),
                    format!(
                        "as many checkpoints ({} each, kernel states included) as fit in {} \
                         (two at least)",
                        ByteSize(per_checkpoint),
                        ByteSize(super::CHECKPOINT_BUDGET as u64)
                    ),
                );
            }
        }
        let Some(windows) = self.input_windows else {
            return;
        };
        let e = estimate(self, probe, windows);
        if self.auto_mode {
            let budget = (self.machine.available_ram as f64 * COMFORTABLE) as u64;
            let fits = e.classic_peak_bytes <= budget;
            let faster = e.classic_secs <= e.sqrt_secs;
            let (mode, why) = match (fits, faster) {
                (true, true) => (
                    Mode::Classic,
                    format!(
                        "auto: classic fits comfortably ({} predicted, half of the {} available is {}) \
                         and is not slower ({:.3} s vs {:.3} s for sqrt)",
                        ByteSize(e.classic_peak_bytes),
                        ByteSize(self.machine.available_ram),
                        ByteSize(budget),
                        e.classic_secs,
                        e.sqrt_secs
                    ),
                ),
                (false, _) => (
                    Mode::Sqrt,
                    format!(
                        "auto: classic would need {} (more than half of the {} available); sqrt needs {}",
                        ByteSize(e.classic_peak_bytes),
                        ByteSize(self.machine.available_ram),
                        ByteSize(e.sqrt_peak_bytes)
                    ),
                ),
                (true, false) => (
                    Mode::Sqrt,
                    format!(
                        "auto: sqrt is predicted faster ({:.3} s vs {:.3} s for classic, which fits in {})",
                        e.sqrt_secs,
                        e.classic_secs,
                        ByteSize(e.classic_peak_bytes)
                    ),
                ),
            };
            self.mode = mode;
            set_decision(&mut self.decisions, "mode", mode.to_string(), why);
        }
        self.estimates = Some(e);
    }
}

fn set_decision(decisions: &mut [Decision], setting: &str, value: String, reason: String) {
    if let Some(d) = decisions.iter_mut().find(|d| d.setting == setting) {
        d.value = value;
        d.reason = reason;
    }
}

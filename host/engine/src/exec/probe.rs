//! The probe: the first windows of the input through every needed stage, timed, so that the
//! planner can predict each mode from measured facts ([`Probe`]) rather than run stages itself.

use std::time::Instant;

use super::ExecError;
use super::forward_sweep::ForwardSweep;
use crate::io::Framer;
use crate::metrics::{Resident, Usage, current_rss};
use crate::plan::{PROBE_WINDOWS, Plan, Probe};

/// Runs the first windows of `framer` (at most [`PROBE_WINDOWS`]) through every needed stage
/// twice, on one worker, and times the second pass; then moves the framer back to the start.
pub fn probe(plan: &Plan, framer: &mut Framer) -> Result<Probe, ExecError> {
    let part = PROBE_WINDOWS.min(plan.block.max(1));
    // One set of instances for both passes, so the second sees them warm (a Wasm instance's
    // first calls grow its memory and fault in its pages).
    let mut sweep = ForwardSweep::for_probe(plan)?;
    let mut measured = None;
    for _ in 0..2 {
        let mut parts = Vec::new();
        let mut t = 0u64;
        let started = Instant::now();
        while (t as usize) < PROBE_WINDOWS {
            let block = framer.frame(t, part.min(PROBE_WINDOWS - t as usize))?;
            if block.rows() == 0 {
                break;
            }
            t += block.rows() as u64;
            parts.push(block);
        }
        let framing = started.elapsed();
        let windows = t;
        let before = sweep.stats();
        for p in parts {
            sweep.step(vec![p])?;
        }
        measured = Some((windows, framing, before, sweep.stats()));
    }
    let Some((windows, framing, before, after)) = measured else {
        return Err(ExecError::Internal("the probe did not run".into()));
    };
    let stats: Vec<_> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.since(b).nanos)
        .collect();
    let per = |nanos: f64| {
        if windows == 0 {
            0.0
        } else {
            nanos / windows as f64
        }
    };
    let mut state_bytes = vec![0; plan.nodes().len()];
    for (id, state) in sweep.state()?.kernels {
        if let Some(bytes) = state_bytes.get_mut(id) {
            *bytes = state.len() as u64;
        }
    }
    let mut ns_per_window: Vec<f64> = stats.iter().map(|&n| per(n as f64)).collect();
    if let Some(input) = ns_per_window.first_mut() {
        *input = per(framing.as_nanos() as f64);
    }
    Ok(Probe {
        windows,
        ns_per_window,
        // The peak so far: a run's peak cannot be lower. It includes compiling the plugins
        // that were not in the cache (tens of MiB for a large component, once per plugin
        // version and machine), which a run with a warm cache does not pay.
        baseline_rss: Usage::now().max_rss_bytes.max(current_rss().unwrap_or(0)),
        baseline_file_rss: Resident::now().map_or(0, |r| r.file_bytes),
        worker_instance_bytes: sweep.worker_instance_bytes(),
        state_bytes,
    })
}

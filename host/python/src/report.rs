//! `Pipeline.report()`: what the last run planned and what each stage cost, as a text table.

use std::fmt::Write;

use sqrtspace::exec::RunStats;
use sqrtspace::{Plan, spec::ByteSize};

/// The report of one run.
pub fn report(plan: &Plan, stats: &RunStats) -> String {
    let mut out = String::new();
    let secs = stats.elapsed.as_secs_f64();
    let _ = writeln!(
        out,
        "mode {}, block {}, checkpoint every {}, cache {}, {} worker(s): {} windows in {:.3} s",
        stats.mode,
        plan.block,
        plan.checkpoint_every,
        ByteSize(plan.lru_bytes),
        plan.max_workers,
        stats.windows_out,
        secs
    );
    if let Some(reason) = plan.decisions.iter().find(|d| d.setting == "mode") {
        let _ = writeln!(out, "why {}: {}", reason.value, reason.reason);
    }
    let total: u64 = stats.stages.iter().map(|s| s.nanos).sum::<u64>().max(1);
    let name_width = stats
        .stages
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let op_width = stats
        .stages
        .iter()
        .map(|s| s.op.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:<op_width$}  {:>8}  {:>10}  {:>10}  {:>6}  {:>10}",
        "stage", "op", "calls", "windows", "time", "share", "output"
    );
    for s in &stats.stages {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:<op_width$}  {:>8}  {:>10}  {:>8.1}ms  {:>5.1}%  {:>10}",
            s.name,
            s.op,
            s.calls,
            s.windows,
            s.nanos as f64 / 1e6,
            100.0 * s.nanos as f64 / total as f64,
            ByteSize(s.bytes_out).to_string()
        );
    }
    let cache = &stats.cache;
    let checkpoints = &stats.checkpoints;
    let _ = writeln!(out, "cache {cache:?}");
    let _ = write!(out, "checkpoints {checkpoints:?}");
    out
}

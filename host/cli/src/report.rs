//! The report of one `sqrtspace run`: what the plan chose, what the run cost and each stage's
//! share, as text (`--metrics`) and as JSON (`--metrics-json`).

use std::fmt;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde::{Deserialize, Serialize};
use sqrtspace::RunStats;
use sqrtspace::metrics::{IoCounters, LlcMisses, Resident, Usage};
use sqrtspace::spec::{ByteSize, Mode};

/// Everything a run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The pipeline file.
    pub pipeline: String,
    /// The input.
    pub input: String,
    /// The stage whose rows were written.
    pub target: String,
    /// The executor.
    pub mode: Mode,
    /// Why that executor.
    pub mode_reason: String,
    /// Samples per window.
    pub window: usize,
    /// Samples between windows.
    pub hop: usize,
    /// Windows per block.
    pub block: usize,
    /// Windows between checkpoints.
    pub checkpoint_every: usize,
    /// Block cache cap.
    pub lru_bytes: u64,
    /// Worker threads.
    pub workers: usize,
    /// Wall time of the whole command, seconds.
    pub wall_secs: f64,
    /// Process resource usage at the end.
    pub usage: Usage,
    /// Process I/O at the end.
    pub io: Option<IoCounters>,
    /// The plugins loaded, and whether each came from the compile cache.
    #[serde(default)]
    pub plugins: Vec<sqrtspace::plan::PluginLoad>,
    /// The executor's counters.
    pub run: RunStats,
    /// What the planner predicted for this run's mode, if it probed: (peak bytes, seconds).
    #[serde(default)]
    pub predicted: Option<(u64, f64)>,
    /// File-backed bytes inside the predicted peak (mapped when the probe had run).
    #[serde(default)]
    pub predicted_file_bytes: Option<u64>,
    /// Resident memory at the end of the run, by what backs it.
    #[serde(default)]
    pub resident_at_end: Option<Resident>,
    /// What keeping checkpoints on disk cost, for runs with `--checkpoint-dir`.
    #[serde(default)]
    pub persisted: Option<sqrtspace::exec::DiskCheckpointStats>,
    /// Last-level-cache read misses over the whole command, or why they were not counted.
    #[serde(default)]
    pub llc_misses: Option<LlcMisses>,
    /// What an input of lines held: lines, bad UTF-8, cut lines, bytes.
    #[serde(default)]
    pub lines: Option<sqrtspace::io::LineStats>,
}

/// Seconds, with a unit that keeps three significant digits.
pub fn format_secs(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Mode: {} ({})", self.mode, self.mode_reason)?;
        writeln!(
            f,
            "Window: {}   Hop: {}   Block: {}   k: {}   LRU: {}   Workers: {}",
            self.window,
            self.hop,
            self.block,
            self.checkpoint_every,
            ByteSize(self.lru_bytes),
            self.workers
        )?;
        let run = &self.run;
        let rate = run.windows_out as f64 / run.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "Windows: {} of `{}` in {} ({:.0} windows/s); wall {}",
            run.windows_out,
            self.target,
            format_secs(run.elapsed.as_secs_f64()),
            rate,
            format_secs(self.wall_secs)
        )?;
        write!(
            f,
            "Peak RSS: {}   Faults: {} major, {} minor",
            ByteSize(self.usage.max_rss_bytes),
            self.usage.major_faults,
            self.usage.minor_faults
        )?;
        if let Some((bytes, secs)) = self.predicted {
            write!(
                f,
                "   Predicted: peak {}, wall {}",
                ByteSize(bytes),
                format_secs(secs)
            )?;
        }
        match self.io {
            Some(io) => writeln!(
                f,
                "   Read: {}   Written: {}",
                ByteSize(io.rchar),
                ByteSize(io.wchar)
            )?,
            None => writeln!(
                f,
                "   I/O: n/a (this system keeps no per-process I/O counters)"
            )?,
        }
        if let Some(lines) = self.lines {
            writeln!(
                f,
                "Lines: {} read ({}, {:.0} lines/s), {} not UTF-8 (bad bytes replaced with U+FFFD), {} cut to the longest line kept",
                lines.lines,
                ByteSize(lines.bytes),
                lines.lines as f64 / run.elapsed.as_secs_f64().max(1e-9),
                lines.invalid_utf8,
                lines.truncated
            )?;
        }
        match &self.llc_misses {
            Some(LlcMisses::Counted(n)) => writeln!(f, "LLC misses: {n} (reads)")?,
            Some(LlcMisses::Unavailable(why)) => writeln!(f, "LLC misses: n/a ({why})")?,
            None => {}
        }
        if let Some(p) = self.persisted {
            writeln!(
                f,
                "Checkpoints on disk: {} written ({} each), {} syncing and writing{}",
                p.saved,
                ByteSize(p.bytes),
                format_secs(p.secs),
                p.resumed_at
                    .map_or(String::new(), |t| format!("; resumed at window {t}"))
            )?;
        }
        if let Some(r) = self.resident_at_end {
            writeln!(
                f,
                "Resident at end: {} anonymous, {} file-backed (executable and libraries)",
                ByteSize(r.anon_bytes),
                ByteSize(r.file_bytes)
            )?;
        }
        let (c, k) = (&run.cache, &run.checkpoints);
        let untouched = c.hits + c.misses + c.inserts == 0
            && k.states_saved + k.outputs_saved + k.restores + k.windows_recomputed == 0;
        if self.mode == Mode::Sqrt && untouched {
            // A forward sweep: nothing is looked up again, so there is nothing to count.
            writeln!(
                f,
                "Cache and checkpoints: none used (every window computed once, in order)"
            )?;
        } else if self.mode == Mode::Sqrt {
            writeln!(
                f,
                "Cache: {} hits, {} misses, {} evictions ({}), peak {}   Checkpoints: {} states, {} outputs, {} restores, {} windows recomputed, peak {}",
                c.hits,
                c.misses,
                c.evictions,
                ByteSize(c.evicted_bytes),
                ByteSize(c.peak_bytes),
                k.states_saved,
                k.outputs_saved,
                k.restores,
                k.windows_recomputed,
                ByteSize(k.peak_bytes)
            )?;
        }
        for plugin in &self.plugins {
            writeln!(
                f,
                "Plugin `{}`: {} ({}, {:.2} ms)",
                plugin.stage,
                plugin.path,
                match plugin.cache {
                    sqrtspace::plugin::CacheOutcome::Hit => "from the compile cache",
                    sqrtspace::plugin::CacheOutcome::Compiled => "compiled and cached",
                    sqrtspace::plugin::CacheOutcome::Replaced =>
                        "cache entry damaged: compiled and replaced",
                    sqrtspace::plugin::CacheOutcome::Uncached => "compiled, not cached",
                },
                plugin.load_ms
            )?;
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        let plugins = run.stages.iter().any(|s| s.copy_nanos > 0);
        let mut header = vec!["stage", "op", "calls", "windows", "time", "share", "output"];
        if plugins {
            // A plugin stage's time, split: copying blocks to and from the contract's types.
            header.insert(6, "copying");
        }
        table.set_header(header);
        let total: u64 = run.stages.iter().map(|s| s.nanos).sum();
        for s in run.stages.iter().filter(|s| s.calls > 0) {
            let mut row = vec![
                Cell::new(&s.name),
                Cell::new(&s.op),
                Cell::new(s.calls).set_alignment(CellAlignment::Right),
                Cell::new(s.windows).set_alignment(CellAlignment::Right),
                Cell::new(format_secs(s.nanos as f64 * 1e-9)).set_alignment(CellAlignment::Right),
                Cell::new(format!(
                    "{:.1}%",
                    100.0 * s.nanos as f64 / total.max(1) as f64
                ))
                .set_alignment(CellAlignment::Right),
                Cell::new(ByteSize(s.bytes_out)).set_alignment(CellAlignment::Right),
            ];
            if plugins {
                let copying = match s.copy_nanos {
                    0 => String::new(),
                    n => format!(
                        "{} ({:.0}%)",
                        format_secs(n as f64 * 1e-9),
                        100.0 * n as f64 / s.nanos.max(1) as f64
                    ),
                };
                row.insert(6, Cell::new(copying).set_alignment(CellAlignment::Right));
            }
            table.add_row(row);
        }
        write!(f, "{table}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_pick_a_readable_unit() {
        assert_eq!(format_secs(2.345), "2.35 s");
        assert_eq!(format_secs(0.0123), "12.3 ms");
        assert_eq!(format_secs(0.000_05), "50 µs");
    }
}

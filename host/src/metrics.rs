//! What a run cost: peak RSS and page faults (getrusage), bytes read and written
//! (`/proc/self/io`), per-stage counters, and the report that puts them side by side.

use std::fmt;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};

use crate::exec::RunStats;
use crate::spec::{ByteSize, Mode};

/// Resource usage of this process so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Peak resident set size of this process's own address space (`VmHWM`, see
    /// [`peak_rss`]; `ru_maxrss` where that is missing), in bytes.
    pub max_rss_bytes: u64,
    /// Page faults served without I/O.
    pub minor_faults: u64,
    /// Page faults that needed I/O.
    pub major_faults: u64,
    /// CPU time in user mode, seconds.
    pub user_secs: f64,
    /// CPU time in the kernel, seconds.
    pub system_secs: f64,
}

/// Resident memory of this process now (`/proc/self/statm`), when the system says.
pub fn current_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A `NAME:   123 kB` field of `/proc/self/status`, in bytes.
fn status_bytes(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// This process's own peak resident set (`VmHWM`), where the kernel reports it.
///
/// Not `ru_maxrss`: Linux carries the high-water mark of the address space a process had
/// before `exec` into it, so a child spawned by a large parent (a test harness, a bench
/// driver) reports the parent's size as its own peak. `VmHWM` belongs to the program's own
/// address space.
pub fn peak_rss() -> Option<u64> {
    status_bytes(&std::fs::read_to_string("/proc/self/status").ok()?, "VmHWM")
}

/// Resident memory of this process now, split by what backs it (`/proc/self/status`).
///
/// The plan controls the anonymous part; the file-backed part is mostly the executable's
/// own pages, which a kernel may map in large folios (2 MiB at a time), so the same run can
/// show a different whole-process peak on another machine without holding more data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    /// Anonymous memory (heap, stacks): `RssAnon`.
    pub anon_bytes: u64,
    /// File-backed pages (the executable, shared libraries, mapped files): `RssFile`.
    pub file_bytes: u64,
    /// Shared memory: `RssShmem`.
    pub shmem_bytes: u64,
}

impl Resident {
    /// The split now, where the kernel reports it.
    pub fn now() -> Option<Resident> {
        Resident::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    fn parse(status: &str) -> Option<Resident> {
        let field = |name: &str| status_bytes(status, name);
        Some(Resident {
            anon_bytes: field("RssAnon")?,
            file_bytes: field("RssFile")?,
            shmem_bytes: field("RssShmem").unwrap_or(0),
        })
    }
}

impl Usage {
    /// The usage of this process (all threads) until now.
    pub fn now() -> Usage {
        match getrusage(UsageWho::RUSAGE_SELF) {
            Ok(u) => {
                let secs =
                    |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
                Usage {
                    // Linux reports kilobytes.
                    max_rss_bytes: peak_rss()
                        .unwrap_or_else(|| u64::try_from(u.max_rss()).unwrap_or(0) * 1024),
                    minor_faults: u64::try_from(u.minor_page_faults()).unwrap_or(0),
                    major_faults: u64::try_from(u.major_page_faults()).unwrap_or(0),
                    user_secs: secs(u.user_time()),
                    system_secs: secs(u.system_time()),
                }
            }
            Err(_) => Usage::default(),
        }
    }
}

/// I/O counters of this process (`/proc/self/io`); absent where the kernel does not expose
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoCounters {
    /// Bytes passed to read calls (page cache hits included).
    pub rchar: u64,
    /// Bytes passed to write calls.
    pub wchar: u64,
    /// Bytes fetched from storage.
    pub read_bytes: u64,
    /// Bytes sent to storage.
    pub write_bytes: u64,
}

impl IoCounters {
    /// The counters now, if readable.
    pub fn now() -> Option<IoCounters> {
        let text = std::fs::read_to_string("/proc/self/io").ok()?;
        Some(IoCounters::parse(&text))
    }

    fn parse(text: &str) -> IoCounters {
        let mut io = IoCounters::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().parse().unwrap_or(0);
            match key {
                "rchar" => io.rchar = value,
                "wchar" => io.wchar = value,
                "read_bytes" => io.read_bytes = value,
                "write_bytes" => io.write_bytes = value,
                _ => {}
            }
        }
        io
    }
}

/// Last-level-cache read misses of this process, from the CPU's counters (`perf_event_open`),
/// counted from [`LlcCounter::start`] in the calling thread and every thread started after it.
#[derive(Debug)]
pub struct LlcCounter(perf_event::Counter);

/// What [`LlcCounter`] found: a count, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LlcMisses {
    /// Read misses counted.
    Counted(u64),
    /// No count, and why.
    Unavailable(String),
}

impl LlcCounter {
    /// Opens and enables the counter; the reason when the machine or the kernel does not allow it.
    pub fn start() -> Result<LlcCounter, String> {
        use perf_event::events::{Cache, CacheId, CacheOp, CacheResult};
        let event = Cache {
            which: CacheId::LL,
            operation: CacheOp::READ,
            result: CacheResult::MISS,
        };
        let mut counter = perf_event::Builder::new(event)
            .inherit(true)
            .build()
            .map_err(|e| unavailable(&e))?;
        counter.enable().map_err(|e| unavailable(&e))?;
        Ok(LlcCounter(counter))
    }

    /// The misses so far.
    pub fn read(&mut self) -> LlcMisses {
        match self.0.read() {
            Ok(n) => LlcMisses::Counted(n),
            Err(e) => LlcMisses::Unavailable(unavailable(&e)),
        }
    }
}

/// Why the cache counter cannot be read, in words.
fn unavailable(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) if code == nix::libc::ENOENT || code == nix::libc::EOPNOTSUPP => {
            "this CPU (or virtual machine) exposes no last-level-cache counter".into()
        }
        Some(code) if code == nix::libc::EACCES || code == nix::libc::EPERM => {
            let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            format!("perf counters are not permitted (kernel.perf_event_paranoid = {paranoid})")
        }
        _ => format!("perf_event_open: {e}"),
    }
}

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
    pub plugins: Vec<crate::plan::PluginLoad>,
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
    pub persisted: Option<crate::exec::persist::PersistStats>,
    /// Last-level-cache read misses over the whole command, or why they were not counted.
    #[serde(default)]
    pub llc_misses: Option<LlcMisses>,
    /// What an input of lines held: lines, bad UTF-8, cut lines, bytes.
    #[serde(default)]
    pub lines: Option<crate::io::LineStats>,
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
            None => writeln!(f, "   I/O: n/a (no /proc/self/io)")?,
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
        if self.mode == Mode::Sqrt {
            let c = &run.cache;
            let k = &run.checkpoints;
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
                    crate::plugin::CacheOutcome::Hit => "from the compile cache",
                    crate::plugin::CacheOutcome::Compiled => "compiled and cached",
                    crate::plugin::CacheOutcome::Replaced =>
                        "cache entry damaged: compiled and replaced",
                    crate::plugin::CacheOutcome::Uncached => "compiled, not cached",
                },
                plugin.load_ms
            )?;
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(["stage", "op", "calls", "windows", "time", "share", "output"]);
        let total: u64 = run.stages.iter().map(|s| s.nanos).sum();
        for s in run.stages.iter().filter(|s| s.calls > 0) {
            table.add_row([
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
            ]);
        }
        write!(f, "{table}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_io() {
        let io = IoCounters::parse(
            "rchar: 10\nwchar: 20\nsyscr: 3\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n",
        );
        assert_eq!(
            io,
            IoCounters {
                rchar: 10,
                wchar: 20,
                read_bytes: 4096,
                write_bytes: 0
            }
        );
    }

    #[test]
    fn parses_proc_status() {
        let status = "Name:\tx\nVmRSS:\t   16216 kB\nRssAnon:\t    5776 kB\nRssFile:\t   10440 kB\nRssShmem:\t       0 kB\n";
        assert_eq!(
            Resident::parse(status),
            Some(Resident {
                anon_bytes: 5776 * 1024,
                file_bytes: 10440 * 1024,
                shmem_bytes: 0
            })
        );
        assert_eq!(Resident::parse("VmRSS:\t1 kB\n"), None);
        let now = Resident::now().expect("Linux reports RssAnon");
        assert!(now.anon_bytes > 0 && now.file_bytes > 0, "{now:?}");
    }

    #[test]
    fn usage_sees_this_process() {
        let usage = Usage::now();
        assert!(usage.max_rss_bytes > 1 << 20, "{usage:?}");
    }

    #[test]
    fn seconds_pick_a_readable_unit() {
        assert_eq!(format_secs(2.345), "2.35 s");
        assert_eq!(format_secs(0.0123), "12.3 ms");
        assert_eq!(format_secs(0.000_05), "50 µs");
    }
}

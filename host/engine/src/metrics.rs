//! What a process costs: peak RSS and page faults (getrusage), resident memory by what backs
//! it, bytes read and written (`/proc/self/io`, Windows' I/O counters), last-level-cache
//! misses. A run's own counters
//! are [`RunStats`](crate::RunStats).
//!
//! Each figure comes from where the operating system keeps it: on Linux `/proc/self` and
//! `getrusage`, and `perf_event_open` for the cache counter; on macOS `getrusage` (whose
//! `ru_maxrss` is in bytes there); on Windows the process memory, time and I/O counters
//! (`sqrtspace-os`). What a platform does not say is absent (`None`, or a reason), never a
//! made-up zero.

use serde::{Deserialize, Serialize};

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

/// Resident memory of this process now (`/proc/self/statm`; the working set on Windows),
/// when the system says.
pub fn current_rss() -> Option<u64> {
    if let Some(counters) = sqrtspace_os::process_counters() {
        return Some(counters.working_set);
    }
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
///
/// Elsewhere: the peak working set on Windows, `ru_maxrss` on macOS (whose `exec` starts
/// the count afresh).
pub fn peak_rss() -> Option<u64> {
    if let Some(counters) = sqrtspace_os::process_counters() {
        return Some(counters.peak_working_set);
    }
    if cfg!(target_os = "macos") {
        return rusage().map(|u| u.max_rss_bytes);
    }
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
    /// The usage of this process (all threads) until now; zeros where the system says
    /// nothing.
    pub fn now() -> Usage {
        let Some(mut usage) = rusage() else {
            return Usage::default();
        };
        if cfg!(target_os = "linux")
            && let Some(peak) = peak_rss()
        {
            usage.max_rss_bytes = peak;
        }
        usage
    }
}

/// `getrusage(RUSAGE_SELF)`, with `ru_maxrss` in bytes (Linux counts it in KiB, macOS in
/// bytes).
#[cfg(unix)]
fn rusage() -> Option<Usage> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Some(Usage {
        max_rss_bytes: u64::try_from(u.max_rss()).unwrap_or(0) * unit,
        minor_faults: u64::try_from(u.minor_page_faults()).unwrap_or(0),
        major_faults: u64::try_from(u.major_page_faults()).unwrap_or(0),
        user_secs: secs(u.user_time()),
        system_secs: secs(u.system_time()),
    })
}

/// The process counters as [`Usage`]: Windows counts page faults without telling soft from
/// hard ones, so all are counted as minor.
#[cfg(not(unix))]
fn rusage() -> Option<Usage> {
    let c = sqrtspace_os::process_counters()?;
    Some(Usage {
        max_rss_bytes: c.peak_working_set,
        minor_faults: c.page_faults,
        major_faults: 0,
        user_secs: c.user_100ns as f64 * 1e-7,
        system_secs: c.kernel_100ns as f64 * 1e-7,
    })
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
    /// The counters now, if readable: `/proc/self/io` on Linux; on Windows the bytes passed
    /// to read and write operations (which do not tell the cache from storage, so only the
    /// call counts are set). macOS keeps no such counters per process.
    pub fn now() -> Option<IoCounters> {
        if let Some(c) = sqrtspace_os::process_counters() {
            return Some(IoCounters {
                rchar: c.read_bytes,
                wchar: c.write_bytes,
                read_bytes: 0,
                write_bytes: 0,
            });
        }
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
/// Only on Linux: elsewhere [`LlcCounter::start`] says why there is none.
#[derive(Debug)]
pub struct LlcCounter(
    #[cfg(target_os = "linux")] perf_event::Counter,
    #[cfg(not(target_os = "linux"))] (),
);

/// What [`LlcCounter`] found: a count, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LlcMisses {
    /// Read misses counted.
    Counted(u64),
    /// No count, and why.
    Unavailable(String),
}

#[cfg(target_os = "linux")]
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

#[cfg(not(target_os = "linux"))]
impl LlcCounter {
    /// There is no counter to open off Linux: the reason.
    pub fn start() -> Result<LlcCounter, String> {
        Err(format!(
            "cache counters are read through Linux's perf_event_open, which {} does not have",
            std::env::consts::OS
        ))
    }

    /// Never reached: [`LlcCounter::start`] gives none to read.
    pub fn read(&mut self) -> LlcMisses {
        LlcMisses::Unavailable("no cache counter on this system".into())
    }
}

/// Why the cache counter cannot be read, in words.
#[cfg(target_os = "linux")]
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
}

//! What the operating system says about this process and machine where the standard library
//! does not:
//!
//! - [`process_counters`]: Windows' process memory, time and I/O counters. Linux and macOS
//!   answer through `/proc` and `getrusage`, read by the engine itself; there it is `None`.
//! - [`cache_sizes`]: the L2 and last-level data cache, from sysfs on Linux, `sysctl` on
//!   macOS and `GetLogicalProcessorInformation` on Windows; `None` elsewhere.
//!
//! The crate made for the `unsafe` those calls need, so that the engine stays without it: each
//! call is a documented Win32 function given a pointer to memory of the size it asks for.

/// This process's memory, time and I/O, as Windows counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessCounters {
    /// Peak working set (the most physical memory the process held), bytes.
    pub peak_working_set: u64,
    /// Working set now, bytes.
    pub working_set: u64,
    /// Page faults (Windows does not tell soft from hard ones here).
    pub page_faults: u64,
    /// CPU time in user mode, in 100 ns units.
    pub user_100ns: u64,
    /// CPU time in the kernel, in 100 ns units.
    pub kernel_100ns: u64,
    /// Bytes passed to read operations.
    pub read_bytes: u64,
    /// Bytes passed to write operations.
    pub write_bytes: u64,
}

/// The counters of this process, on Windows; `None` elsewhere or when a call fails.
pub fn process_counters() -> Option<ProcessCounters> {
    imp::process_counters()
}

/// Data cache sizes of the first core, and where they were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// The L2 cache (data or unified) a core sees, bytes, where there is one.
    pub l2: Option<u64>,
    /// The last level of data or unified cache, bytes.
    pub llc: u64,
    /// Where the sizes came from ("sysfs", "sysctl", "GetLogicalProcessorInformation").
    pub source: &'static str,
}

/// The cache sizes the operating system reports; `None` where it reports none (or on a
/// platform this crate does not know).
pub fn cache_sizes() -> Option<CacheSizes> {
    caches::sizes()
}

/// The L2 and last level among `(level, bytes)` descriptions of data or unified caches: the
/// last level is the highest, the largest of that level if several are listed.
fn l2_and_last(caches: impl IntoIterator<Item = (u32, u64)>) -> Option<(Option<u64>, u64)> {
    let mut l2: Option<u64> = None;
    let mut last: Option<(u32, u64)> = None;
    for (level, bytes) in caches {
        if bytes == 0 {
            continue;
        }
        if level == 2 {
            l2 = Some(l2.map_or(bytes, |b| b.max(bytes)));
        }
        last = match last {
            Some((l, b)) if l > level || (l == level && b >= bytes) => Some((l, b)),
            _ => Some((level, bytes)),
        };
    }
    last.map(|(_, bytes)| (l2, bytes))
}

#[cfg(target_os = "linux")]
mod caches {
    use super::{CacheSizes, l2_and_last};

    /// cpu0's caches from sysfs (`/sys/devices/system/cpu/cpu0/cache/index*`).
    pub(super) fn sizes() -> Option<CacheSizes> {
        let found = (0..16).filter_map(|index| {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
            let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).ok();
            let (level, kind, size) = (read("level")?, read("type")?, read("size")?);
            if kind.trim() == "Instruction" {
                return None;
            }
            Some((level.trim().parse().ok()?, parse_sysfs_size(&size)?))
        });
        let (l2, llc) = l2_and_last(found)?;
        Some(CacheSizes {
            l2,
            llc,
            source: "sysfs",
        })
    }

    /// "48K", "2048K", "300M" as sysfs writes them.
    pub(super) fn parse_sysfs_size(text: &str) -> Option<u64> {
        let t = text.trim();
        let (digits, scale) = match t.chars().last()? {
            'K' => (&t[..t.len() - 1], 1 << 10),
            'M' => (&t[..t.len() - 1], 1 << 20),
            'G' => (&t[..t.len() - 1], 1 << 30),
            _ => (t, 1),
        };
        digits.parse::<u64>().ok().map(|n| n * scale)
    }
}

#[cfg(target_os = "macos")]
mod caches {
    use super::{CacheSizes, l2_and_last};
    use sysctl::Sysctl;

    /// A numeric sysctl (`hw.l2cachesize` is a 64-bit integer, some are 32-bit).
    fn number(name: &str) -> Option<u64> {
        let value = sysctl::Ctl::new(name).ok()?.value().ok()?;
        match value {
            sysctl::CtlValue::Int(v) => u64::try_from(v).ok(),
            sysctl::CtlValue::S64(v) => u64::try_from(v).ok(),
            sysctl::CtlValue::Uint(v) => Some(u64::from(v)),
            sysctl::CtlValue::U64(v) => Some(v),
            sysctl::CtlValue::Long(v) => u64::try_from(v).ok(),
            sysctl::CtlValue::Ulong(v) => Some(v),
            _ => None,
        }
    }

    /// Apple silicon lists its caches per performance level (`hw.perflevel0` is the fastest
    /// cores); Intel Macs as `hw.l2cachesize` and `hw.l3cachesize`.
    pub(super) fn sizes() -> Option<CacheSizes> {
        let per_level = |level: u32| {
            number(&format!("hw.perflevel0.l{level}cachesize"))
                .or_else(|| number(&format!("hw.l{level}cachesize")))
                .map(|bytes| (level, bytes))
        };
        let (l2, llc) = l2_and_last([1, 2, 3].into_iter().filter_map(per_level))?;
        Some(CacheSizes {
            l2,
            llc,
            source: "sysctl",
        })
    }
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod caches {
    use super::{CacheSizes, l2_and_last};
    use windows_sys::Win32::System::SystemInformation::{
        CacheData, CacheUnified, GetLogicalProcessorInformation, RelationCache,
        SYSTEM_LOGICAL_PROCESSOR_INFORMATION,
    };

    pub(super) fn sizes() -> Option<CacheSizes> {
        let entry = std::mem::size_of::<SYSTEM_LOGICAL_PROCESSOR_INFORMATION>();
        let mut bytes: u32 = 0;
        // SAFETY: with a null buffer the call only writes the size it needs into `bytes`.
        unsafe { GetLogicalProcessorInformation(std::ptr::null_mut(), &mut bytes) };
        let count = (bytes as usize).div_ceil(entry);
        if count == 0 {
            return None;
        }
        // SAFETY: the struct is plain data, for which all zero bytes are a valid value.
        let zero: SYSTEM_LOGICAL_PROCESSOR_INFORMATION = unsafe { std::mem::zeroed() };
        let mut entries = vec![zero; count];
        let mut len = (count * entry) as u32;
        // SAFETY: `entries` holds `len` bytes of such structs; the call writes at most `len`
        // bytes and says in `len` how many it wrote.
        if unsafe { GetLogicalProcessorInformation(entries.as_mut_ptr(), &mut len) } == 0 {
            return None;
        }
        entries.truncate(len as usize / entry);
        let found = entries.iter().filter_map(|e| {
            if e.Relationship != RelationCache {
                return None;
            }
            // SAFETY: for RelationCache the union holds a CACHE_DESCRIPTOR.
            let cache = unsafe { e.Anonymous.Cache };
            (cache.Type == CacheData || cache.Type == CacheUnified)
                .then_some((u32::from(cache.Level), u64::from(cache.Size)))
        });
        let (l2, llc) = l2_and_last(found)?;
        Some(CacheSizes {
            l2,
            llc,
            source: "GetLogicalProcessorInformation",
        })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod caches {
    pub(super) fn sizes() -> Option<super::CacheSizes> {
        None
    }
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod imp {
    use super::ProcessCounters;
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::ProcessStatus::{
        K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetProcessIoCounters, GetProcessTimes, IO_COUNTERS,
    };

    pub(super) fn process_counters() -> Option<ProcessCounters> {
        // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; each call
        // below writes only into the zeroed struct it is given, of the size it is told.
        unsafe {
            let process = GetCurrentProcess();
            let mut memory: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
            let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
            memory.cb = size;
            if K32GetProcessMemoryInfo(process, &mut memory, size) == 0 {
                return None;
            }
            let zero = FILETIME {
                dwLowDateTime: 0,
                dwHighDateTime: 0,
            };
            let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
            if GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) == 0 {
                return None;
            }
            let mut io: IO_COUNTERS = std::mem::zeroed();
            let io_known = GetProcessIoCounters(process, &mut io) != 0;
            let ticks =
                |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
            Some(ProcessCounters {
                peak_working_set: memory.PeakWorkingSetSize as u64,
                working_set: memory.WorkingSetSize as u64,
                page_faults: u64::from(memory.PageFaultCount),
                user_100ns: ticks(user),
                kernel_100ns: ticks(kernel),
                read_bytes: if io_known { io.ReadTransferCount } else { 0 },
                write_bytes: if io_known { io.WriteTransferCount } else { 0 },
            })
        }
    }
}

#[cfg(not(windows))]
mod imp {
    pub(super) fn process_counters() -> Option<super::ProcessCounters> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::l2_and_last;

    #[test]
    fn the_last_level_is_the_highest_and_the_largest_of_it() {
        assert_eq!(l2_and_last([]), None);
        assert_eq!(
            l2_and_last([(1, 48 << 10), (2, 2 << 20), (3, 32 << 20)]),
            Some((Some(2 << 20), 32 << 20))
        );
        // A machine without L3 (Apple silicon lists L1 and L2): L2 is the last level.
        assert_eq!(
            l2_and_last([(1, 128 << 10), (2, 16 << 20)]),
            Some((Some(16 << 20), 16 << 20))
        );
        // Windows lists each cache once per group of cores that shares it.
        assert_eq!(
            l2_and_last([
                (3, 16 << 20),
                (2, 1 << 20),
                (3, 32 << 20),
                (2, 1 << 20),
                (0, 0)
            ]),
            Some((Some(1 << 20), 32 << 20))
        );
    }

    #[test]
    fn caches_are_found_where_the_system_lists_them() {
        let found = super::cache_sizes();
        if cfg!(any(target_os = "linux", target_os = "macos", windows)) {
            // A virtual machine may hide its caches; what is listed must be sane.
            if let Some(c) = found {
                assert!(c.llc >= c.l2.unwrap_or(0) && c.llc > 0, "{c:?}");
            }
        } else {
            assert_eq!(found, None);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sysfs_sizes_parse() {
        use super::caches::parse_sysfs_size;
        assert_eq!(parse_sysfs_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_sysfs_size("300M"), Some(300 << 20));
        assert_eq!(parse_sysfs_size("512"), Some(512));
        assert_eq!(parse_sysfs_size("lots"), None);
    }

    #[test]
    fn counters_are_there_exactly_on_windows() {
        let counters = super::process_counters();
        assert_eq!(counters.is_some(), cfg!(windows));
        if let Some(c) = counters {
            assert!(
                c.peak_working_set >= c.working_set && c.working_set > 0,
                "{c:?}"
            );
        }
    }
}

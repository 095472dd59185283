//! What the operating system says about this process where the standard library does not,
//! for the platforms whose answer needs a system call through FFI (Windows' process memory,
//! time and I/O counters). Linux and macOS answer through `/proc` and `getrusage`, read by the
//! engine itself; on them, and everywhere else, every function here returns `None`.
//!
//! The crate made for the `unsafe` those calls need, so that the engine stays without it: each
//! call is a documented Win32 function given a pointer to a stack value of the size it asks
//! for.

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

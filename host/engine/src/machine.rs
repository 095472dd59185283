//! What the planner knows about the machine: memory (sysinfo), cache sizes (sysfs on Linux,
//! sysctl on macOS, `GetLogicalProcessorInformation` on Windows: `sqrtspace-os`),
//! cores, and what touching fresh memory costs, each overridable in the pipeline.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::spec::MachineOverrides;

/// What writing and reading back memory not touched before costs, per byte: page faults and
/// DRAM traffic. Calibrated from classic runs of the audio pipeline (an hour materializes
/// 3.8 GB and takes 3 s longer than the same work in cache on a 2-vCPU Xeon VM); measuring it
/// at start-up would itself raise every run's peak RSS by the buffer it touches.
const FRESH_NS_PER_BYTE: f64 = 0.8;
/// Cache size assumed when the operating system does not say.
const UNKNOWN_CACHE: u64 = 32 << 20;

/// Facts about the machine a plan is made for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Installed memory, bytes.
    pub total_ram: u64,
    /// Memory available to a new process now, bytes.
    pub available_ram: u64,
    /// Per-core L2 cache, bytes.
    pub l2_bytes: u64,
    /// Last-level cache, bytes.
    pub llc_bytes: u64,
    /// Cores this process may use.
    pub cores: usize,
    /// Nanoseconds per byte to write then read memory not touched before (page faults and
    /// DRAM traffic): what materializing a whole-stream intermediate costs beyond computing it
    /// (a calibrated constant unless the pipeline sets it).
    pub fresh_ns_per_byte: f64,
    /// Where the facts came from, for the plan's explanations.
    pub source: String,
}

impl Machine {
    /// This machine, detected once per process.
    pub fn detect() -> Machine {
        static DETECTED: OnceLock<Machine> = OnceLock::new();
        DETECTED.get_or_init(detect).clone()
    }

    /// These facts with the pipeline's overrides applied.
    pub fn with(mut self, overrides: &MachineOverrides) -> Machine {
        let mut changed = Vec::new();
        if let Some(b) = overrides.available_ram {
            self.available_ram = b.0;
            changed.push("available_ram");
        }
        if let Some(b) = overrides.l2 {
            self.l2_bytes = b.0;
            changed.push("l2");
        }
        if let Some(b) = overrides.llc {
            self.llc_bytes = b.0;
            changed.push("llc");
        }
        if let Some(c) = overrides.cores {
            self.cores = c.max(1);
            changed.push("cores");
        }
        if let Some(ns) = overrides
            .fresh_ns_per_byte
            .filter(|ns| ns.is_finite() && *ns >= 0.0)
        {
            self.fresh_ns_per_byte = ns;
            changed.push("fresh_ns_per_byte");
        }
        if !changed.is_empty() {
            self.source = format!(
                "{}; {} set in the pipeline",
                self.source,
                changed.join(", ")
            );
        }
        self
    }
}

fn detect() -> Machine {
    let (total_ram, available_ram, memory) = match sysinfo::System::new() {
        Ok(mut system) => {
            system.refresh_memory();
            (
                system.total_memory(),
                system.available_memory(),
                "memory from sysinfo",
            )
        }
        // Without memory figures, plan as if memory were scarce.
        Err(_) => (1 << 30, 1 << 30, "memory unknown (1 GiB assumed)"),
    };
    let caches = sqrtspace_os::cache_sizes();
    let (l2, llc, caches_from) = match caches {
        // Without an L2 listed, the last level is the cache a core has.
        Some(c) => (
            c.l2.unwrap_or(c.llc),
            c.llc,
            format!("caches from {}", c.source),
        ),
        None => (
            UNKNOWN_CACHE,
            UNKNOWN_CACHE,
            "caches unknown (32 MiB assumed)".to_string(),
        ),
    };
    Machine {
        total_ram,
        available_ram,
        l2_bytes: l2,
        llc_bytes: llc,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        fresh_ns_per_byte: FRESH_NS_PER_BYTE,
        source: format!("{memory}, {caches_from}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ByteSize;

    #[test]
    fn detection_finds_plausible_facts_and_overrides_win() {
        let m = Machine::detect();
        assert!(m.total_ram >= m.available_ram && m.total_ram > 0);
        assert!(m.cores >= 1 && m.llc_bytes >= m.l2_bytes.min(m.llc_bytes));
        assert!(m.fresh_ns_per_byte > 0.0);
        let o = m.clone().with(&MachineOverrides {
            available_ram: Some(ByteSize(1 << 30)),
            cores: Some(3),
            ..MachineOverrides::default()
        });
        assert_eq!(
            (o.available_ram, o.cores, o.llc_bytes),
            (1 << 30, 3, m.llc_bytes)
        );
        assert!(
            o.source
                .ends_with("available_ram, cores set in the pipeline"),
            "{}",
            o.source
        );
    }
}

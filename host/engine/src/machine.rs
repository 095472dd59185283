//! What the planner knows about the machine: memory (sysinfo), cache sizes (Linux sysfs),
//! cores, and what touching fresh memory costs, each overridable in the pipeline.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::spec::MachineOverrides;

/// What writing and reading back memory not touched before costs, per byte: page faults and
/// DRAM traffic. Calibrated from classic runs of the audio pipeline (an hour materializes
/// 3.8 GB and takes 3 s longer than the same work in cache on a 2-vCPU Xeon VM); measuring it
/// at start-up would itself raise every run's peak RSS by the buffer it touches.
const FRESH_NS_PER_BYTE: f64 = 0.8;
/// Cache size assumed when sysfs does not say.
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
    let (l2, llc) = cache_sizes();
    let mut source = vec![memory];
    source.push(if llc.is_some() {
        "caches from sysfs"
    } else {
        "caches unknown (32 MiB assumed)"
    });
    Machine {
        total_ram,
        available_ram,
        l2_bytes: l2.unwrap_or(UNKNOWN_CACHE),
        llc_bytes: llc.unwrap_or(UNKNOWN_CACHE),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        fresh_ns_per_byte: FRESH_NS_PER_BYTE,
        source: source.join(", "),
    }
}

/// The L2 and last-level data cache sizes of cpu0, from sysfs.
fn cache_sizes() -> (Option<u64>, Option<u64>) {
    let mut l2 = None;
    let mut llc: Option<(u32, u64)> = None;
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let (Ok(level), Some(bytes)) = (level.trim().parse::<u32>(), parse_cache_size(&size))
        else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        if level == 2 {
            l2 = Some(bytes);
        }
        if llc.is_none_or(|(l, _)| level > l) {
            llc = Some((level, bytes));
        }
    }
    (l2, llc.map(|(_, b)| b))
}

/// "48K", "2048K", "300M" as sysfs writes them.
fn parse_cache_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, scale) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 1 << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits.parse::<u64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ByteSize;

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_cache_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_cache_size("300M"), Some(300 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("lots"), None);
    }

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

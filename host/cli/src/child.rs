//! `sqrtspace run` in a child process, so that each run's peak RSS is its own (the demo and
//! the bench), optionally stopped when its resident memory passes a budget.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::Report;
use anyhow::Context;

/// The audio pipeline, built into the binary so the demo and the bench run from anywhere.
pub const AUDIO_PIPELINE: &str = include_str!("../pipelines/audio.ron");

/// How often a child's resident memory is looked at when it runs under a budget.
const POLL: Duration = Duration::from_millis(2);

/// How a child run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It succeeded and wrote its metrics.
    Ok,
    /// Its resident memory passed the budget and it was stopped there.
    OverBudget {
        /// The resident bytes seen when it was stopped.
        rss: u64,
    },
    /// It failed on its own: the last line it printed.
    Failed(String),
}

/// One child run.
#[derive(Debug)]
pub struct ChildRun {
    /// Its metrics, when it succeeded.
    pub report: Option<Report>,
    /// How it ended.
    pub outcome: Outcome,
    /// Seconds from start to exit, as its parent saw them.
    pub wall_secs: f64,
}

/// Runs `sqrtspace run ARGS --metrics-json METRICS` and waits for it. With a `budget`, the
/// child's resident set is read every few milliseconds and the child is killed once it passes
/// the budget: a run that needs more memory than it may have is recorded, not a crash.
pub fn run(args: &[OsString], metrics: &Path, budget: Option<u64>) -> anyhow::Result<ChildRun> {
    let exe = std::env::current_exe().context("cannot find the sqrtspace executable")?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("run")
        .args(args)
        .arg("--metrics-json")
        .arg(metrics)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start a child run")?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stderr.as_mut() {
            // What the child printed is only used for its message; a read error loses that.
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let mut over = None;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for a child run")? {
            break status;
        }
        if let Some(budget) = budget
            && let Some(rss) = resident_bytes(child.id())
            && rss > budget
        {
            over = Some(rss);
            // It may have exited in between; either way it is gone after the wait.
            let _ = child.kill();
            break child.wait().context("waiting for a child run")?;
        }
        std::thread::sleep(if budget.is_some() { POLL } else { POLL * 10 });
    };
    let wall_secs = started.elapsed().as_secs_f64();
    let printed = reader.join().unwrap_or_default();
    let outcome = match over {
        Some(rss) => Outcome::OverBudget { rss },
        None if status.success() => Outcome::Ok,
        None => Outcome::Failed(
            printed
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map_or_else(|| status.to_string(), str::to_string),
        ),
    };
    let report = if outcome == Outcome::Ok {
        let text = std::fs::read_to_string(metrics)
            .with_context(|| format!("reading {}", metrics.display()))?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("reading {}", metrics.display()))?,
        )
    } else {
        None
    };
    Ok(ChildRun {
        report,
        outcome,
        wall_secs,
    })
}

/// A process's resident set, bytes: `VmRSS` from `/proc` on Linux (one small read per
/// poll), what sysinfo reads from the system elsewhere (task info on macOS, the working set
/// on Windows).
fn resident_bytes(pid: u32) -> Option<u64> {
    if cfg!(target_os = "linux") {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        return Some(kib * 1024);
    }
    let mut system = sysinfo::System::new().ok()?;
    let pid = sysinfo::Pid::from_u32(pid);
    system.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::Some(&[pid]),
        false,
        sysinfo::ProcessRefreshKind::nothing().with_memory(),
    );
    Some(system.process(pid)?.memory())
}

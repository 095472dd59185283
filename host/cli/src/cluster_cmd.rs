//! `sqrtspace cluster`: a run over many processes and machines on timely-dataflow
//! (`cluster run`, one process of a cluster), and every process of one on this machine over
//! loopback (`cluster local`), for demos and tests.

use std::ffi::OsString;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::args::usage;
use crate::cluster::ClusterArgs;
use crate::run_cmd::RunCommand;

#[derive(Debug, Args)]
pub struct ClusterCommand {
    #[command(subcommand)]
    command: ClusterSubcommand,
}

#[derive(Debug, Subcommand)]
enum ClusterSubcommand {
    /// One process of a cluster: `run`'s arguments, and timely's.
    ///
    /// Every process is started alike, with its own --process. Many inputs are spread over
    /// every worker of every process, the outputs and the manifest going to a directory every
    /// process sees. One input (a file every process can read) is cut into segments of
    /// --segment-windows windows: every worker computes the pipeline's pure prefix over its
    /// own segments, and process 0 steps the rest in time order and writes the one output.
    #[command(after_help = "Examples:
  # on each of four machines, its own --process (0 to 3); hosts.txt lists host:port lines
  sqrtspace cluster run pipelines/audio.ron --input 'recordings/*.wav' --output out/ \\
      --hostfile hosts.txt --processes 4 --process 0 --threads 8
  # one long recording over the same cluster, checkpoints on shared storage
  sqrtspace cluster run pipelines/audio.ron --input week.wav --output week.npy \\
      --checkpoint-dir shared/ck --hostfile hosts.txt --processes 4 --process 0 --threads 8
  # after a fault: start every process again with --resume
  sqrtspace cluster run pipelines/audio.ron --input 'recordings/*.wav' --output out/ \\
      --hostfile hosts.txt --processes 4 --process 0 --threads 8 --resume")]
    Run(Box<ClusterRun>),
    /// Every process of a cluster on this machine, over loopback.
    ///
    /// `cluster local -n 3 -- run PIPELINE --input DIR --output DIR` starts three processes of
    /// `cluster run` with a hostfile of free ports and exits with the first failure's status.
    Local(LocalCommand),
}

#[derive(Debug, Args)]
struct ClusterRun {
    #[command(flatten)]
    run: RunCommand,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Debug, Args)]
struct LocalCommand {
    /// How many processes to start.
    #[arg(short = 'n', long = "processes")]
    processes: usize,
    /// Worker threads per process.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// `run` and its arguments, after `--`, as `cluster run` takes them.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

/// A process that `cluster local` started exited with a failure status.
#[derive(Debug, thiserror::Error)]
#[error("process {process} of {processes} exited with status {code}")]
pub struct ProcessFailed {
    pub process: usize,
    pub processes: usize,
    /// Its exit status, which `cluster local` exits with.
    pub code: u8,
}

impl ClusterCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        match self.command {
            ClusterSubcommand::Run(cmd) => cmd.run.execute_in(Some(cmd.cluster)),
            ClusterSubcommand::Local(cmd) => cmd.execute(),
        }
    }
}

/// How long the other processes get to notice a failed one and exit by themselves.
const NOTICE: Duration = Duration::from_secs(15);

impl LocalCommand {
    fn execute(self) -> anyhow::Result<()> {
        if self.processes == 0 || self.threads == 0 {
            usage!("-n and --threads must be at least 1");
        }
        let Some((first, rest)) = self.command.split_first() else {
            usage!("give the command after --: cluster local -n 3 -- run PIPELINE ...");
        };
        if first != "run" {
            usage!(
                "cluster local runs `run`, not {:?}: cluster local -n 3 -- run PIPELINE ...",
                first
            );
        }
        let addresses = crate::cluster::loopback_addresses(self.processes)
            .context("finding free ports on the loopback interface")?;
        let mut hostfile =
            tempfile::NamedTempFile::new().context("writing a hostfile for the processes")?;
        std::io::Write::write_all(&mut hostfile, (addresses.join("\n") + "\n").as_bytes())
            .context("writing a hostfile for the processes")?;
        let exe = std::env::current_exe().context("finding the sqrtspace binary")?;
        let mut children: Vec<Option<Child>> = Vec::with_capacity(self.processes);
        for process in 0..self.processes {
            let child = Command::new(&exe)
                .args(["cluster", "run"])
                .args(rest)
                .arg("--hostfile")
                .arg(hostfile.path())
                .args(["--processes", &self.processes.to_string()])
                .args(["--process", &process.to_string()])
                .args(["--threads", &self.threads.to_string()])
                .stdin(Stdio::null())
                .spawn()
                .with_context(|| format!("starting process {process}"));
            match child {
                Ok(child) => children.push(Some(child)),
                Err(e) => {
                    stop(&mut children);
                    return Err(e);
                }
            }
        }
        let mut failed: Option<ProcessFailed> = None;
        let mut since: Option<Instant> = None;
        let stop_flag = sqrtspace::exec::stop_flag();
        while children.iter().any(Option::is_some) {
            for (process, slot) in children.iter_mut().enumerate() {
                let Some(child) = slot else { continue };
                let status = match child.try_wait() {
                    Ok(Some(status)) => status,
                    Ok(None) => continue,
                    Err(e) => {
                        let _ = child.kill();
                        return Err(e).context(format!("waiting for process {process}"));
                    }
                };
                *slot = None;
                if !status.success() && failed.is_none() {
                    failed = Some(ProcessFailed {
                        process,
                        processes: self.processes,
                        code: status
                            .code()
                            .and_then(|c| u8::try_from(c).ok())
                            .filter(|c| *c != 0)
                            .unwrap_or(1),
                    });
                }
            }
            if failed.is_some() || stop_flag.load(std::sync::atomic::Ordering::Relaxed) {
                // The others notice by themselves; those that do not are stopped.
                if since.get_or_insert_with(Instant::now).elapsed() > NOTICE {
                    stop(&mut children);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        match failed {
            Some(failed) => Err(failed.into()),
            None => Ok(()),
        }
    }
}

/// Kills the processes still running, and waits for them.
fn stop(children: &mut [Option<Child>]) {
    for child in children.iter_mut().filter_map(Option::take) {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
}

//! The `sqrtspace` command line, the engine's first client: a clap parser, one module per
//! subcommand, and how their errors become messages and exit codes (`args::exit_codes!`).

/// `println!` that returns the write's error instead of panicking on it, so that a closed
/// stdout (`sqrtspace plan ... | head -1`) ends the command quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `print!` that returns the write's error instead of panicking on it.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

mod args;
mod bench_cmd;
mod check_cmd;
mod child;
mod cluster;
mod cluster_cmd;
mod corpus;
mod demo;
mod gen_cmd;
mod input;
mod long_stream;
mod plan_cmd;
mod plugin_cmd;
mod registry_cmd;
mod report;
mod run_cmd;
mod sinks;

use std::process::ExitCode;

use args::{USAGE, Usage};
use clap::{Parser, Subcommand};
use sqrtspace::exec::DiskCheckpointError;
use sqrtspace::exec::ExecError;
use sqrtspace::exec::StageError;
use sqrtspace::io::{InputError, OutputError};
use sqrtspace::plan::BuildError;
use sqrtspace::plugin::PluginError;
use sqrtspace::{PlanError, SpecError};

/// Run long window/hop pipelines in bounded memory.
#[derive(Debug, Parser)]
#[command(name = "sqrtspace", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline over an input file.
    Run(Box<run_cmd::RunCommand>),
    /// Print the plan for a pipeline: stages, layouts and every setting with its reason.
    Plan(plan_cmd::PlanCommand),
    /// Generate deterministic test data.
    Gen(gen_cmd::GenCommand),
    /// Generate data, run classic and sqrt mode in separate processes, compare and report.
    Demo(demo::DemoCommand),
    /// Inspect Wasm plugins; push them to and pull them from OCI registries.
    Plugin(plugin_cmd::PluginCommand),
    /// Write the lock file beside a pipeline: what each of its plugins resolves to.
    Lock(registry_cmd::LockCommand),
    /// Run each plugin stage over an input's first windows in one call and in small blocks,
    /// and say which give different bits (classic and sqrt mode would disagree over them).
    Check(check_cmd::CheckCommand),
    /// Run over many processes and machines on timely-dataflow.
    Cluster(cluster_cmd::ClusterCommand),
    /// The benchmark matrix: datasets sized against a memory budget × settings × modes, each
    /// run in its own process; a CSV and plots.
    Bench(bench_cmd::BenchCommand),
}

/// Exit status for an error, from the first typed error in its chain.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<Usage>() {
            return USAGE;
        }
        if cause.is::<DiskCheckpointError>() || cause.is::<corpus::ManifestError>() {
            return 7;
        }
        if cause.is::<corpus::SomeFailed>() {
            return 8;
        }
        if let Some(cluster) = cause.downcast_ref::<cluster::ClusterError>() {
            return match cluster {
                cluster::ClusterError::Usage(_) => USAGE,
                _ => 9,
            };
        }
        if let Some(remote) = cause.downcast_ref::<long_stream::Remote>() {
            return remote.code;
        }
        if let Some(failed) = cause.downcast_ref::<cluster_cmd::ProcessFailed>() {
            return failed.code;
        }
        if cause.is::<PluginError>() {
            return 6;
        }
        if let Some(error) = cause.downcast_ref::<sqrtspace_registry::RegistryError>() {
            return registry_exit_code(error);
        }
        if let Some(error) = cause.downcast_ref::<sqrtspace_registry::resolve::ResolveError>() {
            use sqrtspace_registry::resolve::ResolveError;
            return match error {
                ResolveError::Registry { source, .. } => registry_exit_code(source),
                ResolveError::Plugin { .. } => 6,
                ResolveError::Locked { .. } | ResolveError::Lock(_) => 10,
            };
        }
        if cause.is::<sqrtspace_registry::lock::LockError>() {
            return 10;
        }
        if let Some(PlanError::Stage {
            source: BuildError::Plugin(_),
            ..
        }) = cause.downcast_ref::<PlanError>()
        {
            return 6;
        }
        if cause.is::<SpecError>() || cause.is::<PlanError>() {
            return 3;
        }
        if cause.is::<InputError>() {
            return 4;
        }
        if cause.is::<OutputError>() {
            return 5;
        }
        if let Some(exec) = cause.downcast_ref::<ExecError>() {
            return match exec {
                ExecError::Input(_) => 4,
                ExecError::Output(_) => 5,
                ExecError::Checkpoint(_) => 7,
                ExecError::Stage {
                    source: StageError::Plugin(_),
                    ..
                } => 6,
                _ => 1,
            };
        }
    }
    1
}

/// A plugin that is not one (or too large) is a plugin error; everything else about
/// registries, 10.
fn registry_exit_code(error: &sqrtspace_registry::RegistryError) -> u8 {
    use sqrtspace_registry::RegistryError;
    match error {
        RegistryError::NotAPlugin { .. }
        | RegistryError::TooLarge { .. }
        | RegistryError::Push { .. } => 6,
        RegistryError::BadReference { .. } => USAGE,
        _ => 10,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<OutputError>(),
            Some(OutputError::Closed { .. })
        ) || matches!(
            cause.downcast_ref::<ExecError>(),
            Some(ExecError::Output(OutputError::Closed { .. }))
        ) || cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line. Library errors already quote their source in their
/// own message, so a cause whose text is already there is not repeated.
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Control characters in a message written as escapes: a file name or a message with a
/// newline must not forge a second `error:` line, nor an escape sequence reach the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Whether an error is a run stopped by SIGINT or SIGTERM.
fn is_stopped(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref::<ExecError>(), Some(ExecError::Stopped)))
}

/// SIGINT and SIGTERM ask the run to stop at its next stage call, so that it removes its
/// partial output and exits 130 or 143; a second signal ends the process at once. Returns
/// the exit status the first signal chose (0 until one arrives).
fn on_signals() -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = sqrtspace::exec::stop_flag();
    let status = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        // Handlers run in the order they were registered: the shutdown fires only when an
        // earlier signal already set the flag.
        let registered = signal_hook::flag::register_conditional_shutdown(
            signal,
            code as i32,
            std::sync::Arc::clone(&stop),
        )
        .and_then(|_| signal_hook::flag::register_usize(signal, status.clone(), code))
        .and_then(|_| signal_hook::flag::register(signal, std::sync::Arc::clone(&stop)));
        if let Err(e) = registered {
            eprintln!("warning: cannot handle signal {signal}: {e}");
        }
    }
    status
}

/// Parses the command line, runs the subcommand, and turns an error into a message on
/// stderr and an exit code.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let signalled = on_signals();
    let result = match cli.command {
        Command::Run(cmd) => cmd.execute(),
        Command::Plan(cmd) => cmd.execute(),
        Command::Gen(cmd) => cmd.execute(),
        Command::Demo(cmd) => cmd.execute(),
        Command::Plugin(cmd) => cmd.execute(),
        Command::Lock(cmd) => cmd.execute(),
        Command::Check(cmd) => cmd.execute(),
        Command::Bench(cmd) => cmd.execute(),
        Command::Cluster(cmd) => cmd.execute(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if is_stopped(&e) => {
            let status = signalled.load(std::sync::atomic::Ordering::Relaxed);
            let name = if status == 143 { "SIGTERM" } else { "SIGINT" };
            eprintln!(
                "stopped by {name}: the output was not written; checkpoints on disk, if any, \
                 stay valid for --resume"
            );
            ExitCode::from(u8::try_from(status).unwrap_or(130).max(1))
        }
        Err(e) => {
            eprintln!("error: {}", printable(&message(&e)));
            ExitCode::from(exit_code(&e))
        }
    }
}

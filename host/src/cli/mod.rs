//! Subcommands, and how their errors become messages and exit codes.
//!
//! Exit codes: 0 success, 1 a run failed (a stage error), 2 bad command-line usage,
//! 3 invalid pipeline, 4 unreadable input, 5 output could not be written, 6 a plugin could not
//! be loaded or failed while running (trap, deadline, memory cap, malformed output), 7 a
//! checkpoint on disk could not be used (damaged, of another run, or not asked to resume).

mod bench_cmd;
mod child;
mod demo;
mod gen_cmd;
mod plan_cmd;
mod plugin_cmd;
mod run_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sqrtspace::exec::ExecError;
use sqrtspace::exec::persist::PersistError;
use sqrtspace::io::{InputError, OutputError};
use sqrtspace::plugin::PluginError;
use sqrtspace::stage::{BuildError, StageError};
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
    /// Inspect Wasm plugins.
    Plugin(plugin_cmd::PluginCommand),
    /// The benchmark matrix: datasets sized against a memory budget × settings × modes, each
    /// run in its own process; a CSV and plots.
    Bench(bench_cmd::BenchCommand),
}

/// Exit status for an error, from the first typed error in its chain.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<PersistError>() {
            return 7;
        }
        if cause.is::<PluginError>() {
            return 6;
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

/// Parses the command line, runs the subcommand, and turns an error into a message on
/// stderr and an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(cmd) => cmd.execute(),
        Command::Plan(cmd) => cmd.execute(),
        Command::Gen(cmd) => cmd.execute(),
        Command::Demo(cmd) => cmd.execute(),
        Command::Plugin(cmd) => cmd.execute(),
        Command::Bench(cmd) => cmd.execute(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

//! Corpus runs: one pipeline over many inputs — a glob, a directory or a file listing them —
//! with one output per input in an output directory. Inputs are spread over worker threads,
//! largest first; each output is written whole (a temporary file renamed into place); a
//! manifest in the output directory records each finished input with its identity, so that
//! `--resume` skips what is done and redoes what changed. A bad input is reported and the
//! others still run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqrtspace::exec::{InputIdentity, WindowRange};
use sqrtspace::io::{FileSink, OutputFormat};
use sqrtspace::{ExecError, Plan, Spec, run};

mod spread;

use crate::args::usage;
use crate::input::InputArgs;

/// The manifest's name in the output directory.
pub const MANIFEST: &str = "sqrtspace-manifest.json";

/// Some inputs of a corpus run failed (the others' outputs are written).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} inputs failed: {names}")]
pub struct SomeFailed {
    /// How many failed.
    pub failed: usize,
    /// How many there were.
    pub total: usize,
    /// The failed inputs, comma-separated.
    pub names: String,
}

/// A manifest from another run (other pipeline, plugins or options) or one the run was not
/// asked to resume.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(String);

/// What the output directory records.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// What every output was computed by: pipeline and plugin hashes, options.
    run: String,
    /// Finished inputs, by path as given.
    done: BTreeMap<String, Done>,
}

/// One finished input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Done {
    identity: InputIdentity,
    output: String,
    windows: u64,
}

/// How a corpus run is asked for.
#[derive(Clone)]
pub struct CorpusRun {
    /// The pipeline file and its spec, with the command line's settings.
    pub pipeline: PathBuf,
    pub spec: Spec,
    pub inputs: Vec<PathBuf>,
    pub args: InputArgs,
    /// The output directory.
    pub out_dir: PathBuf,
    pub format: Option<OutputFormat>,
    /// Inputs run at once (each on one worker, or more when there are fewer inputs).
    pub workers: usize,
    pub resume: bool,
}

/// What every process of a corpus run knows before the first input runs.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) format: OutputFormat,
    /// Each input's output file name, in the order of the inputs.
    pub(crate) outputs: Vec<String>,
    /// What every output is computed by: pipeline and plugin hashes, options.
    pub(crate) run_id: String,
}

/// The manifest as the run goes: written again as each input finishes, so that a run that
/// is killed still records what it finished; the failures, for the summary.
pub(crate) struct Ledger {
    path: PathBuf,
    manifest: Manifest,
    failed: Vec<(String, String)>,
    skipped: usize,
    /// The inputs this run is to run, largest first.
    pub(crate) todo: Vec<usize>,
}

/// What running one input came to: its identity and the windows written, or why it failed.
pub(crate) type Outcome = Result<(InputIdentity, u64), String>;

impl Ledger {
    /// Records one input's outcome (and writes the manifest when it finished).
    pub(crate) fn record(
        &mut self,
        input: &Path,
        output: &str,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        match outcome {
            Ok((identity, windows)) => {
                self.manifest.done.insert(
                    input.display().to_string(),
                    Done {
                        identity,
                        output: output.to_string(),
                        windows,
                    },
                );
                crate::sinks::write_json(&self.path, &self.manifest)
            }
            Err(why) => {
                self.failed.push((input.display().to_string(), why));
                Ok(())
            }
        }
    }

    /// The summary on stderr; an error naming the inputs that failed, if any did.
    pub(crate) fn finish(self, inputs: usize, out_dir: &Path) -> anyhow::Result<()> {
        let failed = self.failed;
        eprintln!(
            "{inputs} inputs: {} written to {}, {} already done, {} failed",
            self.todo.len() - failed.len(),
            out_dir.display(),
            self.skipped,
            failed.len()
        );
        for (input, why) in &failed {
            eprintln!("  failed: {input}: {why}");
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(SomeFailed {
            failed: failed.len(),
            total: inputs,
            names: failed
                .iter()
                .map(|(i, _)| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into())
    }
}

impl CorpusRun {
    /// Runs every input not already done, on this machine's threads; the summary goes to
    /// stderr.
    pub fn execute(self) -> anyhow::Result<()> {
        let prepared = self.prepare()?;
        let ledger = self.ledger(&prepared)?;
        let total = ledger.todo.len();
        let per_input = (self.workers / total.max(1)).max(1);
        let (_bars, bar, windows) = progress_bars(total as u64);
        let queue = Mutex::new(ledger.todo.iter().rev().copied().collect::<Vec<_>>());
        let next = || queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let ledger = Mutex::new(ledger);
        let result: anyhow::Result<()> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.workers.min(total).max(1))
                .map(|_| {
                    scope.spawn(|| -> anyhow::Result<()> {
                        while let Some(i) = next() {
                            let outcome = self.run_input(i, &prepared, per_input, &windows);
                            if let Err(e) = &outcome
                                && is_stopped(e)
                            {
                                return outcome.map(|_| ());
                            }
                            ledger.lock().unwrap_or_else(|p| p.into_inner()).record(
                                &self.inputs[i],
                                &prepared.outputs[i],
                                outcome.map_err(|e| format!("{e:#}")),
                            )?;
                            if let Some(bar) = &bar {
                                bar.inc(1);
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(result) => result?,
                    Err(_) => anyhow::bail!("a corpus worker panicked"),
                }
            }
            Ok(())
        });
        for bar in [&bar, &windows].into_iter().flatten() {
            bar.finish_and_clear();
        }
        result?;
        ledger
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .finish(self.inputs.len(), &self.out_dir)
    }

    /// The plan's output format, the output names and the run's identity: what every
    /// process works out for itself.
    pub(crate) fn prepare(&self) -> anyhow::Result<Prepared> {
        let plan = Plan::new(&self.spec, None)?;
        let layout = plan.target_node().port.layout.clone();
        let format = self
            .format
            .unwrap_or(if layout.dtype == sqrtspace::DType::Text {
                OutputFormat::Jsonl
            } else {
                OutputFormat::Npy
            });
        let outputs = self.output_names(format)?;
        let run_id = format!(
            "pipeline {}, plugins {:?}, target {}, channel {}, input format {:?}, output format {format}",
            sqrtspace::plugin::content_hash(
                &std::fs::read(&self.pipeline)
                    .with_context(|| format!("reading {}", self.pipeline.display()))?
            ),
            plan.plugins
                .iter()
                .map(|p| (p.stage.as_str(), p.sha256.as_str()))
                .collect::<Vec<_>>(),
            plan.target_node().name,
            self.args.channel.unwrap_or(0),
            self.args.format,
        );
        Ok(Prepared {
            format,
            outputs,
            run_id,
        })
    }

    /// The output directory made ready: the manifest to go on from (refused when it is of
    /// another run, or when not resuming), what a killed run left removed, and what is left
    /// to run, largest input first.
    pub(crate) fn ledger(&self, prepared: &Prepared) -> anyhow::Result<Ledger> {
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("creating the output directory {}", self.out_dir.display()))?;
        let path = self.out_dir.join(MANIFEST);
        let manifest = self.previous(&path, &prepared.run_id)?;
        self.remove_partials(&prepared.outputs)?;
        let mut todo: Vec<(u64, usize)> = Vec::new();
        let mut skipped = 0;
        for (i, input) in self.inputs.iter().enumerate() {
            let key = input.display().to_string();
            let done = manifest.done.get(&key).is_some_and(|d| {
                InputIdentity::of(input).is_ok_and(|id| id == d.identity)
                    && self.out_dir.join(&d.output).is_file()
            });
            if done {
                skipped += 1;
            } else {
                todo.push((std::fs::metadata(input).map_or(0, |m| m.len()), i));
            }
        }
        // Largest first, ties in the inputs' order.
        todo.sort_by_key(|&(size, i)| (std::cmp::Reverse(size), i));
        Ok(Ledger {
            path,
            manifest,
            failed: Vec::new(),
            skipped,
            todo: todo.into_iter().map(|(_, i)| i).collect(),
        })
    }

    /// Runs input `i` into its output; the identity of what was read (taken before, so that
    /// a file that changes during its run is redone by the next `--resume`) and the windows.
    pub(crate) fn run_input(
        &self,
        i: usize,
        prepared: &Prepared,
        workers: usize,
        bar: &Option<indicatif::ProgressBar>,
    ) -> anyhow::Result<(InputIdentity, u64)> {
        let input = &self.inputs[i];
        let identity =
            InputIdentity::of(input).with_context(|| format!("reading {}", input.display()))?;
        let output = self.out_dir.join(&prepared.outputs[i]);
        let windows = self.run_one(input, &output, prepared.format, workers, bar)?;
        Ok((identity, windows))
    }

    /// Each input's output file: its name's stem and the format's extension; two inputs with
    /// one stem are refused rather than one output overwriting the other.
    fn output_names(&self, format: OutputFormat) -> anyhow::Result<Vec<String>> {
        let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
        let mut names = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let stem = input
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = format!("{stem}.{format}");
            if let Some(other) = seen.insert(name.clone(), input) {
                usage!(
                    "{} and {} would both be written to {name}: give inputs with different names",
                    other.display(),
                    input.display()
                );
            }
            names.push(name);
        }
        Ok(names)
    }

    /// Removes what a killed run left of the outputs it was writing (`.NAME.*.partial`:
    /// a run that is stopped otherwise removes its own).
    fn remove_partials(&self, outputs: &[String]) -> anyhow::Result<()> {
        let ours: std::collections::BTreeSet<&str> = outputs.iter().map(String::as_str).collect();
        for entry in std::fs::read_dir(&self.out_dir)
            .with_context(|| format!("reading {}", self.out_dir.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(inner) = name
                .as_deref()
                .and_then(|n| n.strip_prefix('.'))
                .and_then(|n| n.strip_suffix(".partial"))
            else {
                continue;
            };
            let output = inner.rsplit_once('.').map_or(inner, |(head, _)| head);
            if ours.contains(output) {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// The manifest to go on from: empty for a fresh directory; the one there when resuming
    /// a run of the same pipeline, plugins and options; otherwise refused.
    fn previous(&self, path: &Path, run_id: &str) -> anyhow::Result<Manifest> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    run: run_id.to_string(),
                    ..Manifest::default()
                });
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            ManifestError(format!(
                "{} is not a sqrtspace manifest: {e}",
                path.display()
            ))
        })?;
        if !self.resume {
            return Err(ManifestError(format!(
                "{} records {} finished inputs: pass --resume to go on, or remove it",
                path.display(),
                manifest.done.len()
            ))
            .into());
        }
        if manifest.run != run_id {
            return Err(ManifestError(format!(
                "{} records a run of another pipeline, plugins or options ({}); this run is {run_id}",
                path.display(),
                manifest.run
            ))
            .into());
        }
        Ok(manifest)
    }

    /// One input into one output file, as `sqrtspace run` would write it; the windows written.
    fn run_one(
        &self,
        input: &Path,
        output: &Path,
        format: OutputFormat,
        workers: usize,
        bar: &Option<indicatif::ProgressBar>,
    ) -> anyhow::Result<u64> {
        let mut spec = self.spec.clone();
        spec.max_workers = Some(spec.max_workers.unwrap_or(workers).min(workers));
        let opened = crate::input::open(
            input,
            self.args.format,
            self.args.channel,
            &spec,
            &self.pipeline,
        )?;
        let mut framer = opened.framer(&spec);
        let unit = if framer.line_stats().is_some() {
            "lines"
        } else {
            "samples"
        };
        if let Some(samples) = framer.total_samples() {
            crate::input::too_short_of(&framer.describe(), samples, spec.window, unit)?;
        }
        let mut plan = Plan::new(&spec, framer.total_windows())?;
        if plan.input_windows.is_some() {
            let probe = sqrtspace::exec::probe(&plan, &mut framer)?;
            plan.apply_probe(&probe);
        }
        let layout = plan.target_node().port.layout.clone();
        let mut sink = FileSink::create(output, format, &layout)?;
        let mut watched = crate::sinks::Progress::new(&mut sink, bar);
        let stats = run(&plan, &mut framer, WindowRange::all(), &mut watched)?;
        let count = framer.total_samples().unwrap_or(0);
        crate::input::too_short_of(&framer.describe(), count, spec.window, unit)?;
        sink.finish()?;
        Ok(stats.windows_out)
    }
}

pub(crate) fn is_stopped(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref::<ExecError>(), Some(ExecError::Stopped)))
}

/// Progress lines on stderr when it is a terminal: inputs done of all, and windows written
/// (by every input together).
fn progress_bars(
    inputs: u64,
) -> (
    Option<indicatif::MultiProgress>,
    Option<indicatif::ProgressBar>,
    Option<indicatif::ProgressBar>,
) {
    use std::io::IsTerminal;
    let styles = (
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} inputs  {elapsed} elapsed, {eta} left",
        ),
        indicatif::ProgressStyle::with_template("  {pos} windows  {per_sec}"),
    );
    let (Ok(each), Ok(windows)) = styles else {
        return (None, None, None);
    };
    if !std::io::stderr().is_terminal() {
        return (None, None, None);
    }
    let multi = indicatif::MultiProgress::new();
    let inputs = multi.add(indicatif::ProgressBar::new(inputs).with_style(each));
    let rows = multi.add(indicatif::ProgressBar::new_spinner().with_style(windows));
    inputs.enable_steady_tick(std::time::Duration::from_millis(200));
    (Some(multi), Some(inputs), Some(rows))
}

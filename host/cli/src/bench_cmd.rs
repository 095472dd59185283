//! `sqrtspace bench audio|logs`: the benchmark matrix. Three stream lengths sized against a
//! memory budget from measured classic runs (fits easily, barely fits, spills) × window × checkpoint interval k × LRU
//! bytes × workers, in classic, sqrt and auto mode, each run in a child process of its own
//! under the budget; a CSV of every run and plots of peak RSS and wall time against stream
//! length.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::report::format_secs;
use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sqrtspace::plan::{Probe, estimate};
use sqrtspace::spec::ByteSize;
use sqrtspace::{Plan, Spec};
use sqrtspace_testdata::logs::write_logs;
use sqrtspace_testdata::{AudioFormat, write_audio};

use super::child::{self, AUDIO_PIPELINE, Outcome};

mod plot;

#[derive(Debug, Args)]
pub struct BenchCommand {
    #[command(subcommand)]
    what: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The audio pipeline (pipelines/audio.ron) over generated audio.
    Audio(BenchArgs),
    /// The logs pipeline (pipelines/logs.ron) over generated access logs.
    Logs(BenchArgs),
}

/// What a bench runs: a pipeline and the data it is generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Audio,
    Logs,
}

/// The logs pipeline, built into the binary.
const LOGS_PIPELINE: &str = include_str!("../pipelines/logs.ron");

impl Workload {
    /// Windows of the full matrix, and of `--quick`.
    fn windows(self) -> (&'static [usize], usize) {
        match self {
            Workload::Audio => (&[2048, 4096, 8192], 4096),
            Workload::Logs => (&[500, 1000, 2000], 1000),
        }
    }

    /// The pipeline text with `window` (audio: a quarter of it as hop; logs: windows back to
    /// back).
    fn ron_for(self, window: usize) -> String {
        match self {
            Workload::Audio => AUDIO_PIPELINE
                .replacen("window: 4096,", &format!("window: {window},"), 1)
                .replacen("hop: 1024,", &format!("hop: {},", window / 4), 1),
            Workload::Logs => LOGS_PIPELINE
                .replacen("window: 1000,", &format!("window: {window},"), 1)
                .replacen("hop: 1000,", &format!("hop: {window},"), 1),
        }
    }

    fn pipeline(self, window: usize) -> anyhow::Result<Spec> {
        Ok(Spec::from_ron(&self.ron_for(window), "pipeline.ron")?)
    }

    /// The unit of a stream's length.
    fn unit(self) -> &'static str {
        match self {
            Workload::Audio => "s",
            Workload::Logs => "lines",
        }
    }

    /// The length of `windows` windows of `spec`.
    fn length(self, spec: &Spec, windows: f64) -> f64 {
        let records = windows * spec.hop as f64 + spec.window as f64;
        match self {
            Workload::Audio => records / f64::from(spec.sample_rate),
            Workload::Logs => records.round(),
        }
    }

    /// Windows in a stream of `length`.
    fn windows_in(self, spec: &Spec, length: f64) -> u64 {
        let records = match self {
            Workload::Audio => (length * f64::from(spec.sample_rate)).round() as u64,
            Workload::Logs => length as u64,
        };
        sqrtspace::io::windows_in(records, spec.window, spec.hop)
    }

    fn generate(self, spec: &Spec, path: &Path, length: f64) -> anyhow::Result<()> {
        match self {
            Workload::Audio => {
                let samples = (length * f64::from(spec.sample_rate)).round() as u64;
                write_audio(path, AudioFormat::Wav16, samples, spec.sample_rate, 1)?;
            }
            Workload::Logs => {
                let truth = path.with_extension("incidents.jsonl");
                write_logs(path, &truth, length as u64, 1)?;
            }
        }
        Ok(())
    }

    fn file_name(self, dataset: &str) -> String {
        match self {
            Workload::Audio => format!("{dataset}.wav"),
            Workload::Logs => format!("{dataset}.log"),
        }
    }
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Where the CSV and the plots go.
    #[arg(long)]
    out: PathBuf,
    /// The memory budget: the datasets are sized against it (classic mode's peak, as two
    /// measured classic runs extrapolate it, at a quarter of it, 85% of it and twice it), auto
    /// mode plans for it, and a run whose resident memory passes it is stopped and recorded
    /// as over budget.
    #[arg(long, default_value = "1 GiB")]
    budget: ByteSize,
    /// A small subset: the fit and spill datasets, the middle window (audio 4096, logs 1000),
    /// k 16, LRU 64 MiB, one worker and every core.
    #[arg(long)]
    quick: bool,
    /// Windows (audio: samples, with a quarter as the hop; logs: lines, back to back).
    #[arg(long, value_delimiter = ',')]
    windows: Option<Vec<usize>>,
    /// Checkpoint intervals, in windows (the block is the same size).
    #[arg(long, value_delimiter = ',')]
    k: Option<Vec<usize>>,
    /// LRU sizes, e.g. "32 MiB,64 MiB".
    #[arg(long, value_delimiter = ',')]
    lru: Option<Vec<ByteSize>>,
    /// Worker counts (default: 1, 2, 4, … up to every core).
    #[arg(long, value_delimiter = ',')]
    workers: Option<Vec<usize>>,
    /// Keep the generated audio in OUT/data.
    #[arg(long)]
    keep_data: bool,
}

/// A dataset: a stream length defined against the budget.
#[derive(Debug, Clone)]
struct Dataset {
    name: &'static str,
    /// Classic mode's expected peak as a share of the budget.
    share: f64,
    /// Seconds of audio or lines of log.
    length: f64,
    path: PathBuf,
}

/// One row of the CSV.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub dataset: String,
    /// The stream's length in `unit`s.
    pub length: f64,
    /// "s" (of audio) or "lines".
    pub unit: String,
    pub windows: u64,
    pub window: usize,
    pub mode: String,
    pub chosen: String,
    pub k: Option<usize>,
    pub block: Option<usize>,
    pub lru_bytes: Option<u64>,
    pub workers: Option<usize>,
    pub status: String,
    pub wall_secs: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub minor_faults: Option<u64>,
    pub major_faults: Option<u64>,
    pub predicted_peak_bytes: Option<u64>,
    pub budget_bytes: u64,
    pub detail: String,
}

/// One run to make.
#[derive(Debug, Clone)]
struct Cell {
    mode: &'static str,
    window: usize,
    k: Option<usize>,
    lru: Option<ByteSize>,
    workers: Option<usize>,
}

const FULL_K: [usize; 3] = [8, 16, 32];
const FULL_LRU_MIB: [u64; 3] = [32, 64, 128];

fn worker_counts(cores: usize) -> Vec<usize> {
    let mut counts = vec![1];
    while counts.last().is_some_and(|&n| n * 2 < cores) {
        counts.push(counts.last().map_or(1, |n| n * 2));
    }
    if cores > 1 {
        counts.push(cores);
    }
    counts
}

impl BenchArgs {
    fn grid(&self, workload: Workload) -> (Vec<usize>, Vec<usize>, Vec<ByteSize>, Vec<usize>) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (full_windows, quick_window) = workload.windows();
        let (windows, k, lru, workers) = if self.quick {
            (
                vec![quick_window],
                vec![16],
                vec![ByteSize(64 << 20)],
                if cores > 1 { vec![1, cores] } else { vec![1] },
            )
        } else {
            (
                full_windows.to_vec(),
                FULL_K.to_vec(),
                FULL_LRU_MIB.iter().map(|m| ByteSize(m << 20)).collect(),
                worker_counts(cores),
            )
        };
        (
            self.windows.clone().unwrap_or(windows),
            self.k.clone().unwrap_or(k),
            self.lru.clone().unwrap_or(lru),
            self.workers.clone().unwrap_or(workers),
        )
    }

    fn cells(&self, workload: Workload) -> Vec<Cell> {
        let (windows, ks, lrus, workers) = self.grid(workload);
        let mut cells = Vec::new();
        for &window in &windows {
            for mode in ["classic", "auto"] {
                cells.push(Cell {
                    mode,
                    window,
                    k: None,
                    lru: None,
                    workers: None,
                });
            }
            for &k in &ks {
                for &lru in &lrus {
                    for &n in &workers {
                        cells.push(Cell {
                            mode: "sqrt",
                            window,
                            k: Some(k),
                            lru: Some(lru),
                            workers: Some(n),
                        });
                    }
                }
            }
        }
        cells
    }
}

/// Windows for which classic mode's predicted peak is `bytes`: the planner's model of
/// classic mode (every intermediate whole) on `spec`, plus `baseline`, what a run holds
/// with the pipeline loaded.
fn windows_for(spec: &Spec, bytes: u64, baseline: u64) -> anyhow::Result<f64> {
    let plan = Plan::new(spec, None)?;
    let probe = Probe {
        windows: 0,
        ns_per_window: Vec::new(),
        baseline_rss: baseline,
        baseline_file_rss: 0,
        worker_instance_bytes: 0,
        state_bytes: Vec::new(),
    };
    let (t1, t2) = (10_000u64, 20_000u64);
    let (p1, p2) = (
        estimate(&plan, &probe, t1).classic_peak_bytes,
        estimate(&plan, &probe, t2).classic_peak_bytes,
    );
    let per_window = (p2.saturating_sub(p1)) as f64 / (t2 - t1) as f64;
    let base = p1 as f64 - per_window * t1 as f64;
    Ok(((bytes as f64 - base) / per_window.max(1.0)).max(16.0))
}

impl BenchCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let (workload, args) = match self.what {
            Bench::Audio(args) => (Workload::Audio, args),
            Bench::Logs(args) => (Workload::Logs, args),
        };
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let temp;
        let data = if args.keep_data {
            let dir = args.out.join("data");
            std::fs::create_dir_all(&dir)?;
            dir
        } else {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        };
        let budget = args.budget.0;
        let spec = workload.pipeline(workload.windows().1)?;
        let shares: &[(&str, f64)] = if args.quick {
            &[("fit", 0.25), ("spill", 2.0)]
        } else {
            &[("fit", 0.25), ("barely-fit", 0.85), ("spill", 2.0)]
        };
        eprintln!("calibrating: two classic runs, at about a quarter and a half of the budget ...");
        let sizes = calibrated_windows(workload, &spec, &data, budget, shares)?;
        let mut datasets = Vec::new();
        for (&(name, share), &windows) in shares.iter().zip(&sizes) {
            let length = workload.length(&spec, windows);
            let path = data.join(workload.file_name(name));
            eprintln!("generating {name}: {length:.0} {} ...", workload.unit());
            workload.generate(&spec, &path, length)?;
            datasets.push(Dataset {
                name,
                share,
                length,
                path,
            });
        }
        let cells = args.cells(workload);
        let runs = datasets.len() * cells.len();
        let progress = ProgressBar::new(runs as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut rows = Vec::with_capacity(runs);
        for dataset in &datasets {
            for cell in &cells {
                progress.set_message(format!("{} {}", dataset.name, cell.mode));
                rows.push(run_cell(workload, dataset, cell, budget, &data)?);
                progress.inc(1);
            }
        }
        progress.finish_and_clear();
        let csv_path = args.out.join("results.csv");
        let mut writer = csv::Writer::from_path(&csv_path)
            .with_context(|| format!("cannot write {}", csv_path.display()))?;
        for row in &rows {
            writer.serialize(row)?;
        }
        writer.flush()?;
        let plotted = plot::draw(&rows, budget, &args.out)?;
        outln!("{}", summary(&rows, &datasets, workload.unit()));
        outln!("wrote {}", csv_path.display());
        for path in plotted {
            outln!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// Peak RSS of classic mode over `windows` windows of `spec`'s input, in a child process
/// (run `times` times, the last one measured: the first compiles the plugins into the cache
/// the others load them from).
fn classic_peak(
    workload: Workload,
    spec: &Spec,
    data: &Path,
    windows: f64,
    times: usize,
) -> anyhow::Result<u64> {
    let input = data.join(workload.file_name("calibration"));
    workload.generate(spec, &input, workload.length(spec, windows))?;
    let ron = data.join("calibration.ron");
    std::fs::write(&ron, workload.ron_for(spec.window))?;
    let args: Vec<OsString> = vec![
        ron.into(),
        "--input".into(),
        input.clone().into(),
        "--mode".into(),
        "classic".into(),
    ];
    let mut run = None;
    for _ in 0..times.max(1) {
        run = Some(child::run(&args, &data.join("calibration.json"), None)?);
    }
    let _ = std::fs::remove_file(&input);
    match run.map(|r| (r.outcome, r.report)) {
        Some((Outcome::Ok, Some(report))) => Ok(report.usage.max_rss_bytes),
        other => anyhow::bail!(
            "the calibration run ({windows:.0} windows, classic) failed: {:?}",
            other.map(|o| o.0)
        ),
    }
}

/// Windows whose classic run peaks at each share of `budget`: the line through two measured
/// classic runs, at the planner's guess for a quarter of the budget and at twice that. The
/// planner's model only places the two runs, so a model that is off for some input (a
/// plugin's working memory, text's real length) does not mislabel the datasets; both runs are
/// past the fixed costs (the runtime, a plugin's memory for its largest call), so the line
/// holds beyond them.
fn calibrated_windows(
    workload: Workload,
    spec: &Spec,
    data: &Path,
    budget: u64,
    shares: &[(&str, f64)],
) -> anyhow::Result<Vec<f64>> {
    let process = sqrtspace::metrics::current_rss().unwrap_or(0);
    let guess = windows_for(spec, budget / 4, process)?.max(64.0);
    // Twice: the first run compiles the plugins into the cache the others load them from.
    let p1 = classic_peak(workload, spec, data, guess, 2)? as f64;
    let p2 = classic_peak(workload, spec, data, 2.0 * guess, 1)? as f64;
    let per_window = (p2 - p1) / guess;
    if per_window <= 0.0 {
        anyhow::bail!(
            "calibration: classic mode peaked at {} over {guess:.0} windows and {} over twice \
             that; memory does not grow with the stream here",
            ByteSize(p1 as u64),
            ByteSize(p2 as u64)
        );
    }
    let fixed = p1 - per_window * guess;
    Ok(shares
        .iter()
        .map(|&(_, share)| ((share * budget as f64 - fixed) / per_window).max(16.0))
        .collect())
}

fn run_cell(
    workload: Workload,
    dataset: &Dataset,
    cell: &Cell,
    budget: u64,
    data: &Path,
) -> anyhow::Result<Row> {
    let spec = workload.pipeline(cell.window)?;
    let ron = data.join(format!("pipeline-{}.ron", cell.window));
    if !ron.exists() {
        std::fs::write(&ron, workload.ron_for(cell.window))?;
    }
    let mut args: Vec<OsString> = vec![
        ron.into(),
        "--input".into(),
        dataset.path.clone().into(),
        "--mode".into(),
        cell.mode.into(),
    ];
    if cell.mode == "auto" {
        args.extend([
            "--available-ram".into(),
            ByteSize(budget).to_string().into(),
        ]);
    }
    if let Some(k) = cell.k {
        args.extend([
            "--checkpoint-every".into(),
            k.to_string().into(),
            "--block".into(),
            k.to_string().into(),
        ]);
    }
    if let Some(lru) = cell.lru {
        args.extend(["--lru-bytes".into(), lru.0.to_string().into()]);
    }
    if let Some(n) = cell.workers {
        args.extend(["--workers".into(), n.to_string().into()]);
    }
    let metrics = data.join("metrics.json");
    let _ = std::fs::remove_file(&metrics);
    let run = child::run(&args, &metrics, Some(budget))?;
    let windows = workload.windows_in(&spec, dataset.length);
    let mut row = Row {
        dataset: dataset.name.into(),
        length: dataset.length,
        unit: workload.unit().into(),
        windows,
        window: cell.window,
        mode: cell.mode.into(),
        chosen: String::new(),
        k: cell.k,
        block: cell.k,
        lru_bytes: cell.lru.map(|b| b.0),
        workers: cell.workers,
        status: String::new(),
        wall_secs: None,
        peak_rss_bytes: None,
        minor_faults: None,
        major_faults: None,
        predicted_peak_bytes: None,
        budget_bytes: budget,
        detail: String::new(),
    };
    match (&run.outcome, &run.report) {
        (Outcome::Ok, Some(report)) => {
            row.status = "ok".into();
            row.chosen = report.mode.to_string();
            row.windows = report.run.windows_out;
            row.k = Some(report.checkpoint_every);
            row.block = Some(report.block);
            row.lru_bytes = Some(report.lru_bytes);
            row.workers = Some(report.workers);
            row.wall_secs = Some(run.wall_secs);
            row.peak_rss_bytes = Some(report.usage.max_rss_bytes);
            row.minor_faults = Some(report.usage.minor_faults);
            row.major_faults = Some(report.usage.major_faults);
            row.predicted_peak_bytes = report.predicted.map(|(bytes, _)| bytes);
            row.detail = if cell.mode == "auto" {
                report.mode_reason.clone()
            } else {
                String::new()
            };
        }
        (Outcome::OverBudget { rss }, _) => {
            row.status = "over-budget".into();
            row.peak_rss_bytes = Some(*rss);
            row.detail = format!(
                "stopped after {} at {} resident",
                format_secs(run.wall_secs),
                ByteSize(*rss)
            );
        }
        (Outcome::Failed(message), _) => {
            row.status = "failed".into();
            row.detail = message.clone();
        }
        (Outcome::Ok, None) => {
            row.status = "failed".into();
            row.detail = "no metrics".into();
        }
    }
    Ok(row)
}

/// The rows the plots and the summary show: per dataset and mode, the run at the default
/// settings (the middle window, k and LRU that ran, the most workers).
pub(crate) fn headline(rows: &[Row]) -> Vec<&Row> {
    let middle = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.dedup();
        v.get(v.len() / 2).copied()
    };
    let window = middle(rows.iter().map(|r| r.window as u64).collect()).unwrap_or(0) as usize;
    let sqrt: Vec<&Row> = rows
        .iter()
        .filter(|r| r.mode == "sqrt" && r.window == window)
        .collect();
    let k = middle(sqrt.iter().filter_map(|r| r.k.map(|k| k as u64)).collect());
    let lru = middle(sqrt.iter().filter_map(|r| r.lru_bytes).collect());
    let workers = sqrt.iter().filter_map(|r| r.workers).max();
    rows.iter()
        .filter(|r| r.window == window)
        .filter(|r| {
            r.mode != "sqrt"
                || (r.k.map(|k| k as u64) == k && r.lru_bytes == lru && r.workers == workers)
        })
        .collect()
}

fn summary(rows: &[Row], datasets: &[Dataset], unit: &str) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "dataset", "mode", "chosen", "wall", "peak RSS", "faults", "status",
    ]);
    for r in headline(rows) {
        let share = datasets
            .iter()
            .find(|d| d.name == r.dataset)
            .map_or(String::new(), |d| {
                format!(
                    " ({:.0} {unit}, classic ≈ {:.0}% of budget)",
                    d.length,
                    d.share * 100.0
                )
            });
        table.add_row([
            format!("{}{share}", r.dataset),
            r.mode.clone(),
            r.chosen.clone(),
            r.wall_secs.map_or("—".into(), format_secs),
            r.peak_rss_bytes
                .map_or("—".into(), |b| ByteSize(b).to_string()),
            match (r.major_faults, r.minor_faults) {
                (Some(major), Some(minor)) => format!("{major} / {minor}"),
                _ => "—".into(),
            },
            if r.status == "ok" {
                "ok".into()
            } else {
                format!("{}: {}", r.status, r.detail)
            },
        ]);
    }
    format!("{table}")
}

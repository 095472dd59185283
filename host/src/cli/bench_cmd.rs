//! `sqrtspace bench audio`: the benchmark matrix. Three stream lengths sized against a memory
//! budget (fits easily, barely fits, spills) × window × checkpoint interval k × LRU bytes ×
//! workers, in classic, sqrt and auto mode, each run in a child process of its own under the
//! budget; a CSV of every run and plots of peak RSS and wall time against stream length.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sqrtspace::generate::{AudioFormat, write_audio};
use sqrtspace::metrics::format_secs;
use sqrtspace::plan::{Probe, estimate};
use sqrtspace::spec::ByteSize;
use sqrtspace::{Plan, Spec};

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
    Audio(BenchAudio),
}

#[derive(Debug, Args)]
struct BenchAudio {
    /// Where the CSV and the plots go.
    #[arg(long)]
    out: PathBuf,
    /// The memory budget: the datasets are sized against it (classic mode's predicted peak
    /// at a quarter of it, 85% of it and twice it), auto mode plans for it, and a run whose
    /// resident memory passes it is stopped and recorded as over budget.
    #[arg(long, default_value = "1 GiB")]
    budget: ByteSize,
    /// A small subset: the fit and spill datasets, window 4096, k 16, LRU 64 MiB, one worker
    /// and every core.
    #[arg(long)]
    quick: bool,
    /// Windows (samples; the hop is a quarter).
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
    /// Classic mode's predicted peak as a share of the budget.
    share: f64,
    seconds: f64,
    path: PathBuf,
}

/// One row of the CSV.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub dataset: String,
    pub seconds: f64,
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

const FULL_WINDOWS: [usize; 3] = [2048, 4096, 8192];
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

impl BenchAudio {
    fn grid(&self) -> (Vec<usize>, Vec<usize>, Vec<ByteSize>, Vec<usize>) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (windows, k, lru, workers) = if self.quick {
            (
                vec![4096],
                vec![16],
                vec![ByteSize(64 << 20)],
                if cores > 1 { vec![1, cores] } else { vec![1] },
            )
        } else {
            (
                FULL_WINDOWS.to_vec(),
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

    fn cells(&self) -> Vec<Cell> {
        let (windows, ks, lrus, workers) = self.grid();
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

/// The audio pipeline with `window` samples per window and a quarter of that as the hop.
fn pipeline(window: usize) -> anyhow::Result<Spec> {
    let mut spec = Spec::from_ron(AUDIO_PIPELINE, "audio.ron")?;
    spec.window = window;
    spec.hop = window / 4;
    Ok(spec)
}

/// Seconds of audio for which classic mode's predicted peak is `bytes`: the planner's model
/// of classic mode (every intermediate whole) on the pipeline at `window`, plus what this
/// process holds with the pipeline loaded.
fn seconds_for(spec: &Spec, bytes: u64) -> anyhow::Result<f64> {
    let plan = Plan::new(spec, None)?;
    let probe = Probe {
        windows: 0,
        ns_per_window: Vec::new(),
        baseline_rss: sqrtspace::metrics::current_rss().unwrap_or(0),
        baseline_file_rss: 0,
        worker_instance_bytes: 0,
    };
    let (t1, t2) = (10_000u64, 20_000u64);
    let (p1, p2) = (
        estimate(&plan, &probe, t1).classic_peak_bytes,
        estimate(&plan, &probe, t2).classic_peak_bytes,
    );
    let per_window = (p2.saturating_sub(p1)) as f64 / (t2 - t1) as f64;
    let base = p1 as f64 - per_window * t1 as f64;
    let windows = ((bytes as f64 - base) / per_window.max(1.0)).max(16.0);
    Ok((windows * spec.hop as f64 + spec.window as f64) / f64::from(spec.sample_rate))
}

impl BenchCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let Bench::Audio(args) = self.what;
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
        let spec = pipeline(4096)?;
        let shares: &[(&str, f64)] = if args.quick {
            &[("fit", 0.25), ("spill", 2.0)]
        } else {
            &[("fit", 0.25), ("barely-fit", 0.85), ("spill", 2.0)]
        };
        let mut datasets = Vec::new();
        for &(name, share) in shares {
            let seconds = seconds_for(&spec, (share * budget as f64) as u64)?;
            let path = data.join(format!("{name}.wav"));
            eprintln!("generating {name}: {seconds:.0} s of audio ...");
            let samples = (seconds * f64::from(spec.sample_rate)).round() as u64;
            write_audio(&path, AudioFormat::Wav16, samples, spec.sample_rate, 1)?;
            datasets.push(Dataset {
                name,
                share,
                seconds,
                path,
            });
        }
        let cells = args.cells();
        let runs = datasets.len() * cells.len();
        let progress = ProgressBar::new(runs as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut rows = Vec::with_capacity(runs);
        for dataset in &datasets {
            for cell in &cells {
                progress.set_message(format!("{} {}", dataset.name, cell.mode));
                rows.push(run_cell(dataset, cell, budget, &data)?);
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
        println!("{}", summary(&rows, &datasets));
        println!("wrote {}", csv_path.display());
        for path in plotted {
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

fn run_cell(dataset: &Dataset, cell: &Cell, budget: u64, data: &Path) -> anyhow::Result<Row> {
    let spec = pipeline(cell.window)?;
    let ron = data.join(format!("audio-{}.ron", cell.window));
    if !ron.exists() {
        std::fs::write(&ron, ron_for(cell.window))?;
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
    let windows = ((dataset.seconds * f64::from(spec.sample_rate)).round() as u64)
        .saturating_sub(spec.window as u64)
        / spec.hop as u64
        + 1;
    let mut row = Row {
        dataset: dataset.name.into(),
        seconds: dataset.seconds,
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

/// The pipeline file for `window`: the audio pipeline with the window and hop set.
fn ron_for(window: usize) -> String {
    AUDIO_PIPELINE
        .replacen("window: 4096,", &format!("window: {window},"), 1)
        .replacen("hop: 1024,", &format!("hop: {},", window / 4), 1)
}

/// The rows the plots and the summary show: per dataset and mode, the run at the default
/// settings (window 4096 if it ran, the middle k and LRU, the most workers).
pub(crate) fn headline(rows: &[Row]) -> Vec<&Row> {
    let window = if rows.iter().any(|r| r.window == 4096) {
        4096
    } else {
        rows.first().map_or(4096, |r| r.window)
    };
    let middle = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.dedup();
        v.get(v.len() / 2).copied()
    };
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

fn summary(rows: &[Row], datasets: &[Dataset]) -> String {
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
                    " ({:.0} s, classic ≈ {:.0}% of budget)",
                    d.seconds,
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

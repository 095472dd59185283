//! `sqrtspace run`: a pipeline over an input file, output written block by block.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use sqrtspace::exec::WindowRange;
use sqrtspace::io::{FileSink, Framer, InputFormat, OutputFormat, Sink, open_source};
use sqrtspace::metrics::{IoCounters, Report, Usage};
use sqrtspace::spec::ByteSize;
use sqrtspace::{Mode, Plan, Spec, run};

#[derive(Debug, Args)]
pub struct RunCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    /// The input file.
    #[arg(long, short)]
    input: PathBuf,
    /// Input format (default: from the extension).
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Which channel of a multi-channel WAV to read (from 0).
    #[arg(long)]
    channel: Option<usize>,
    /// Where to write the target's rows (nothing is written without it).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Output format (default: from the extension).
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Executor: auto, classic or sqrt (overrides the pipeline).
    #[arg(long)]
    mode: Option<Mode>,
    /// Stage to output (overrides the pipeline's target).
    #[arg(long)]
    target: Option<String>,
    /// Windows to output, `t0:t1` (half-open), `t0:` or `:t1`.
    #[arg(long)]
    range: Option<WindowRange>,
    /// Windows per block (overrides the pipeline).
    #[arg(long)]
    block: Option<usize>,
    /// Windows between checkpoints (overrides the pipeline).
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Byte cap of the block cache, e.g. "16 MiB" (overrides the pipeline).
    #[arg(long)]
    lru_bytes: Option<ByteSize>,
    /// Print the run report on stderr.
    #[arg(long)]
    report: bool,
    /// Write the metrics as JSON to this file.
    #[arg(long)]
    metrics_json: Option<PathBuf>,
}

/// Counts rows when no output is wanted.
struct Discard;

impl Sink for Discard {
    fn write(
        &mut self,
        _: u64,
        _: &sqrtspace::TensorView<'_>,
    ) -> Result<(), sqrtspace::io::OutputError> {
        Ok(())
    }
}

impl RunCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut spec = Spec::from_file(&self.pipeline)?;
        if let Some(mode) = self.mode {
            spec.mode = mode;
        }
        if let Some(target) = &self.target {
            spec.target = Some(target.clone());
        }
        if let Some(block) = self.block {
            spec.block = Some(block);
        }
        if let Some(k) = self.checkpoint_every {
            spec.checkpoint_every = Some(k);
        }
        if let Some(bytes) = self.lru_bytes {
            spec.lru_bytes = Some(bytes);
        }
        let source = open_source(&self.input, self.format, self.channel)?;
        if let Some(rate) = source.sample_rate()
            && rate != spec.sample_rate
        {
            anyhow::bail!(sqrtspace::io::InputError::Format {
                path: self.input.display().to_string(),
                message: format!(
                    "is sampled at {rate} Hz, but {} says sample_rate: {} (resample the input or change the pipeline)",
                    self.pipeline.display(),
                    spec.sample_rate
                ),
            });
        }
        let mut framer = Framer::new(source, spec.window, spec.hop);
        let plan = Plan::new(&spec, framer.total_windows())?;
        let range = self.range.unwrap_or_default();
        if let (Some(total), Some(end)) = (framer.total_windows(), range.end)
            && end > total
        {
            eprintln!(
                "warning: --range ends at window {end}, but the input has {total} windows; output stops at {total}"
            );
        }
        let layout = plan.target_node().port.layout.clone();
        let stats = match &self.output {
            Some(path) => {
                let format = match self.output_format.or_else(|| OutputFormat::from_path(path)) {
                    Some(format) => format,
                    None => anyhow::bail!(
                        "cannot tell the output format from {}; pass --output-format npy, csv or jsonl",
                        path.display()
                    ),
                };
                let mut sink = FileSink::create(path, format, &layout)?;
                let stats = run(&plan, &mut framer, range, &mut sink)
                    .with_context(|| format!("running {}", self.pipeline.display()))?;
                sink.finish()?;
                stats
            }
            None => run(&plan, &mut framer, range, &mut Discard)
                .with_context(|| format!("running {}", self.pipeline.display()))?,
        };
        let mode_reason = plan
            .decisions
            .iter()
            .find(|d| d.setting == "mode")
            .map(|d| d.reason.clone())
            .unwrap_or_default();
        let report = Report {
            pipeline: self.pipeline.display().to_string(),
            input: framer.describe(),
            target: plan.target_node().name.clone(),
            mode: plan.mode,
            mode_reason,
            window: plan.window,
            hop: plan.hop,
            block: plan.block,
            checkpoint_every: plan.checkpoint_every,
            lru_bytes: plan.lru_bytes,
            workers: plan.max_workers,
            wall_secs: started.elapsed().as_secs_f64(),
            usage: Usage::now(),
            io: IoCounters::now(),
            plugins: plan.plugins.clone(),
            run: stats,
        };
        if self.report {
            eprintln!("{report}");
        }
        if let Some(path) = &self.metrics_json {
            write_json(path, &report)?;
        }
        Ok(())
    }
}

/// Writes `value` as JSON to `path` through a temporary file renamed into place.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create {}", path.display()))?;
    serde_json::to_writer_pretty(&mut temp, value)?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

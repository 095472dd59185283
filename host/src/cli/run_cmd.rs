//! `sqrtspace run`: a pipeline over an input file, output written block by block.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sqrtspace::exec::WindowRange;
use sqrtspace::exec::persist::{CheckpointDir, Identity, InputIdentity, PersistStats};
use sqrtspace::exec::run_persisted;
use sqrtspace::io::{
    FileSink, Framer, InputFormat, LineSource, OutputFormat, RawF32Source, SampleSource, ShardSink,
    Sink, StreamSink, WavSource, open_source,
};
use sqrtspace::metrics::{IoCounters, LlcCounter, LlcMisses, Report, Resident, Usage};
use sqrtspace::spec::{ByteSize, InputKind};
use sqrtspace::{ExecError, Mode, Plan, Session, Spec, run};

#[derive(Debug, Args)]
pub struct RunCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    /// The input file, or `-` for a stream on stdin (raw f32, or `--format wav`).
    #[arg(long, short)]
    input: PathBuf,
    /// Input format (default: from the extension).
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Which channel of a multi-channel WAV to read (from 0).
    #[arg(long)]
    channel: Option<usize>,
    /// Where to write the target's rows (nothing is written without it); `-` streams JSON
    /// lines (or `--output-format csv`) to stdout as blocks complete.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Output format (default: from the extension).
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Write the target's rows as numbered `.npy` shards in this directory instead
    /// (`shard-00000.npy`, …, each complete before it gets its name).
    #[arg(long, conflicts_with_all = ["output", "checkpoint_dir"], requires = "shard_windows")]
    output_shards: Option<PathBuf>,
    /// Rows (windows) per shard.
    #[arg(long, requires = "output_shards")]
    shard_windows: Option<u64>,
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
    /// Worker threads (default: every core).
    #[arg(long)]
    workers: Option<usize>,
    /// Memory the planner may assume is available, e.g. "1 GiB" (overrides the machine's and
    /// the pipeline's `machine: (available_ram: ..)`).
    #[arg(long)]
    available_ram: Option<ByteSize>,
    /// Print the run report on stderr.
    #[arg(long)]
    report: bool,
    /// Write the metrics as JSON to this file.
    #[arg(long)]
    metrics_json: Option<PathBuf>,
    /// Keep a checkpoint in this directory (kernel states, context rows, the output's committed
    /// length) so that a killed run can be resumed; the output is written to a hidden
    /// `.NAME.sqrtspace-partial` beside it until the run completes.
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Go on from the checkpoint in `--checkpoint-dir` (from the start when there is none),
    /// after checking that the pipeline, plugins, input and options are the same.
    #[arg(long, requires = "checkpoint_dir")]
    resume: bool,
    /// Least seconds between checkpoints on disk (they are taken every k windows, but not
    /// more often than this).
    #[arg(long, default_value_t = 1.0, requires = "checkpoint_dir")]
    checkpoint_secs: f64,
    /// The last-level-cache miss counter, from the start of the command.
    #[arg(skip)]
    llc: Option<std::sync::Mutex<Result<LlcCounter, String>>>,
}

enum Output {
    File(FileSink),
    Shards(ShardSink),
    Stdout(StreamSink<std::io::BufWriter<std::io::StdoutLock<'static>>>),
    Discard,
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
    pub fn execute(mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        // Before any worker thread starts, so that the count covers them all.
        self.llc = Some(std::sync::Mutex::new(LlcCounter::start()));
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
        if let Some(workers) = self.workers {
            spec.max_workers = Some(workers);
        }
        if let Some(bytes) = self.available_ram {
            spec.machine
                .get_or_insert_with(Default::default)
                .available_ram = Some(bytes);
        }
        if self.input.as_os_str() == "-" {
            if self.checkpoint_dir.is_some() {
                anyhow::bail!(
                    "--checkpoint-dir needs an input file: a stream on stdin cannot be read again to resume"
                );
            }
            if spec.input == InputKind::Samples {
                return self.stream_stdin(&spec, started);
            }
        }
        let mut framer = match spec.input {
            InputKind::Samples => {
                let source = open_source(&self.input, self.format, self.channel)?;
                self.check_rate(&spec, source.as_ref())?;
                Framer::new(source, spec.window, spec.hop)
            }
            InputKind::Lines => self.line_framer(&spec)?,
        };
        if let Some(samples) = framer.total_samples() {
            too_short(&framer.describe(), samples, spec.window)?;
        }
        let mut plan = Plan::new(&spec, framer.total_windows())?;
        if plan.input_windows.is_some() {
            // Time the first windows through every stage: predictions, and auto's choice.
            let probe = sqrtspace::plan::probe(&plan, &mut framer)
                .with_context(|| format!("probing {}", self.pipeline.display()))?;
            plan.apply_probe(&probe);
        }
        let range = self.range.unwrap_or_default();
        if let (Some(total), Some(end)) = (framer.total_windows(), range.end)
            && end > total
        {
            eprintln!(
                "warning: --range ends at window {end}, but the input has {total} windows; output stops at {total}"
            );
        }
        let layout = plan.target_node().port.layout.clone();
        if let Some(dir) = &self.checkpoint_dir {
            return self.run_with_checkpoints(dir, &mut plan, &mut framer, range, &layout, started);
        }
        let running = || format!("running {}", self.pipeline.display());
        let rows = framer.total_windows().map(|total| range.rows_of(total));
        // An input of unknown length is checked for a whole window once it is read, before
        // the output is committed.
        let whole = |framer: &Framer| {
            let unit = match framer.line_stats() {
                Some(_) => "lines",
                None => "samples",
            };
            let count = framer.total_samples().unwrap_or(0);
            too_short_of(&framer.describe(), count, spec.window, unit)
        };
        let stats = match self.output_sink(&layout, rows)? {
            Output::File(mut sink) => {
                let stats = run(&plan, &mut framer, range, &mut sink).with_context(running)?;
                whole(&framer)?;
                sink.finish()?;
                stats
            }
            Output::Stdout(mut sink) => {
                run(&plan, &mut framer, range, &mut sink).with_context(running)?
            }
            Output::Shards(mut sink) => {
                let stats = run(&plan, &mut framer, range, &mut sink).with_context(running)?;
                whole(&framer)?;
                sink.finish()?;
                stats
            }
            Output::Discard => {
                run(&plan, &mut framer, range, &mut Discard).with_context(running)?
            }
        };
        let mode_reason = plan
            .decisions
            .iter()
            .find(|d| d.setting == "mode")
            .map(|d| d.reason.clone())
            .unwrap_or_default();
        whole(&framer)?;
        self.finish(&plan, &framer, mode_reason, started, stats, None)
    }

    /// Windows of lines from the input file or stdin, for pipelines with `input: Lines`.
    fn line_framer(&self, spec: &Spec) -> anyhow::Result<Framer> {
        if let Some(format) = self.format.filter(|&f| f != InputFormat::Lines) {
            anyhow::bail!(
                "{} reads lines of text (`input: Lines`), but --format says {format}",
                self.pipeline.display()
            );
        }
        if self.channel.is_some() {
            anyhow::bail!("--channel applies to WAV input, but this pipeline reads lines");
        }
        let source = if self.input.as_os_str() == "-" {
            LineSource::from_unbuffered("stdin", std::io::stdin())
        } else {
            LineSource::open(&self.input)?
        };
        Ok(Framer::lines(source, spec.window, spec.hop))
    }

    /// A run that keeps a checkpoint on disk, going on from one with `--resume`.
    fn run_with_checkpoints(
        &self,
        dir: &Path,
        plan: &mut Plan,
        framer: &mut Framer,
        range: WindowRange,
        layout: &sqrtspace::tensor::Layout,
        started: Instant,
    ) -> anyhow::Result<()> {
        let path = match &self.output {
            Some(path) if path.as_os_str() != "-" => path,
            _ => anyhow::bail!(
                "--checkpoint-dir needs --output FILE: only a file can be cut back and continued"
            ),
        };
        let format = self.output_format_of(path)?;
        let mut reason = "checkpoints on disk: the forward sweep of sqrt mode".to_string();
        if plan.mode == Mode::Classic {
            if self.mode == Some(Mode::Classic) {
                anyhow::bail!(
                    "--checkpoint-dir runs in sqrt mode: classic mode holds whole stages in memory and has no point to resume from"
                );
            }
            reason.push_str(" (the pipeline's classic mode gives the same bits)");
        }
        plan.mode = Mode::Sqrt;
        if !(self.checkpoint_secs >= 0.0 && self.checkpoint_secs.is_finite()) {
            anyhow::bail!("--checkpoint-secs must be a number of seconds, 0 or more");
        }
        let identity = Identity {
            pipeline: sqrtspace::plugin::content_hash(
                &std::fs::read(&self.pipeline)
                    .with_context(|| format!("reading {}", self.pipeline.display()))?,
            ),
            plugins: plan
                .plugins
                .iter()
                .map(|p| (p.stage.clone(), p.sha256.clone()))
                .collect(),
            input: InputIdentity::of(&self.input)
                .with_context(|| format!("reading {}", self.input.display()))?,
            options: format!(
                "target {}, windows {}..{}, channel {}, input format {:?}, output format {format}",
                plan.target_node().name,
                range.start,
                range.end.map_or("end".into(), |e| e.to_string()),
                self.channel.unwrap_or(0),
                self.format,
            ),
        };
        let (mut checkpoints, saved) = CheckpointDir::open(
            dir,
            identity,
            plan.checkpoint_every as u64,
            Duration::from_secs_f64(self.checkpoint_secs),
            self.resume,
        )?;
        match (&saved, self.resume) {
            (Some(saved), _) => eprintln!(
                "resuming at window {} ({} output rows kept)",
                saved.sweep.done, saved.committed.rows
            ),
            (None, true) => eprintln!(
                "no checkpoint in {}: starting from the beginning",
                dir.display()
            ),
            (None, false) => {}
        }
        let rows = framer.total_windows().map(|total| range.rows_of(total));
        let mut sink = FileSink::resumable(
            path,
            format,
            layout,
            rows,
            saved.as_ref().map(|s| s.committed),
        )?;
        let stats = run_persisted(plan, framer, range, &mut sink, &mut checkpoints, saved.as_ref())
            .with_context(|| {
                format!(
                    "running {} (the rows committed so far are kept in {}: rerun with --resume to go on)",
                    self.pipeline.display(),
                    FileSink::partial_path(path).display()
                )
            })?;
        sink.finish()?;
        let persisted = checkpoints.finish()?;
        self.finish(plan, framer, reason, started, stats, Some(persisted))
    }

    /// Refuses an input recorded at another rate than the pipeline's.
    fn check_rate(&self, spec: &Spec, source: &dyn SampleSource) -> anyhow::Result<()> {
        if let Some(rate) = source.sample_rate()
            && rate != spec.sample_rate
        {
            anyhow::bail!(sqrtspace::io::InputError::Format {
                path: source.describe(),
                message: format!(
                    "is sampled at {rate} Hz, but {} says sample_rate: {} (resample the input or change the pipeline)",
                    self.pipeline.display(),
                    spec.sample_rate
                ),
            });
        }
        Ok(())
    }

    /// Where the rows go: a file committed at the end, stdout as they come, or nowhere.
    fn output_sink(
        &self,
        layout: &sqrtspace::tensor::Layout,
        rows: Option<u64>,
    ) -> anyhow::Result<Output> {
        if let (Some(dir), Some(per_shard)) = (&self.output_shards, self.shard_windows) {
            let Some(rows) = rows else {
                anyhow::bail!("--output-shards needs an input file of known length, not a stream");
            };
            return Ok(Output::Shards(ShardSink::create(
                dir, per_shard, layout, rows,
            )?));
        }
        let Some(path) = &self.output else {
            return Ok(Output::Discard);
        };
        if path.as_os_str() == "-" {
            let format = self.output_format.unwrap_or(OutputFormat::Jsonl);
            let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            return Ok(Output::Stdout(StreamSink::new(
                "stdout", stdout, format, layout,
            )?));
        }
        let format = self.output_format_of(path)?;
        Ok(Output::File(FileSink::create(path, format, layout)?))
    }

    /// The output format: `--output-format`, or from the file's extension.
    fn output_format_of(&self, path: &Path) -> anyhow::Result<OutputFormat> {
        match self.output_format.or_else(|| OutputFormat::from_path(path)) {
            Some(format) => Ok(format),
            None => anyhow::bail!(
                "cannot tell the output format from {}; pass --output-format npy, csv or jsonl",
                path.display()
            ),
        }
    }

    /// Runs a stream from stdin through a push/pull session: constant memory whatever its
    /// length, rows written as their windows complete, the pipe's own backpressure pacing the
    /// producer.
    fn stream_stdin(&self, spec: &Spec, started: Instant) -> anyhow::Result<()> {
        let format = self.format.unwrap_or(InputFormat::RawF32);
        let mut source: Box<dyn SampleSource> = match format {
            InputFormat::RawF32 => Box::new(RawF32Source::from_reader("stdin", std::io::stdin())),
            InputFormat::Wav => Box::new(WavSource::from_reader(
                "stdin",
                std::io::stdin(),
                self.channel,
            )?),
            InputFormat::Npy => anyhow::bail!(sqrtspace::io::InputError::Format {
                path: "stdin".into(),
                message: "stdin streams raw-f32 or wav; .npy needs a file".into(),
            }),
            InputFormat::Lines => anyhow::bail!(sqrtspace::io::InputError::Format {
                path: "stdin".into(),
                message:
                    "--format lines is for pipelines with `input: Lines`; this one reads samples"
                        .into(),
            }),
        };
        if format != InputFormat::Wav && self.channel.is_some() {
            anyhow::bail!("--channel applies to WAV input, but stdin is read as {format}");
        }
        self.check_rate(spec, source.as_ref())?;
        let input = format!("stdin ({format} stream)");
        let plan = Plan::new(spec, None)?;
        let layout = plan.target_node().port.layout.clone();
        let range = self.range.unwrap_or_default();
        let end = range.end.unwrap_or(u64::MAX);
        let mut output = self.output_sink(&layout, None)?;
        let mut session = Session::new(&plan)?;
        let mut chunk = Vec::with_capacity(session.capacity());
        let (mut written, mut samples) = (0u64, 0u64);
        let mut emit = |t0: u64, block: &sqrtspace::Tensor| -> Result<(), ExecError> {
            let t1 = t0 + block.rows() as u64;
            let (lo, hi) = (range.start.clamp(t0, t1), end.clamp(t0, t1));
            if hi > lo {
                let rows = block.slice_rows((lo - t0) as usize..(hi - t0) as usize);
                match &mut output {
                    Output::File(sink) => sink.write(lo, &rows)?,
                    Output::Stdout(sink) => sink.write(lo, &rows)?,
                    Output::Shards(sink) => sink.write(lo, &rows)?,
                    Output::Discard => {}
                }
                written += hi - lo;
            }
            Ok(())
        };
        let running = || format!("running {} on stdin", self.pipeline.display());
        loop {
            chunk.clear();
            let n = source.read_into(&mut chunk, session.capacity())?;
            if n == 0 {
                break;
            }
            samples += n as u64;
            while !session.push_samples(&chunk) {
                session.pull_each(&mut emit).with_context(running)?;
            }
            if session.windows_done() >= end {
                break;
            }
            if session.windows_available() > session.windows_done() {
                session.pull_each(&mut emit).with_context(running)?;
            }
        }
        session.pull_each(&mut emit).with_context(running)?;
        too_short("stdin", samples, plan.window)?;
        if let Output::File(sink) = output {
            sink.finish()?;
        }
        let mut stats = session.stats();
        stats.windows_out = written;
        stats.elapsed = started.elapsed();
        self.finish_with(
            &plan,
            (input, None),
            "streaming: stdin is read once, forward, through a push/pull session".into(),
            started,
            stats,
            None,
        )
    }

    fn finish(
        &self,
        plan: &Plan,
        framer: &Framer,
        mode_reason: String,
        started: Instant,
        stats: sqrtspace::RunStats,
        persisted: Option<PersistStats>,
    ) -> anyhow::Result<()> {
        let input = (framer.describe(), framer.line_stats());
        self.finish_with(plan, input, mode_reason, started, stats, persisted)
    }

    fn finish_with(
        &self,
        plan: &Plan,
        (input, lines): (String, Option<sqrtspace::io::LineStats>),
        mode_reason: String,
        started: Instant,
        stats: sqrtspace::RunStats,
        persisted: Option<PersistStats>,
    ) -> anyhow::Result<()> {
        let report = Report {
            pipeline: self.pipeline.display().to_string(),
            input,
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
            predicted: plan.estimates.as_ref().map(|e| e.for_mode(plan.mode)),
            predicted_file_bytes: plan.estimates.as_ref().map(|e| e.file_bytes),
            resident_at_end: Resident::now(),
            persisted,
            run: stats,
            llc_misses: self.llc.as_ref().map(|llc| match llc.lock() {
                Ok(mut guard) => match &mut *guard {
                    Ok(counter) => counter.read(),
                    Err(why) => LlcMisses::Unavailable(why.clone()),
                },
                Err(_) => LlcMisses::Unavailable("the counter's lock was poisoned".into()),
            }),
            lines,
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

/// Refuses an input with no complete window: there would be nothing to compute, which is
/// almost always a wrong file or a producer that died, not a result.
fn too_short(input: &str, samples: u64, window: usize) -> anyhow::Result<()> {
    too_short_of(input, samples, window, "samples")
}

fn too_short_of(input: &str, count: u64, window: usize, unit: &str) -> anyhow::Result<()> {
    if count < window as u64 {
        anyhow::bail!(sqrtspace::io::InputError::Format {
            path: input.into(),
            message: format!(
                "holds {count} {unit}, fewer than one window of {window}: there is nothing to compute"
            ),
        });
    }
    Ok(())
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

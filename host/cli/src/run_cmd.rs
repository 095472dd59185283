//! `sqrtspace run`: a pipeline over an input file, output written block by block.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use clap::Args;

use crate::args::usage;
use crate::cluster::ClusterArgs;
use crate::input::{InputArgs, Opened, too_short, too_short_of};
use crate::long_stream;
use crate::report::Report;
use crate::sinks::{Progress, write_json};
use sqrtspace::exec::WindowRange;
use sqrtspace::exec::run_persisted;
use sqrtspace::exec::{CheckpointDir, DiskCheckpointStats, Identity, InputIdentity};
use sqrtspace::io::{
    Destination, FileSink, Framer, OutputFormat, SampleSource, ShardSink, Sink, StreamSink,
    destination, open_in_place,
};
use sqrtspace::metrics::{IoCounters, LlcCounter, LlcMisses, Resident, Usage};
use sqrtspace::spec::ByteSize;
use sqrtspace::{ExecError, Mode, Plan, Session, Spec, run};

#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Examples:
  sqrtspace run pipelines/audio.ron --input hour.wav --output features.npy --report
  sqrtspace run pipelines/audio.ron --input hour.flac --output - | head
  sqrtspace gen audio --seconds 60 --out - | sqrtspace run pipelines/audio.ron --input - --output y.csv
  sqrtspace run pipelines/logs.ron --input access.log.gz --output alerts.jsonl
  sqrtspace run pipelines/logs.ron --input access.log --target stats --output stats.parquet
  sqrtspace run pipelines/audio.ron --input day.wav --output y.npy --checkpoint-dir ck --resume

Environment:
  SQRTSPACE_PLUGIN_PATH  directories (separated by ':', ';' on Windows) searched first for
                         plugins named by file name
  SQRTSPACE_CACHE_DIR    where compiled plugins are cached (default: sqrtspace/components in
                         the user's cache directory: $XDG_CACHE_HOME or ~/.cache on Linux,
                         ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows)
  XDG_DATA_HOME          the user's plugins are in $XDG_DATA_HOME/sqrtspace/plugins on Linux
                         (default ~/.local/share/sqrtspace/plugins; on macOS
                         ~/Library/Application Support/sqrtspace/plugins, on Windows
                         %LOCALAPPDATA%\\sqrtspace\\plugins)

",
    crate::args::exit_codes!()
))]
pub struct RunCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    plugins: crate::registry_cmd::PipelinePlugins,
    /// Where to write the target's rows (nothing is written without it); `-` streams JSON
    /// lines (or `--output-format csv`) to stdout as blocks complete.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Output format (default: from the extension).
    #[arg(long, value_parser = crate::args::choice::<OutputFormat>())]
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
    /// Where the spectral front end runs: cpu (the default), cuda, or auto (the GPU where one
    /// is found and faster; say why). Overrides the pipeline's `device:`.
    #[arg(long)]
    device: Option<sqrtspace::spec::Device>,
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
    /// after checking that the pipeline, plugins, input and options are the same; for many
    /// inputs, skip those the output directory's manifest records as done (and unchanged).
    #[arg(long)]
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
    /// A device, FIFO or socket named by `--output`, written in place.
    Special(StreamSink<std::io::BufWriter<std::fs::File>>),
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
    pub fn execute(self) -> anyhow::Result<()> {
        self.execute_in(None)
    }

    /// Runs as one process of a cluster when `cluster` says so (many inputs only, for now).
    pub fn execute_in(mut self, cluster: Option<ClusterArgs>) -> anyhow::Result<()> {
        let started = Instant::now();
        // Before any worker thread starts, so that the count covers them all.
        self.llc = Some(std::sync::Mutex::new(LlcCounter::start()));
        let mut spec = Spec::from_file(&self.pipeline)?;
        self.plugins.resolve(&mut spec, &self.pipeline)?;
        let mut given = |setting: &'static str| spec.from_command_line.push(setting);
        if self.mode.is_some() {
            given("mode");
        }
        if self.block.is_some() {
            given("block");
        }
        if self.checkpoint_every.is_some() {
            given("checkpoint_every");
        }
        if self.lru_bytes.is_some() {
            given("lru_bytes");
        }
        if self.workers.is_some() {
            given("max_workers");
        }
        if let Some(mode) = self.mode {
            spec.mode = mode;
        }
        if let Some(device) = self.device {
            spec.from_command_line.push("device");
            spec.device = device;
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
        if self.input.is_corpus() {
            return self.corpus(spec, cluster);
        }
        if let Some(cluster) = cluster {
            return self.long_stream(spec, &cluster, started);
        }
        if self.resume && self.checkpoint_dir.is_none() {
            usage!("--resume needs --checkpoint-dir (or many inputs and an output directory)");
        }
        if self.input.is_stdin() && self.checkpoint_dir.is_some() {
            usage!(
                "--checkpoint-dir needs an input file: a stream on stdin cannot be read again to resume"
            );
        }
        let opened = self.input.open(&spec, &self.pipeline)?;
        if !opened.seekable() {
            self.no_checkpoints_for_a_stream(&opened.describe())?;
        }
        let mut framer = match opened {
            Opened::Samples(source) if !source.seekable() => {
                return self.stream(&spec, source, started);
            }
            opened => opened.framer(&spec),
        };
        if let Some(samples) = framer.total_samples() {
            too_short(&framer.describe(), samples, spec.window)?;
        }
        let mut plan = Plan::new(&spec, framer.total_windows())?;
        say_device(&spec, &plan);
        if plan.input_windows.is_some() {
            // Time the first windows through every stage: predictions, and auto's choice.
            let probe = sqrtspace::exec::probe(&plan, &mut framer)
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
        let bar = progress_bar(rows);
        let watched = |sink| Progress::new(sink, &bar);
        let stats = match self.output_sink(&layout, rows)? {
            Output::File(mut sink) => {
                let stats = run(&plan, &mut framer, range, &mut watched(&mut sink))
                    .with_context(running)?;
                whole(&framer)?;
                sink.finish()?;
                stats
            }
            Output::Stdout(mut sink) => {
                run(&plan, &mut framer, range, &mut watched(&mut sink)).with_context(running)?
            }
            Output::Special(mut sink) => {
                run(&plan, &mut framer, range, &mut watched(&mut sink)).with_context(running)?
            }
            Output::Shards(mut sink) => {
                let stats = run(&plan, &mut framer, range, &mut watched(&mut sink))
                    .with_context(running)?;
                whole(&framer)?;
                sink.finish()?;
                stats
            }
            Output::Discard => {
                run(&plan, &mut framer, range, &mut watched(&mut Discard)).with_context(running)?
            }
        };
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let mode_reason = plan
            .decisions
            .iter()
            .find(|d| d.setting == "mode")
            .map(|d| d.reason.clone())
            .unwrap_or_default();
        whole(&framer)?;
        self.finish(&plan, &framer, mode_reason, started, stats, None)
    }

    /// Every input of a glob, a directory or a list into its own output in the directory
    /// `--output` names.
    fn corpus(&self, spec: Spec, cluster: Option<ClusterArgs>) -> anyhow::Result<()> {
        let out_dir = match &self.output {
            Some(dir) if dir.as_os_str() != "-" && !dir.is_file() => dir,
            _ => {
                usage!("many inputs need --output DIRECTORY: one output is written there for each")
            }
        };
        for (given, flag) in [
            (self.checkpoint_dir.is_some(), "--checkpoint-dir"),
            (self.output_shards.is_some(), "--output-shards"),
            (self.range.is_some(), "--range"),
            (self.metrics_json.is_some(), "--metrics-json"),
            (self.report, "--report"),
        ] {
            if given {
                usage!(
                    "{flag} takes one input; a run over many inputs records them in its manifest"
                );
            }
        }
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let run = crate::corpus::CorpusRun {
            pipeline: self.pipeline.clone(),
            inputs: crate::input::corpus_inputs(&self.input)?,
            spec,
            args: self.input.clone(),
            out_dir: out_dir.clone(),
            format: self.output_format,
            workers,
            resume: self.resume,
        };
        match cluster {
            Some(cluster) => run.execute_on(&cluster),
            None => run.execute(),
        }
    }

    /// One long input over the cluster `cluster` describes (see [`crate::long_stream`]).
    fn long_stream(
        &self,
        spec: Spec,
        cluster: &ClusterArgs,
        started: Instant,
    ) -> anyhow::Result<()> {
        long_stream::refuse_unsupported(
            self.range.is_some(),
            self.output_shards.is_some(),
            self.output.as_deref(),
        )?;
        let Some(output) = self.output.clone() else {
            usage!("one input over a cluster needs --output FILE");
        };
        if self.input.is_stdin() {
            usage!(
                "every process of a cluster reads its own segments of the input: give --input FILE \
                 on storage they all see, not stdin"
            );
        }
        if self.resume && self.checkpoint_dir.is_none() {
            usage!("--resume needs --checkpoint-dir (on storage every process sees)");
        }
        if cluster.segment_windows == 0 {
            usage!("--segment-windows must be at least 1");
        }
        if !(self.checkpoint_secs >= 0.0 && self.checkpoint_secs.is_finite()) {
            usage!("--checkpoint-secs must be a number of seconds, 0 or more");
        }
        self.not_the_input(&output)?;
        let format = self.output_format_of(&output)?;
        let opened = self.input.open(&spec, &self.pipeline)?;
        if !opened.seekable() {
            usage!(
                "every process of a cluster reads its own segments of the input, but {} is read \
                 once, as a stream; decompress it first",
                opened.describe()
            );
        }
        let framer = opened.framer(&spec);
        let (Some(windows), Some(samples)) = (framer.total_windows(), framer.total_samples())
        else {
            usage!(
                "{} has no known length; a cluster needs a file",
                framer.describe()
            );
        };
        too_short(&framer.describe(), samples, spec.window)?;
        drop(framer);
        let plan = long_stream::plan_for(&spec, windows)?;
        sqrtspace::exec::Split::of(&plan)?;
        let segment = cluster.segment_windows;
        let identity =
            long_stream::LongStream::identity(&self.pipeline, &plan, &self.input, format, segment)?;
        let (checkpoints, start) = match &self.checkpoint_dir {
            Some(dir) => {
                let (dir, saved) = CheckpointDir::open(
                    dir,
                    identity.clone(),
                    plan.checkpoint_every as u64,
                    Duration::from_secs_f64(self.checkpoint_secs),
                    self.resume,
                )?;
                let start = saved.as_ref().map_or(0, |s| s.sweep.done);
                if cluster.process == 0 {
                    say_resuming(saved.as_ref(), self.resume, &dir.path());
                }
                (Some((dir, saved)).filter(|_| cluster.process == 0), start)
            }
            None => (None, 0),
        };
        // Every process must run the same thing from the same window.
        let hash = crate::cluster::run_hash(&[
            "one stream",
            &format!("{identity:?}"),
            &windows.to_string(),
            &segment.to_string(),
            &start.to_string(),
        ]);
        let job = long_stream::LongStream {
            pipeline: self.pipeline.clone(),
            spec,
            plan,
            input: self.input.clone(),
            output,
            format,
            windows,
            segment,
            start,
            checkpoints: std::sync::Mutex::new(checkpoints),
            quiet: cluster.process != 0,
            open: std::sync::atomic::AtomicUsize::new(0),
        };
        let finished = job
            .execute_on(cluster, hash)
            .with_context(|| format!("running {} over the cluster", self.pipeline.display()))?;
        if cluster.process == 0 {
            eprintln!(
                "{} windows from {} processes x {} threads in {:.2} s: {} segments of {segment} \
                 windows stepped in order; {} bytes crossed to worker 0 ({:.1} a window)",
                finished.windows_out,
                cluster.processes,
                cluster.threads,
                started.elapsed().as_secs_f64(),
                finished.segments,
                finished.bytes_crossed,
                finished.bytes_crossed as f64 / finished.windows_out.max(1) as f64,
            );
        }
        Ok(())
    }

    /// Refuses `--checkpoint-dir` over an input read once, forward (a compressed file).
    fn no_checkpoints_for_a_stream(&self, input: &str) -> anyhow::Result<()> {
        if self.checkpoint_dir.is_some() {
            usage!(
                "--checkpoint-dir needs an input that can be read again from any point, but {input} \
                 is compressed and is read once, as a stream; decompress it first"
            );
        }
        Ok(())
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
            _ => usage!(
                "--checkpoint-dir needs --output FILE: only a file can be cut back and continued"
            ),
        };
        self.not_the_input(path)?;
        let format = self.output_format_of(path)?;
        let mut reason = "checkpoints on disk: the forward sweep of sqrt mode".to_string();
        if plan.mode == Mode::Classic {
            if self.mode == Some(Mode::Classic) {
                usage!(
                    "--checkpoint-dir runs in sqrt mode: classic mode holds whole stages in memory and has no point to resume from"
                );
            }
            reason.push_str(" (the pipeline's classic mode gives the same bits)");
        }
        plan.mode = Mode::Sqrt;
        if !(self.checkpoint_secs >= 0.0 && self.checkpoint_secs.is_finite()) {
            usage!("--checkpoint-secs must be a number of seconds, 0 or more");
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
            input: InputIdentity::of(self.input.path()?).with_context(|| {
                format!(
                    "reading {}",
                    self.input
                        .path()
                        .map_or_else(|_| String::new(), |p| p.display().to_string())
                )
            })?,
            options: format!(
                "target {}, windows {}..{}, channel {}, input format {:?}, output format {format}, \
                 device {}",
                plan.target_node().name,
                range.start,
                range.end.map_or("end".into(), |e| e.to_string()),
                self.input.channel.unwrap_or(0),
                self.input.format,
                plan.device,
            ),
        };
        let (mut checkpoints, saved) = CheckpointDir::open(
            dir,
            identity,
            plan.checkpoint_every as u64,
            Duration::from_secs_f64(self.checkpoint_secs),
            self.resume,
        )?;
        say_resuming(saved.as_ref(), self.resume, dir);
        let rows = framer.total_windows().map(|total| range.rows_of(total));
        let mut sink = FileSink::resumable(
            path,
            format,
            layout,
            rows,
            saved.as_ref().map(|s| s.committed),
        )?;
        let bar = progress_bar(rows);
        if let (Some(bar), Some(saved)) = (&bar, &saved) {
            bar.set_position(saved.committed.rows);
        }
        let mut watched = Progress::new(&mut sink, &bar);
        let stats = run_persisted(plan, framer, range, &mut watched, &mut checkpoints, saved.as_ref())
            .with_context(|| {
                format!(
                    "running {} (the rows committed so far are kept in {}: rerun with --resume to go on)",
                    self.pipeline.display(),
                    FileSink::partial_path(path).display()
                )
            })?;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        sink.finish()?;
        let persisted = checkpoints.finish()?;
        self.finish(plan, framer, reason, started, stats, Some(persisted))
    }

    /// Where the rows go: a file committed at the end, stdout as they come, or nowhere.
    fn output_sink(
        &self,
        layout: &sqrtspace::tensor::Layout,
        rows: Option<u64>,
    ) -> anyhow::Result<Output> {
        if let (Some(dir), Some(per_shard)) = (&self.output_shards, self.shard_windows) {
            let Some(rows) = rows else {
                usage!("--output-shards needs an input file of known length, not a stream");
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
        self.not_the_input(path)?;
        let format = self.output_format_of(path)?;
        Ok(match destination(path)? {
            Destination::Regular(path) => Output::File(FileSink::create(&path, format, layout)?),
            Destination::Special { path, kind } => {
                let (file, name) = open_in_place(&path, kind)?;
                let out = std::io::BufWriter::with_capacity(1 << 16, file);
                Output::Special(StreamSink::new(&name, out, format, layout)?)
            }
        })
    }

    /// Refuses an output that is the input file: the run would read what it overwrites.
    fn not_the_input(&self, output: &Path) -> anyhow::Result<()> {
        if self.input.is_stdin() {
            return Ok(());
        }
        let same = match (
            std::fs::canonicalize(self.input.path()?),
            std::fs::canonicalize(output),
        ) {
            (Ok(input), Ok(output)) => input == output,
            _ => false,
        };
        if same {
            usage!(
                "--output {} is the input file; write the output somewhere else",
                output.display()
            );
        }
        Ok(())
    }

    /// The output format: `--output-format`, or from the file's extension.
    fn output_format_of(&self, path: &Path) -> anyhow::Result<OutputFormat> {
        match self.output_format.or_else(|| OutputFormat::from_path(path)) {
            Some(format) => Ok(format),
            None => usage!(
                "cannot tell the output format from {}; pass --output-format npy, csv, jsonl or parquet",
                path.display()
            ),
        }
    }

    /// Runs a stream (stdin, a compressed file) through a push/pull session: constant memory
    /// whatever its length, rows written as their windows complete, the pipe's own
    /// backpressure pacing the producer.
    fn stream(
        &self,
        spec: &Spec,
        mut source: Box<dyn SampleSource>,
        started: Instant,
    ) -> anyhow::Result<()> {
        let name = source.describe();
        let input = format!("{name} (read once, as a stream)");
        let plan = Plan::new(spec, None)?;
        let layout = plan.target_node().port.layout.clone();
        let range = self.range.unwrap_or_default();
        let end = range.end.unwrap_or(u64::MAX);
        let mut output = self.output_sink(&layout, None)?;
        let bar = progress_bar(
            source
                .total_samples()
                .map(|n| range.rows_of(plan.windows_in(n))),
        );
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
                    Output::Special(sink) => sink.write(lo, &rows)?,
                    Output::Shards(sink) => sink.write(lo, &rows)?,
                    Output::Discard => {}
                }
                written += hi - lo;
                if let Some(bar) = &bar {
                    bar.inc(hi - lo);
                }
            }
            Ok(())
        };
        let running = || format!("running {} on {name}", self.pipeline.display());
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
        too_short(&name, samples, plan.window)?;
        if let Output::File(sink) = output {
            sink.finish()?;
        }
        let mut stats = session.stats();
        stats.windows_out = written;
        stats.elapsed = started.elapsed();
        self.finish_with(
            &plan,
            (input, None),
            format!("streaming: {name} is read once, forward, through a push/pull session"),
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
        persisted: Option<DiskCheckpointStats>,
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
        persisted: Option<DiskCheckpointStats>,
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

/// Where `--device auto` put the front end, and why (the other choices were asked for).
fn say_device(spec: &Spec, plan: &Plan) {
    if spec.device == sqrtspace::spec::Device::Auto
        && let Some(d) = plan.decisions.iter().find(|d| d.setting == "device")
    {
        eprintln!("device: {} ({})", d.value, d.reason);
    }
}

/// A progress line on stderr (windows, rate, time left) when stderr is a terminal; nothing
/// on a pipe or in a file.
fn progress_bar(rows: Option<u64>) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match rows {
        Some(rows) => indicatif::ProgressBar::new(rows).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} windows  {per_sec}  {elapsed} elapsed, {eta} left",
            )
            .ok()?,
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} windows  {per_sec}").ok()?,
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}

/// Tells where a run with checkpoints starts: at the saved window, or (asked to resume, with
/// nothing saved) from the beginning.
fn say_resuming(saved: Option<&sqrtspace::exec::Saved>, resume: bool, dir: &std::path::Path) {
    match (saved, resume) {
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
}

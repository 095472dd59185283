//! One long input across a cluster: every worker of every process computes the pipeline's
//! pure prefix over its own segments of windows (segment `j` on worker `j mod workers`),
//! reading the input from shared storage; the rows that cross into the stateful part are
//! exchanged to worker 0, which steps the rest of the graph through the segments in time order
//! and writes the target's rows in order (see [`sqrtspace::exec::Split`]).
//!
//! Timely's progress tracking says when: worker 0 steps segment `j` once the frontier of the
//! exchanged rows has passed `j` (every segment up to it has arrived), and a worker computes
//! segment `j` only once worker 0's own stream of "stepped" times has reached `j - AHEAD`, so
//! at most `AHEAD` segments wait in worker 0's memory. A waiting worker parks until progress
//! wakes it: nothing sleeps or polls.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::args::usage;
use crate::cluster::{ClusterArgs, ClusterError};
use crate::input::InputArgs;
use sqrtspace::exec::{
    CheckpointDir, Identity, InputIdentity, PrefixWorker, Saved, Split, StatefulPart,
};
use sqrtspace::io::{FileSink, Framer, OutputFormat};
use sqrtspace::{Mode, Plan, Spec};

/// Segments one worker may run ahead of the stateful part, per worker of the cluster.
const AHEAD_PER_WORKER: u64 = 2;

/// What every worker of a process shares.
pub struct LongStream {
    pub pipeline: PathBuf,
    pub spec: Spec,
    pub plan: Plan,
    pub input: InputArgs,
    pub output: PathBuf,
    pub format: OutputFormat,
    /// Windows in the input.
    pub windows: u64,
    /// Windows a segment.
    pub segment: u64,
    /// The window the run goes on from (a segment boundary; 0 without a checkpoint).
    pub start: u64,
    /// Worker 0's: the checkpoint directory and the checkpoint it resumes, if any.
    pub checkpoints: Mutex<Option<(CheckpointDir, Option<Saved>)>>,
    /// Print what is spread and what crosses.
    pub quiet: bool,
    /// Outputs being written (worker 0's), so that after a fault the process waits for the
    /// one being written to be removed before it exits.
    pub open: AtomicUsize,
}

/// What worker 0 reports at the end.
pub struct Finished {
    pub windows_out: u64,
    pub bytes_crossed: u64,
    pub segments: u64,
}

/// A segment's rows as bytes, or why its worker could not compute them (the exit status
/// the error calls for, and its message).
type Rows = Result<Vec<u8>, (u8, String)>;

/// A failure met on another worker, or reported by worker 0: its message, and the exit status
/// it calls for where it happened (a plugin's trap is a plugin error on every process).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Remote {
    pub code: u8,
    pub message: String,
}

/// An error as it crosses to another worker.
fn carried(error: anyhow::Error) -> (u8, String) {
    (crate::exit_code(&error), crate::message(&error))
}

/// A segment's rows, sent to worker 0.
type Message = (u64, Rows);

impl LongStream {
    /// Identity of the run for its checkpoints: what decides the output's bytes.
    pub fn identity(
        pipeline: &Path,
        plan: &Plan,
        input: &InputArgs,
        format: OutputFormat,
        segment: u64,
    ) -> anyhow::Result<Identity> {
        let path = input.path()?;
        Ok(Identity {
            pipeline: sqrtspace::plugin::content_hash(
                &std::fs::read(pipeline)
                    .with_context(|| format!("reading {}", pipeline.display()))?,
            ),
            plugins: plan
                .plugins
                .iter()
                .map(|p| (p.stage.clone(), p.sha256.clone()))
                .collect(),
            input: InputIdentity::of(path)
                .with_context(|| format!("reading {}", path.display()))?,
            options: format!(
                "one stream over a cluster, segments of {segment} windows, target {}, channel {}, \
                 input format {:?}, output format {format}, device {}",
                plan.target_node().name,
                input.channel.unwrap_or(0),
                input.format,
                plan.device,
            ),
        })
    }

    fn framer(&self) -> anyhow::Result<Framer> {
        Ok(self
            .input
            .open(&self.spec, &self.pipeline)?
            .framer(&self.spec))
    }

    /// The segments from the start, as (index, first window, end window).
    fn segments(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let first = self.start.div_ceil(self.segment);
        let count = self.windows.div_ceil(self.segment);
        (first..count).map(move |j| {
            let t0 = j * self.segment;
            (j, t0, (t0 + self.segment).min(self.windows))
        })
    }

    /// Runs this process's workers in the cluster `cluster` describes; worker 0's figures.
    pub fn execute_on(self, cluster: &ClusterArgs, hash: [u8; 32]) -> anyhow::Result<Finished> {
        let job = Arc::new(self);
        let watched = Arc::clone(&job);
        let work = move |worker: &mut timely::worker::Worker| -> anyhow::Result<Option<Finished>> {
            work(&job, worker)
        };
        let quiet = move || watched.open.load(Ordering::SeqCst) == 0;
        let results = match crate::cluster::execute(cluster, hash, quiet, work) {
            Err(ClusterError::Stopped) => return Err(sqrtspace::ExecError::Stopped.into()),
            results => results?,
        };
        let mut finished = None;
        for result in results {
            if let Some(f) = result? {
                finished = Some(f);
            }
        }
        Ok(finished.unwrap_or(Finished {
            windows_out: 0,
            bytes_crossed: 0,
            segments: 0,
        }))
    }
}

/// One worker's part of the run.
fn work(job: &LongStream, worker: &mut timely::worker::Worker) -> anyhow::Result<Option<Finished>> {
    let me = worker.index();
    let peers = worker.peers();
    let ahead = AHEAD_PER_WORKER * peers as u64;
    // Worker 0's stash of segments' rows that have arrived, by segment.
    let stash: Rc<RefCell<BTreeMap<u64, Rows>>> = Rc::default();
    // Worker 0's word that the run failed, broadcast so that every worker stops.
    let aborted: Rc<RefCell<Option<(u8, String)>>> = Rc::default();
    let mut rows_in = InputHandle::<u64, CapacityContainerBuilder<Vec<Message>>>::new();
    let mut stepped_in = InputHandle::<u64, CapacityContainerBuilder<Vec<(u8, String)>>>::new();
    let rows_probe = ProbeHandle::new();
    let stepped_probe = ProbeHandle::new();
    worker.dataflow::<u64, _, _>(|scope| {
        let kept = Rc::clone(&stash);
        scope
            .input_from(&mut rows_in)
            .exchange(|_: &Message| 0)
            .inspect_core(move |event| {
                if let Ok((_, data)) = event {
                    let data: &Vec<Message> = data;
                    let mut kept = kept.borrow_mut();
                    for (j, rows) in data {
                        kept.insert(*j, rows.clone());
                    }
                }
            })
            .probe_with(&rows_probe);
        let told = Rc::clone(&aborted);
        scope
            .input_from(&mut stepped_in)
            .broadcast()
            .inspect_core(move |event| {
                if let Ok((_, data)) = event {
                    let data: &Vec<(u8, String)> = data;
                    if let Some(why) = data.first() {
                        told.borrow_mut().get_or_insert_with(|| why.clone());
                    }
                }
            })
            .probe_with(&stepped_probe);
    });
    let mut ours = job
        .segments()
        .filter(|(j, ..)| *j as usize % peers == me)
        .peekable();
    let count = job.windows.div_ceil(job.segment);
    let first = job.start.div_ceil(job.segment);
    match ours.peek() {
        Some(&(j, ..)) => rows_in.advance_to(j),
        None => rows_in.advance_to(count),
    }
    // Worker 0's stream of stepped segments starts where the run does (a resumed run's
    // first segment is not 0); the others send nothing on it.
    stepped_in.advance_to(if me == 0 { first } else { count });
    let mut prefix_plan = None;
    let mut failure: Option<anyhow::Error> = None;
    // Worker 0 that cannot start (an output it cannot create, say) still takes part in the
    // dataflow, telling the others why, so that every process ends rather than waits for it.
    let mut stateful = None;
    if me == 0 {
        match Worker0::start(job, first) {
            Ok(zero) => stateful = Some(zero),
            Err(e) => {
                let (code, message) = carried(e);
                stepped_in.send((code, message.clone()));
                failure = Some(Remote { code, message }.into());
            }
        }
    }
    let mut next_step = first;
    let stop = sqrtspace::exec::stop_flag();
    loop {
        let mut progressed = false;
        if stop.load(Ordering::Relaxed) {
            // A lost peer or a signal: what worker 0 was writing goes with it (its
            // checkpoints stay), and the dataflow is left to the supervisor.
            return Err(sqrtspace::ExecError::Stopped.into());
        }
        if failure.is_some() || aborted.borrow().is_some() {
            break;
        }
        if let Some(&(j, t0, t1)) = ours.peek()
            && !stepped_probe.less_than(&j.saturating_sub(ahead))
        {
            let prefix = match &mut prefix_plan {
                Some(p) => p,
                None => prefix_plan.insert(
                    job.framer()
                        .and_then(|f| PrefixWorker::new(&job.plan, f).map_err(Into::into)),
                ),
            };
            let rows = match prefix {
                Ok(prefix) => prefix
                    .segment(t0, t1)
                    .map(|rows| rows.to_bytes())
                    .map_err(|e| carried(e.into())),
                Err(e) => Err((crate::exit_code(e), crate::message(e))),
            };
            rows_in.send((j, rows));
            ours.next();
            rows_in.advance_to(ours.peek().map_or(count, |&(j, ..)| j));
            progressed = true;
        }
        if let Some(zero) = &mut stateful {
            while next_step < count && !rows_probe.less_than(&(next_step + 1)) {
                let rows = stash.borrow_mut().remove(&next_step);
                let stepped = zero.step(job, next_step, rows);
                if let Err(e) = stepped {
                    // Every worker stops: worker 0 tells them why.
                    let (code, message) = carried(e);
                    stepped_in.send((code, message.clone()));
                    failure = Some(Remote { code, message }.into());
                    break;
                }
                next_step += 1;
                stepped_in.advance_to(next_step);
                progressed = true;
            }
            if failure.is_some() {
                break;
            }
        }
        let ours_done = ours.peek().is_none();
        if ours_done && (me != 0 || next_step >= count) {
            break;
        }
        if progressed {
            worker.step();
        } else {
            worker.step_or_park(None);
        }
    }
    drop(rows_in);
    drop(stepped_in);
    while worker.step_or_park(None) {}
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((code, why)) = aborted.borrow_mut().take() {
        return Err(Remote {
            code,
            message: format!("worker 0 stopped the run: {why}"),
        }
        .into());
    }
    match stateful {
        Some(zero) => zero.finish().map(Some),
        None => Ok(None),
    }
}

/// Worker 0: the stateful part, the output and the checkpoints.
struct Worker0<'p> {
    /// Declared first, so dropped before the output is: the count falls once it is gone.
    sink: FileSink,
    _open: Open<'p>,
    part: StatefulPart<'p>,
    split: Split,
    checkpoints: Option<CheckpointDir>,
    written: u64,
    bytes_crossed: u64,
    segments: u64,
}

impl<'p> Worker0<'p> {
    fn start(job: &'p LongStream, first: u64) -> anyhow::Result<Worker0<'p>> {
        let plan = &job.plan;
        let split = Split::of(plan)?;
        let framer = if split.input_after() {
            Some(job.framer()?)
        } else {
            None
        };
        let mut part = StatefulPart::new(plan, framer)?;
        let layout = &plan.target_node().port.layout;
        let taken = job
            .checkpoints
            .lock()
            .map_err(|_| anyhow::anyhow!("the checkpoint's lock was poisoned"))?
            .take();
        job.open.fetch_add(1, Ordering::SeqCst);
        let open = Open(&job.open);
        let (sink, checkpoints) = match taken {
            Some((dir, saved)) => {
                if let Some(saved) = &saved {
                    part.restore(saved)?;
                }
                let sink = FileSink::resumable(
                    &job.output,
                    job.format,
                    layout,
                    Some(job.windows),
                    saved.as_ref().map(|s| s.committed),
                )?;
                (sink, Some(dir))
            }
            None => (FileSink::create(&job.output, job.format, layout)?, None),
        };
        if part.done() != (first * job.segment).min(job.windows) {
            anyhow::bail!(
                "the checkpoint is at window {}, not at the start of a segment of {} windows",
                part.done(),
                job.segment
            );
        }
        if !job.quiet {
            let rest: Vec<&str> = plan
                .nodes()
                .iter()
                .skip(1)
                .filter(|n| n.needed && !split.prefix_names(plan).contains(&n.name.as_str()))
                .map(|n| n.name.as_str())
                .collect();
            eprintln!(
                "spread over the cluster: {}; crossing to worker 0: {}; stepped in order there: {}",
                list(&split.prefix_names(plan)),
                list(&split.crossing_names(plan)),
                list(&rest),
            );
        }
        Ok(Worker0 {
            sink,
            _open: open,
            part,
            split,
            checkpoints,
            written: 0,
            bytes_crossed: 0,
            segments: 0,
        })
    }

    /// Steps segment `j`, whose rows are `rows` (`None`: they never came, which is a bug).
    fn step(&mut self, job: &LongStream, j: u64, rows: Option<Rows>) -> anyhow::Result<()> {
        let t0 = j * job.segment;
        let bytes = match rows {
            Some(Ok(bytes)) => bytes,
            Some(Err((code, why))) => {
                return Err(Remote {
                    code,
                    message: format!(
                        "running {} on windows {t0}..{}: {why}",
                        job.pipeline.display(),
                        (t0 + job.segment).min(job.windows)
                    ),
                }
                .into());
            }
            None => anyhow::bail!("internal error: the rows of segment {j} never arrived"),
        };
        self.bytes_crossed += bytes.len() as u64;
        self.segments += 1;
        let rows = self.split.segment_from_bytes(&job.plan, &bytes)?;
        self.written += self
            .part
            .step(rows, &mut self.sink)
            .with_context(|| format!("running {}", job.pipeline.display()))?;
        if let Some(dir) = &mut self.checkpoints {
            self.part.checkpoint(dir, &mut self.sink)?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Finished> {
        self.sink.finish()?;
        if let Some(dir) = self.checkpoints {
            dir.finish()?;
        }
        Ok(Finished {
            windows_out: self.written,
            bytes_crossed: self.bytes_crossed,
            segments: self.segments,
        })
    }
}

/// Counts an output being written while it lives.
struct Open<'a>(&'a AtomicUsize);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

/// The plan a long stream runs: sqrt mode's forward sweep, the same bits as any mode.
pub fn plan_for(spec: &Spec, windows: u64) -> anyhow::Result<Plan> {
    let mut plan = Plan::new(spec, Some(windows))?;
    plan.mode = Mode::Sqrt;
    Ok(plan)
}

/// Refuses what a long stream over a cluster cannot do.
pub fn refuse_unsupported(range: bool, shards: bool, output: Option<&Path>) -> anyhow::Result<()> {
    if range {
        usage!("--range is not supported over a cluster: run the whole input");
    }
    if shards {
        usage!("--output-shards is not supported over a cluster: give --output FILE");
    }
    match output {
        Some(path) if path.as_os_str() != "-" => Ok(()),
        _ => usage!("one input over a cluster needs --output FILE, on storage process 0 can write"),
    }
}

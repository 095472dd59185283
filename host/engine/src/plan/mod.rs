//! From a [`Spec`] to a validated [`Plan`]: the stage graph checked and ordered, every
//! operator built against its inputs, and every setting resolved, with the reason for each
//! choice the user did not make.

mod estimate;
mod fuse;
mod graph;
mod settings;

pub use estimate::{Estimates, PROBE_WINDOWS, Probe, estimate};

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::extend::HostOps;
use crate::io::windows_in;
use crate::machine::Machine;
pub use crate::plugin::PluginLoad;
use crate::spec::{InputKind, Mode, OpSpec, Source, Spec};
use crate::stage::builtin;
use crate::stage::{BuildContext, Operator};
pub use crate::stage::{BuildError, FreqAxis, Port};
use crate::tensor::DType;

/// Largest window accepted: a single row of it is already half a gigabyte of f32.
const MAX_WINDOW: usize = 1 << 27;
/// Largest block the planner chooses by itself.
const AUTO_BLOCK_MAX: usize = 4096;
/// Checkpoint ring slots per stage when the spec does not say.
const DEFAULT_CHECKPOINT_SLOTS: usize = 64;
/// Bytes of checkpointed output blocks the planner keeps when it sizes the ring itself.
const CHECKPOINT_BUDGET: usize = 64 << 20;
/// Block cache cap when the spec does not say.
const DEFAULT_LRU_BYTES: u64 = 16 << 20;
/// Streaming input buffer, in windows, when the spec does not say.
const DEFAULT_INPUT_BUFFER: usize = 64;

/// Index of a node in the plan.
pub type NodeId = usize;

/// The id of the framed input signal.
pub const INPUT_NODE: NodeId = 0;

/// One node of the planned graph: the input signal or a stage.
#[derive(Clone, Debug)]
pub struct Node {
    /// The stage name (`input` for the input signal).
    pub name: String,
    /// The operator's name as written in the pipeline.
    pub op_name: &'static str,
    /// Nodes whose rows this one reads, in order.
    pub inputs: Vec<NodeId>,
    /// What flows out.
    pub port: Port,
    /// Earlier input rows each output row needs.
    pub context: usize,
    /// Whether it carries state.
    pub kernel: bool,
    /// Whether it runs backward in time over its input.
    pub reverse: bool,
    /// Whether its output blocks go into checkpoints.
    pub checkpoint_output: bool,
    /// How many edges of the target's graph read it.
    pub fan_out: usize,
    /// Whether some reader needs rows of an earlier block from it (context).
    pub read_with_context: bool,
    /// Whether the target depends on it.
    pub needed: bool,
    /// The stage that computes this one's rows as part of its own, when the planner fused
    /// them (see `fuse`); nothing reads this one then.
    pub fused_into: Option<NodeId>,
    pub(crate) op: Option<Arc<dyn Operator>>,
}

/// A setting the planner chose, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// Which setting.
    pub setting: &'static str,
    /// Its value.
    pub value: String,
    /// Why: "set in the pipeline" (or "on the command line"), or the rule that chose it.
    pub reason: String,
}

/// A validated pipeline, ready to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What the input holds.
    pub input: InputKind,
    /// Samples per window.
    pub window: usize,
    /// Samples between window starts.
    pub hop: usize,
    /// Samples per second of the input.
    pub sample_rate: u32,
    /// The executor (never [`Mode::Auto`] once planned).
    pub mode: Mode,
    /// Where the spectral front end runs (never [`Device::Auto`](crate::spec::Device::Auto)
    /// once planned).
    pub device: crate::spec::Device,
    /// Windows per block.
    pub block: usize,
    /// Windows between checkpoints (a multiple of the block).
    pub checkpoint_every: usize,
    /// Checkpoints kept per stage.
    pub checkpoint_slots: usize,
    /// Byte cap of the block cache.
    pub lru_bytes: u64,
    /// Worker threads.
    pub max_workers: usize,
    /// Windows of input a streaming session buffers.
    pub input_buffer_blocks: usize,
    /// What was chosen and why.
    pub decisions: Vec<Decision>,
    /// The plugins the stages run, and how each was loaded.
    pub plugins: Vec<PluginLoad>,
    /// The machine facts the plan was made for.
    pub machine: Machine,
    /// Windows in the input, when known.
    pub input_windows: Option<u64>,
    /// Predictions from a probe of the input, once [`Plan::apply_probe`] has run.
    pub estimates: Option<Estimates>,
    /// Whether the pipeline left the mode to the planner.
    pub auto_mode: bool,
    /// Whether the planner chose the checkpoint slots (a probe may then lower them).
    auto_slots: bool,
    nodes: Vec<Node>,
    target: NodeId,
}

/// Why a spec cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A size or count that must be positive is zero.
    #[error("`{field}` must be at least 1")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// Settings that cannot work together.
    #[error("{0}")]
    Inconsistent(String),
    /// The device asked for cannot be used here.
    #[error("{0}")]
    Device(String),
    /// No stages at all.
    #[error("the pipeline has no stages")]
    NoStages,
    /// A stage has no name, or the reserved one.
    #[error("stage name `{name}` is not allowed: {why}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        why: &'static str,
    },
    /// Two stages share a name.
    #[error("two stages are named `{name}`")]
    DuplicateStage {
        /// The name.
        name: String,
    },
    /// A stage reads nothing.
    #[error("stage `{stage}` has no inputs (use \"input\" to read the input signal)")]
    NoInputs {
        /// The stage.
        stage: String,
    },
    /// A stage reads a name that is neither a stage nor the input.
    #[error("stage `{stage}` reads `{input}`, which is not a stage or \"input\"{hint}")]
    UnknownInput {
        /// The stage.
        stage: String,
        /// The unknown name.
        input: String,
        /// A suggestion, or empty.
        hint: String,
    },
    /// The target is not a stage.
    #[error("target `{target}` is not a stage{hint}")]
    UnknownTarget {
        /// The unknown name.
        target: String,
        /// A suggestion, or empty.
        hint: String,
    },
    /// Stages read each other in a loop.
    #[error("stages form a cycle: {}", .path.join(" -> "))]
    Cycle {
        /// The stages around the loop, the first repeated at the end.
        path: Vec<String>,
    },
    /// No plan can meet the memory there is.
    #[error("cannot plan within memory: {0}")]
    Impossible(String),
    /// A stage cannot be built from its parameters and inputs.
    #[error("stage `{stage}` ({op}): {source}")]
    Stage {
        /// The stage.
        stage: String,
        /// Its operator.
        op: &'static str,
        /// What is wrong.
        source: BuildError,
    },
}

fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn at_least_one(value: Option<usize>, field: &'static str) -> Result<Option<usize>, PlanError> {
    match value {
        Some(0) => Err(PlanError::Zero { field }),
        other => Ok(other),
    }
}

impl Plan {
    /// Validates `spec` and resolves its settings. `input_windows` is the number of windows in
    /// the input when known; automatic settings use it.
    pub fn new(spec: &Spec, input_windows: Option<u64>) -> Result<Plan, PlanError> {
        Plan::with_host_ops(spec, input_windows, &HostOps::default())
    }

    /// [`Plan::new`] for a pipeline whose `Host(name: ..)` stages the embedding program
    /// provides: each is built by the operator `host` holds under its name.
    pub fn with_host_ops(
        spec: &Spec,
        input_windows: Option<u64>,
        host: &HostOps,
    ) -> Result<Plan, PlanError> {
        let machine = Machine::detect().with(&spec.machine.clone().unwrap_or_default());
        Plan::for_machine_with(spec, input_windows, machine, host)
    }

    /// [`Plan::new`] for given machine facts (tests inject them).
    pub fn for_machine(
        spec: &Spec,
        input_windows: Option<u64>,
        machine: Machine,
    ) -> Result<Plan, PlanError> {
        Plan::for_machine_with(spec, input_windows, machine, &HostOps::default())
    }

    /// [`Plan::for_machine`] with host operators ([`Plan::with_host_ops`]).
    pub fn for_machine_with(
        spec: &Spec,
        input_windows: Option<u64>,
        machine: Machine,
        host: &HostOps,
    ) -> Result<Plan, PlanError> {
        let spec = &spec.expanded();
        for (field, value) in [("window", spec.window), ("hop", spec.hop)] {
            if value == 0 {
                return Err(PlanError::Zero { field });
            }
        }
        match spec.input {
            InputKind::Samples if spec.sample_rate == 0 => {
                return Err(PlanError::Zero {
                    field: "sample_rate",
                });
            }
            InputKind::Lines if spec.sample_rate != 0 => {
                return Err(PlanError::Inconsistent(
                    "`sample_rate` is for `input: Samples`; an input of lines has none".into(),
                ));
            }
            _ => {}
        }
        if spec.window > MAX_WINDOW {
            return Err(PlanError::Inconsistent(format!(
                "window {} is larger than the limit of {MAX_WINDOW} samples",
                spec.window
            )));
        }
        let block = at_least_one(spec.block, "block")?;
        let checkpoint_every = at_least_one(spec.checkpoint_every, "checkpoint_every")?;
        let checkpoint_slots = at_least_one(spec.checkpoint_slots, "checkpoint_slots")?;
        let max_workers = at_least_one(spec.max_workers, "max_workers")?;
        let input_buffer_blocks = at_least_one(spec.input_buffer_blocks, "input_buffer_blocks")?;

        let limits = spec.limits;
        if spec.stages.len() > limits.stages {
            return Err(PlanError::Inconsistent(format!(
                "the pipeline has {} stages, more than the limit of {} (raise it with \
                 `limits: (stages: N)` if it really needs them)",
                spec.stages.len(),
                limits.stages
            )));
        }
        if let Some(workers) = max_workers
            && workers > limits.workers
        {
            return Err(PlanError::Inconsistent(format!(
                "{workers} workers is more than the limit of {} (this machine has {} cores; \
                 raise it with `limits: (workers: N)`)",
                limits.workers, machine.cores
            )));
        }
        let (mut nodes, target) = graph::build_nodes(spec)?;
        let plugins = build_operators(spec, &mut nodes, host)?;
        let fused = fuse::fft_into_bandpass(spec, &mut nodes, target)?;
        graph::mark_needed(&mut nodes, target);

        let mut decisions = settings::Decisions::default();
        let mode = settings::mode(spec, &mut decisions);
        let device = settings::device(spec, &mut decisions)?;
        // Each row is at most `limits.row_bytes` and there are at most `limits.stages` of
        // them, so this cannot overflow; saturating all the same.
        let hot_row_bytes: usize = nodes
            .iter()
            .filter(|n| n.needed)
            .map(|n| hot_row_bytes(n, spec.hop))
            .fold(0, usize::saturating_add);
        if hot_row_bytes as u64 > machine.available_ram {
            return Err(PlanError::Impossible(format!(
                "one window needs {} across the stages, more than the {} of memory available; \
                 shorten the window, drop stages or give the run more memory",
                crate::spec::ByteSize(hot_row_bytes as u64),
                crate::spec::ByteSize(machine.available_ram)
            )));
        }
        let cores = machine.cores;
        let max_workers = max_workers.unwrap_or(cores.min(limits.workers));
        let block = settings::block(
            spec,
            block,
            hot_row_bytes,
            &machine,
            max_workers,
            &mut decisions,
        )?;
        let checkpoint_every = settings::checkpoint_every(
            spec,
            checkpoint_every,
            block,
            input_windows,
            &mut decisions,
        )?;
        let checkpoint_slots = settings::checkpoint_slots(
            spec,
            checkpoint_slots,
            &nodes,
            block,
            checkpoint_every,
            input_windows,
            &mut decisions,
        );
        let (lru_bytes, input_buffer_blocks) = settings::the_rest(
            spec,
            max_workers,
            cores,
            input_buffer_blocks,
            &mut decisions,
        );
        let mut decisions = decisions.0;
        decisions.extend(fused);

        Ok(Plan {
            device,
            plugins,
            machine,
            input_windows,
            estimates: None,
            auto_mode: spec.mode == Mode::Auto,
            auto_slots: spec.checkpoint_slots.is_none(),
            input: spec.input,
            window: spec.window,
            hop: spec.hop,
            sample_rate: spec.sample_rate,
            mode,
            block,
            checkpoint_every,
            checkpoint_slots,
            lru_bytes,
            max_workers,
            input_buffer_blocks,
            decisions,
            nodes,
            target,
        })
    }

    /// All nodes: the input first, then the stages in an order where inputs come first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node a run outputs.
    pub fn target(&self) -> NodeId {
        self.target
    }

    /// The target node.
    pub fn target_node(&self) -> &Node {
        &self.nodes[self.target]
    }

    /// Number of complete windows in a signal of `samples` samples.
    pub fn windows_in(&self, samples: u64) -> u64 {
        windows_in(samples, self.window, self.hop)
    }

    /// Whether a run over the whole stream sweeps forward (see the executors in
    /// [`crate::exec`]): when no needed stage runs backward in time. A forward sweep never
    /// recomputes a window, so it needs neither checkpoints nor the block cache; random
    /// access and backward passes walk depth-first, with both.
    pub fn sweeps_forward(&self) -> bool {
        !self.nodes.iter().any(|n| n.needed && n.reverse)
    }

    /// Most context rows any needed stage reads from each node.
    pub(crate) fn context_rows(&self) -> Vec<usize> {
        let mut keep_rows = vec![0; self.nodes.len()];
        for node in self.nodes.iter().filter(|n| n.needed) {
            for &input in &node.inputs {
                keep_rows[input] = keep_rows[input].max(node.context);
            }
        }
        keep_rows
    }

    /// The pure prefix: the needed stages without state or context whose inputs are the input
    /// or such stages, in dependency order (a worker can take a part through all of them at
    /// once, and any worker can compute any windows of them), and for each whether anything
    /// after the prefix reads it (a later stage, the run's target, context kept in
    /// `keep_rows`, from [`Plan::context_rows`]).
    pub(crate) fn pure_prefix(&self, keep_rows: &[usize]) -> (Vec<usize>, Vec<bool>) {
        let nodes = &self.nodes;
        let mut chain: Vec<usize> = Vec::new();
        let mut in_chain = vec![false; nodes.len()];
        for (id, node) in nodes.iter().enumerate().skip(1) {
            if node.needed
                && !node.kernel
                && node.context == 0
                && node.inputs.iter().all(|&i| i == INPUT_NODE || in_chain[i])
            {
                chain.push(id);
                in_chain[id] = true;
            }
        }
        let mut read_outside = vec![false; nodes.len()];
        for (_, node) in nodes
            .iter()
            .enumerate()
            .filter(|&(j, n)| n.needed && !in_chain[j])
        {
            for &input in &node.inputs {
                read_outside[input] = true;
            }
        }
        let read_after = chain
            .iter()
            .map(|&id| id == self.target || keep_rows[id] > 0 || read_outside[id])
            .collect();
        (chain, read_after)
    }

    /// What a forward sweep holds, bytes: for each part of a batch (its input, and every
    /// stage's rows that outlive the part's trip through the pure prefix), and for each worker
    /// (the prefix's rows that only the prefix reads: a worker takes one part at a time
    /// through the prefix and reuses their buffers for the next).
    pub(crate) fn sweep_bytes(&self) -> SweepBytes {
        let (chain, read_after) = self.pure_prefix(&self.context_rows());
        let block = self.block.max(1);
        let (mut per_part, mut per_worker) = (0usize, 0usize);
        for (id, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.needed) {
            let bytes = hot_row_bytes(node, self.hop).saturating_mul(block);
            match chain.iter().position(|&c| c == id) {
                Some(k) if !read_after[k] => per_worker = per_worker.saturating_add(bytes),
                _ => per_part = per_part.saturating_add(bytes),
            }
        }
        SweepBytes {
            per_part,
            per_worker,
        }
    }

    /// Blocks a forward sweep on `workers` workers computes between two meetings of the
    /// workers (and hand-overs from the framing thread): up to [`MAX_PARTS_PER_WORKER`] each
    /// while what the batch's parts hold ([`Plan::sweep_bytes`]) stays within
    /// [`BATCH_BYTES`], so that the time the threads spend waiting for one another and waking
    /// up is spread over more windows; two each at least, so that a worker that finishes its
    /// part first has another to take rather than wait for the slowest. (Each part goes
    /// through the chain of context-free stages at once, so a larger batch does not cost
    /// cache locality there.)
    pub(crate) fn parts_per_batch(&self, workers: usize) -> usize {
        let workers = workers.max(1);
        let each = BATCH_BYTES / workers / self.sweep_bytes().per_part.max(1);
        workers * each.clamp(MIN_PARTS_PER_WORKER, MAX_PARTS_PER_WORKER)
    }
}

/// What a forward sweep holds ([`Plan::sweep_bytes`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SweepBytes {
    /// Bytes each part of a batch holds until the batch is done.
    pub(crate) per_part: usize,
    /// Bytes each worker holds while it takes a part through the pure prefix.
    pub(crate) per_worker: usize,
}

/// Most blocks each worker of a forward sweep takes per batch (see [`Plan::parts_per_batch`]).
const MAX_PARTS_PER_WORKER: usize = 8;

/// Fewest blocks each worker of a forward sweep takes per batch, whatever they hold.
const MIN_PARTS_PER_WORKER: usize = 2;

/// What a forward sweep's batch may hold, bytes (two are in flight: one framed, one computed).
const BATCH_BYTES: usize = 4 << 20;

/// Bytes one window adds to a block of this node's output. The input shares samples between
/// overlapping windows, so it costs a hop per window (a window when windows do not overlap).
fn hot_row_bytes(node: &Node, hop: usize) -> usize {
    if node.op.is_none() {
        hop.min(node.port.layout.row_len()) * node.port.layout.dtype.size()
    } else {
        node.port.layout.row_bytes()
    }
}

/// A plugin's complaint about its params starts with a line and column inside the params
/// text ("bad parameters: 1:11: ..."); this points it at the pipeline file instead.
fn params_in_file(spec: &Spec, stage: &crate::spec::StageSpec, message: String) -> String {
    const MARK: &str = "bad parameters: ";
    let (Some(source), crate::spec::OpSpec::Plugin(plugin)) = (&spec.source, &stage.op) else {
        return message;
    };
    let Some(params) = plugin.params.as_ref().map(|p| p.get_ron()) else {
        return message;
    };
    let Some(at) = message.find(MARK).map(|i| i + MARK.len()) else {
        return message;
    };
    // "L:C: ..." or "L:C-L:C: ...", or "unknown field `name`..." (placed where the name is).
    let rest = &message[at..];
    let placed = rest.split_once(": ").and_then(|(place, text)| {
        let start = place.split('-').next().unwrap_or(place);
        let (l, c) = start.split_once(':')?;
        Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?, text))
    });
    let unknown = || {
        let field = rest.strip_prefix("unknown field `")?.split('`').next()?;
        let name = field.rsplit('.').next().unwrap_or(field);
        let offset = params
            .find(&format!("{name}:"))
            .or_else(|| params.find(name))?;
        let (line, col) = Source {
            origin: String::new(),
            text: params.into(),
        }
        .position(offset);
        Some((line, col, rest))
    };
    let Some((line, col, text)) = placed.or_else(unknown) else {
        return message;
    };
    // The params of this stage: after its name, where there are several alike.
    let named = source.text.find(&format!("{:?}", stage.name)).unwrap_or(0);
    let Some(offset) = source.text[named..]
        .find(params)
        .map(|o| o + named)
        .or_else(|| source.text.find(params))
    else {
        return message;
    };
    let (first_line, first_col) = source.position(offset);
    let (line, col) = if line <= 1 {
        (first_line, first_col + col.saturating_sub(1))
    } else {
        (first_line + line - 1, col)
    };
    format!(
        "{}{MARK}{}:{line}:{col}: {text}",
        &message[..at - MARK.len()],
        source.origin
    )
}

/// Builds the operator for one stage: a built-in, a host operator, or a plugin (with how it
/// was loaded).
pub(crate) fn build_operator(
    stage: &str,
    op: &OpSpec,
    ctx: &BuildContext<'_>,
    host: &HostOps,
) -> Result<(Arc<dyn Operator>, Option<PluginLoad>), BuildError> {
    match op {
        OpSpec::Plugin(plugin) => {
            crate::plugin::build(stage, plugin, ctx).map(|(op, load)| (op, Some(load)))
        }
        OpSpec::Host(spec) => match host.get(&spec.name) {
            Some(op) => op.build(ctx).map(|op| (op, None)),
            None => Err(BuildError::Param(format!(
                "no host stage is named `{}`{}: `Host` stages are provided by the program \
                 running the pipeline (a Python function given to `Pipeline.stage`), and \
                 {}",
                spec.name,
                did_you_mean(&spec.name, host.names()),
                if host.is_empty() {
                    "this one provides none".to_string()
                } else {
                    format!(
                        "this one provides {}",
                        host.names()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ))),
        },
        builtin => builtin::build(builtin, ctx).map(|op| (op, None)),
    }
}

/// The ports of node `id`'s inputs, in order.
fn input_ports(nodes: &[Node], id: NodeId) -> Vec<Port> {
    nodes[id]
        .inputs
        .iter()
        .map(|&i| nodes[i].port.clone())
        .collect()
}

/// What an operator of `spec` with inputs `ports` is built against.
fn build_context<'a>(spec: &'a Spec, ports: &'a [Port]) -> BuildContext<'a> {
    BuildContext {
        inputs: ports,
        sample_rate: f64::from(spec.sample_rate),
        window: spec.window,
        hop: spec.hop,
        base_dir: spec.base_dir.as_deref(),
    }
}

/// Builds each node's operator; returns the plugins loaded for them.
fn build_operators(
    spec: &Spec,
    nodes: &mut [Node],
    host: &HostOps,
) -> Result<Vec<PluginLoad>, PlanError> {
    let mut plugins = Vec::new();
    for id in 1..nodes.len() {
        let stage = graph::stage_spec(spec, &nodes[id].name);
        let ports = input_ports(nodes, id);
        let ctx = build_context(spec, &ports);
        // A plugin's state limit defaults to the pipeline's.
        let op_spec = match &stage.op {
            OpSpec::Plugin(p) if p.max_state.is_none() => OpSpec::Plugin(crate::spec::PluginSpec {
                max_state: Some(spec.limits.state_bytes),
                ..p.clone()
            }),
            _ => stage.op.clone(),
        };
        let built = build_operator(&stage.name, &op_spec, &ctx, host);
        let (op, load) = built.map_err(|source| PlanError::Stage {
            stage: stage.name.clone(),
            op: stage.op.name(),
            source: match source {
                BuildError::Plugin(message) => {
                    BuildError::Plugin(params_in_file(spec, stage, message))
                }
                other => other,
            },
        })?;
        // What a plugin declares is the plugin's doing (exit status 6), a built-in's comes
        // from its parameters (3).
        let refuse = |message: String| PlanError::Stage {
            stage: stage.name.clone(),
            op: stage.op.name(),
            source: if load.is_some() {
                BuildError::Plugin(message)
            } else {
                BuildError::Param(message)
            },
        };
        let layout = &op.output().layout;
        let row_bytes = layout
            .row_shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_mul(layout.dtype.size()));
        match row_bytes {
            Some(bytes) if bytes as u64 <= spec.limits.row_bytes.0 => {}
            _ => {
                return Err(refuse(format!(
                    "declares rows of {:?} {} elements, {}, more than the limit of {} a row \
                     (raise it with `limits: (row_bytes: \"...\")` if it is meant)",
                    layout.row_shape,
                    layout.dtype,
                    row_bytes.map_or("more bytes than this machine can count".into(), |b| {
                        crate::spec::ByteSize(b as u64).to_string()
                    }),
                    spec.limits.row_bytes
                )));
            }
        }
        if op.context() > spec.limits.context_rows {
            return Err(refuse(format!(
                "declares a context of {} rows, more than the limit of {} (every block would \
                 carry them; raise it with `limits: (context_rows: N)` if it is meant)",
                op.context(),
                spec.limits.context_rows
            )));
        }
        let node = &mut nodes[id];
        node.port = op.output().clone();
        node.context = op.context();
        node.kernel = op.is_kernel();
        if node.kernel && node.context > 0 {
            return Err(PlanError::Stage {
                stage: stage.name.clone(),
                op: stage.op.name(),
                source: BuildError::Param("a kernel cannot also declare context rows".into()),
            });
        }
        if stage.reverse && !node.kernel {
            return Err(PlanError::Stage {
                stage: stage.name.clone(),
                op: stage.op.name(),
                source: BuildError::Param(
                    "`reverse: true` needs a kernel: a pure stage has no direction in time".into(),
                ),
            });
        }
        if stage.reverse && node.port.layout.dtype == DType::Text {
            return Err(PlanError::Stage {
                stage: stage.name.clone(),
                op: stage.op.name(),
                source: BuildError::Param(
                    "`reverse: true` is for numeric rows: a backward pass stores its output \
                     by row offset, which rows of text do not have"
                        .into(),
                ),
            });
        }
        node.reverse = stage.reverse;
        node.checkpoint_output = stage.checkpoint;
        node.op = Some(op);
        plugins.extend(load);
    }
    Ok(plugins)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.input {
            InputKind::Samples => write!(
                f,
                "window {} hop {} at {} Hz",
                self.window, self.hop, self.sample_rate
            )?,
            InputKind::Lines => write!(f, "window {} hop {} lines", self.window, self.hop)?,
        }
        writeln!(f, "; target `{}`", self.target_node().name)?;
        for (id, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.needed) {
            let inputs: Vec<&str> = node
                .inputs
                .iter()
                .map(|&i| self.nodes[i].name.as_str())
                .collect();
            write!(
                f,
                "  {:<14} {:<17} {}",
                node.name, node.op_name, node.port.layout
            )?;
            if !inputs.is_empty() {
                write!(f, " <- {}", inputs.join(", "))?;
            }
            if node.kernel {
                f.write_str(if node.reverse {
                    " [kernel, backward in time]"
                } else {
                    " [kernel]"
                })?;
            }
            if node.context > 0 {
                write!(f, " [context {}]", node.context)?;
            }
            for fused in self.nodes.iter().filter(|n| n.fused_into == Some(id)) {
                write!(f, " [{} ({}) fused in]", fused.name, fused.op_name)?;
            }
            writeln!(f)?;
        }
        for d in &self.decisions {
            writeln!(f, "  {:<20} {:<10} {}", d.setting, d.value, d.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

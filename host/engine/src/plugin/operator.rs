//! A plugin as a pipeline stage: the operator the planner builds (version check, configure,
//! declared layout) and the instances the executors call, each in its own sandboxed store
//! (`sandbox.rs`), blocks converted and checked on the way (`convert.rs`).

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::Linker;

use super::contract::{Contract, check_version, imports, wit};
use super::convert::{accept, describe_error, host_dtype, wit_layout};
use super::exports::{Exports, Inputs};
use super::sandbox::{Limiter, trap_message};
use super::{
    DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_LIMIT, LoadedPlugin, PluginError, PluginLoad, Runtime,
    resolve,
};
use crate::spec::{ByteSize, PluginSpec};
use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Kernel, Operator, Port, Pure, StageCall,
    StageError,
};
use crate::tensor::{DType, Layout, Tensor};

/// What every instance of one plugin stage shares.
struct Shared {
    runtime: &'static Runtime,
    loaded: LoadedPlugin,
    /// The contract it was built against.
    contract: Contract,
    linker: Linker<Limiter>,
    params: wit::Params,
    inputs: Vec<wit::Layout>,
    signal: wit::Signal,
    declared: wit::Layout,
    output: Port,
    context: usize,
    stateful: bool,
    deadline: Duration,
    memory_cap: usize,
    /// Most bytes a kernel's state may hold.
    max_state: u64,
    /// What the component imports (nothing, for a well-behaved plugin).
    imports: Vec<String>,
}

impl Shared {
    fn name(&self) -> String {
        self.loaded.path.display().to_string()
    }
}

/// An instantiated, configured plugin in its own store.
struct Live {
    store: Store<Limiter>,
    plugin: Exports,
}

impl Live {
    fn new(shared: &Shared) -> Result<Live, String> {
        let mut store = Store::new(
            shared.runtime.engine(),
            Limiter {
                memory_cap: shared.memory_cap,
                refused: None,
                grown: 0,
            },
        );
        store.limiter(|limiter| limiter);
        store.set_epoch_deadline(Runtime::ticks(shared.deadline));
        let plugin = Exports::instantiate(
            shared.contract,
            &mut store,
            &shared.loaded.component,
            &shared.linker,
        )
        .map_err(|e| format!("cannot instantiate: {e}"))?;
        Ok(Live { store, plugin })
    }

    /// Calls the plugin under its deadline; a trap leaves the store unusable, so the caller
    /// drops this instance on any `Err`.
    fn call<R>(
        &mut self,
        shared: &Shared,
        what: &str,
        f: impl FnOnce(&Exports, &mut Store<Limiter>) -> wasmtime::Result<Result<R, wit::Error>>,
    ) -> Result<Result<R, wit::Error>, String> {
        self.store
            .set_epoch_deadline(Runtime::ticks(shared.deadline));
        match f(&self.plugin, &mut self.store) {
            Ok(result) => Ok(result),
            Err(trap) => Err(trap_message(
                what,
                &trap,
                self.store.data(),
                shared.deadline,
                &shared.imports,
            )),
        }
    }

    fn configure(&mut self, shared: &Shared) -> Result<wit::Configured, String> {
        let result = self.call(shared, "configure", |p, s| {
            p.configure(s, &shared.params, &shared.inputs, shared.signal)
        })?;
        result.map_err(|e| describe_error(&e))
    }
}

/// Builds the operator for a plugin stage: finds and loads the component, checks its contract
/// version, instantiates it once to describe and configure it, and records its output layout.
/// Returns the operator and how the component was loaded, recorded under `stage`.
pub fn build(
    stage: &str,
    spec: &PluginSpec,
    ctx: &BuildContext<'_>,
) -> Result<(Arc<dyn Operator>, PluginLoad), BuildError> {
    let plugin_error = |e: PluginError| BuildError::Plugin(e.to_string());
    let runtime = Runtime::global().map_err(plugin_error)?;
    let path = match (&spec.path, &spec.oci) {
        (Some(path), _) => resolve(path, ctx.base_dir).map_err(plugin_error)?,
        (None, Some(reference)) => {
            return Err(BuildError::Plugin(format!(
                "plugin oci://{reference} is not resolved to a file: a runner fetches OCI \
                 artifacts before it plans (the `sqrtspace` command line does; a program \
                 uses `sqrtspace-registry`)"
            )));
        }
        (None, None) => {
            return Err(BuildError::Plugin(
                "a Plugin names its component with `path: \"...\"` or `oci: \"...\"`".into(),
            ));
        }
    };
    let loaded = runtime
        .load_pinned(&path, spec.sha256.as_deref())
        .map_err(plugin_error)?;
    let contract = check_version(&loaded, runtime).map_err(plugin_error)?;
    let mut linker = Linker::new(runtime.engine());
    // A plugin is meant to import nothing; anything it does import traps when called.
    linker
        .define_unknown_imports_as_traps(&loaded.component)
        .map_err(|e| BuildError::Plugin(format!("plugin {}: {e}", path.display())))?;
    let params = match &spec.params {
        Some(raw) => {
            let value: ron::Value = raw
                .into_rust()
                .map_err(|e| BuildError::Param(format!("params: {e}")))?;
            wit::Params {
                ron: raw.get_ron().to_string(),
                json: serde_json::to_string(&value).map_err(|e| {
                    BuildError::Param(format!("params cannot be written as JSON: {e}"))
                })?,
            }
        }
        None => wit::Params {
            ron: "()".into(),
            json: "{}".into(),
        },
    };
    let mut shared = Shared {
        runtime,
        loaded,
        contract,
        linker,
        params,
        inputs: ctx.inputs.iter().map(wit_layout).collect(),
        signal: wit::Signal {
            sample_rate: ctx.sample_rate,
            window: ctx.window as u32,
            hop: ctx.hop as u32,
        },
        declared: wit_layout(&Port::plain(DType::F32, Vec::new())),
        output: Port::plain(DType::F32, Vec::new()),
        context: 0,
        stateful: false,
        deadline: Duration::from_millis(spec.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS)),
        memory_cap: usize::try_from(spec.memory_limit.map_or(DEFAULT_MEMORY_LIMIT, |b| b.0))
            .unwrap_or(usize::MAX),
        max_state: spec
            .max_state
            .map_or(crate::spec::Limits::default().state_bytes.0, |b| b.0),
        imports: Vec::new(),
    };
    shared.imports = imports(&shared.loaded.component, runtime);
    let name = shared.name();
    let configure_error = |message: String| {
        BuildError::Plugin(
            PluginError::Configure {
                path: name.clone(),
                message,
            }
            .to_string(),
        )
    };
    let mut live = Live::new(&shared).map_err(&configure_error)?;
    let info = live
        .call(&shared, "describe", |p, s| p.describe(s).map(Ok))
        .map_err(&configure_error)?
        .map_err(|e| configure_error(describe_error(&e)))?;
    let configured = live.configure(&shared).map_err(&configure_error)?;
    let dtype = host_dtype(configured.output.dtype);
    shared.stateful = info.stateful;
    shared.context = configured.context as usize;
    shared.output = Port {
        layout: Layout::new(
            dtype,
            configured
                .output
                .row_shape
                .iter()
                .map(|&d| d as usize)
                .collect(),
        ),
        freq_axis: configured.output.frequency.map(|a| FreqAxis {
            first_hz: a.first_hz,
            step_hz: a.step_hz,
        }),
    };
    shared.declared = configured.output;
    if shared.stateful && shared.context > 0 {
        return Err(BuildError::Param(
            "a kernel cannot also declare context rows".into(),
        ));
    }
    let load = PluginLoad {
        stage: stage.to_string(),
        path: shared.loaded.path.display().to_string(),
        sha256: shared.loaded.sha256.clone(),
        cache: shared.loaded.cache,
        load_ms: shared.loaded.load_time.as_secs_f64() * 1e3,
    };
    let op = Arc::new(PluginOp {
        shared: Arc::new(shared),
        first: std::sync::Mutex::new(Some(live)),
    });
    Ok((op, load))
}

/// The operator: shared configuration, and the instance made while planning, handed to the
/// first executor that asks so it is not instantiated twice.
struct PluginOp {
    shared: Arc<Shared>,
    first: std::sync::Mutex<Option<Live>>,
}

impl std::fmt::Debug for PluginOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOp")
            .field("path", &self.shared.loaded.path)
            .finish()
    }
}

impl Operator for PluginOp {
    fn output(&self) -> &Port {
        &self.shared.output
    }

    fn context(&self) -> usize {
        self.shared.context
    }

    fn is_kernel(&self) -> bool {
        self.shared.stateful
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        let live = self.first.lock().ok().and_then(|mut first| first.take());
        let instance = PluginInstance {
            shared: Arc::clone(&self.shared),
            live,
            inputs: Inputs::new(self.shared.contract),
            state: Vec::new(),
            copy_nanos: 0,
        };
        Ok(if self.shared.stateful {
            Instance::Kernel(Box::new(instance))
        } else {
            Instance::Pure(Box::new(instance))
        })
    }
}

/// One executor's instance of a plugin stage or kernel.
struct PluginInstance {
    shared: Arc<Shared>,
    /// Rebuilt (and configured again) after a trap.
    live: Option<Live>,
    /// Input tensors handed to the plugin, reused from block to block.
    inputs: Inputs,
    /// A kernel's state.
    state: Vec<u8>,
    /// Time spent converting inputs and outputs, ns.
    copy_nanos: u64,
}

impl PluginInstance {
    fn live(&mut self) -> Result<&mut Live, StageError> {
        if self.live.is_none() {
            let mut live = Live::new(&self.shared).map_err(|m| self.fail(m))?;
            live.configure(&self.shared).map_err(|m| self.fail(m))?;
            self.live = Some(live);
        }
        self.live
            .as_mut()
            .ok_or_else(|| StageError::Failed("no instance".into()))
    }

    fn fail(&self, message: String) -> StageError {
        StageError::Plugin(format!("plugin {}: {message}", self.shared.name()))
    }

    fn prepare(&mut self, call: &StageCall<'_>) -> Result<wit::Block, StageError> {
        let started = std::time::Instant::now();
        self.inputs.fill(call.inputs)?;
        self.copy_nanos += started.elapsed().as_nanos() as u64;
        Ok(wit::Block {
            t0: call.t0,
            rows: call.rows as u32,
            context_rows: call.context_rows as u32,
        })
    }

    /// Runs one call; on a trap the instance is dropped so the next call starts afresh.
    fn run<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(
            &Exports,
            &mut Store<Limiter>,
            &Inputs,
            &[u8],
        ) -> wasmtime::Result<Result<R, wit::Error>>,
    ) -> Result<R, StageError> {
        let shared = Arc::clone(&self.shared);
        let inputs = std::mem::replace(&mut self.inputs, Inputs::new(shared.contract));
        let state = std::mem::take(&mut self.state);
        let live = self.live()?;
        let result = live.call(&shared, what, |p, s| f(p, s, &inputs, &state));
        self.inputs = inputs;
        self.state = state;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                Err(self.fail(format!("{what} returned an error: {}", describe_error(&e))))
            }
            Err(message) => {
                self.live = None;
                Err(self.fail(message))
            }
        }
    }

    /// Checks a returned tensor against the declared layout and copies it into `out`.
    fn accept(
        &mut self,
        tensor: wit::Tensor,
        rows: usize,
        out: &mut Tensor,
    ) -> Result<(), StageError> {
        let started = std::time::Instant::now();
        let accepted = accept(&self.shared.declared, tensor, rows, out);
        self.copy_nanos += started.elapsed().as_nanos() as u64;
        accepted.map_err(|message| self.fail(message))
    }
}

/// The share of a plugin's memory cap one call's inputs may take: the inputs, their copy in
/// the plugin's memory and its output all live there during the call.
const CALL_SHARE_OF_CAP: usize = 8;

/// Most output rows one call computes, so that the per-call deadline bounds a known amount of
/// work (classic mode would otherwise make the whole stream one call).
const MAX_ROWS_PER_CALL: usize = 4096;

impl PluginInstance {
    /// Output rows per call: at most [`MAX_ROWS_PER_CALL`], and few enough that one call's
    /// inputs and outputs stay within [`CALL_SHARE_OF_CAP`] of the memory cap (at least one).
    /// Classic mode hands a stage the whole stream at once; without this, a plugin would need
    /// its whole input in its memory and its deadline would have to cover the whole stream.
    /// The output counts as much as the inputs: a stage with rows of 16,384 values from rows
    /// of 33 must not be handed 4096 rows at once.
    fn rows_per_call(&self, call: &StageCall<'_>) -> usize {
        // Text rows are as long as their lines: measure them (a string also costs its
        // pointer and length in the plugin's memory).
        let input_bytes: usize = call
            .inputs
            .iter()
            .map(|v| match v.dtype() {
                DType::Text => (v.nbytes() + 8 * v.rows() * v.row_len()).div_ceil(v.rows().max(1)),
                dtype => v.row_len().saturating_mul(dtype.size()),
            })
            .fold(0, usize::saturating_add);
        // A text output's length is unknown before the call: its pointers and lengths, and
        // as many bytes again as the input rows hold.
        let output = &self.shared.output.layout;
        let output_bytes = match output.dtype {
            DType::Text => output
                .row_len()
                .saturating_mul(8)
                .saturating_add(input_bytes),
            dtype => output.row_len().saturating_mul(dtype.size()),
        };
        let row_bytes = input_bytes.saturating_add(output_bytes);
        (self.shared.memory_cap / CALL_SHARE_OF_CAP / row_bytes.max(1))
            .saturating_sub(self.shared.context)
            .clamp(1, MAX_ROWS_PER_CALL)
    }

    /// Runs `one` over `call` in pieces of at most [`Self::rows_per_call`] output rows, each
    /// with the context it declared, appending their rows to `out`. Stages are functions of
    /// their rows and kernels carry their state across calls, so the pieces give the same
    /// bits as one call.
    fn in_pieces(
        &mut self,
        call: &StageCall<'_>,
        out: &mut Tensor,
        mut one: impl FnMut(&mut Self, &StageCall<'_>, &mut Tensor) -> Result<(), StageError>,
    ) -> Result<(), StageError> {
        let per_call = self.rows_per_call(call);
        if call.rows <= per_call {
            return one(self, call, out);
        }
        let layout = self.shared.output.layout.clone();
        *out = Tensor::empty(&layout);
        let mut piece = Tensor::empty(&layout);
        let mut start = 0;
        while start < call.rows {
            let rows = per_call.min(call.rows - start);
            let context = self.shared.context.min(call.context_rows + start);
            let first = call.context_rows + start - context;
            let inputs: Vec<_> = call
                .inputs
                .iter()
                .map(|v| v.slice_rows(first..first + context + rows))
                .collect();
            let sub = StageCall {
                t0: call.t0 + start as u64,
                rows,
                context_rows: context,
                inputs: &inputs,
            };
            one(self, &sub, &mut piece)?;
            out.extend_rows(&piece.view());
            start += rows;
        }
        Ok(())
    }

    fn process_one(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let block = self.prepare(call)?;
        let tensor = self.run("process", |p, s, inputs, _| p.process(s, block, inputs))?;
        self.accept(tensor, call.rows, out)
    }

    fn step_one(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let block = self.prepare(call)?;
        let (tensor, state) = self.run("step", |p, s, inputs, state| {
            p.step(s, block, inputs, state)
        })?;
        self.accept(tensor, call.rows, out)?;
        self.keep_state("step", state)
    }

    /// Takes the state a call returned, refusing one past the stage's limit: every
    /// checkpoint holds a copy, so a state that grows without bound would take the run's
    /// memory with it.
    fn keep_state(&mut self, what: &str, state: Vec<u8>) -> Result<(), StageError> {
        if state.len() as u64 > self.shared.max_state {
            return Err(self.fail(format!(
                "{what} returned a state of {}, more than the limit of {} (raise it with \
                 `max_state: \"...\"` on the stage, or `limits: (state_bytes: \"...\")` in \
                 the pipeline)",
                ByteSize(state.len() as u64),
                ByteSize(self.shared.max_state)
            )));
        }
        self.state = state;
        Ok(())
    }
}

impl Pure for PluginInstance {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        self.in_pieces(call, out, Self::process_one)
    }

    fn memory_bytes(&self) -> u64 {
        self.live
            .as_ref()
            .map_or(0, |live| live.store.data().grown as u64)
    }

    fn copy_nanos(&self) -> u64 {
        self.copy_nanos
    }
}

impl Kernel for PluginInstance {
    fn reset(&mut self) -> Result<(), StageError> {
        let state = self.run("init-state", |p, s, _, _| p.init_state(s))?;
        self.keep_state("init-state", state)
    }

    fn step(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        self.in_pieces(call, out, Self::step_one)
    }

    fn save_state(&self) -> Vec<u8> {
        self.state.clone()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), StageError> {
        self.state = state.to_vec();
        Ok(())
    }

    fn copy_nanos(&self) -> u64 {
        self.copy_nanos
    }
}

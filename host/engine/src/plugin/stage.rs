//! A plugin as a pipeline stage: the operator the planner builds (version check, configure,
//! declared layout) and the instances the executors call, each in its own sandboxed store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use wasmtime::component::{Component, Linker};
use wasmtime::{ResourceLimiter, Store, Trap};

use super::{
    DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_LIMIT, LoadedPlugin, PluginError, PluginLoad, Runtime,
    WIT_PACKAGE, WIT_VERSION, plugin_text, resolve,
};
use crate::spec::{ByteSize, PluginSpec};
use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Kernel, Operator, Port, Stage, StageCall,
    StageError,
};
use crate::tensor::{Complex32, DType, Element, Layout, Tensor, TensorView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "plugin",
    });
}

use bindings::exports::sqrtspace::pipeline::stage as wit;

/// The version of the `stage` interface a component exports, if it exports one.
fn exported_version(component: &Component, runtime: &Runtime) -> Option<String> {
    let prefix = format!("{WIT_PACKAGE}/stage@");
    component
        .component_type()
        .exports(runtime.engine())
        .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
}

/// Whether a plugin built against `found` runs on this host: same major version, and for
/// 0.x the same minor version (semver's rule for what can change incompatibly).
fn compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(WIT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

fn check_version(loaded: &LoadedPlugin, runtime: &Runtime) -> Result<(), PluginError> {
    let path = loaded.path.display().to_string();
    match exported_version(&loaded.component, runtime) {
        None => Err(PluginError::Invalid {
            path,
            message: format!("does not export {WIT_PACKAGE}/stage: not a sqrtspace plugin"),
        }),
        Some(found) if !compatible(&found) => Err(PluginError::Version { path, found }),
        Some(_) => Ok(()),
    }
}

/// The import names of a component (a well-behaved plugin has none).
fn imports(component: &Component, runtime: &Runtime) -> Vec<String> {
    component
        .component_type()
        .imports(runtime.engine())
        .map(|(name, _)| name.to_string())
        .collect()
}

/// What to add to a trap's message when the plugin imports something: the sandbox provides
/// none of it, so calling any of it traps, and the backtrace alone does not say why.
fn import_hint(imports: &[String]) -> String {
    match imports {
        [] => String::new(),
        [one] => format!(" (it imports {one}, which the sandbox does not provide)"),
        [first, rest @ ..] => format!(
            " (it imports {first} and {} more, which the sandbox does not provide)",
            rest.len()
        ),
    }
}

/// What a failed call says: the memory cap it hit, the deadline it ran past, or the trap,
/// with a hint at the likely cause.
fn trap_message(
    what: &str,
    trap: &wasmtime::Error,
    limiter: &Limiter,
    deadline: Duration,
    imports: &[String],
) -> String {
    if let Some(asked) = limiter.refused {
        format!(
            "{what} exceeded the memory limit of {} (asked for {})",
            ByteSize(limiter.memory_cap as u64),
            ByteSize(asked as u64)
        )
    } else if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        format!(
            "{what} ran past its deadline of {} ms",
            deadline.as_millis()
        )
    } else {
        let unreachable = trap.downcast_ref::<Trap>() == Some(&Trap::UnreachableCodeReached);
        let hint = if !imports.is_empty() {
            import_hint(imports)
        } else if unreachable {
            " (a Rust plugin that panics ends this way)".into()
        } else {
            String::new()
        };
        format!(
            "{what} trapped{hint}: {}",
            plugin_text(&trap.root_cause().to_string())
        )
    }
}

/// Refuses memory growth past the cap, and remembers that it did.
struct Limiter {
    memory_cap: usize,
    refused: Option<usize>,
    /// Linear memory the instance has grown to.
    grown: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.refused = Some(desired);
            wasmtime::bail!("memory limit reached");
        }
        self.grown = self.grown.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// What every instance of one plugin stage shares.
struct Shared {
    runtime: &'static Runtime,
    loaded: LoadedPlugin,
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
    plugin: bindings::Plugin,
}

fn wit_dtype(dtype: DType) -> wit::Dtype {
    match dtype {
        DType::F32 => wit::Dtype::F32,
        DType::F64 => wit::Dtype::F64,
        DType::C32 => wit::Dtype::C32,
        DType::I32 => wit::Dtype::S32,
        DType::U8 => wit::Dtype::U8,
        DType::Text => wit::Dtype::Text,
    }
}

fn host_dtype(dtype: wit::Dtype) -> DType {
    match dtype {
        wit::Dtype::F32 => DType::F32,
        wit::Dtype::F64 => DType::F64,
        wit::Dtype::C32 => DType::C32,
        wit::Dtype::S32 => DType::I32,
        wit::Dtype::U8 => DType::U8,
        wit::Dtype::Text => DType::Text,
    }
}

fn dtype_name(dtype: wit::Dtype) -> &'static str {
    host_dtype(dtype).name()
}

fn wit_layout(port: &Port) -> wit::Layout {
    wit::Layout {
        dtype: wit_dtype(port.layout.dtype),
        row_shape: port.layout.row_shape.iter().map(|&d| d as u32).collect(),
        frequency: port.freq_axis.map(|a| wit::FrequencyAxis {
            first_hz: a.first_hz,
            step_hz: a.step_hz,
        }),
    }
}

/// What a plugin's error says, made safe to print (see [`plugin_text`]).
fn describe_error(e: &wit::Error) -> String {
    match e {
        wit::Error::Params(m) => format!("bad parameters: {}", plugin_text(m)),
        wit::Error::Input(m) => format!("bad input: {}", plugin_text(m)),
        wit::Error::State(m) => format!("bad state: {}", plugin_text(m)),
        wit::Error::Failed(m) => plugin_text(m),
    }
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
        let plugin =
            bindings::Plugin::instantiate(&mut store, &shared.loaded.component, &shared.linker)
                .map_err(|e| format!("cannot instantiate: {e}"))?;
        Ok(Live { store, plugin })
    }

    /// Calls the plugin under its deadline; a trap leaves the store unusable, so the caller
    /// drops this instance on any `Err`.
    fn call<R>(
        &mut self,
        shared: &Shared,
        what: &str,
        f: impl FnOnce(
            &bindings::Plugin,
            &mut Store<Limiter>,
        ) -> wasmtime::Result<Result<R, wit::Error>>,
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
            p.sqrtspace_pipeline_stage().call_configure(
                s,
                &shared.params,
                &shared.inputs,
                shared.signal,
            )
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
    let path = resolve(&spec.path, ctx.base_dir).map_err(plugin_error)?;
    let loaded = runtime
        .load_pinned(&path, spec.sha256.as_deref())
        .map_err(plugin_error)?;
    check_version(&loaded, runtime).map_err(plugin_error)?;
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
        .call(&shared, "describe", |p, s| {
            p.sqrtspace_pipeline_stage().call_describe(s).map(Ok)
        })
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
            inputs: Vec::new(),
            state: Vec::new(),
        };
        Ok(if self.shared.stateful {
            Instance::Kernel(Box::new(instance))
        } else {
            Instance::Stage(Box::new(instance))
        })
    }
}

/// One executor's instance of a plugin stage or kernel.
struct PluginInstance {
    shared: Arc<Shared>,
    /// Rebuilt (and configured again) after a trap.
    live: Option<Live>,
    /// Input tensors handed to the plugin, reused from block to block.
    inputs: Vec<wit::Tensor>,
    /// A kernel's state.
    state: Vec<u8>,
}

fn fill<T: Element>(view: &TensorView<'_>, values: &mut Vec<T>) -> Result<(), StageError> {
    values.clear();
    for row in view.typed::<T>()?.iter() {
        values.extend_from_slice(row);
    }
    Ok(())
}

/// Copies a host block into a plugin tensor, reusing its buffers.
fn to_wit(view: &TensorView<'_>, tensor: &mut wit::Tensor) -> Result<(), StageError> {
    tensor.shape.clear();
    tensor.shape.push(view.rows() as u32);
    tensor
        .shape
        .extend(view.row_shape().iter().map(|&d| d as u32));
    macro_rules! refill {
        ($variant:ident, $ty:ty) => {{
            if !matches!(tensor.data, wit::Data::$variant(_)) {
                tensor.data = wit::Data::$variant(Vec::new());
            }
            if let wit::Data::$variant(values) = &mut tensor.data {
                fill::<$ty>(view, values)?;
            }
        }};
    }
    match view.dtype() {
        DType::F32 => refill!(F32, f32),
        DType::F64 => refill!(F64, f64),
        DType::I32 => refill!(S32, i32),
        DType::U8 => refill!(U8, u8),
        DType::Text => refill!(Text, String),
        DType::C32 => {
            if !matches!(tensor.data, wit::Data::C32(_)) {
                tensor.data = wit::Data::C32(Vec::new());
            }
            if let wit::Data::C32(values) = &mut tensor.data {
                values.clear();
                for row in view.typed::<Complex32>()?.iter() {
                    values.extend(row.iter().flat_map(|z| [z.re, z.im]));
                }
            }
        }
    }
    Ok(())
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
        self.inputs.resize_with(call.inputs.len(), || wit::Tensor {
            shape: Vec::new(),
            data: wit::Data::F32(Vec::new()),
        });
        for (view, tensor) in call.inputs.iter().zip(self.inputs.iter_mut()) {
            to_wit(view, tensor)?;
        }
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
            &bindings::Plugin,
            &mut Store<Limiter>,
            &[wit::Tensor],
            &[u8],
        ) -> wasmtime::Result<Result<R, wit::Error>>,
    ) -> Result<R, StageError> {
        let shared = Arc::clone(&self.shared);
        let inputs = std::mem::take(&mut self.inputs);
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
    fn accept(&self, tensor: wit::Tensor, rows: usize, out: &mut Tensor) -> Result<(), StageError> {
        accept(&self.shared.declared, tensor, rows, out).map_err(|message| self.fail(message))
    }
}

/// Checks a tensor a plugin returned for a block of `rows` against the layout it `declared`,
/// and copies it into `out`; what is wrong with it otherwise. Nothing a plugin returns gets
/// past this unchecked: dtype, shape, row count and value count.
pub(crate) fn accept(
    declared: &wit::Layout,
    tensor: wit::Tensor,
    rows: usize,
    out: &mut Tensor,
) -> Result<(), String> {
    let found_dtype = match &tensor.data {
        wit::Data::F32(_) => wit::Dtype::F32,
        wit::Data::F64(_) => wit::Dtype::F64,
        wit::Data::C32(_) => wit::Dtype::C32,
        wit::Data::S32(_) => wit::Dtype::S32,
        wit::Data::U8(_) => wit::Dtype::U8,
        wit::Data::Text(_) => wit::Dtype::Text,
    };
    if found_dtype != declared.dtype {
        return Err(format!(
            "returned {} rows, but it declared {}",
            dtype_name(found_dtype),
            dtype_name(declared.dtype)
        ));
    }
    let (found_rows, row_shape) = match tensor.shape.split_first() {
        Some((&r, shape)) => (r as usize, shape),
        None => return Err("returned a tensor with no shape".into()),
    };
    if row_shape != declared.row_shape.as_slice() {
        return Err(format!(
            "returned rows of shape {row_shape:?}, but it declared {:?}",
            declared.row_shape
        ));
    }
    if found_rows != rows {
        return Err(format!("returned {found_rows} rows for a block of {rows}"));
    }
    let row_len: usize = row_shape.iter().map(|&d| d as usize).product();
    let count = |n: usize, per: usize| {
        if rows.checked_mul(row_len).and_then(|e| e.checked_mul(per)) == Some(n) {
            Ok(())
        } else {
            Err(format!(
                "returned {} values for {rows} rows of {row_len}",
                n / per
            ))
        }
    };
    let row_shape: Vec<usize> = row_shape.iter().map(|&d| d as usize).collect();
    match tensor.data {
        wit::Data::F32(v) => {
            count(v.len(), 1)?;
            out.reset::<f32>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::F64(v) => {
            count(v.len(), 1)?;
            out.reset::<f64>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::S32(v) => {
            count(v.len(), 1)?;
            out.reset::<i32>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::U8(v) => {
            count(v.len(), 1)?;
            out.reset::<u8>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::C32(v) => {
            count(v.len(), 2)?;
            for (z, pair) in out
                .reset::<Complex32>(rows, &row_shape)
                .iter_mut()
                .zip(v.chunks_exact(2))
            {
                *z = Complex32::new(pair[0], pair[1]);
            }
        }
        wit::Data::Text(v) => {
            count(v.len(), 1)?;
            *out = Tensor::new(rows, row_shape, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
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
        let tensor = self.run("process", |p, s, inputs, _| {
            p.sqrtspace_pipeline_stage().call_process(s, block, inputs)
        })?;
        self.accept(tensor, call.rows, out)
    }

    fn step_one(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let block = self.prepare(call)?;
        let (tensor, state) = self.run("step", |p, s, inputs, state| {
            p.sqrtspace_pipeline_stage()
                .call_step(s, block, inputs, state)
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

impl Stage for PluginInstance {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        self.in_pieces(call, out, Self::process_one)
    }

    fn memory_bytes(&self) -> u64 {
        self.live
            .as_ref()
            .map_or(0, |live| live.store.data().grown as u64)
    }
}

impl Kernel for PluginInstance {
    fn reset(&mut self) -> Result<(), StageError> {
        let state = self.run("init-state", |p, s, _, _| {
            p.sqrtspace_pipeline_stage().call_init_state(s)
        })?;
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

    fn memory_bytes(&self) -> u64 {
        Stage::memory_bytes(self)
    }
}

/// What `sqrtspace plugin inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// sha256 of the file.
    pub sha256: String,
    /// The `sqrtspace:pipeline` version it was built against.
    pub wit_version: String,
    /// Whether this host can run it.
    pub compatible: bool,
    /// The plugin's own name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// Whether it is a kernel.
    pub stateful: bool,
    /// What it imports (a sandboxed plugin imports nothing).
    pub imports: Vec<String>,
    /// Whether the component came from the cache.
    pub cache: super::CacheOutcome,
    /// Time to load it.
    pub load_ms: f64,
}

/// Loads a plugin file and describes it, without configuring it; `describe` runs under
/// `deadline`.
pub fn inspect(path: &Path, deadline: Duration) -> Result<PluginInfo, PluginError> {
    let runtime = Runtime::global()?;
    let loaded = runtime.load(path)?;
    let name = path.display().to_string();
    let wit_version =
        exported_version(&loaded.component, runtime).ok_or_else(|| PluginError::Invalid {
            path: name.clone(),
            message: format!("does not export {WIT_PACKAGE}/stage: not a sqrtspace plugin"),
        })?;
    let compatible = compatible(&wit_version);
    let imports = imports(&loaded.component, runtime);
    let mut info = PluginInfo {
        path: name.clone(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        sha256: loaded.sha256.clone(),
        wit_version,
        compatible,
        name: String::new(),
        version: String::new(),
        description: String::new(),
        stateful: false,
        imports,
        cache: loaded.cache,
        load_ms: loaded.load_time.as_secs_f64() * 1e3,
    };
    if compatible {
        let mut linker = Linker::new(runtime.engine());
        linker
            .define_unknown_imports_as_traps(&loaded.component)
            .map_err(|e| PluginError::Invalid {
                path: name.clone(),
                message: e.to_string(),
            })?;
        let mut store = Store::new(
            runtime.engine(),
            Limiter {
                memory_cap: DEFAULT_MEMORY_LIMIT as usize,
                refused: None,
                grown: 0,
            },
        );
        store.limiter(|limiter| limiter);
        store.set_epoch_deadline(Runtime::ticks(deadline));
        let plugin = bindings::Plugin::instantiate(&mut store, &loaded.component, &linker)
            .map_err(|e| PluginError::Invalid {
                path: name.clone(),
                message: format!("cannot instantiate: {e}"),
            })?;
        let described = plugin
            .sqrtspace_pipeline_stage()
            .call_describe(&mut store)
            .map_err(|trap| PluginError::Invalid {
                path: name.clone(),
                message: trap_message("describe", &trap, store.data(), deadline, &info.imports),
            })?;
        info.name = plugin_text(&described.name);
        info.version = plugin_text(&described.version);
        info.description = plugin_text(&described.description);
        info.stateful = described.stateful;
    }
    Ok(info)
}

/// Fuzzing entry: a declared layout, a block size and a returned tensor decoded from `data`
/// through [`accept`]. Whatever the bytes, it returns an error or a tensor of exactly the
/// declared layout and row count; it never panics.
#[doc(hidden)]
pub fn fuzz_output(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let dtypes = [
        wit::Dtype::F32,
        wit::Dtype::F64,
        wit::Dtype::C32,
        wit::Dtype::S32,
        wit::Dtype::U8,
        wit::Dtype::Text,
    ];
    let dtype = dtypes[usize::from(next()) % dtypes.len()];
    let variant = next() % 6;
    let rank = next() % 3;
    let row_shape: Vec<u32> = (0..rank).map(|_| u32::from(next() % 9)).collect();
    let rows = usize::from(next() % 17);
    let returned_rank = next() % 4;
    let shape: Vec<u32> = (0..returned_rank)
        .map(|_| u32::from_le_bytes([next(), next(), next(), next()]))
        .collect();
    let consumed = 6 + usize::from(rank) + 4 * usize::from(returned_rank);
    let values = data.get(consumed..).unwrap_or_default();
    let words = || values.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
    let data = match variant {
        0 => wit::Data::F32(words().map(f32::from_le_bytes).collect()),
        1 => wit::Data::F64(
            values
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
        2 => wit::Data::C32(words().map(f32::from_le_bytes).collect()),
        3 => wit::Data::S32(words().map(i32::from_le_bytes).collect()),
        4 => wit::Data::U8(values.to_vec()),
        _ => wit::Data::Text(vec![String::from_utf8_lossy(values).into_owned()]),
    };
    let declared = wit::Layout {
        dtype,
        row_shape: row_shape.clone(),
        frequency: None,
    };
    let mut out = Tensor::empty(&crate::tensor::Layout::new(DType::F32, Vec::new()));
    if accept(&declared, wit::Tensor { shape, data }, rows, &mut out).is_ok() {
        let want: Vec<usize> = row_shape.iter().map(|&d| d as usize).collect();
        assert_eq!(out.rows(), rows, "accepted with another row count");
        assert_eq!(
            out.row_shape(),
            &want[..],
            "accepted with another row shape"
        );
        assert_eq!(out.dtype(), host_dtype(dtype), "accepted another dtype");
    }
}

#[cfg(test)]
mod tests {
    use super::{compatible, import_hint};

    #[test]
    fn a_trap_in_a_plugin_with_imports_says_what_it_imports() {
        assert_eq!(import_hint(&[]), "");
        let one = ["wasi:cli/stdout@0.2.6".to_string()];
        assert_eq!(
            import_hint(&one),
            " (it imports wasi:cli/stdout@0.2.6, which the sandbox does not provide)"
        );
        let three = ["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(
            import_hint(&three),
            " (it imports a and 2 more, which the sandbox does not provide)"
        );
    }

    #[test]
    fn versions_follow_semver_for_zero_major() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible("garbage"));
    }
}

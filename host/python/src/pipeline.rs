//! `sqrtspace.Pipeline`: a pipeline from RON or built in Python, run over a path, an ndarray
//! or an iterable of chunks, by the engine's public API (the same planner, probe and
//! executors as `sqrtspace run`), with the GIL released while the engine computes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use numpy::{PyArray1, PyUntypedArray};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::engine::{guarded, short_input, tensor_to_py};
use sqrtspace::exec::{Evaluator, RunStats, WindowRange};
use sqrtspace::extend::{FreqAxis, HostOps};
use sqrtspace::io::{FileSink, Framer, InputFormat, LineSource, MemorySink, Opened, OutputFormat};
use sqrtspace::spec::{ByteSize, HostSpec, InputKind, OpSpec, PluginSpec, StageSpec};
use sqrtspace::{DType, Mode, Plan, Spec, Tensor};

use crate::errors::{self, PipelineError, Raised};
use crate::source::{ArraySource, ChunkSource, refuse_array};
use crate::stage::{Accepts, Declared, FreqDecl, KEYWORDS, Kind, PyHostOp};

/// A pipeline: its stages, how they are wired, and the settings the planner starts from.
///
/// Made from a RON file (`Pipeline.from_file`), RON text (`Pipeline.from_ron`) or in Python
/// (`Pipeline(window, hop, sample_rate)` and `add`, `stage`, `kernel`). Either way one engine
/// runs it, so a pipeline built in Python and the same pipeline written in RON give the same
/// bits, and every mode (classic, sqrt, auto) gives the same bits as every other.
#[pyclass(module = "sqrtspace._sqrtspace")]
#[derive(Debug)]
pub struct Pipeline {
    spec: Spec,
    origin: String,
    host: HostOps,
    raised: Raised,
    last: Mutex<Option<Last>>,
    last_input: Mutex<Option<Py<PyAny>>>,
}

/// What the last run planned and did, for `report()` and `stats()`.
#[derive(Debug)]
struct Last {
    plan: Plan,
    stats: RunStats,
}

/// Settings a call may override.
#[derive(Default)]
struct Overrides {
    target: Option<String>,
    mode: Option<String>,
    block: Option<usize>,
    workers: Option<usize>,
}

fn pipeline_err(message: impl Into<String>) -> PyErr {
    PipelineError::new_err(message.into())
}

fn parse_mode(mode: &str) -> PyResult<Mode> {
    mode.parse::<Mode>().map_err(pipeline_err)
}

fn byte_size(value: &Bound<'_, PyAny>, what: &str) -> PyResult<ByteSize> {
    if let Ok(n) = value.extract::<u64>() {
        return Ok(ByteSize(n));
    }
    let text: String = value.extract().map_err(|_| {
        pipeline_err(format!(
            "{what} must be a byte count: an int or a string such as \"64 MiB\""
        ))
    })?;
    text.parse::<ByteSize>().map_err(pipeline_err)
}

/// A Python value as RON text (plugin parameters): dicts become maps, lists and tuples
/// sequences, `None` `None`, strings quoted with JSON's escapes (which RON reads).
fn to_ron(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_none() {
        return Ok("None".into());
    }
    if let Ok(b) = value.cast::<pyo3::types::PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if let Ok(i) = value.extract::<i128>()
        && value.is_instance_of::<pyo3::types::PyInt>()
    {
        return Ok(i.to_string());
    }
    if let Ok(f) = value.cast::<pyo3::types::PyFloat>() {
        let f = f.value();
        if !f.is_finite() {
            return Err(pipeline_err(format!(
                "a parameter cannot be {f}: RON has no such number"
            )));
        }
        return Ok(format!("{f:?}"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        let s = s.to_cow()?;
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        return Ok(out);
    }
    if let Ok(d) = value.cast::<PyDict>() {
        // Keys that are identifiers make a struct, `(cutoff_hz: 1.5)`, as plugins' parameters
        // are written; any other key makes the whole dict a map, `{"a b": 1}`.
        let identifier = |k: &Bound<'_, PyAny>| {
            k.cast::<PyString>()
                .ok()
                .and_then(|k| k.to_cow().ok())
                .is_some_and(|k| {
                    let mut chars = k.chars();
                    chars
                        .next()
                        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
                })
        };
        let fields = d.keys().iter().all(|k| identifier(&k));
        let items: PyResult<Vec<String>> = d
            .iter()
            .map(|(k, v)| {
                let key = if fields {
                    k.str()?.to_string()
                } else {
                    to_ron(&k)?
                };
                Ok(format!("{key}: {}", to_ron(&v)?))
            })
            .collect();
        return Ok(if fields {
            format!("({})", items?.join(", "))
        } else {
            format!("{{{}}}", items?.join(", "))
        });
    }
    // An operator or filter of `sqrtspace.ops` (an enum variant such as `Lowpass(...)`): its
    // RON text as it is.
    if let Ok(ron) = value.getattr("ron")
        && let Ok(text) = ron.extract::<String>()
    {
        return Ok(text);
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items: PyResult<Vec<String>> = value.try_iter()?.map(|v| to_ron(&v?)).collect();
        return Ok(format!("[{}]", items?.join(", ")));
    }
    Err(pipeline_err(format!(
        "a parameter of type {} cannot be written as RON (use numbers, strings, bools, None, \
         lists and dicts)",
        value.get_type().qualname()?
    )))
}

/// The engine's dtype for a numpy-style name.
fn dtype_of(name: &str) -> PyResult<DType> {
    Ok(match name {
        "f32" | "float32" => DType::F32,
        "f64" | "float64" => DType::F64,
        "c32" | "complex64" => DType::C32,
        "i32" | "int32" => DType::I32,
        "u8" | "uint8" => DType::U8,
        other => {
            return Err(pipeline_err(format!(
                "unknown dtype `{other}` (expected f32, f64, c32, i32 or u8, or their numpy names)"
            )));
        }
    })
}

/// `output=("f32", [1])`: a dtype and a row shape.
fn declared(output: &Bound<'_, PyAny>, freq_axis: Option<&Bound<'_, PyAny>>) -> PyResult<Declared> {
    let bad = || {
        pipeline_err(
            "output must be (dtype, row_shape), e.g. (\"f32\", [1]) for one number per window",
        )
    };
    let (dtype, shape): (String, Vec<usize>) = output.extract().map_err(|_| bad())?;
    let freq_axis = match freq_axis {
        None => FreqDecl::None,
        Some(v) if v.is_none() => FreqDecl::None,
        Some(v) => match v.extract::<String>() {
            Ok(s) if s == "input" => FreqDecl::FromInput,
            _ => {
                let (first_hz, step_hz): (f64, f64) = v.extract().map_err(|_| {
                    pipeline_err("freq_axis must be \"input\" or (first_hz, step_hz)")
                })?;
                FreqDecl::Given(FreqAxis { first_hz, step_hz })
            }
        },
    };
    Ok(Declared {
        dtype: dtype_of(&dtype)?,
        row_shape: shape,
        freq_axis,
    })
}

/// Which of the stage keywords `function` takes, from its signature.
fn accepts(function: &Bound<'_, PyAny>) -> PyResult<Accepts> {
    let py = function.py();
    let inspect = py.import("inspect")?;
    let kinds = inspect.getattr("Parameter")?;
    let var_keyword = kinds.getattr("VAR_KEYWORD")?;
    let signature = match inspect.call_method1("signature", (function,)) {
        Ok(s) => s,
        // A builtin without a signature: give it no keywords.
        Err(_) => return Ok(Accepts::default()),
    };
    let mut out = Accepts::default();
    for parameter in signature
        .getattr("parameters")?
        .call_method0("values")?
        .try_iter()?
    {
        let parameter = parameter?;
        if parameter.getattr("kind")?.eq(&var_keyword)? {
            out.all = true;
        }
        let name: String = parameter.getattr("name")?.extract()?;
        if KEYWORDS.contains(&name.as_str()) {
            out.names.push(name);
        }
    }
    Ok(out)
}

/// Lines of text from a Python iterable of `str`, as a byte stream of lines.
struct LinesReader {
    iterator: Py<PyAny>,
    buffer: Vec<u8>,
    taken: usize,
    raised: Raised,
}

impl std::io::Read for LinesReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.taken == self.buffer.len() {
            self.buffer.clear();
            self.taken = 0;
            let more = Python::attach(|py| -> std::io::Result<bool> {
                let iterator = self.iterator.bind(py);
                // A batch of lines per call, so the GIL is taken once per batch.
                for _ in 0..1024 {
                    match iterator.call_method0("__next__") {
                        Ok(item) => {
                            let line = item.cast::<PyString>().map_err(|_| {
                                std::io::Error::new(
                                    std::io::ErrorKind::InvalidData,
                                    "the input iterable yielded something other than str",
                                )
                            })?;
                            let text = line.to_cow().map_err(|e| {
                                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                            })?;
                            self.buffer.extend_from_slice(text.as_bytes());
                            self.buffer.push(b'\n');
                        }
                        Err(e) if e.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => {
                            break;
                        }
                        Err(e) => {
                            let message = format!("the input iterable raised {e}");
                            self.raised.keep(e);
                            return Err(std::io::Error::other(message));
                        }
                    }
                }
                Ok(!self.buffer.is_empty())
            })?;
            if !more {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buffer.len() - self.taken);
        out[..n].copy_from_slice(&self.buffer[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

impl Pipeline {
    fn from_spec(spec: Spec, origin: String) -> Pipeline {
        Pipeline {
            spec,
            origin,
            host: HostOps::default(),
            raised: Raised::default(),
            last: Mutex::new(None),
            last_input: Mutex::new(None),
        }
    }

    /// The spec with a call's overrides applied, said to come from the call.
    fn spec_with(&self, o: &Overrides) -> PyResult<Spec> {
        let mut spec = self.spec.clone();
        if let Some(target) = &o.target {
            spec.target = Some(target.clone());
        }
        if let Some(mode) = &o.mode {
            spec.mode = parse_mode(mode)?;
            spec.from_command_line.push("mode");
        }
        if let Some(block) = o.block {
            spec.block = Some(block);
            spec.from_command_line.push("block");
        }
        if let Some(workers) = o.workers {
            spec.max_workers = Some(workers);
            spec.from_command_line.push("max_workers");
        }
        Ok(spec)
    }

    /// Opens `input` for `spec`: a path, a 1-D float32 ndarray, or an iterable (of chunks for
    /// samples, of `str` for lines).
    fn framer(
        &self,
        py: Python<'_>,
        spec: &Spec,
        input: &Bound<'_, PyAny>,
        format: Option<&str>,
        channel: Option<usize>,
    ) -> PyResult<Framer> {
        let format = format
            .map(|f| {
                f.parse::<InputFormat>().map_err(|_| {
                    errors::InputError::new_err(format!(
                        "unknown input format `{f}` (expected wav, raw-f32, npy, flac or lines)"
                    ))
                })
            })
            .transpose()?;
        let os = py.import("os")?;
        let path_like =
            input.is_instance_of::<PyString>() || input.is_instance(&os.getattr("PathLike")?)?;
        if path_like {
            let path: PathBuf = os.call_method1("fspath", (input,))?.extract()?;
            let opened = sqrtspace::io::open_input(&path, format, channel, spec, &self.origin)
                .map_err(|e| errors::input_error(&e))?;
            return Ok(opened.framer(spec));
        }
        if channel.is_some() || format.is_some() {
            return Err(errors::InputError::new_err(
                "format and channel apply to a path; an array or iterable is read as it is",
            ));
        }
        if let Ok(array) = input.cast::<PyUntypedArray>() {
            if spec.input == InputKind::Lines {
                return Err(errors::InputError::new_err(format!(
                    "{} reads lines of text; give it a path or an iterable of str, not an array",
                    self.origin
                )));
            }
            if let Some(why) = refuse_array(array) {
                return Err(errors::InputError::new_err(why));
            }
            let array = input.cast::<PyArray1<f32>>()?.clone();
            return Ok(Opened::Samples(Box::new(ArraySource::new(array, None))).framer(spec));
        }
        let iterator = input.try_iter().map_err(|_| {
            errors::InputError::new_err(format!(
                "an input must be a path, a 1-D float32 ndarray or an iterable, not {}",
                input
                    .get_type()
                    .qualname()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let opened = match spec.input {
            InputKind::Samples => Opened::Samples(Box::new(ChunkSource::new(
                iterator.into_any(),
                None,
                self.raised.clone(),
            ))),
            InputKind::Lines => {
                let reader = LinesReader {
                    iterator: iterator.into_any().unbind(),
                    buffer: Vec::new(),
                    taken: 0,
                    raised: self.raised.clone(),
                };
                let source: LineSource =
                    sqrtspace::io::open_line_stream("the input iterable", reader)
                        .map_err(|e| errors::input_error(&e))?;
                Opened::Lines(source)
            }
        };
        Ok(opened.framer(spec))
    }

    /// The plan for `spec` over `framer`, with the probe's measurements (and auto's choice)
    /// when the input's length is known, as `sqrtspace run` plans.
    fn plan_for(&self, py: Python<'_>, spec: &Spec, framer: &mut Framer) -> PyResult<Plan> {
        let mut plan = Plan::with_host_ops(spec, framer.total_windows(), &self.host)
            .map_err(|e| errors::plan_error(py, &e))?;
        if plan.input_windows.is_some() {
            let probe = guarded(py, || sqrtspace::exec::probe(&plan, framer))?
                .map_err(|e| errors::exec_error(py, &e, &self.raised))?;
            plan.apply_probe(&probe);
        }
        Ok(plan)
    }

    /// Refuses an input shorter than one window, as the command line does.
    fn whole_window(&self, spec: &Spec, framer: &Framer) -> PyResult<()> {
        match short_input(framer, spec.window) {
            Some(message) => Err(errors::InputError::new_err(format!(
                "{} {message}",
                framer.describe()
            ))),
            None => Ok(()),
        }
    }

    /// What `run`, `iter_blocks` and `evaluate` start from: the spec with the call's
    /// overrides, the input framed for it (and remembered for `evaluate`), refused at once
    /// when its length is known and shorter than a window, and the plan for it.
    fn prepare(
        &self,
        py: Python<'_>,
        overrides: &Overrides,
        input: &Bound<'_, PyAny>,
        format: Option<&str>,
        channel: Option<usize>,
    ) -> PyResult<(Spec, Framer, Plan)> {
        let spec = self.spec_with(overrides)?;
        let mut framer = self.framer(py, &spec, input, format, channel)?;
        self.remember(input);
        if framer.total_samples().is_some() {
            self.whole_window(&spec, &framer)?;
        }
        let plan = self.plan_for(py, &spec, &mut framer)?;
        Ok((spec, framer, plan))
    }

    fn remember(&self, input: &Bound<'_, PyAny>) {
        *self.last_input.lock().unwrap_or_else(|p| p.into_inner()) = Some(input.clone().unbind());
    }

    fn input_or_last<'py>(
        &self,
        py: Python<'py>,
        input: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match input {
            Some(input) => Ok(input),
            None => self
                .last_input
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|i| i.bind(py).clone())
                .ok_or_else(|| {
                    errors::InputError::new_err(
                        "no input: pass input=... (a path or an array); later calls reuse it",
                    )
                }),
        }
    }

    fn add_stage(&mut self, stage: StageSpec) -> PyResult<()> {
        if stage.name == sqrtspace::spec::INPUT {
            return Err(pipeline_err(
                "`input` names the pipeline's input; give the stage another name",
            ));
        }
        if self.spec.stages.iter().any(|s| s.name == stage.name) {
            return Err(pipeline_err(format!(
                "the pipeline already has a stage named `{}`",
                stage.name
            )));
        }
        self.spec.stages.push(stage);
        Ok(())
    }

    /// Registers a Python stage or kernel under `name`, adding its stage unless the pipeline
    /// (from RON) already names it as `Host(name: ...)`.
    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        name: String,
        inputs: Option<Vec<String>>,
        object: Bound<'_, PyAny>,
        kind: Kind,
        output: Option<Declared>,
        context: usize,
        accepts: Accepts,
        checkpoint: bool,
        reverse: bool,
    ) -> PyResult<()> {
        let existing = self.spec.stages.iter().find(|s| s.name == name);
        match existing {
            Some(StageSpec {
                op: OpSpec::Host(host),
                inputs: declared,
                ..
            }) if host.name == name => {
                if let Some(inputs) = &inputs
                    && inputs != declared
                {
                    return Err(pipeline_err(format!(
                        "stage `{name}` reads {declared:?} in the pipeline, but {inputs:?} here"
                    )));
                }
            }
            Some(_) => {
                return Err(pipeline_err(format!(
                    "the pipeline already has a stage named `{name}`"
                )));
            }
            None => {
                let inputs = inputs.ok_or_else(|| {
                    pipeline_err(format!(
                        "stage `{name}` needs inputs=[...]: the stages it reads"
                    ))
                })?;
                self.add_stage(StageSpec {
                    name: name.clone(),
                    inputs,
                    op: OpSpec::Host(HostSpec { name: name.clone() }),
                    checkpoint,
                    reverse,
                })?;
            }
        }
        self.host.insert(
            name.clone(),
            Arc::new(PyHostOp {
                name,
                object: Arc::new(object.unbind()),
                kind,
                output,
                context,
                accepts,
                raised: self.raised.clone(),
            }),
        );
        Ok(())
    }
}

#[pymethods]
impl Pipeline {
    /// A pipeline built in Python: `window` and `hop` in samples (or lines, with
    /// `input="lines"`), then stages with `add`, `stage` and `kernel`.
    #[new]
    #[pyo3(signature = (window, hop, sample_rate = 0, *, input = "samples", mode = "auto", block = None,
        checkpoint_every = None, lru_bytes = None, workers = None, input_buffer_blocks = None, target = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        window: usize,
        hop: usize,
        sample_rate: u32,
        input: &str,
        mode: &str,
        block: Option<usize>,
        checkpoint_every: Option<usize>,
        lru_bytes: Option<Bound<'_, PyAny>>,
        workers: Option<usize>,
        input_buffer_blocks: Option<usize>,
        target: Option<String>,
    ) -> PyResult<Pipeline> {
        let input = match input {
            "samples" => "Samples",
            "lines" => "Lines",
            other => {
                return Err(pipeline_err(format!(
                    "input must be \"samples\" or \"lines\", not `{other}`"
                )));
            }
        };
        let text = format!(
            "Pipeline(input: {input}, window: {window}, hop: {hop}, sample_rate: {sample_rate}, stages: [])"
        );
        let mut spec =
            Spec::from_ron(&text, "<python>").map_err(|e| pipeline_err(e.to_string()))?;
        spec.source = None;
        spec.mode = parse_mode(mode)?;
        spec.block = block;
        spec.checkpoint_every = checkpoint_every;
        spec.lru_bytes = lru_bytes.map(|b| byte_size(&b, "lru_bytes")).transpose()?;
        spec.max_workers = workers;
        spec.input_buffer_blocks = input_buffer_blocks;
        spec.target = target;
        let cwd = std::env::current_dir().ok();
        spec.base_dir = cwd;
        Ok(Pipeline::from_spec(spec, "the pipeline".into()))
    }

    /// The pipeline in a RON file; its plugins are looked for next to it (then in
    /// `SQRTSPACE_PLUGIN_PATH`, the user's plugins directory, and those bundled).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Pipeline> {
        let spec = Spec::from_file(&path).map_err(|e| errors::spec_error(py, &e))?;
        Ok(Pipeline::from_spec(spec, path.display().to_string()))
    }

    /// The pipeline in RON text; relative plugin paths are looked for in `base_dir` (the
    /// current directory when not given).
    #[staticmethod]
    #[pyo3(signature = (text, base_dir = None, origin = "<string>"))]
    fn from_ron(
        py: Python<'_>,
        text: &str,
        base_dir: Option<PathBuf>,
        origin: &str,
    ) -> PyResult<Pipeline> {
        let spec = Spec::from_ron(text, origin).map_err(|e| errors::spec_error(py, &e))?;
        let dir = base_dir.or_else(|| std::env::current_dir().ok());
        let spec = match dir {
            Some(dir) => spec.with_base_dir(dir),
            None => spec,
        };
        Ok(Pipeline::from_spec(spec, origin.to_string()))
    }

    /// The pipeline as RON text (`Pipeline.from_ron` reads it back; Python stages appear as
    /// `Host(name: ...)`, to be registered again with `stage` or `kernel`).
    fn to_ron(&self) -> String {
        self.spec.to_ron()
    }

    /// The stages' names, in the order they were declared.
    #[getter]
    fn stages(&self) -> Vec<String> {
        self.spec.stages.iter().map(|s| s.name.clone()).collect()
    }

    /// Adds a native built-in (`op=sqrtspace.ops.WindowFft("hann")`, or its RON text) or a
    /// Wasm plugin (`plugin="features.wasm"`, with `params`, `deadline_ms`, `memory_limit`,
    /// `sha256`). `params` is RON text, or a dict written as a RON struct (numbers, strings,
    /// bools, None, lists, dicts, and `sqrtspace.ops` filters such as `ops.Lowpass(1.5)`).
    #[pyo3(signature = (name, inputs, op = None, *, plugin = None, params = None, deadline_ms = None,
        memory_limit = None, sha256 = None, checkpoint = false, reverse = false))]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: String,
        inputs: Vec<String>,
        op: Option<Bound<'_, PyAny>>,
        plugin: Option<PathBuf>,
        params: Option<Bound<'_, PyAny>>,
        deadline_ms: Option<u64>,
        memory_limit: Option<Bound<'_, PyAny>>,
        sha256: Option<String>,
        checkpoint: bool,
        reverse: bool,
    ) -> PyResult<()> {
        let py_origin = format!("the op of stage `{name}`");
        let op = match (op, plugin) {
            (Some(op), None) => {
                if params.is_some()
                    || deadline_ms.is_some()
                    || memory_limit.is_some()
                    || sha256.is_some()
                {
                    return Err(pipeline_err(
                        "params, deadline_ms, memory_limit and sha256 are for plugins",
                    ));
                }
                let text: String = match op.getattr("ron") {
                    Ok(ron) => ron.extract()?,
                    Err(_) => op.extract().map_err(|_| {
                        pipeline_err(
                            "op must be one of sqrtspace.ops (e.g. ops.Magnitude()) or RON text",
                        )
                    })?,
                };
                let op =
                    OpSpec::from_ron(&text, &py_origin).map_err(|e| pipeline_err(e.to_string()))?;
                if matches!(op, OpSpec::Host(_)) {
                    return Err(pipeline_err(
                        "register a Python stage with `stage` or `kernel`",
                    ));
                }
                op
            }
            (None, Some(path)) => {
                let params = params
                    .map(|p| -> PyResult<Box<ron::value::RawValue>> {
                        // RON text as it is, or a dict written as RON.
                        let text = match p.cast::<PyString>() {
                            Ok(text) => text.to_cow()?.into_owned(),
                            Err(_) => to_ron(&p)?,
                        };
                        ron::value::RawValue::from_boxed_ron(text.into_boxed_str())
                            .map_err(|e| pipeline_err(format!("params of stage `{name}`: {e}")))
                    })
                    .transpose()?;
                OpSpec::Plugin(PluginSpec {
                    path: Some(path),
                    oci: None,
                    params,
                    deadline_ms,
                    memory_limit: memory_limit
                        .map(|m| byte_size(&m, "memory_limit"))
                        .transpose()?,
                    max_state: None,
                    sha256,
                })
            }
            _ => {
                return Err(pipeline_err(format!(
                    "stage `{name}`: give op=... or plugin=..., one of them"
                )));
            }
        };
        self.add_stage(StageSpec {
            name,
            inputs,
            op,
            checkpoint,
            reverse,
        })
    }

    /// Registers a Python function over blocks as stage `name`: called once per block with one
    /// ndarray per input (rows = windows, `context` earlier rows first), it returns the block's
    /// rows as declared by `output=(dtype, row_shape)`. Keywords it names among `freqs` (the
    /// first input's bin frequencies), `t0`, `context`, `sample_rate`, `hop`, `window` are
    /// passed. Used as a decorator: `@pipe.stage("centroid", inputs=["mag"])`.
    #[pyo3(signature = (name, inputs = None, output = None, *, context = 0, freq_axis = None, checkpoint = false))]
    #[allow(clippy::too_many_arguments)]
    fn stage(
        slf: Bound<'_, Pipeline>,
        name: String,
        inputs: Option<Vec<String>>,
        output: Option<Bound<'_, PyAny>>,
        context: usize,
        freq_axis: Option<Bound<'_, PyAny>>,
        checkpoint: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let output = match output {
            Some(o) => declared(&o, freq_axis.as_ref())?,
            None => declared(
                &PyTuple::new(
                    py,
                    [
                        PyString::new(py, "f32").into_any(),
                        PyList::new(py, [1usize])?.into_any(),
                    ],
                )?
                .into_any(),
                freq_axis.as_ref(),
            )?,
        };
        let pipeline = slf.unbind();
        let decorator = pyo3::types::PyCFunction::new_closure(
            py,
            None,
            None,
            move |args: &Bound<'_, PyTuple>,
                  _kwargs: Option<&Bound<'_, PyDict>>|
                  -> PyResult<Py<PyAny>> {
                let py = args.py();
                let function = args.get_item(0)?;
                if !function.is_callable() {
                    return Err(pipeline_err("@stage decorates a function"));
                }
                let accepts = accepts(&function)?;
                pipeline.bind(py).borrow_mut().register(
                    name.clone(),
                    inputs.clone(),
                    function.clone(),
                    Kind::Stage,
                    Some(output.clone()),
                    context,
                    accepts,
                    checkpoint,
                    false,
                )?;
                Ok(function.unbind())
            },
        )?;
        Ok(decorator.into_any().unbind())
    }

    /// Registers a `sqrtspace.Kernel` as stage `name`: `init_state(shape, dtype, **kw)` makes
    /// its state at window 0 and `step(*inputs, state, **kw)` returns `(rows, state)`; the
    /// state is checkpointed as `pickle` bytes. Rows are like the first input's unless
    /// `output=(dtype, row_shape)` says otherwise.
    #[pyo3(signature = (name, kernel, inputs = None, *, output = None, freq_axis = None, checkpoint = false, reverse = false))]
    #[allow(clippy::too_many_arguments)]
    fn kernel(
        &mut self,
        name: String,
        kernel: Bound<'_, PyAny>,
        inputs: Option<Vec<String>>,
        output: Option<Bound<'_, PyAny>>,
        freq_axis: Option<Bound<'_, PyAny>>,
        checkpoint: bool,
        reverse: bool,
    ) -> PyResult<()> {
        for method in ["init_state", "step"] {
            if !kernel.getattr(method).is_ok_and(|m| m.is_callable()) {
                return Err(pipeline_err(format!(
                    "kernel `{name}` has no {method} method (subclass sqrtspace.Kernel)"
                )));
            }
        }
        let output = output
            .map(|o| declared(&o, freq_axis.as_ref()))
            .transpose()?;
        let mut accepted = accepts(&kernel.getattr("step")?)?;
        let init = accepts(&kernel.getattr("init_state")?)?;
        // Keywords go to both methods: only those both take.
        if !init.all {
            accepted.names.retain(|n| init.names.contains(n));
            if accepted.all {
                accepted.all = false;
                accepted.names = init.names;
            }
        }
        self.register(
            name,
            inputs,
            kernel,
            Kind::Kernel,
            output,
            0,
            accepted,
            checkpoint,
            reverse,
        )
    }

    /// Runs the pipeline over `input` (a path: WAV, FLAC, raw f32, .npy, text lines; a 1-D
    /// float32 ndarray; or an iterable of chunks) and returns the target's rows: an ndarray of
    /// shape `(windows, *row_shape)`, or a list of `str` for text. `range=(t0, t1)` picks
    /// windows; `target`, `mode`, `block`, `workers` override the pipeline's.
    ///
    /// With `output="features.npy"` (or `.csv`, `.jsonl`, `.parquet`) the rows go to that file
    /// block by block instead, in bounded memory however long the input; the file appears,
    /// complete, only when the run succeeds, and `run` returns the number of rows written.
    #[pyo3(signature = (input, *, target = None, mode = None, block = None, workers = None, range = None,
        format = None, channel = None, output = None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        input: Bound<'_, PyAny>,
        target: Option<String>,
        mode: Option<String>,
        block: Option<usize>,
        workers: Option<usize>,
        range: Option<(u64, Option<u64>)>,
        format: Option<&str>,
        channel: Option<usize>,
        output: Option<PathBuf>,
    ) -> PyResult<Py<PyAny>> {
        let overrides = Overrides {
            target,
            mode,
            block,
            workers,
        };
        let (spec, mut framer, plan) = self.prepare(py, &overrides, &input, format, channel)?;
        let range = range.map_or(WindowRange::all(), |(start, end)| WindowRange {
            start,
            end,
        });
        let layout = plan.target_node().port.layout.clone();
        let raised = &self.raised;
        let failed = |e: sqrtspace::ExecError| errors::exec_error(py, &e, raised);
        let Some(path) = output else {
            let mut sink = MemorySink::new(&layout);
            let stats = guarded(py, || sqrtspace::run(&plan, &mut framer, range, &mut sink))?
                .map_err(failed)?;
            self.whole_window(&spec, &framer)?;
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Last { plan, stats });
            return tensor_to_py(py, sink.tensor);
        };
        let format = OutputFormat::from_path(&path).ok_or_else(|| {
            errors::OutputError::new_err(format!(
                "{}: the output's format is told from its extension: .npy, .csv, .jsonl or .parquet",
                path.display()
            ))
        })?;
        let mut sink = FileSink::create(&path, format, &layout)
            .map_err(|e| errors::OutputError::new_err(e.to_string()))?;
        let stats = guarded(py, || sqrtspace::run(&plan, &mut framer, range, &mut sink))?
            .map_err(failed)?;
        // A run that fails (or an input shorter than a window) leaves no file behind: the sink
        // is dropped unfinished, and its temporary file with it.
        self.whole_window(&spec, &framer)?;
        let rows = sink
            .finish()
            .map_err(|e| errors::OutputError::new_err(e.to_string()))?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Last { plan, stats });
        Ok(rows.into_pyobject(py)?.into_any().unbind())
    }

    /// The target's rows block by block, in order, as the engine computes them (bounded memory
    /// however long the input): an iterator of ndarrays (or lists of `str`).
    #[pyo3(signature = (input, *, target = None, mode = None, block = None, workers = None, format = None, channel = None))]
    #[allow(clippy::too_many_arguments)]
    fn iter_blocks(
        &self,
        py: Python<'_>,
        input: Bound<'_, PyAny>,
        target: Option<String>,
        mode: Option<String>,
        block: Option<usize>,
        workers: Option<usize>,
        format: Option<&str>,
        channel: Option<usize>,
    ) -> PyResult<crate::blocks::Blocks> {
        let overrides = Overrides {
            target,
            mode,
            block,
            workers,
        };
        let (spec, framer, plan) = self.prepare(py, &overrides, &input, format, channel)?;
        Ok(crate::blocks::Blocks::start(
            plan,
            framer,
            spec.window,
            self.raised.clone(),
        ))
    }

    /// The target's rows for windows `t_range=(t0, t1)` (all when not given) by random access:
    /// sqrt mode over just the blocks needed, from the nearest checkpoint. `input` defaults to
    /// the last one given to this pipeline.
    #[pyo3(signature = (target = None, t_range = None, *, input = None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        target: Option<String>,
        t_range: Option<(u64, u64)>,
        input: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let input = self.input_or_last(py, input)?;
        let overrides = Overrides {
            target,
            ..Overrides::default()
        };
        let (spec, framer, mut plan) = self.prepare(py, &overrides, &input, None, None)?;
        // Random access reads the input again: it must hold a window whatever its kind.
        self.whole_window(&spec, &framer)?;
        plan.mode = Mode::Sqrt;
        let range = t_range.map_or(WindowRange::all(), |(t0, t1)| WindowRange::new(t0, t1));
        let raised = &self.raised;
        let result = guarded(
            py,
            || -> Result<(Tensor, RunStats), sqrtspace::ExecError> {
                let mut evaluator = Evaluator::new(&plan, framer)?;
                let rows = evaluator.evaluate(range)?;
                Ok((rows, evaluator.totals()))
            },
        )?;
        let (rows, stats) = result.map_err(|e| errors::exec_error(py, &e, raised))?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Last { plan, stats });
        tensor_to_py(py, rows)
    }

    /// A push/pull session at the start of a stream: `push_samples(chunk) -> bool` (False when
    /// the buffer is full: nothing was taken), `pull_until(t) -> ndarray`.
    #[pyo3(signature = (*, target = None, workers = None))]
    fn session(
        &self,
        py: Python<'_>,
        target: Option<String>,
        workers: Option<usize>,
    ) -> PyResult<crate::session::PySession> {
        let mut spec = self.spec_with(&Overrides {
            target,
            workers,
            ..Overrides::default()
        })?;
        if spec.mode == Mode::Classic {
            spec.mode = Mode::Sqrt;
        }
        let plan =
            Plan::with_host_ops(&spec, None, &self.host).map_err(|e| errors::plan_error(py, &e))?;
        crate::session::PySession::new(py, plan, self.raised.clone())
    }

    /// The plan as a dict: `mode`, `block`, `checkpoint_every` (k), `checkpoint_slots`,
    /// `lru_bytes`, `workers`, `input_buffer_blocks`, `target`, `stages`, and `decisions`
    /// (each setting with its value and why). With an `input`, planned for it (and probed,
    /// as a run would be).
    #[pyo3(signature = (input = None, *, target = None, mode = None, block = None, workers = None))]
    fn plan(
        &self,
        py: Python<'_>,
        input: Option<Bound<'_, PyAny>>,
        target: Option<String>,
        mode: Option<String>,
        block: Option<usize>,
        workers: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        let spec = self.spec_with(&Overrides {
            target,
            mode,
            block,
            workers,
        })?;
        let plan = match input {
            Some(input) => {
                let mut framer = self.framer(py, &spec, &input, None, None)?;
                self.plan_for(py, &spec, &mut framer)?
            }
            None => Plan::with_host_ops(&spec, None, &self.host)
                .map_err(|e| errors::plan_error(py, &e))?,
        };
        plan_dict(py, &plan)
    }

    /// The last run's report: what ran, per stage time, calls and output, as a table.
    fn report(&self) -> PyResult<String> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let last = last
            .as_ref()
            .ok_or_else(|| errors::Error::new_err("nothing has run yet"))?;
        Ok(crate::report::report(&last.plan, &last.stats))
    }

    /// The last run's counters as a dict (the command line's `--metrics-json`): per stage
    /// calls, windows, time and bytes out; cache and checkpoint counters; the process's peak
    /// resident memory.
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let last = last
            .as_ref()
            .ok_or_else(|| errors::Error::new_err("nothing has run yet"))?;
        let dict = json_to_py(py, &last.stats)?;
        let dict = dict.bind(py);
        dict.set_item("peak_rss_bytes", sqrtspace::metrics::peak_rss())?;
        Ok(dict.clone().unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "Pipeline({}, window={}, hop={}, stages={:?})",
            self.origin,
            self.spec.window,
            self.spec.hop,
            self.stages()
        )
    }
}

/// A serializable value as Python (dicts, lists, numbers) through JSON.
fn json_to_py<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| errors::Error::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// A plan as a dict.
pub fn plan_dict(py: Python<'_>, plan: &Plan) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("mode", plan.mode.to_string())?;
    d.set_item("block", plan.block)?;
    d.set_item("checkpoint_every", plan.checkpoint_every)?;
    d.set_item("checkpoint_slots", plan.checkpoint_slots)?;
    d.set_item("lru_bytes", plan.lru_bytes)?;
    d.set_item("workers", plan.max_workers)?;
    d.set_item("input_buffer_blocks", plan.input_buffer_blocks)?;
    d.set_item("input_windows", plan.input_windows)?;
    d.set_item("target", plan.target_node().name.clone())?;
    let why = plan
        .decisions
        .iter()
        .find(|x| x.setting == "mode")
        .map(|x| x.reason.clone());
    d.set_item("why", why)?;
    d.set_item("decisions", json_to_py(py, &plan.decisions)?)?;
    let stages = PyList::empty(py);
    for node in plan.nodes().iter().skip(1).filter(|n| n.needed) {
        let s = PyDict::new(py);
        s.set_item("name", node.name.clone())?;
        s.set_item("op", node.op_name)?;
        s.set_item(
            "inputs",
            node.inputs
                .iter()
                .map(|&i| plan.nodes()[i].name.clone())
                .collect::<Vec<_>>(),
        )?;
        s.set_item("dtype", node.port.layout.dtype.name())?;
        s.set_item("row_shape", node.port.layout.row_shape.clone())?;
        s.set_item("kernel", node.kernel)?;
        s.set_item("context", node.context)?;
        stages.append(s)?;
    }
    d.set_item("stages", stages)?;
    d.set_item("text", plan.to_string())?;
    Ok(d.into_any().unbind())
}

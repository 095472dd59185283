//! Python functions and `Kernel` objects as the engine's host operators: called once per
//! block (rows = windows) with numpy arrays, under the GIL, by whichever executor or worker
//! runs the stage; their output checked against what they declared and copied into the
//! engine's block.
//!
//! A kernel's state is any picklable object (the original specification's dict of arrays);
//! the engine checkpoints it as the bytes of `pickle.dumps`, which round-trip numpy arrays
//! bit for bit, dtype and all. Those bytes never leave the process, so nothing untrusted is
//! ever unpickled.

use std::sync::Arc;

use numpy::{
    Complex32, Element as NpElement, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use sqrtspace::extend::{
    BuildContext, BuildError, FreqAxis, HostOp, Instance, Kernel, Operator, Port, Pure, StageCall,
    StageError,
};
use sqrtspace::tensor::{Element, Layout};
use sqrtspace::{DType, Tensor, TensorView};

use crate::errors::Raised;

/// The keyword arguments a stage may take, each passed only when its function names it (or
/// takes `**kwargs`).
pub const KEYWORDS: [&str; 6] = ["freqs", "t0", "context", "sample_rate", "hop", "window"];

/// Which of [`KEYWORDS`] a function takes.
#[derive(Clone, Debug, Default)]
pub struct Accepts {
    /// It takes `**kwargs`: every one.
    pub all: bool,
    /// The ones it names.
    pub names: Vec<String>,
}

impl Accepts {
    fn takes(&self, name: &str) -> bool {
        self.all || self.names.iter().any(|n| n == name)
    }
}

/// What a stage declares it outputs.
#[derive(Clone, Debug)]
pub struct Declared {
    /// Element type.
    pub dtype: DType,
    /// Shape of one row.
    pub row_shape: Vec<usize>,
    /// What the row's last axis means.
    pub freq_axis: FreqDecl,
}

/// A declared output's frequency axis.
#[derive(Clone, Copy, Debug)]
pub enum FreqDecl {
    /// Rows are not spectra.
    None,
    /// The first input's axis (a stage that keeps the bins it reads).
    FromInput,
    /// This one.
    Given(FreqAxis),
}

/// Whether the Python object is a function of blocks or a `Kernel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `f(*inputs, **kw) -> rows`.
    Stage,
    /// `init_state(shape, dtype, **kw)`, `step(*inputs, state, **kw) -> (rows, state)`.
    Kernel,
}

/// A Python stage or kernel, as registered: built against its inputs once per plan.
#[derive(Debug)]
pub struct PyHostOp {
    /// The stage's name.
    pub name: String,
    /// The function, or the `Kernel` object.
    pub object: Arc<Py<PyAny>>,
    /// Which it is.
    pub kind: Kind,
    /// Its output; a kernel without one outputs rows like its first input's.
    pub output: Option<Declared>,
    /// Earlier input rows each output row needs (stages only).
    pub context: usize,
    /// The keyword arguments it takes.
    pub accepts: Accepts,
    /// Where its exceptions wait for the run to end.
    pub raised: Raised,
}

/// What every instance of one built stage shares.
#[derive(Debug)]
struct Shared {
    name: String,
    object: Arc<Py<PyAny>>,
    port: Port,
    accepts: Accepts,
    /// `freqs`, `sample_rate`, `hop`, `window`, as the stage takes them.
    fixed: Py<PyDict>,
    /// The first input's layout (a kernel's `init_state` gets its shape and dtype).
    first_input: Layout,
    raised: Raised,
}

#[derive(Debug)]
struct PyOperator {
    kind: Kind,
    context: usize,
    shared: Arc<Shared>,
}

/// The numpy dtype name of an engine element type.
pub fn numpy_name(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::C32 => "complex64",
        DType::I32 => "int32",
        DType::U8 => "uint8",
        DType::Text => return None,
    })
}

impl HostOp for PyHostOp {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
        ctx.expect_some_inputs()?;
        for (index, port) in ctx.inputs.iter().enumerate() {
            if port.layout.dtype == DType::Text {
                return Err(BuildError::Input {
                    index,
                    message: "a Python stage reads numeric rows, and this input is text (parse \
                              it with a native or plugin stage first)"
                        .into(),
                });
            }
        }
        let first = &ctx.inputs[0];
        let port = match &self.output {
            None => first.clone(),
            Some(declared) => {
                if declared.dtype == DType::Text {
                    return Err(BuildError::Param(
                        "a Python stage outputs numeric rows (f32, f64, c32, i32 or u8)".into(),
                    ));
                }
                let freq_axis = match declared.freq_axis {
                    FreqDecl::None => None,
                    FreqDecl::Given(axis) => Some(axis),
                    FreqDecl::FromInput => match first.freq_axis {
                        Some(axis) => Some(axis),
                        None => {
                            return Err(BuildError::Input {
                                index: 0,
                                message: "freq_axis=\"input\" takes the first input's frequency \
                                          axis, but its rows are not spectra"
                                    .into(),
                            });
                        }
                    },
                };
                Port {
                    layout: Layout::new(declared.dtype, declared.row_shape.clone()),
                    freq_axis,
                }
            }
        };
        if self.kind == Kind::Kernel && self.context > 0 {
            return Err(BuildError::Param(
                "a kernel cannot also declare context rows".into(),
            ));
        }
        let fixed = Python::attach(|py| -> PyResult<Py<PyDict>> {
            let kw = PyDict::new(py);
            if self.accepts.takes("freqs")
                && let Some(axis) = first.freq_axis
            {
                let bins = first.layout.row_shape.last().copied().unwrap_or(1);
                let freqs: Vec<f64> = (0..bins).map(|i| axis.hz(i)).collect();
                kw.set_item("freqs", PyArray1::from_vec(py, freqs))?;
            }
            if self.accepts.takes("sample_rate") {
                kw.set_item("sample_rate", ctx.sample_rate)?;
            }
            if self.accepts.takes("hop") {
                kw.set_item("hop", ctx.hop)?;
            }
            if self.accepts.takes("window") {
                kw.set_item("window", ctx.window)?;
            }
            Ok(kw.unbind())
        })
        .map_err(|e| BuildError::Param(e.to_string()))?;
        Ok(Arc::new(PyOperator {
            kind: self.kind,
            context: self.context,
            shared: Arc::new(Shared {
                name: self.name.clone(),
                object: self.object.clone(),
                port,
                accepts: self.accepts.clone(),
                fixed,
                first_input: first.layout.clone(),
                raised: self.raised.clone(),
            }),
        }))
    }
}

impl Operator for PyOperator {
    fn output(&self) -> &Port {
        &self.shared.port
    }

    fn context(&self) -> usize {
        self.context
    }

    fn is_kernel(&self) -> bool {
        self.kind == Kind::Kernel
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(match self.kind {
            Kind::Stage => Instance::Pure(Box::new(PyPure {
                shared: self.shared.clone(),
            })),
            Kind::Kernel => Instance::Kernel(Box::new(PyKernel {
                shared: self.shared.clone(),
                state: None,
            })),
        })
    }
}

impl Shared {
    /// The keyword arguments for one call.
    fn kwargs<'py>(&self, py: Python<'py>, call: &StageCall<'_>) -> PyResult<Bound<'py, PyDict>> {
        let kw = self.fixed.bind(py).copy()?;
        if self.accepts.takes("t0") {
            kw.set_item("t0", call.t0)?;
        }
        if self.accepts.takes("context") {
            kw.set_item("context", call.context_rows)?;
        }
        Ok(kw)
    }

    /// The inputs of a call as numpy arrays of shape `(rows, *row_shape)`.
    fn arrays<'py>(
        &self,
        py: Python<'py>,
        call: &StageCall<'_>,
    ) -> Result<Vec<Bound<'py, PyAny>>, StageError> {
        call.inputs.iter().map(|view| to_numpy(py, view)).collect()
    }

    /// A Python exception from the stage: kept for the run's error to chain, and said.
    fn raised(&self, py: Python<'_>, err: PyErr, what: &str) -> StageError {
        let message = format!("{what} raised {}", describe(py, &err));
        self.raised.keep(err);
        StageError::Failed(message)
    }
}

/// `ValueError: message`, the way Python's last traceback line says it.
fn describe(py: Python<'_>, err: &PyErr) -> String {
    let name = err
        .get_type(py)
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "exception".into());
    match err.value(py).str() {
        Ok(text) if !text.to_string().is_empty() => format!("{name}: {text}"),
        _ => name,
    }
}

/// A block's rows as a fresh numpy array.
pub fn to_numpy<'py>(
    py: Python<'py>,
    view: &TensorView<'_>,
) -> Result<Bound<'py, PyAny>, StageError> {
    fn rows<'py, T: Element + NpElement>(
        py: Python<'py>,
        view: &TensorView<'_>,
    ) -> Result<Bound<'py, PyAny>, StageError> {
        let typed = view.typed::<T>()?;
        let mut values = Vec::with_capacity(typed.len() * typed.row_len());
        for row in typed.iter() {
            values.extend_from_slice(row);
        }
        let shape: Vec<usize> = std::iter::once(view.rows())
            .chain(view.row_shape().iter().copied())
            .collect();
        PyArray1::from_vec(py, values)
            .reshape(shape)
            .map(Bound::into_any)
            .map_err(|e| StageError::Failed(e.to_string()))
    }
    match view.dtype() {
        DType::F32 => rows::<f32>(py, view),
        DType::F64 => rows::<f64>(py, view),
        DType::C32 => rows::<Complex32>(py, view),
        DType::I32 => rows::<i32>(py, view),
        DType::U8 => rows::<u8>(py, view),
        DType::Text => Err(StageError::Failed(
            "a Python stage reads numeric rows, not text".into(),
        )),
    }
}

/// Copies what a stage returned into `out`, after checking it is an ndarray of the declared
/// dtype and of shape `(rows, *row_shape)`.
fn write_output(
    value: &Bound<'_, PyAny>,
    port: &Port,
    rows: usize,
    out: &mut Tensor,
) -> Result<(), StageError> {
    fn copy<T: Element + NpElement>(
        value: &Bound<'_, PyAny>,
        rows: usize,
        row_shape: &[usize],
        out: &mut Tensor,
    ) -> Result<(), StageError> {
        let array = value
            .cast::<PyArrayDyn<T>>()
            .map_err(|_| StageError::Failed("internal: dtype checked but not castable".into()))?;
        let readonly = array.readonly();
        let target = out.reset::<T>(rows, row_shape);
        match readonly.as_slice() {
            Ok(values) => target.clone_from_slice(values),
            Err(_) => {
                for (slot, value) in target.iter_mut().zip(readonly.as_array().iter()) {
                    *slot = value.clone();
                }
            }
        }
        Ok(())
    }
    let layout = &port.layout;
    let expected: Vec<usize> = std::iter::once(rows)
        .chain(layout.row_shape.iter().copied())
        .collect();
    let declared = format!(
        "an ndarray of {} with shape {}",
        numpy_name(layout.dtype).unwrap_or("text"),
        shape_text(&expected)
    );
    let Ok(array) = value.cast::<numpy::PyUntypedArray>() else {
        let type_name = value
            .get_type()
            .qualname()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "an object".into());
        return Err(StageError::Failed(format!(
            "returned {type_name}, but it must return {declared}"
        )));
    };
    let found_dtype = array.dtype().to_string();
    let found_shape = array.shape().to_vec();
    let dtype_ok = numpy_name(layout.dtype) == Some(found_dtype.as_str());
    if !dtype_ok || found_shape != expected {
        let hint = if dtype_ok {
            String::new()
        } else {
            format!(
                " (cast with .astype(np.{}), or declare output=(\"{found_dtype}\", ...))",
                numpy_name(layout.dtype).unwrap_or("float32")
            )
        };
        return Err(StageError::Failed(format!(
            "returned an ndarray of {found_dtype} with shape {}, but it declares {declared}{hint}",
            shape_text(&found_shape)
        )));
    }
    let shape = &layout.row_shape;
    match layout.dtype {
        DType::F32 => copy::<f32>(value, rows, shape, out),
        DType::F64 => copy::<f64>(value, rows, shape, out),
        DType::C32 => copy::<Complex32>(value, rows, shape, out),
        DType::I32 => copy::<i32>(value, rows, shape, out),
        DType::U8 => copy::<u8>(value, rows, shape, out),
        DType::Text => Err(StageError::Failed(
            "a Python stage cannot output text".into(),
        )),
    }
}

/// `(3, 4)` as Python writes a shape.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One instance of a Python stage.
struct PyPure {
    shared: Arc<Shared>,
}

impl Pure for PyPure {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let shared = &self.shared;
        Python::attach(|py| {
            let args = PyTuple::new(py, shared.arrays(py, call)?)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            let kw = shared
                .kwargs(py, call)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            let value =
                shared.object.bind(py).call(args, Some(&kw)).map_err(|e| {
                    shared.raised(py, e, &format!("Python stage `{}`", shared.name))
                })?;
            write_output(&value, &shared.port, call.rows, out)
        })
    }
}

/// One instance of a Python kernel, with its current state.
struct PyKernel {
    shared: Arc<Shared>,
    state: Option<Py<PyAny>>,
}

impl Kernel for PyKernel {
    fn reset(&mut self) -> Result<(), StageError> {
        let shared = &self.shared;
        let state = Python::attach(|py| {
            let mut shape = vec![0usize];
            shape.extend(&shared.first_input.row_shape);
            let dtype = numpy_name(shared.first_input.dtype).unwrap_or("float32");
            let kw = shared.fixed.bind(py);
            shared
                .object
                .bind(py)
                .call_method(
                    "init_state",
                    (
                        PyTuple::new(py, shape).map_err(|e| StageError::Failed(e.to_string()))?,
                        dtype,
                    ),
                    Some(kw),
                )
                .map(Bound::unbind)
                .map_err(|e| shared.raised(py, e, &format!("`{}`.init_state", shared.name)))
        })?;
        self.state = Some(state);
        Ok(())
    }

    fn step(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let shared = &self.shared;
        let state = Python::attach(|py| {
            let mut args = shared.arrays(py, call)?;
            args.push(match &self.state {
                Some(state) => state.bind(py).clone(),
                None => py.None().into_bound(py),
            });
            let args = PyTuple::new(py, args).map_err(|e| StageError::Failed(e.to_string()))?;
            let kw = shared
                .kwargs(py, call)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            let what = format!("`{}`.step", shared.name);
            let value = shared
                .object
                .bind(py)
                .call_method("step", args, Some(&kw))
                .map_err(|e| shared.raised(py, e, &what))?;
            let pair = value
                .cast::<PyTuple>()
                .ok()
                .filter(|t| t.len() == 2)
                .ok_or_else(|| {
                    StageError::Failed(format!("{what} must return a pair (rows, state)"))
                })?;
            let rows = pair
                .get_item(0)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            write_output(&rows, &shared.port, call.rows, out)?;
            let state = pair
                .get_item(1)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            Ok::<_, StageError>(state.unbind())
        })?;
        self.state = Some(state);
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        Python::attach(|py| {
            let pickled = py.import("pickle").and_then(|pickle| {
                pickle.call_method1("dumps", (self.state.as_ref().map(|s| s.bind(py).clone()),))
            });
            match pickled.and_then(|b| Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())) {
                Ok(bytes) => bytes,
                Err(e) => {
                    // An empty blob is never a pickle: restoring it fails, naming the stage, and
                    // the run's error chains this exception.
                    self.shared.raised.keep(e);
                    Vec::new()
                }
            }
        })
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), StageError> {
        let shared = &self.shared;
        let restored = Python::attach(|py| {
            if state.is_empty() {
                return Err(StageError::State(format!(
                    "the state of `{}` could not be pickled (see the exception this one chains)",
                    shared.name
                )));
            }
            py.import("pickle")
                .and_then(|pickle| pickle.call_method1("loads", (PyBytes::new(py, state),)))
                .map(Bound::unbind)
                .map_err(|e| {
                    shared.raised(py, e, &format!("unpickling the state of `{}`", shared.name))
                })
        })?;
        self.state = Some(restored);
        Ok(())
    }
}

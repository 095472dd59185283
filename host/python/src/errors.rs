//! The engine's errors as Python exceptions: a small hierarchy under `sqrtspace.Error`, each
//! message the one the command line prints, and a Python stage's own exception chained as the
//! cause of the error that names the stage and the windows.

use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{PyErr, create_exception};
use sqrtspace::exec::ExecError;
use sqrtspace::io::InputError as EngineInputError;
use sqrtspace::{PlanError, SpecError};

create_exception!(
    sqrtspace,
    Error,
    PyException,
    "Every error sqrtspace raises (a Rust panic never reaches Python)."
);
create_exception!(
    sqrtspace,
    PipelineError,
    Error,
    "The pipeline is wrong: RON syntax (with `.line` and `.column`), an unknown stage or \
     operator, a cycle, parameters out of range, inputs a stage cannot read."
);
create_exception!(
    sqrtspace,
    PluginError,
    Error,
    "A Wasm plugin could not be loaded or configured, or trapped, ran past its deadline or \
     memory cap, or returned something malformed."
);
create_exception!(
    sqrtspace,
    InputError,
    Error,
    "The input cannot be read, or is not what the pipeline reads (format, sample rate, \
     dtype, length)."
);
create_exception!(
    sqrtspace,
    StageError,
    Error,
    "A stage failed on a block of windows, or returned rows other than it declared; the \
     message names the stage and the windows, and a Python stage's own exception is the \
     `__cause__`."
);
create_exception!(
    sqrtspace,
    OutputError,
    Error,
    "The output could not be written."
);

/// Where a Python stage's exception waits for the run to end, so that the error raised for the
/// run can chain it. The first one is kept (a later one is a consequence, or another worker's).
#[derive(Clone, Debug, Default)]
pub struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    /// Keeps `err` unless one is kept already.
    pub fn keep(&self, err: PyErr) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
    }

    /// The kept exception, taken.
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A `PipelineError` for a RON mistake, with `.line` and `.column` set (1-based) when the
/// parser placed it.
pub fn spec_error(py: Python<'_>, e: &SpecError) -> PyErr {
    let err = PipelineError::new_err(e.to_string());
    let (line, column) = match e {
        SpecError::Syntax { line, col, .. } => (Some(*line), Some(*col)),
        _ => (None, None),
    };
    let value = err.value(py);
    // Setting an attribute on a fresh exception instance cannot fail.
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    err
}

/// A plan that cannot be made: the plugin's doing, or the pipeline's.
pub fn plan_error(py: Python<'_>, e: &PlanError) -> PyErr {
    match e {
        PlanError::Stage {
            source: sqrtspace::extend::BuildError::Plugin(_),
            ..
        } => PluginError::new_err(e.to_string()),
        _ => {
            let err = PipelineError::new_err(e.to_string());
            let value = err.value(py);
            let _ = value.setattr("line", py.None());
            let _ = value.setattr("column", py.None());
            err
        }
    }
}

/// The exception for a failed run, with a Python stage's exception (kept in `raised`)
/// chained as its cause.
pub fn exec_error(py: Python<'_>, e: &ExecError, raised: &Raised) -> PyErr {
    let err = match e {
        ExecError::Stage {
            source: sqrtspace::extend::StageError::Plugin(_),
            ..
        } => PluginError::new_err(e.to_string()),
        ExecError::Stage { .. } | ExecError::BadOutput { .. } => StageError::new_err(e.to_string()),
        ExecError::Input(_) => InputError::new_err(e.to_string()),
        ExecError::Output(_) | ExecError::Scratch { .. } => OutputError::new_err(e.to_string()),
        ExecError::Stopped => pyo3::exceptions::PyKeyboardInterrupt::new_err(e.to_string()),
        _ => Error::new_err(e.to_string()),
    };
    if let Some(cause) = raised.take() {
        err.set_cause(py, Some(cause));
    }
    err
}

/// An input that cannot be opened or read.
pub fn input_error(e: &EngineInputError) -> PyErr {
    InputError::new_err(e.to_string())
}

/// Registers the exception classes in the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("PipelineError", py.get_type::<PipelineError>())?;
    m.add("PluginError", py.get_type::<PluginError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("StageError", py.get_type::<StageError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    Ok(())
}

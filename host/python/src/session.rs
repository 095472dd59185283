//! `Pipeline.session()`: push/pull streaming from Python. The engine's session borrows its
//! plan, so the Python object owns both, the plan first (a self-referential cell).

use std::sync::Mutex;

use numpy::{PyArray1, PyArrayMethods, PyUntypedArray};
use pyo3::prelude::*;
use sqrtspace::{Plan, Session};

use crate::errors::{self, Raised};

self_cell::self_cell!(
    struct Cell {
        owner: Plan,
        #[not_covariant]
        dependent: Session,
    }
);

/// A stream fed by `push_samples` and drained by `pull_until`; any chunking of a stream gives
/// the bits of one push of all of it.
#[pyclass(module = "sqrtspace._sqrtspace", name = "Session")]
pub struct PySession {
    cell: Mutex<Cell>,
    raised: Raised,
}

impl std::fmt::Debug for PySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl PySession {
    /// A session for `plan`, at the start of the stream.
    pub fn new(py: Python<'_>, plan: Plan, raised: Raised) -> PyResult<PySession> {
        let cell = Cell::try_new(plan, |plan| Session::new(plan))
            .map_err(|e| errors::exec_error(py, &e, &raised))?;
        Ok(PySession {
            cell: Mutex::new(cell),
            raised,
        })
    }
}

#[pymethods]
impl PySession {
    /// Appends `chunk` (1-D float32) to the input buffer; returns False, taking nothing, when
    /// it does not fit (pull first).
    fn push_samples(&self, chunk: Bound<'_, PyAny>) -> PyResult<bool> {
        let array = chunk
            .cast::<PyUntypedArray>()
            .map_err(|_| errors::InputError::new_err("push_samples takes a 1-D float32 ndarray"))?;
        if let Some(why) = crate::source::refuse_array(array) {
            return Err(errors::InputError::new_err(why));
        }
        let array = chunk.cast::<PyArray1<f32>>()?.readonly();
        let samples = array.to_vec().unwrap_or_else(|_| array.as_array().to_vec());
        let mut cell = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        Ok(cell.with_dependent_mut(|_, session| session.push_samples(&samples)))
    }

    /// The target's rows from the last one pulled up to window `t` (exclusive), as far as the
    /// buffered samples make whole windows.
    #[pyo3(signature = (t = u64::MAX))]
    fn pull_until(&self, py: Python<'_>, t: u64) -> PyResult<Py<PyAny>> {
        let mut guard = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        let cell: &mut Cell = &mut guard;
        let rows = crate::engine::guarded(py, || {
            cell.with_dependent_mut(|_, session| session.pull_until(t))
        })?;
        let rows = rows.map_err(|e| errors::exec_error(py, &e, &self.raised))?;
        crate::engine::tensor_to_py(py, rows)
    }

    /// Samples the input buffer holds at most.
    #[getter]
    fn capacity(&self) -> usize {
        let cell = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        cell.with_dependent(|_, session| session.capacity())
    }

    /// Samples buffered now.
    #[getter]
    fn buffered(&self) -> usize {
        let cell = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        cell.with_dependent(|_, session| session.buffered())
    }

    /// Windows pulled so far.
    #[getter]
    fn windows_done(&self) -> u64 {
        let cell = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        cell.with_dependent(|_, session| session.windows_done())
    }

    /// Windows the buffered samples complete.
    #[getter]
    fn windows_available(&self) -> u64 {
        let cell = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        cell.with_dependent(|_, session| session.windows_available())
    }
}

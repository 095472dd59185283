//! Where Python meets the engine's results, below the classes that use it: the engine run
//! with the GIL released and panics caught, its rows handed to Python, and the words for an
//! input too short for a window.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyList;
use sqrtspace::io::Framer;
use sqrtspace::tensor::{Data, Tensor};

use crate::errors;

/// Why an input is too short for a window (`holds 3 samples, fewer than one window of
/// 4096`), counting what its header says it holds or, without one, what was read of it.
pub fn short_input(framer: &Framer, window: usize) -> Option<String> {
    let count = framer.total_samples().unwrap_or(framer.samples_read());
    let unit = if framer.line_stats().is_some() {
        "lines"
    } else {
        "samples"
    };
    (count < window as u64)
        .then(|| format!("holds {count} {unit}, fewer than one window of {window}"))
}

/// A run's output as Python: an ndarray of shape `(rows, *row_shape)` for numbers (the
/// engine's buffer handed over, not copied), a list of `str` for text (a list of lists when
/// rows hold several strings).
pub fn tensor_to_py(py: Python<'_>, tensor: Tensor) -> PyResult<Py<PyAny>> {
    let mut shape = vec![tensor.rows()];
    shape.extend(tensor.row_shape());
    let row_len = tensor.row_len();
    fn array<T: numpy::Element>(
        py: Python<'_>,
        values: Vec<T>,
        shape: Vec<usize>,
    ) -> PyResult<Py<PyAny>> {
        Ok(PyArray1::from_vec(py, values)
            .reshape(shape)?
            .into_any()
            .unbind())
    }
    match tensor.into_data() {
        Data::F32(v) => array(py, v, shape),
        Data::F64(v) => array(py, v, shape),
        Data::C32(v) => array(py, v, shape),
        Data::I32(v) => array(py, v, shape),
        Data::U8(v) => array(py, v, shape),
        Data::Text(v) => {
            let v = v.as_slice();
            if row_len == 1 {
                Ok(PyList::new(py, v.iter())?.into_any().unbind())
            } else {
                let rows: Vec<Bound<'_, PyList>> = (0..shape[0])
                    .map(|i| PyList::new(py, v.sub(i * row_len..(i + 1) * row_len).iter()))
                    .collect::<PyResult<_>>()?;
                Ok(PyList::new(py, rows)?.into_any().unbind())
            }
        }
    }
}

/// Runs `f` (engine code) with the GIL released, so the engine's threads can call Python
/// stages; a panic in it becomes a `sqrtspace.Error` rather than reaching Python as one.
pub fn guarded<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
        .map_err(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            errors::Error::new_err(format!(
                "internal error in sqrtspace (please report it): {what}"
            ))
        })
}

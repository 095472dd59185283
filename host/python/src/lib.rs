//! The `sqrtspace._sqrtspace` extension module: the engine's public API for Python. The
//! `sqrtspace` package (python/sqrtspace) re-exports it with the operators and the `Kernel`
//! base class written in Python.

mod blocks;
mod engine;
mod errors;
mod pipeline;
mod report;
mod session;
mod source;
mod stage;

use pyo3::prelude::*;

/// sqrtspace's engine, for Python.
#[pymodule]
fn _sqrtspace(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_class::<session::PySession>()?;
    m.add_class::<blocks::Blocks>()?;
    errors::register(m)?;
    Ok(())
}

//! `Pipeline.iter_blocks`: the engine runs on a thread of its own and hands each block of the
//! target's rows over a channel of two, so at most a few blocks are in flight however long
//! the input; dropping the iterator ends the run at its next block.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use pyo3::prelude::*;
use sqrtspace::exec::{ExecError, WindowRange};
use sqrtspace::io::{Framer, OutputError, Sink};
use sqrtspace::{Plan, Tensor, TensorView};

use crate::errors::{self, Raised};

/// Sends each block the run writes.
struct ChannelSink(SyncSender<Tensor>);

impl Sink for ChannelSink {
    fn write(&mut self, _: u64, rows: &TensorView<'_>) -> Result<(), OutputError> {
        self.0
            .send(rows.to_tensor())
            .map_err(|_| OutputError::Closed {
                path: "the block iterator".into(),
            })
    }
}

/// What the run thread ends with: its error, or the input's shortness.
type Outcome = Result<(), ExecError>;

/// An iterator over the target's blocks.
#[pyclass(module = "sqrtspace._sqrtspace")]
#[derive(Debug)]
pub struct Blocks {
    receiver: Mutex<Option<Receiver<Tensor>>>,
    thread: Mutex<Option<JoinHandle<Outcome>>>,
    raised: Raised,
}

impl Blocks {
    /// Starts the run.
    pub fn start(plan: Plan, mut framer: Framer, window: usize, raised: Raised) -> Blocks {
        let (sender, receiver) = sync_channel(2);
        let thread = std::thread::Builder::new()
            .name("sqrtspace-blocks".into())
            .spawn(move || {
                let mut sink = ChannelSink(sender);
                sqrtspace::run(&plan, &mut framer, WindowRange::all(), &mut sink)?;
                match crate::engine::short_input(&framer, window) {
                    Some(message) => Err(ExecError::Input(sqrtspace::io::InputError::Format {
                        path: framer.describe(),
                        message,
                    })),
                    None => Ok(()),
                }
            });
        let (receiver, thread) = match thread {
            Ok(thread) => (Some(receiver), Some(thread)),
            Err(_) => (None, None),
        };
        Blocks {
            receiver: Mutex::new(receiver),
            thread: Mutex::new(thread),
            raised,
        }
    }
}

#[pymethods]
impl Blocks {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut receiver = self.receiver.lock().unwrap_or_else(|p| p.into_inner());
        let Some(rx) = receiver.take() else {
            return Ok(None);
        };
        let (rx, block) = py.detach(move || {
            let block = rx.recv();
            (rx, block)
        });
        if let Ok(block) = block {
            *receiver = Some(rx);
            return crate::engine::tensor_to_py(py, block).map(Some);
        }
        // The run ended: its outcome says whether the iteration is complete.
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        let outcome = match thread {
            Some(thread) => py.detach(|| thread.join()),
            None => return Err(errors::Error::new_err("cannot start a thread for the run")),
        };
        match outcome {
            Ok(Ok(())) => Ok(None),
            Ok(Err(e)) => Err(errors::exec_error(py, &e, &self.raised)),
            Err(_) => Err(errors::Error::new_err(
                "internal error in sqrtspace (please report it): the run's thread panicked",
            )),
        }
    }
}

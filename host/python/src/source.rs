//! Inputs from Python: a 1-D float32 ndarray, read in place (the framer copies each chunk into
//! its block, as from a file, and the array itself is never copied whole), and an iterable of
//! chunks (a generator reading a socket, `soundfile.blocks`), read once, forward, as a stream.

use numpy::{PyArray1, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use sqrtspace::io::{InputError, SampleSource};

/// Why an ndarray cannot be an input, or `None` when it can: 1-D float32.
pub fn refuse_array(array: &Bound<'_, PyUntypedArray>) -> Option<String> {
    let dtype = array.dtype().to_string();
    if array.ndim() != 1 {
        return Some(format!(
            "an input array must be 1-D samples, but this one has shape {} (pass one channel, \
             e.g. x[:, 0], or x.ravel() for samples already in order)",
            crate::stage::shape_text(array.shape())
        ));
    }
    if dtype != "float32" {
        return Some(format!(
            "an input array must hold float32 samples, but this one holds {dtype} (convert it \
             with x.astype(np.float32); sqrtspace does not narrow samples silently)"
        ));
    }
    None
}

/// A 1-D float32 ndarray as a seekable source.
#[derive(Debug)]
pub struct ArraySource {
    array: Py<PyArray1<f32>>,
    len: usize,
    position: usize,
    sample_rate: Option<u32>,
}

impl ArraySource {
    /// Reads `array` (checked by [`refuse_array`]); `sample_rate` is what the pipeline says,
    /// since an array records none.
    pub fn new(array: Bound<'_, PyArray1<f32>>, sample_rate: Option<u32>) -> ArraySource {
        ArraySource {
            len: array.len(),
            array: array.unbind(),
            position: 0,
            sample_rate,
        }
    }
}

impl SampleSource for ArraySource {
    fn describe(&self) -> String {
        format!("an array of {} samples", self.len)
    }

    fn total_samples(&self) -> Option<u64> {
        Some(self.len as u64)
    }

    fn sample_rate(&self) -> Option<u32> {
        self.sample_rate
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        let n = max.min(self.len - self.position);
        if n == 0 {
            return Ok(0);
        }
        let start = self.position;
        Python::attach(|py| {
            let array = self.array.bind(py).readonly();
            match array.as_slice() {
                Ok(values) => out.extend_from_slice(&values[start..start + n]),
                Err(_) => out.extend(array.as_array().iter().skip(start).take(n).copied()),
            }
        });
        self.position += n;
        Ok(n)
    }

    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        self.position = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.len);
        Ok(true)
    }
}

/// An iterator of 1-D float32 chunks, read once, forward.
#[derive(Debug)]
pub struct ChunkSource {
    iterator: Py<PyAny>,
    /// Samples of the last chunk not handed out yet.
    pending: Vec<f32>,
    taken: usize,
    chunks: u64,
    ended: bool,
    sample_rate: Option<u32>,
    raised: crate::errors::Raised,
}

impl ChunkSource {
    /// Reads the chunks `iterator` yields; an exception it raises ends the run and is chained
    /// as the cause of the error the run raises.
    pub fn new(
        iterator: Bound<'_, PyAny>,
        sample_rate: Option<u32>,
        raised: crate::errors::Raised,
    ) -> ChunkSource {
        ChunkSource {
            iterator: iterator.unbind(),
            pending: Vec::new(),
            taken: 0,
            chunks: 0,
            ended: false,
            sample_rate,
            raised,
        }
    }

    /// The next chunk into `pending`; `false` at the end.
    fn next_chunk(&mut self) -> Result<bool, InputError> {
        let refused = |message: String| InputError::Format {
            path: "the input iterator".into(),
            message,
        };
        Python::attach(|py| {
            let item = match self.iterator.bind(py).call_method0("__next__") {
                Ok(item) => item,
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => {
                    return Ok(false);
                }
                Err(e) => {
                    let message = format!("raised {e} while yielding chunk {}", self.chunks);
                    self.raised.keep(e);
                    return Err(refused(message));
                }
            };
            let Ok(array) = item.cast::<PyUntypedArray>() else {
                return Err(refused(format!(
                    "chunk {} is not an ndarray; yield 1-D float32 arrays",
                    self.chunks
                )));
            };
            if let Some(why) = refuse_array(array) {
                return Err(refused(format!("chunk {}: {why}", self.chunks)));
            }
            let array = item
                .cast::<PyArray1<f32>>()
                .map_err(|e| refused(e.to_string()))?
                .readonly();
            self.pending.clear();
            match array.as_slice() {
                Ok(values) => self.pending.extend_from_slice(values),
                Err(_) => self.pending.extend(array.as_array().iter().copied()),
            }
            self.taken = 0;
            self.chunks += 1;
            Ok(true)
        })
    }
}

impl SampleSource for ChunkSource {
    fn describe(&self) -> String {
        "the input iterator".into()
    }

    fn total_samples(&self) -> Option<u64> {
        None
    }

    fn sample_rate(&self) -> Option<u32> {
        self.sample_rate
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        while self.taken == self.pending.len() {
            if self.ended || !self.next_chunk()? {
                self.ended = true;
                return Ok(0);
            }
        }
        let n = max.min(self.pending.len() - self.taken);
        out.extend_from_slice(&self.pending[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }

    fn seek(&mut self, _: u64) -> Result<bool, InputError> {
        Ok(false)
    }

    fn seekable(&self) -> bool {
        false
    }
}

//! Where a run's output rows go: the [`Sink`] trait, its errors and formats, and rows kept in
//! memory. Files are in `file_sink.rs` (written beside the destination and renamed over it only
//! when the run has finished, so a failed run leaves nothing), streams in `text.rs`, special
//! destinations and atomic writes in `destination.rs`.

use std::path::Path;

use crate::tensor::{Layout, Tensor, TensorView};

/// Receives a run's output, one block of rows at a time, in window order.
pub trait Sink {
    /// Appends rows; `t0` is the window index of the first.
    fn write(&mut self, t0: u64, rows: &TensorView<'_>) -> Result<(), OutputError>;

    /// Makes what was written so far durable and says how much that is, for sinks a run can
    /// be resumed into ([`FileSink::resumable`](crate::io::FileSink::resumable)); `None` from the others.
    fn commit(&mut self) -> Result<Option<Committed>, OutputError> {
        Ok(None)
    }
}

/// How much of a resumable output is on disk for good: a resumed run cuts the file back to
/// `bytes` and goes on from row `rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Committed {
    /// Rows written.
    pub rows: u64,
    /// Length of the file holding them.
    pub bytes: u64,
}

/// The output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The temporary file could not be created beside the destination.
    #[error("cannot create output {path}: {source}")]
    Create {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing or committing failed.
    #[error("cannot write output {path}: {source}")]
    Write {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The reader of a stream went away (a closed pipe); what was written is intact.
    #[error("{path} was closed by its reader")]
    Closed {
        /// The stream.
        path: String,
    },
    /// The data cannot be written in the chosen format.
    #[error("output {path}: {message}")]
    Unsupported {
        /// The destination.
        path: String,
        /// Why.
        message: String,
    },
}

/// Output file formats.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum OutputFormat {
    /// NumPy `.npy`: rows x row elements, the row count written into the header at the end.
    Npy,
    /// Comma-separated: a header line, then `t` and the row's values.
    Csv,
    /// One JSON object per row: `{"t": 12, "values": [...]}`. Rows of text are events
    /// instead: each element that holds a JSON object is written as it is, one per line (so a
    /// stage that emits alerts writes them in the form it chooses), other text as
    /// `{"t": 12, "text": "..."}`, and empty elements not at all.
    Jsonl,
    /// Apache Parquet: a column `t`, then a column per element named as in CSV, typed as
    /// the element; written in row groups as rows arrive.
    Parquet,
}

impl OutputFormat {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(OutputFormat::Npy),
            "csv" => Some(OutputFormat::Csv),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "parquet" | "pq" => Some(OutputFormat::Parquet),
            _ => None,
        }
    }
}

/// Collects output rows in memory: the library's way to get results back.
#[derive(Debug)]
pub struct MemorySink {
    /// The rows received, contiguous.
    pub tensor: Tensor,
    /// Window index of the first row received.
    pub first_t: Option<u64>,
}

impl MemorySink {
    /// An empty sink for rows of `layout`.
    pub fn new(layout: &Layout) -> MemorySink {
        MemorySink {
            tensor: Tensor::empty(layout),
            first_t: None,
        }
    }
}

impl Sink for MemorySink {
    fn write(&mut self, t0: u64, rows: &TensorView<'_>) -> Result<(), OutputError> {
        self.first_t.get_or_insert(t0);
        self.tensor.extend_rows(rows);
        Ok(())
    }
}

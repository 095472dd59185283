//! Where samples come from and where results go: streaming sources (WAV, raw f32, `.npy`),
//! the framer that turns samples into windows, and sinks written block by block to a
//! temporary file that is renamed into place only when the run succeeds.

mod destination;
mod detect;
mod file_sink;
mod flac;
mod framer;
mod frames;
mod lines;
mod npy;
mod npy_header;
mod opened;
mod parquet_sink;
mod raw;
mod replace;
mod shards;
mod sink;
mod text;
mod wav;

use std::path::Path;

pub use destination::{Destination, destination, open_in_place, write_atomically};
pub(crate) use destination::{output_temp, sync_dir};
pub use detect::{Detected, detect, open_line_stream, open_lines, open_stream};
pub use file_sink::FileSink;
pub use flac::FlacSource;
pub use framer::{Framer, windows_in};
pub use lines::{DEFAULT_MAX_LINE, LineSource, LineStats};
pub use npy::NpySource;
pub use opened::{Opened, open_input};
pub use raw::RawF32Source;
pub use replace::{Persist, persist_over, rename_over};
pub use shards::{ShardSink, is_shard, shard_name};
pub use sink::{Committed, MemorySink, OutputError, OutputFormat, Sink};
pub use text::StreamSink;
pub use wav::WavSource;

/// Samples read per call when filling a block; big enough to amortize calls, small enough to
/// stay in cache.
pub(crate) const READ_CHUNK: usize = 1 << 16;

/// A stream of f32 samples, read forward in chunks, and repositioned when it can be.
pub trait SampleSource: Send {
    /// The file or stream, for messages.
    fn describe(&self) -> String;
    /// Total samples, when known in advance.
    fn total_samples(&self) -> Option<u64>;
    /// Samples per second, when the format records it.
    fn sample_rate(&self) -> Option<u32>;
    /// Appends up to `max` samples to `out` and returns how many; 0 only at the end.
    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError>;
    /// Moves so that the next read starts at sample `position`; `Ok(false)` when the source
    /// cannot seek.
    fn seek(&mut self, position: u64) -> Result<bool, InputError>;
    /// Whether [`SampleSource::seek`] can move at all: a stream (stdin, a decompressed file)
    /// is read once, forward, and runs over it go through a push/pull session.
    fn seekable(&self) -> bool {
        true
    }
    /// A second reader of the same samples with a position of its own, so that each worker
    /// of a sweep can read its own windows; `None` when the source cannot have one (a
    /// stream, a decoder).
    fn try_clone(&self) -> Option<Box<dyn SampleSource>> {
        None
    }
}

/// The input could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening failed.
    #[error("cannot open input {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("cannot read input {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The content is not what its format requires, or a variant we do not read.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The data ends before its header says it does.
    #[error("{path} is truncated: {message}")]
    Truncated {
        /// The file.
        path: String,
        /// Where it ends.
        message: String,
    },
    /// A run needed to go back in a stream that cannot seek.
    #[error("{path}: cannot go back to {unit} {position}; the input cannot seek")]
    NotSeekable {
        /// The stream.
        path: String,
        /// What it holds: "sample" or "line".
        unit: &'static str,
        /// Where the run needed to be.
        position: u64,
    },
}

/// Formats a source can be read as.
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
pub enum InputFormat {
    /// RIFF WAVE: PCM 8/16/24/32-bit or 32-bit float, any channel count.
    Wav,
    /// Little-endian f32 samples with no header.
    RawF32,
    /// A 1-D `.npy` array of f32 or f64.
    Npy,
    /// FLAC, any bit depth and channel count.
    Flac,
    /// Text, one record per line (the input of pipelines with `input: Lines`).
    Lines,
}

impl InputFormat {
    /// The format a file name suggests (`x.wav.gz` is a WAV file, compressed).
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        let mut ext = path.extension()?.to_str()?.to_ascii_lowercase();
        if matches!(ext.as_str(), "gz" | "zst") {
            ext = Path::new(path.file_stem()?)
                .extension()?
                .to_str()?
                .to_ascii_lowercase();
        }
        match ext.as_str() {
            "wav" | "wave" => Some(InputFormat::Wav),
            "npy" => Some(InputFormat::Npy),
            "flac" => Some(InputFormat::Flac),
            "f32" | "raw" | "pcm" => Some(InputFormat::RawF32),
            "log" | "txt" | "jsonl" | "ndjson" => Some(InputFormat::Lines),
            _ => None,
        }
    }
}

/// Opens `path` as samples: as what its first bytes say it is (a WAV, `.npy` or FLAC header,
/// gzip or zstd compression around any of them), or, with no header, as `format` or what its
/// name says; never as something else. `channel` picks one channel of a multi-channel WAV or
/// FLAC. A compressed file is read as a stream: once, forward.
pub fn open_source(
    path: &Path,
    format: Option<InputFormat>,
    channel: Option<usize>,
) -> Result<Box<dyn SampleSource>, InputError> {
    detect::open_source(path, format, channel)
}

/// Samples held in memory, for the library API and tests.
#[derive(Debug, Clone)]
pub struct MemorySource {
    samples: std::sync::Arc<[f32]>,
    position: usize,
    sample_rate: Option<u32>,
}

impl MemorySource {
    /// A source over `samples`.
    pub fn new(samples: impl Into<std::sync::Arc<[f32]>>) -> MemorySource {
        MemorySource {
            samples: samples.into(),
            position: 0,
            sample_rate: None,
        }
    }
}

impl SampleSource for MemorySource {
    fn describe(&self) -> String {
        format!("{} samples in memory", self.samples.len())
    }

    fn total_samples(&self) -> Option<u64> {
        Some(self.samples.len() as u64)
    }

    fn sample_rate(&self) -> Option<u32> {
        self.sample_rate
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        let end = self.samples.len().min(self.position + max);
        out.extend_from_slice(&self.samples[self.position..end]);
        let n = end - self.position;
        self.position = end;
        Ok(n)
    }

    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        self.position = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.samples.len());
        Ok(true)
    }

    fn try_clone(&self) -> Option<Box<dyn SampleSource>> {
        Some(Box::new(self.clone()))
    }
}

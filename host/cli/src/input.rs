//! The input options `run` and `check` share, and how every subcommand opens an input for a
//! pipeline: samples or lines as the pipeline reads them, from a file or stdin, refused when
//! the input cannot be what the pipeline needs.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::args::usage;
use sqrtspace::Spec;
use sqrtspace::io::InputFormat;

/// `--input`, `--format`, `--channel`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The input file, or `-` for a stream on stdin. WAV, `.npy` and FLAC are told from their
    /// first bytes, gzip and zstd compression too; headerless f32 samples need
    /// `--format raw-f32` (or a name ending in .f32 or .raw).
    ///
    /// For `run`, a directory or a pattern (`'recordings/*.wav'`) runs every file it holds or
    /// matches, one output each in the directory `--output` names.
    #[arg(long, short, required_unless_present = "input_list")]
    pub input: Option<PathBuf>,
    /// A file naming the inputs, one path per line (`run` only): one output each in the
    /// directory `--output` names.
    #[arg(long, conflicts_with = "input")]
    pub input_list: Option<PathBuf>,
    /// Input format, for an input with no header (one with a header is read as what it is,
    /// and refused when this disagrees).
    #[arg(long, value_parser = crate::args::choice::<InputFormat>())]
    pub format: Option<InputFormat>,
    /// Which channel of a multi-channel WAV or FLAC input to read (from 0).
    #[arg(long)]
    pub channel: Option<usize>,
}

pub use sqrtspace::io::Opened;

impl InputArgs {
    /// Whether the input is stdin.
    pub fn is_stdin(&self) -> bool {
        self.input.as_ref().is_some_and(|i| i.as_os_str() == "-")
    }

    /// Whether the input names many files (see [`crate::corpus`]).
    pub fn is_corpus(&self) -> bool {
        self.input_list.is_some() || self.input.as_deref().is_some_and(crate::corpus::is_corpus)
    }

    /// The one input file (or `-`); refused when the options name many.
    pub fn path(&self) -> anyhow::Result<&Path> {
        match &self.input {
            Some(input) if !self.is_corpus() => Ok(input),
            _ => usage!("this command reads one input: give --input FILE"),
        }
    }

    /// Opens the input for `spec`, read from `pipeline`.
    pub fn open(&self, spec: &Spec, pipeline: &Path) -> anyhow::Result<Opened> {
        open(self.path()?, self.format, self.channel, spec, pipeline)
    }
}

/// Opens `input` (`-` for stdin) as `spec` reads it ([`sqrtspace::io::open_input`]); a
/// mismatch is the input's fault (exit status 4).
pub fn open(
    input: &Path,
    format: Option<InputFormat>,
    channel: Option<usize>,
    spec: &Spec,
    pipeline: &Path,
) -> anyhow::Result<Opened> {
    Ok(sqrtspace::io::open_input(
        input,
        format,
        channel,
        spec,
        &pipeline.display().to_string(),
    )?)
}

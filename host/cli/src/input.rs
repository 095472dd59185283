//! The input options `run` and `check` share, and how every subcommand opens an input for a
//! pipeline: samples or lines as the pipeline reads them, from a file or stdin, refused when
//! the input cannot be what the pipeline needs.

use std::path::{Path, PathBuf};

use clap::Args;
use sqrtspace::Spec;
use sqrtspace::io::{
    Framer, InputError, InputFormat, LineSource, SampleSource, open_line_stream, open_lines,
    open_source, open_stream,
};
use sqrtspace::spec::InputKind;

/// `--input`, `--format`, `--channel`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The input file, or `-` for a stream on stdin. WAV, `.npy` and FLAC are told from their
    /// first bytes, gzip and zstd compression too; headerless f32 samples need
    /// `--format raw-f32` (or a name ending in .f32 or .raw).
    #[arg(long, short)]
    pub input: PathBuf,
    /// Input format, for an input with no header (one with a header is read as what it is,
    /// and refused when this disagrees).
    #[arg(long, value_parser = crate::args::choice::<InputFormat>())]
    pub format: Option<InputFormat>,
    /// Which channel of a multi-channel WAV or FLAC input to read (from 0).
    #[arg(long)]
    pub channel: Option<usize>,
}

/// An input opened for a pipeline.
pub enum Opened {
    /// Samples, for a pipeline with `input: Samples`.
    Samples(Box<dyn SampleSource>),
    /// Lines of text, for a pipeline with `input: Lines`.
    Lines(LineSource),
}

impl Opened {
    /// Whether it can be read again from any point (a file, not a stream).
    pub fn seekable(&self) -> bool {
        match self {
            Opened::Samples(source) => source.seekable(),
            Opened::Lines(source) => source.seekable(),
        }
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Opened::Samples(source) => source.describe(),
            Opened::Lines(source) => source.describe().to_string(),
        }
    }

    /// Cut into the windows of `spec`.
    pub fn framer(self, spec: &Spec) -> Framer {
        match self {
            Opened::Samples(source) => Framer::new(source, spec.window, spec.hop),
            Opened::Lines(source) => Framer::lines(source, spec.window, spec.hop),
        }
    }
}

impl InputArgs {
    /// Whether the input is stdin.
    pub fn is_stdin(&self) -> bool {
        self.input.as_os_str() == "-"
    }

    /// Opens the input for `spec`, read from `pipeline`.
    pub fn open(&self, spec: &Spec, pipeline: &Path) -> anyhow::Result<Opened> {
        open(&self.input, self.format, self.channel, spec, pipeline)
    }
}

/// Opens `input` (`-` for stdin) as `spec` reads it: lines for a pipeline of lines (where
/// `format` and `channel` must not say otherwise), samples at the pipeline's rate otherwise.
/// A mismatch is the input's fault (exit status 4).
pub fn open(
    input: &Path,
    format: Option<InputFormat>,
    channel: Option<usize>,
    spec: &Spec,
    pipeline: &Path,
) -> anyhow::Result<Opened> {
    let stdin = input.as_os_str() == "-";
    let mismatch = |path: String, message: String| InputError::Format { path, message };
    match spec.input {
        InputKind::Samples => {
            let source = if stdin {
                open_stream("stdin", std::io::stdin(), format, channel)?
            } else {
                open_source(input, format, channel)?
            };
            if let Some(rate) = source.sample_rate()
                && rate != spec.sample_rate
            {
                anyhow::bail!(mismatch(
                    source.describe(),
                    format!(
                        "is sampled at {rate} Hz, but {} says sample_rate: {} (resample the input or change the pipeline)",
                        pipeline.display(),
                        spec.sample_rate
                    ),
                ));
            }
            Ok(Opened::Samples(source))
        }
        InputKind::Lines => {
            let name = input.display().to_string();
            if let Some(format) = format.filter(|&f| f != InputFormat::Lines) {
                anyhow::bail!(mismatch(
                    name,
                    format!(
                        "--format says {format}, but {} reads lines of text (`input: Lines`)",
                        pipeline.display()
                    )
                ));
            }
            if channel.is_some() {
                anyhow::bail!(mismatch(
                    name,
                    "--channel applies to WAV and FLAC input, but this pipeline reads lines".into()
                ));
            }
            let source = if stdin {
                open_line_stream("stdin", std::io::stdin())?
            } else {
                open_lines(input)?
            };
            Ok(Opened::Lines(source))
        }
    }
}

//! An input opened for a pipeline: samples or lines as the pipeline reads them, from a file or
//! stdin, refused when the input cannot be what the pipeline needs. Every front end (the
//! command line, the Python package) opens its inputs here, so they accept and refuse the
//! same files with the same messages.

use std::path::Path;

use super::{
    Framer, InputError, InputFormat, LineSource, SampleSource, open_line_stream, open_lines,
    open_source, open_stream,
};
use crate::spec::{InputKind, Spec};

/// An input opened for a pipeline.
pub enum Opened {
    /// Samples, for a pipeline with `input: Samples`.
    Samples(Box<dyn SampleSource>),
    /// Lines of text, for a pipeline with `input: Lines`.
    Lines(LineSource),
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opened({})", self.describe())
    }
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

/// Opens `input` (`-` for stdin) as `spec` reads it: lines for a pipeline of lines (where
/// `format` and `channel` must not say otherwise), samples at the pipeline's rate otherwise;
/// `pipeline` names the pipeline in messages. A mismatch is an [`InputError::Format`].
pub fn open_input(
    input: &Path,
    format: Option<InputFormat>,
    channel: Option<usize>,
    spec: &Spec,
    pipeline: &str,
) -> Result<Opened, InputError> {
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
                return Err(mismatch(
                    source.describe(),
                    format!(
                        "is sampled at {rate} Hz, but {pipeline} says sample_rate: {} (resample \
                         the input or change the pipeline)",
                        spec.sample_rate
                    ),
                ));
            }
            Ok(Opened::Samples(source))
        }
        InputKind::Lines => {
            let name = input.display().to_string();
            if let Some(format) = format.filter(|&f| f != InputFormat::Lines) {
                return Err(mismatch(
                    name,
                    format!(
                        "--format says {format}, but {pipeline} reads lines of text (`input: Lines`)"
                    ),
                ));
            }
            if channel.is_some() {
                return Err(mismatch(
                    name,
                    "--channel applies to WAV and FLAC input, but this pipeline reads lines".into(),
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

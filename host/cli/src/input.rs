//! The input options `run` and `check` share, and how every subcommand opens an input for a
//! pipeline: samples or lines as the pipeline reads them, from a file or stdin, refused when
//! the input cannot be what the pipeline needs.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use clap::Args;

use crate::args::usage;
use sqrtspace::Spec;
use sqrtspace::io::InputFormat;

/// `--input`, `--format`, `--channel`.
#[derive(Clone, Debug, Args)]
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
        self.input_list.is_some() || self.input.as_deref().is_some_and(is_corpus)
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

/// Whether `input` names more than one file: a directory, or a pattern (`*`, `?`, `[`) that
/// is not itself a file.
pub fn is_corpus(input: &Path) -> bool {
    input.is_dir() || (!input.exists() && input.to_string_lossy().contains(['*', '?', '[']))
}

/// The inputs a corpus run reads, in name order: the lines of `--input-list` (blank lines
/// and lines starting with `#` skipped), the files directly in a directory (hidden ones
/// skipped), or the files a pattern matches.
pub fn corpus_inputs(args: &InputArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if let Some(list) = &args.input_list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("reading the input list {}", list.display()))?;
        found.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(PathBuf::from),
        );
        if found.is_empty() {
            usage!("the input list {} names no input", list.display());
        }
        return Ok(found);
    }
    let Some(input) = &args.input else {
        usage!("--input or --input-list is needed");
    };
    if input.is_dir() {
        for entry in std::fs::read_dir(input)
            .with_context(|| format!("reading the directory {}", input.display()))?
        {
            let path = entry?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_file() && !hidden {
                found.push(path);
            }
        }
    } else {
        let pattern = input.to_string_lossy();
        let paths = glob::glob(&pattern).map_err(|e| {
            anyhow::Error::new(crate::args::Usage(format!(
                "--input {pattern}: not a pattern: {e}"
            )))
        })?;
        for path in paths {
            let path = path?;
            if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        usage!("--input {} matches no file", input.display());
    }
    Ok(found)
}

/// Refuses an input with no complete window: there would be nothing to compute, which is
/// almost always a wrong file or a producer that died, not a result.
pub fn too_short(input: &str, samples: u64, window: usize) -> anyhow::Result<()> {
    too_short_of(input, samples, window, "samples")
}

pub fn too_short_of(input: &str, count: u64, window: usize, unit: &str) -> anyhow::Result<()> {
    if count < window as u64 {
        anyhow::bail!(sqrtspace::io::InputError::Format {
            path: input.into(),
            message: format!(
                "holds {count} {unit}, fewer than one window of {window}: there is nothing to compute"
            ),
        });
    }
    Ok(())
}

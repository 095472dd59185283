//! What an input is, told from its first bytes: a WAV (`RIFF....WAVE`), `.npy` (`\x93NUMPY`)
//! or FLAC (`fLaC`) header, or gzip / zstd compression around any input. An input with no
//! header is read as the `--format` given or the format its name says; one whose header and
//! `--format` disagree, or that has neither header nor a name that says, is refused. Nothing
//! is ever read as something it is not: a WAV piped to stdin is read as a WAV, not as raw
//! f32.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::{
    FlacSource, InputError, InputFormat, LineSource, NpySource, RawF32Source, SampleSource,
    WavSource,
};

/// Bytes read to tell a format: enough for every magic number below.
const HEAD: usize = 12;

/// What an input's first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// A header of this format.
    Format(InputFormat),
    /// gzip compression (`1f 8b 08`).
    Gzip,
    /// zstd compression (`28 b5 2f fd`).
    Zstd,
    /// No header we know: raw samples or text.
    Nothing,
}

/// Tells what `head`, an input's first bytes (up to 12), holds.
pub fn detect(head: &[u8]) -> Detected {
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        Detected::Format(InputFormat::Wav)
    } else if head.starts_with(b"\x93NUMPY") {
        Detected::Format(InputFormat::Npy)
    } else if head.starts_with(b"fLaC") {
        Detected::Format(InputFormat::Flac)
    } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Detected::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Detected::Zstd
    } else {
        Detected::Nothing
    }
}

fn describe_header(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Wav => "a WAV header (RIFF/WAVE)",
        InputFormat::Npy => "an .npy header",
        InputFormat::Flac => "a FLAC header (fLaC)",
        InputFormat::RawF32 | InputFormat::Lines => "no header",
    }
}

/// The format to read an input as: its header's, when it has one (and `--format` agrees);
/// else `--format`, else what its name says; else a refusal.
fn choose(
    name: &str,
    found: Option<InputFormat>,
    asked: Option<InputFormat>,
    named: Option<InputFormat>,
) -> Result<InputFormat, InputError> {
    let refuse = |message: String| InputError::Format {
        path: name.to_string(),
        message,
    };
    match (found, asked) {
        (Some(found), Some(asked)) if found != asked => Err(refuse(format!(
            "starts with {}, but --format says {asked}; pass --format {found} or leave it out",
            describe_header(found)
        ))),
        (Some(found), _) => Ok(found),
        (None, Some(asked)) => Ok(asked),
        (None, None) => named.ok_or_else(|| {
            refuse(
                "cannot tell its format: it starts with no WAV, .npy or FLAC header and its \
                 name says nothing; headerless f32 samples need --format raw-f32"
                    .into(),
            )
        }),
    }
}

/// Reads up to [`HEAD`] bytes, fewer only at the end of the stream.
fn read_head(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD);
    reader.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A stream's first bytes put back in front of the rest.
type Rejoined = std::io::Chain<std::io::Cursor<Vec<u8>>, Box<dyn Read + Send>>;

/// Takes the stream's first bytes, and undoes one level of compression: what it holds
/// (after decompression), and the stream to read it from.
fn uncompressed(
    name: &str,
    reader: Box<dyn Read + Send>,
) -> Result<(Detected, Box<dyn Read + Send>), InputError> {
    let read_error = |source| InputError::Read {
        path: name.to_string(),
        source,
    };
    let mut reader = reader;
    let head = read_head(&mut reader).map_err(read_error)?;
    let detected = detect(&head);
    let rejoined: Rejoined = std::io::Cursor::new(head).chain(reader);
    let inner: Box<dyn Read + Send> = match detected {
        Detected::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rejoined)),
        Detected::Zstd => Box::new(zstd::stream::read::Decoder::new(rejoined).map_err(read_error)?),
        _ => return Ok((detected, Box::new(rejoined))),
    };
    let mut inner = inner;
    let head = read_head(&mut inner).map_err(|source| InputError::Format {
        path: name.to_string(),
        message: format!(
            "cannot decompress it ({}): {source}",
            if detected == Detected::Gzip {
                "gzip"
            } else {
                "zstd"
            }
        ),
    })?;
    let found = match detect(&head) {
        Detected::Gzip | Detected::Zstd => {
            return Err(InputError::Format {
                path: name.to_string(),
                message: "is compressed twice; decompress it once first".into(),
            });
        }
        other => other,
    };
    Ok((found, Box::new(std::io::Cursor::new(head).chain(inner))))
}

fn header_format(detected: Detected) -> Option<InputFormat> {
    match detected {
        Detected::Format(format) => Some(format),
        _ => None,
    }
}

fn lines_for_samples(name: &str) -> InputError {
    InputError::Format {
        path: name.to_string(),
        message: "is lines of text, but the pipeline reads samples; a pipeline with \
                  `input: Lines` reads lines"
            .into(),
    }
}

fn channel_for(name: &str, format: InputFormat, channel: Option<usize>) -> Result<(), InputError> {
    if channel.is_some() && !matches!(format, InputFormat::Wav | InputFormat::Flac) {
        return Err(InputError::Format {
            path: name.to_string(),
            message: format!("--channel applies to WAV and FLAC input, but this is {format}"),
        });
    }
    Ok(())
}

/// Samples from a stream (stdin, a decompressed file) of `format`.
fn stream_of(
    name: &str,
    format: InputFormat,
    reader: Box<dyn Read + Send>,
    channel: Option<usize>,
) -> Result<Box<dyn SampleSource>, InputError> {
    channel_for(name, format, channel)?;
    Ok(match format {
        InputFormat::RawF32 => Box::new(RawF32Source::from_reader(name, reader)),
        InputFormat::Wav => Box::new(WavSource::from_reader(name, reader, channel)?),
        InputFormat::Flac => Box::new(FlacSource::from_reader(name, reader, channel)?),
        InputFormat::Npy => {
            return Err(InputError::Format {
                path: name.to_string(),
                message: ".npy is read from an uncompressed file (its reader seeks); \
                          decompress it first, or stream WAV, FLAC or raw f32"
                    .into(),
            });
        }
        InputFormat::Lines => return Err(lines_for_samples(name)),
    })
}

fn open(path: &Path) -> Result<File, InputError> {
    File::open(path).map_err(|source| InputError::Open {
        path: path.display().to_string(),
        source,
    })
}

/// What the file at `path` starts with.
fn detect_file(path: &Path) -> Result<Detected, InputError> {
    let head = read_head(&mut open(path)?).map_err(|source| InputError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(detect(&head))
}

pub(super) fn open_source(
    path: &Path,
    format: Option<InputFormat>,
    channel: Option<usize>,
) -> Result<Box<dyn SampleSource>, InputError> {
    let name = path.display().to_string();
    let named = InputFormat::from_path(path);
    let format = match detect_file(path)? {
        Detected::Gzip | Detected::Zstd => {
            let reader = Box::new(BufReader::with_capacity(1 << 16, open(path)?));
            let (inner, reader) = uncompressed(&name, reader)?;
            let format = choose(&name, header_format(inner), format, named)?;
            return stream_of(&name, format, reader, channel);
        }
        detected => choose(&name, header_format(detected), format, named)?,
    };
    channel_for(&name, format, channel)?;
    Ok(match format {
        InputFormat::Wav => Box::new(WavSource::open(path, channel)?),
        InputFormat::RawF32 => Box::new(RawF32Source::open(path)?),
        InputFormat::Npy => Box::new(NpySource::open(path)?),
        InputFormat::Flac => Box::new(FlacSource::open(path, channel)?),
        InputFormat::Lines => return Err(lines_for_samples(&name)),
    })
}

/// Samples from a stream (stdin), told from its first bytes like a file (see
/// [`super::open_source`]); a stream has no name, so headerless samples need `format`.
pub fn open_stream(
    name: &str,
    reader: impl Read + Send + 'static,
    format: Option<InputFormat>,
    channel: Option<usize>,
) -> Result<Box<dyn SampleSource>, InputError> {
    let (inner, reader) = uncompressed(name, Box::new(reader))?;
    let format = choose(name, header_format(inner), format, None)?;
    stream_of(name, format, reader, channel)
}

fn samples_for_lines(name: &str, format: InputFormat) -> InputError {
    InputError::Format {
        path: name.to_string(),
        message: format!(
            "starts with {}, but the pipeline reads lines of text (`input: Lines`)",
            describe_header(format)
        ),
    }
}

/// Lines of the file at `path`, decompressed when it is gzip or zstd (then read once, as a
/// stream); audio and `.npy` files are refused.
pub fn open_lines(path: &Path) -> Result<LineSource, InputError> {
    let name = path.display().to_string();
    match detect_file(path)? {
        Detected::Format(format) => Err(samples_for_lines(&name, format)),
        Detected::Gzip | Detected::Zstd => {
            open_line_stream(&name, BufReader::with_capacity(1 << 16, open(path)?))
        }
        Detected::Nothing => LineSource::open(path),
    }
}

/// Lines of a stream (stdin), decompressed when it is gzip or zstd.
pub fn open_line_stream(
    name: &str,
    reader: impl Read + Send + 'static,
) -> Result<LineSource, InputError> {
    let (inner, reader) = uncompressed(name, Box::new(reader))?;
    if let Detected::Format(format) = inner {
        return Err(samples_for_lines(name, format));
    }
    Ok(LineSource::from_unbuffered(name, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart_and_short_heads_are_nothing() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        assert_eq!(detect(&wav), Detected::Format(InputFormat::Wav));
        wav[8] = b'X';
        assert_eq!(detect(&wav), Detected::Nothing);
        assert_eq!(detect(b"RIFF"), Detected::Nothing);
        assert_eq!(
            detect(b"\x93NUMPY\x01\x00"),
            Detected::Format(InputFormat::Npy)
        );
        assert_eq!(detect(b"fLaC\0"), Detected::Format(InputFormat::Flac));
        assert_eq!(detect(&[0x1f, 0x8b, 0x08, 0]), Detected::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Detected::Zstd);
        assert_eq!(detect(&[]), Detected::Nothing);
        assert_eq!(detect(&0.5f32.to_le_bytes()), Detected::Nothing);
    }

    #[test]
    fn a_header_wins_over_the_name_and_must_agree_with_the_format_asked() {
        use InputFormat::*;
        assert_eq!(choose("x", Some(Wav), None, Some(RawF32)).ok(), Some(Wav));
        assert_eq!(choose("x", Some(Wav), Some(Wav), None).ok(), Some(Wav));
        let err = choose("x", Some(Wav), Some(RawF32), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x: starts with a WAV header (RIFF/WAVE), but --format says raw-f32; pass \
             --format wav or leave it out"
        );
        assert_eq!(
            choose("x", None, Some(RawF32), Some(Wav)).ok(),
            Some(RawF32)
        );
        assert_eq!(choose("x", None, None, Some(RawF32)).ok(), Some(RawF32));
        let err = choose("stdin", None, None, None).unwrap_err().to_string();
        assert!(err.contains("need --format raw-f32"), "{err}");
    }
}

//! Files that hold a header and then fixed-size frames of samples (WAV, `.npy`): the reading,
//! seeking and truncation checks they share. Each format only decodes the bytes of its frames.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::{InputError, READ_CHUNK};

/// Where frames are read from: a file, which can seek, or a stream, which cannot.
pub(crate) enum FrameReader {
    /// A file.
    File(BufReader<File>),
    /// A stream (stdin), positioned at the first frame.
    Stream(Box<dyn Read + Send>),
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameReader::File(_) => "FrameReader::File",
            FrameReader::Stream(_) => "FrameReader::Stream",
        })
    }
}

/// The sample data of a file: `frames` frames of `frame_bytes` bytes from `data_start`.
#[derive(Debug)]
pub(crate) struct FrameFile {
    path: String,
    reader: FrameReader,
    data_start: u64,
    frame_bytes: usize,
    /// Frames the header promises; `None` for a stream whose header does not say, read to
    /// its end.
    frames: Option<u64>,
    position: u64,
    bytes: Vec<u8>,
}

impl FrameFile {
    /// Frames from a stream positioned at the first of them; `frames` as its header says, or
    /// `None` to read to the end.
    pub(crate) fn stream(
        path: String,
        reader: Box<dyn Read + Send>,
        frame_bytes: usize,
        frames: Option<u64>,
    ) -> FrameFile {
        FrameFile {
            path,
            reader: FrameReader::Stream(reader),
            data_start: 0,
            frame_bytes,
            frames,
            position: 0,
            bytes: Vec::new(),
        }
    }

    /// Checks that a file of `file_len` bytes holds the frames its header promises and
    /// positions `reader` at the first.
    pub(crate) fn new(
        path: String,
        mut reader: BufReader<File>,
        file_len: u64,
        data_start: u64,
        frame_bytes: usize,
        frames: u64,
    ) -> Result<FrameFile, InputError> {
        let promised = frames * frame_bytes as u64;
        let available = file_len.saturating_sub(data_start);
        if available < promised {
            return Err(InputError::Truncated {
                path,
                message: format!(
                    "the header promises {promised} bytes of samples, the file holds {available}"
                ),
            });
        }
        if let Err(source) = reader.seek(SeekFrom::Start(data_start)) {
            return Err(InputError::Read { path, source });
        }
        Ok(FrameFile {
            path,
            reader: FrameReader::File(reader),
            data_start,
            frame_bytes,
            frames: Some(frames),
            position: 0,
            bytes: Vec::new(),
        })
    }

    /// The file, for messages.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Frames in the file, when known.
    pub(crate) fn frames(&self) -> Option<u64> {
        self.frames
    }

    /// The bytes of the next frames, at most `max` of them (and at most a read chunk); empty
    /// at the end.
    pub(crate) fn read(&mut self, max: usize) -> Result<&[u8], InputError> {
        let Some(total) = self.frames else {
            return self.read_to_end(max);
        };
        let left = usize::try_from(total - self.position).unwrap_or(usize::MAX);
        let frames = left.min(max).min(READ_CHUNK);
        self.bytes.resize(frames * self.frame_bytes, 0);
        let result = match &mut self.reader {
            FrameReader::File(r) => r.read_exact(&mut self.bytes),
            FrameReader::Stream(r) => r.read_exact(&mut self.bytes),
        };
        if let Err(source) = result {
            return Err(if source.kind() == std::io::ErrorKind::UnexpectedEof {
                InputError::Truncated {
                    path: self.path.clone(),
                    message: format!(
                        "samples end before frame {} of the {} the header promises",
                        self.position + frames as u64,
                        total
                    ),
                }
            } else {
                InputError::Read {
                    path: self.path.clone(),
                    source,
                }
            });
        }
        self.position += frames as u64;
        Ok(&self.bytes)
    }

    /// A stream of unknown length: whole frames until the end; a partial frame there is a
    /// truncated file.
    fn read_to_end(&mut self, max: usize) -> Result<&[u8], InputError> {
        let want = max.min(READ_CHUNK) * self.frame_bytes;
        self.bytes.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            let n = match &mut self.reader {
                FrameReader::File(r) => r.read(&mut self.bytes[filled..]),
                FrameReader::Stream(r) => r.read(&mut self.bytes[filled..]),
            };
            match n {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(InputError::Read {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
        if filled % self.frame_bytes != 0 {
            return Err(InputError::Truncated {
                path: self.path.clone(),
                message: format!(
                    "the stream ends {} byte(s) into a {}-byte frame",
                    filled % self.frame_bytes,
                    self.frame_bytes
                ),
            });
        }
        self.bytes.truncate(filled);
        self.position += (filled / self.frame_bytes) as u64;
        Ok(&self.bytes)
    }

    /// Moves to frame `position` (the end, past it); `Ok(false)` for a stream.
    /// Whether it can seek: a file can, a stream cannot.
    pub(crate) fn seekable(&self) -> bool {
        matches!(self.reader, FrameReader::File(_))
    }

    pub(crate) fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        let FrameReader::File(reader) = &mut self.reader else {
            return Ok(false);
        };
        let position = self.frames.map_or(position, |n| position.min(n));
        reader
            .seek(SeekFrom::Start(
                self.data_start + position * self.frame_bytes as u64,
            ))
            .map_err(|source| InputError::Read {
                path: self.path.clone(),
                source,
            })?;
        self.position = position;
        Ok(true)
    }
}

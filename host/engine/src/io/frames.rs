//! Files that hold a header and then fixed-size frames of samples (WAV, `.npy`): the reading,
//! seeking and truncation checks they share. Each format only decodes the bytes of its frames.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::{InputError, READ_CHUNK};

/// Where frames are read from: a file, which can seek, or a stream, which cannot.
pub(crate) enum FrameReader {
    /// A file.
    File(BufReader<File>),
    /// A file shared with other readers (see [`FrameFile::try_clone`]): read at positions,
    /// never through the offset they share.
    At(File),
    /// A stream (stdin), positioned at the first frame.
    Stream(Box<dyn Read + Send>),
}

/// Fills `buf` from `file` at `offset` without moving the file's offset (Unix) or without
/// minding it (Windows).
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::FileExt;
    #[cfg(windows)]
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        #[cfg(unix)]
        let n = file.read_at(buf, offset);
        #[cfg(windows)]
        let n = file.seek_read(buf, offset);
        match n {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameReader::File(_) => "FrameReader::File",
            FrameReader::At(_) => "FrameReader::At",
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

    /// A reader of the same frames of the same open file, at its own position (the first
    /// frame), reading at positions so that neither moves the other; `None` for a stream,
    /// or a file the system will not share.
    ///
    /// Only on Unix: Windows' positional reads move the offset the readers share, under the
    /// first reader's buffered, offset-following reads.
    pub(crate) fn try_clone(&self) -> Option<FrameFile> {
        if cfg!(not(unix)) {
            return None;
        }
        let file = match &self.reader {
            FrameReader::File(reader) => reader.get_ref().try_clone().ok()?,
            FrameReader::At(file) => file.try_clone().ok()?,
            FrameReader::Stream(_) => return None,
        };
        Some(FrameFile {
            path: self.path.clone(),
            reader: FrameReader::At(file),
            data_start: self.data_start,
            frame_bytes: self.frame_bytes,
            frames: Some(self.frames?),
            position: 0,
            bytes: Vec::new(),
        })
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
            FrameReader::At(file) => read_exact_at(
                file,
                &mut self.bytes,
                self.data_start + self.position * self.frame_bytes as u64,
            ),
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
                // (A file shared with other readers has its length from its header.)
                FrameReader::At(_) => Ok(0),
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
        matches!(self.reader, FrameReader::File(_) | FrameReader::At(_))
    }

    pub(crate) fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        let position = self.frames.map_or(position, |n| position.min(n));
        let reader = match &mut self.reader {
            FrameReader::File(reader) => reader,
            FrameReader::At(_) => {
                self.position = position;
                return Ok(true);
            }
            FrameReader::Stream(_) => return Ok(false),
        };
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

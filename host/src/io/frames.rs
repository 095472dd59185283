//! Files that hold a header and then fixed-size frames of samples (WAV, `.npy`): the reading,
//! seeking and truncation checks they share. Each format only decodes the bytes of its frames.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::{InputError, READ_CHUNK};

/// The sample data of a file: `frames` frames of `frame_bytes` bytes from `data_start`.
#[derive(Debug)]
pub(crate) struct FrameFile {
    path: String,
    reader: BufReader<File>,
    data_start: u64,
    frame_bytes: usize,
    frames: u64,
    position: u64,
    bytes: Vec<u8>,
}

impl FrameFile {
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
            reader,
            data_start,
            frame_bytes,
            frames,
            position: 0,
            bytes: Vec::new(),
        })
    }

    /// The file, for messages.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Frames in the file.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// The bytes of the next frames, at most `max` of them (and at most a read chunk); empty
    /// at the end.
    pub(crate) fn read(&mut self, max: usize) -> Result<&[u8], InputError> {
        let left = usize::try_from(self.frames - self.position).unwrap_or(usize::MAX);
        let frames = left.min(max).min(READ_CHUNK);
        self.bytes.resize(frames * self.frame_bytes, 0);
        if let Err(source) = self.reader.read_exact(&mut self.bytes) {
            return Err(if source.kind() == std::io::ErrorKind::UnexpectedEof {
                InputError::Truncated {
                    path: self.path.clone(),
                    message: format!(
                        "samples end before frame {} of the {} the header promises",
                        self.position + frames as u64,
                        self.frames
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

    /// Moves to frame `position` (the end, past it).
    pub(crate) fn seek(&mut self, position: u64) -> Result<(), InputError> {
        let position = position.min(self.frames);
        self.reader
            .seek(SeekFrom::Start(
                self.data_start + position * self.frame_bytes as u64,
            ))
            .map_err(|source| InputError::Read {
                path: self.path.clone(),
                source,
            })?;
        self.position = position;
        Ok(())
    }
}

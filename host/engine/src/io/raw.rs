//! Raw input: little-endian f32 samples and nothing else.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{InputError, READ_CHUNK, SampleSource};

/// Little-endian f32 samples from a file, or from any reader (stdin) when it cannot seek.
pub struct RawF32Source {
    path: String,
    reader: Box<dyn ReadSeek>,
    seekable: bool,
    total: Option<u64>,
    bytes: Vec<u8>,
    /// Bytes of a sample split across two reads.
    carry: Vec<u8>,
}

impl std::fmt::Debug for RawF32Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawF32Source")
            .field("path", &self.path)
            .finish()
    }
}

trait ReadSeek: Read + Send {
    fn seek_to(&mut self, byte: u64) -> std::io::Result<bool>;
}

impl ReadSeek for BufReader<File> {
    fn seek_to(&mut self, byte: u64) -> std::io::Result<bool> {
        self.seek(SeekFrom::Start(byte)).map(|_| true)
    }
}

struct Unseekable<R>(R);

impl<R: Read + Send> Read for Unseekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Send> ReadSeek for Unseekable<R> {
    fn seek_to(&mut self, _: u64) -> std::io::Result<bool> {
        Ok(false)
    }
}

impl RawF32Source {
    /// Opens a file; its length must be a whole number of samples.
    pub fn open(path: &Path) -> Result<RawF32Source, InputError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| InputError::Open {
            path: name.clone(),
            source,
        })?;
        let len = file.metadata().map_err(|source| InputError::Read {
            path: name.clone(),
            source,
        })?;
        let len = len.len();
        if len % 4 != 0 {
            return Err(InputError::Truncated {
                path: name,
                message: format!("{len} bytes is not a whole number of 4-byte f32 samples"),
            });
        }
        Ok(RawF32Source {
            path: name,
            reader: Box::new(BufReader::new(file)),
            seekable: true,
            total: Some(len / 4),
            bytes: Vec::new(),
            carry: Vec::new(),
        })
    }

    /// Reads samples from a stream that cannot seek, such as stdin.
    pub fn from_reader(name: &str, reader: impl Read + Send + 'static) -> RawF32Source {
        RawF32Source {
            path: name.to_string(),
            reader: Box::new(Unseekable(reader)),
            seekable: false,
            total: None,
            bytes: Vec::new(),
            carry: Vec::new(),
        }
    }
}

impl SampleSource for RawF32Source {
    fn describe(&self) -> String {
        self.path.clone()
    }

    fn total_samples(&self) -> Option<u64> {
        self.total
    }

    fn sample_rate(&self) -> Option<u32> {
        None
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        let want = max.min(READ_CHUNK) * 4;
        if want == 0 {
            return Ok(0);
        }
        self.bytes.clear();
        self.bytes.append(&mut self.carry);
        let mut filled = self.bytes.len();
        self.bytes.resize(want.max(filled), 0);
        // One read fills as much as the stream has ready; keep going only until a whole
        // sample has arrived.
        while filled < 4 {
            let n = self
                .reader
                .read(&mut self.bytes[filled..])
                .map_err(|source| InputError::Read {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                if filled == 0 {
                    return Ok(0);
                }
                return Err(InputError::Truncated {
                    path: self.path.clone(),
                    message: format!("the stream ends {filled} byte(s) into an f32 sample"),
                });
            }
            filled += n;
        }
        let whole = filled / 4 * 4;
        self.carry.extend_from_slice(&self.bytes[whole..filled]);
        out.extend(
            self.bytes[..whole]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        Ok(whole / 4)
    }

    fn seekable(&self) -> bool {
        self.seekable
    }

    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        if !self.seekable {
            return Ok(false);
        }
        self.carry.clear();
        self.reader
            .seek_to(position * 4)
            .map_err(|source| InputError::Read {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, to split samples across reads.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn reassembles_samples_split_across_reads() {
        let values: Vec<f32> = (0..50).map(|i| i as f32 * 0.5 - 3.0).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        for step in [1, 3, 5, 7, 200] {
            let mut source = RawF32Source::from_reader(
                "stdin",
                Trickle {
                    data: bytes.clone(),
                    at: 0,
                    step,
                },
            );
            let mut out = Vec::new();
            while source.read_into(&mut out, 16).expect("reads") > 0 {}
            assert_eq!(out, values, "step {step}");
            assert!(!source.seek(0).expect("answers"));
        }
    }

    #[test]
    fn partial_trailing_sample_is_truncation() {
        let mut source = RawF32Source::from_reader(
            "stdin",
            Trickle {
                data: vec![0, 0, 128, 63, 1, 2],
                at: 0,
                step: 100,
            },
        );
        let mut out = Vec::new();
        assert_eq!(source.read_into(&mut out, 16).expect("first sample"), 1);
        let err = source.read_into(&mut out, 16).unwrap_err().to_string();
        assert_eq!(
            err,
            "stdin is truncated: the stream ends 2 byte(s) into an f32 sample"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.f32");
        std::fs::write(&path, [0u8; 10]).expect("write");
        let err = RawF32Source::open(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("10 bytes is not a whole number of 4-byte f32 samples"),
            "{err}"
        );
    }
}

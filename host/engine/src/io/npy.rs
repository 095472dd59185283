//! `.npy` input: npyz reads and checks the header; the samples of a 1-D float array are then
//! decoded in bulk, straight from the file.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::Path;

use npyz::{DType, Endianness, TypeChar};

use super::frames::FrameFile;
use super::{InputError, SampleSource};

/// A 1-D `.npy` array of f32 (or f64, rounded to f32), either byte order.
#[derive(Debug)]
pub struct NpySource {
    file: FrameFile,
    item: usize,
    big_endian: bool,
}

impl NpySource {
    /// Opens a `.npy` file holding a 1-D float array.
    pub fn open(path: &Path) -> Result<NpySource, InputError> {
        let name = path.display().to_string();
        let format_error = |message: String| InputError::Format {
            path: name.clone(),
            message,
        };
        let file = File::open(path).map_err(|source| InputError::Open {
            path: name.clone(),
            source,
        })?;
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let mut file = file;
        check_header(&mut file).map_err(format_error)?;
        let npy = npyz::NpyFile::new(BufReader::new(file))
            .map_err(|e| format_error(format!("not an .npy file we can read: {e}")))?;
        let shape = npy.shape().to_vec();
        let dtype = npy.dtype();
        let (item, big_endian) = match &dtype {
            DType::Plain(ty)
                if ty.type_char() == TypeChar::Float && matches!(ty.size_field(), 4 | 8) =>
            {
                (ty.size_field() as usize, ty.endianness() == Endianness::Big)
            }
            _ => {
                return Err(format_error(format!(
                    "holds {}, but input must be float32 or float64",
                    dtype.descr()
                )));
            }
        };
        let [len] = shape[..] else {
            return Err(format_error(format!(
                "has shape {shape:?}, but input must be a 1-D array of samples"
            )));
        };
        let mut reader = npy.into_inner();
        let data_start = reader
            .stream_position()
            .map_err(|source| InputError::Read {
                path: name.clone(),
                source,
            })?;
        Ok(NpySource {
            file: FrameFile::new(name, reader, file_len, data_start, item, len)?,
            item,
            big_endian,
        })
    }
}

/// numpy's own limit on a header's length (`max_header_size`).
const MAX_HEADER: usize = 10_000;
/// Brackets a header may nest: `{'shape': (n,)}` needs 2, a structured dtype a few more.
const MAX_NESTING: usize = 8;

/// Checks the header's length and nesting before npyz parses it, and rewinds: a header of
/// thousands of nested brackets takes npyz's parser minutes (found by fuzzing).
fn check_header(file: &mut File) -> Result<(), String> {
    use std::io::{Read, SeekFrom};
    let mut prelude = [0u8; 12];
    let n = file
        .read(&mut prelude)
        .map_err(|e| format!("cannot read its header: {e}"))?;
    let (len, start) = match prelude[..n] {
        [0x93, b'N', b'U', b'M', b'P', b'Y', 1, _, a, b, ..] => {
            (usize::from(u16::from_le_bytes([a, b])), 10)
        }
        [0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _, a, b, c, d] => {
            (u32::from_le_bytes([a, b, c, d]) as usize, 12)
        }
        // Not an .npy at all: npyz says so in its own words.
        _ => (0, 0),
    };
    if len > MAX_HEADER {
        return Err(format!(
            "its header is {len} bytes, longer than numpy's limit of {MAX_HEADER}"
        ));
    }
    if len > 0 {
        let mut header = vec![0u8; len];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut header))
            .map_err(|e| format!("cannot read its header: {e}"))?;
        let (mut depth, mut deepest) = (0usize, 0usize);
        for &b in &header {
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if deepest > MAX_NESTING {
            return Err(format!(
                "its header nests brackets {deepest} deep (a .npy header needs a few)"
            ));
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read its header: {e}"))?;
    Ok(())
}

impl SampleSource for NpySource {
    fn describe(&self) -> String {
        self.file.path().to_string()
    }

    fn total_samples(&self) -> Option<u64> {
        self.file.frames()
    }

    fn sample_rate(&self) -> Option<u32> {
        None
    }

    fn read_into(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, InputError> {
        let (item, big_endian) = (self.item, self.big_endian);
        let bytes = self.file.read(max)?;
        match (item, big_endian) {
            (4, false) => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            (4, true) => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            ),
            (_, big) => out.extend(bytes.chunks_exact(8).map(|b| {
                let bytes = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                (if big {
                    f64::from_be_bytes(bytes)
                } else {
                    f64::from_le_bytes(bytes)
                }) as f32
            })),
        }
        Ok(bytes.len() / item)
    }

    fn seek(&mut self, position: u64) -> Result<bool, InputError> {
        self.file.seek(position)
    }

    fn try_clone(&self) -> Option<Box<dyn SampleSource>> {
        Some(Box::new(NpySource {
            file: self.file.try_clone()?,
            item: self.item,
            big_endian: self.big_endian,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;

    fn write<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], values: &[T]) {
        let file = std::fs::File::create(path).expect("create");
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(std::io::BufWriter::new(file))
            .begin_nd()
            .expect("header");
        for v in values {
            w.push(v).expect("push");
        }
        w.finish().expect("finish");
    }

    #[test]
    fn a_header_of_deeply_nested_brackets_is_refused_before_parsing() {
        // Found by fuzzing: npyz's parser took more than 10 s on this header.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested.npy");
        let dict = format!(
            "{{'descr': '<f4', 'shape': ({}4{},)}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        std::fs::write(&path, bytes).expect("write");
        let err = NpySource::open(&path).expect_err("refused");
        assert!(err.to_string().contains("nests brackets 102 deep"), "{err}");
        let mut long = b"\x93NUMPY\x02\x00".to_vec();
        long.extend_from_slice(&20_000u32.to_le_bytes());
        long.extend(std::iter::repeat_n(b' ', 20_000));
        std::fs::write(&path, long).expect("write");
        let err = NpySource::open(&path).expect_err("refused");
        assert!(err.to_string().contains("header is 20000 bytes"), "{err}");
    }

    #[test]
    fn reads_f32_and_f64_and_seeks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let values: Vec<f32> = (0..300).map(|i| (i as f32).sin()).collect();
        let path = dir.path().join("a.npy");
        write(&path, &[300], &values);
        let mut source = NpySource::open(&path).expect("opens");
        let mut out = Vec::new();
        while source.read_into(&mut out, 64).expect("reads") > 0 {}
        assert_eq!(out, values);
        source.seek(290).expect("seeks");
        out.clear();
        source.read_into(&mut out, 64).expect("reads");
        assert_eq!(out, values[290..].to_vec());

        let wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        let path = dir.path().join("b.npy");
        write(&path, &[300], &wide);
        let mut source = NpySource::open(&path).expect("opens");
        out.clear();
        while source.read_into(&mut out, 64).expect("reads") > 0 {}
        assert_eq!(out, values);
    }

    #[test]
    fn rejects_wrong_dtype_rank_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("i.npy");
        write(&path, &[3], &[1i32, 2, 3]);
        let err = NpySource::open(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("holds '<i4', but input must be float32 or float64"),
            "{err}"
        );
        write(&path, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0]);
        let err = NpySource::open(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("has shape [2, 2], but input must be a 1-D array of samples"),
            "{err}"
        );
        write(&path, &[4], &[1.0f32, 2.0, 3.0, 4.0]);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("truncate");
        let err = NpySource::open(&path).unwrap_err().to_string();
        assert!(
            err.contains(
                "is truncated: the header promises 16 bytes of samples, the file holds 13"
            ),
            "{err}"
        );
        std::fs::write(&path, b"not numpy").expect("write");
        let err = NpySource::open(&path).unwrap_err().to_string();
        assert!(err.contains("not an .npy file we can read"), "{err}");
    }
}

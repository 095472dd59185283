//! The `.npy` header of every output: one layout ([`npy_header`] padded to
//! [`npy_placeholder_len`]) whether the row count is known from the start (a resumable output,
//! shards) or patched in at the end, so the same rows give the same bytes either way.

use std::path::Path;

use super::sink::OutputError;
use crate::tensor::{Complex32, DType, Layout};

/// A format 1.0 `.npy` header for C-ordered `shape` of `dtype`, padded with spaces to at
/// least `min_len` bytes and to a multiple of 64.
pub(crate) fn npy_header(dtype: DType, shape: &[u64], min_len: usize) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let dims = match dims.as_slice() {
        [one] => format!("{one},"),
        _ => dims.join(", "),
    };
    let dict = format!(
        "{{'descr': {}, 'fortran_order': False, 'shape': ({dims}), }}",
        npy_dtype(dtype).descr()
    );
    let len = (10 + dict.len() + 1).max(min_len).next_multiple_of(64);
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    // Dictionaries of this form are far shorter than 64 KiB.
    header.extend(u16::try_from(len - 10).unwrap_or(u16::MAX).to_le_bytes());
    header.extend(dict.as_bytes());
    header.resize(len - 1, b' ');
    header.push(b'\n');
    header
}

/// The placeholder row count of a [`Writer::NpyPatched`] header: as many digits as any count.
pub(crate) const NPY_PLACEHOLDER: u64 = 10_000_000_000_000_000_000;

/// The length every `.npy` header of rows of `row_shape` is padded to: that of a header whose
/// row count has the most digits any count can have, so that the count can be patched in
/// without moving the data.
pub(crate) fn npy_placeholder_len(dtype: DType, row_shape: &[u64]) -> usize {
    let mut shape = vec![NPY_PLACEHOLDER];
    shape.extend(row_shape);
    npy_header(dtype, &shape, 0).len()
}

/// `.npy` holds numbers: text rows are refused with the formats that take them.
pub(crate) fn npy_takes(path: &Path, layout: &Layout) -> Result<(), OutputError> {
    if layout.dtype == DType::Text {
        return Err(OutputError::Unsupported {
            path: path.display().to_string(),
            message: "rows of text cannot be written as .npy; write .jsonl or .csv".into(),
        });
    }
    Ok(())
}

pub(crate) fn npy_dtype(dtype: DType) -> npyz::DType {
    use npyz::AutoSerialize;
    match dtype {
        DType::F32 => f32::default_dtype(),
        DType::F64 => f64::default_dtype(),
        DType::C32 => Complex32::default_dtype(),
        DType::I32 => i32::default_dtype(),
        DType::U8 => u8::default_dtype(),
        DType::Text => unreachable!("text rows are refused (npy_takes) before a .npy is begun"),
    }
}

//! Blocks across the boundary: host tensors into WIT tensors, and what a plugin returns checked
//! against the layout it declared ([`accept`]) before anything downstream reads it.

use super::contract::{wit, wit_0_1};
use super::plugin_text;
use crate::stage::Port;
use crate::stage::StageError;
use crate::tensor::{Complex32, DType, Element, Tensor, TensorView, TextColumn};

pub(super) fn wit_dtype(dtype: DType) -> wit::Dtype {
    match dtype {
        DType::F32 => wit::Dtype::F32,
        DType::F64 => wit::Dtype::F64,
        DType::C32 => wit::Dtype::C32,
        DType::I32 => wit::Dtype::S32,
        DType::U8 => wit::Dtype::U8,
        DType::Text => wit::Dtype::Text,
    }
}

pub(super) fn host_dtype(dtype: wit::Dtype) -> DType {
    match dtype {
        wit::Dtype::F32 => DType::F32,
        wit::Dtype::F64 => DType::F64,
        wit::Dtype::C32 => DType::C32,
        wit::Dtype::S32 => DType::I32,
        wit::Dtype::U8 => DType::U8,
        wit::Dtype::Text => DType::Text,
    }
}

pub(super) fn dtype_name(dtype: wit::Dtype) -> &'static str {
    host_dtype(dtype).name()
}

pub(super) fn wit_layout(port: &Port) -> wit::Layout {
    wit::Layout {
        dtype: wit_dtype(port.layout.dtype),
        row_shape: port.layout.row_shape.iter().map(|&d| d as u32).collect(),
        frequency: port.freq_axis.map(|a| wit::FrequencyAxis {
            first_hz: a.first_hz,
            step_hz: a.step_hz,
        }),
    }
}

/// What a plugin's error says, made safe to print (see [`plugin_text`]).
pub(super) fn describe_error(e: &wit::Error) -> String {
    match e {
        wit::Error::Params(m) => format!("bad parameters: {}", plugin_text(m)),
        wit::Error::Input(m) => format!("bad input: {}", plugin_text(m)),
        wit::Error::State(m) => format!("bad state: {}", plugin_text(m)),
        wit::Error::Failed(m) => plugin_text(m),
    }
}

pub(super) fn fill<T: Element>(
    view: &TensorView<'_>,
    values: &mut Vec<T>,
) -> Result<(), StageError> {
    values.clear();
    for row in view.typed::<T>()?.iter() {
        values.extend_from_slice(row);
    }
    Ok(())
}

/// Copies a host block into a plugin tensor of the contract `$wit`, reusing its buffers;
/// `$text` fills the contract's text elements, `$empty_text` makes an empty one.
macro_rules! to_wit {
    ($(#[$doc:meta])* $name:ident, $wit:ident, $text:expr, $empty_text:expr) => {
        $(#[$doc])*
        pub(super) fn $name(
            view: &TensorView<'_>,
            tensor: &mut $wit::Tensor,
        ) -> Result<(), StageError> {
            tensor.shape.clear();
            tensor.shape.push(view.rows() as u32);
            tensor
                .shape
                .extend(view.row_shape().iter().map(|&d| d as u32));
            macro_rules! refill {
                ($variant:ident, $fill:expr, $empty:expr) => {{
                    if !matches!(tensor.data, $wit::Data::$variant(_)) {
                        tensor.data = $wit::Data::$variant($empty);
                    }
                    if let $wit::Data::$variant(values) = &mut tensor.data {
                        $fill(view, values)?;
                    }
                }};
            }
            match view.dtype() {
                DType::F32 => refill!(F32, fill::<f32>, Vec::new()),
                DType::F64 => refill!(F64, fill::<f64>, Vec::new()),
                DType::I32 => refill!(S32, fill::<i32>, Vec::new()),
                DType::U8 => refill!(U8, fill::<u8>, Vec::new()),
                DType::C32 => refill!(C32, fill_interleaved, Vec::new()),
                DType::Text => refill!(Text, $text, $empty_text),
            }
            Ok(())
        }
    };
}

to_wit!(
    /// Copies a host block into a plugin tensor, reusing its buffers.
    to_wit,
    wit,
    fill_text,
    wit::TextBuffer {
        bytes: Vec::new(),
        ends: Vec::new(),
    }
);

to_wit!(
    /// [`to_wit`] for a plugin built against 0.1.0: text as a string per element.
    to_wit_0_1,
    wit_0_1,
    fill_strings,
    Vec::new()
);

/// Text elements as 0.1.0 has them: a string each.
fn fill_strings(view: &TensorView<'_>, values: &mut Vec<String>) -> Result<(), StageError> {
    values.clear();
    for row in view.text()?.iter() {
        values.extend(row.iter().map(str::to_string));
    }
    Ok(())
}

/// Complex elements as the contract has them: real and imaginary parts interleaved.
fn fill_interleaved(view: &TensorView<'_>, values: &mut Vec<f32>) -> Result<(), StageError> {
    values.clear();
    for row in view.typed::<Complex32>()?.iter() {
        values.extend(row.iter().flat_map(|z| [z.re, z.im]));
    }
    Ok(())
}

/// Text elements into one buffer: their bytes back to back and where each ends.
fn fill_text(view: &TensorView<'_>, buffer: &mut wit::TextBuffer) -> Result<(), StageError> {
    buffer.bytes.clear();
    buffer.ends.clear();
    let rows = view.text()?;
    let too_long = || StageError::Failed("one call's text is more than 4 GiB".into());
    // A row is one run of the block's text: one copy, its ends shifted.
    for run in rows.iter() {
        let base = buffer.bytes.len();
        buffer.bytes.extend_from_slice(run.as_str().as_bytes());
        u32::try_from(buffer.bytes.len()).map_err(|_| too_long())?;
        buffer.ends.extend(run.ends().map(|e| (base + e) as u32));
    }
    Ok(())
}

/// The elements of a text buffer a plugin returned, checked: `count` of them, ends in order
/// and within the bytes, the bytes UTF-8 and every end between two characters. The bytes
/// become the column's text without a copy.
fn text_elements(buffer: wit::TextBuffer, count: usize) -> Result<TextColumn, String> {
    if buffer.ends.len() != count {
        return Err(format!(
            "returned {} text elements for {count}",
            buffer.ends.len()
        ));
    }
    if buffer.ends.last().map_or(0, |&e| e as usize) != buffer.bytes.len() {
        return Err(format!(
            "returned text of {} bytes whose last element ends at {}",
            buffer.bytes.len(),
            buffer.ends.last().copied().unwrap_or(0)
        ));
    }
    let text = String::from_utf8(buffer.bytes)
        .map_err(|e| format!("returned text that is not UTF-8: {}", e.utf8_error()))?;
    let ends = buffer.ends.into_iter().map(|e| e as usize).collect();
    TextColumn::from_parts(text, ends).map_err(|e| {
        format!(
            "returned text element {} at bytes {}..{}, which is not a run of whole characters",
            e.index, e.start, e.end
        )
    })
}

/// Checks a tensor a plugin returned for a block of `rows` against the layout it `declared`,
/// and copies it into `out`; what is wrong with it otherwise. Nothing a plugin returns gets
/// past this unchecked: dtype, shape, row count and value count.
pub(crate) fn accept(
    declared: &wit::Layout,
    tensor: wit::Tensor,
    rows: usize,
    out: &mut Tensor,
) -> Result<(), String> {
    let found_dtype = match &tensor.data {
        wit::Data::F32(_) => wit::Dtype::F32,
        wit::Data::F64(_) => wit::Dtype::F64,
        wit::Data::C32(_) => wit::Dtype::C32,
        wit::Data::S32(_) => wit::Dtype::S32,
        wit::Data::U8(_) => wit::Dtype::U8,
        wit::Data::Text(_) => wit::Dtype::Text,
    };
    if found_dtype != declared.dtype {
        return Err(format!(
            "returned {} rows, but it declared {}",
            dtype_name(found_dtype),
            dtype_name(declared.dtype)
        ));
    }
    let (found_rows, row_shape) = match tensor.shape.split_first() {
        Some((&r, shape)) => (r as usize, shape),
        None => return Err("returned a tensor with no shape".into()),
    };
    if row_shape != declared.row_shape.as_slice() {
        return Err(format!(
            "returned rows of shape {row_shape:?}, but it declared {:?}",
            declared.row_shape
        ));
    }
    if found_rows != rows {
        return Err(format!("returned {found_rows} rows for a block of {rows}"));
    }
    let row_len: usize = row_shape.iter().map(|&d| d as usize).product();
    let count = |n: usize, per: usize| {
        if rows.checked_mul(row_len).and_then(|e| e.checked_mul(per)) == Some(n) {
            Ok(())
        } else {
            Err(format!(
                "returned {} values for {rows} rows of {row_len}",
                n / per
            ))
        }
    };
    let row_shape: Vec<usize> = row_shape.iter().map(|&d| d as usize).collect();
    match tensor.data {
        wit::Data::F32(v) => {
            count(v.len(), 1)?;
            out.reset::<f32>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::F64(v) => {
            count(v.len(), 1)?;
            out.reset::<f64>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::S32(v) => {
            count(v.len(), 1)?;
            out.reset::<i32>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::U8(v) => {
            count(v.len(), 1)?;
            out.reset::<u8>(rows, &row_shape).copy_from_slice(&v);
        }
        wit::Data::C32(v) => {
            count(v.len(), 2)?;
            for (z, pair) in out
                .reset::<Complex32>(rows, &row_shape)
                .iter_mut()
                .zip(v.chunks_exact(2))
            {
                *z = Complex32::new(pair[0], pair[1]);
            }
        }
        wit::Data::Text(buffer) => {
            let elements = rows.checked_mul(row_len).ok_or_else(|| {
                format!("returned {rows} rows of {row_len} text elements, too many")
            })?;
            let v = text_elements(buffer, elements)?;
            *out = Tensor::text(rows, row_shape, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Fuzzing entry: a declared layout, a block size and a returned tensor decoded from `data`
/// through [`accept`]. Whatever the bytes, it returns an error or a tensor of exactly the
/// declared layout and row count; it never panics.
#[cfg(feature = "internals")]
pub fn fuzz_output(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let dtypes = [
        wit::Dtype::F32,
        wit::Dtype::F64,
        wit::Dtype::C32,
        wit::Dtype::S32,
        wit::Dtype::U8,
        wit::Dtype::Text,
    ];
    let dtype = dtypes[usize::from(next()) % dtypes.len()];
    let variant = next() % 6;
    let rank = next() % 3;
    let row_shape: Vec<u32> = (0..rank).map(|_| u32::from(next() % 9)).collect();
    let rows = usize::from(next() % 17);
    let returned_rank = next() % 4;
    let shape: Vec<u32> = (0..returned_rank)
        .map(|_| u32::from_le_bytes([next(), next(), next(), next()]))
        .collect();
    let consumed = 6 + usize::from(rank) + 4 * usize::from(returned_rank);
    let values = data.get(consumed..).unwrap_or_default();
    let words = || values.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
    let data = match variant {
        0 => wit::Data::F32(words().map(f32::from_le_bytes).collect()),
        1 => wit::Data::F64(
            values
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
        2 => wit::Data::C32(words().map(f32::from_le_bytes).collect()),
        3 => wit::Data::S32(words().map(i32::from_le_bytes).collect()),
        4 => wit::Data::U8(values.to_vec()),
        _ => {
            // Up to 7 ends (kept near the text's length, so some fit), then the text.
            let n = values.first().map_or(0, |&b| usize::from(b % 8));
            let ends = values.get(1..1 + 4 * n).unwrap_or_default();
            let text = values.get(1 + 4 * n..).unwrap_or_default();
            let near = text.len() as u32 + 2;
            wit::Data::Text(wit::TextBuffer {
                bytes: text.to_vec(),
                ends: ends
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) % near)
                    .collect(),
            })
        }
    };
    let declared = wit::Layout {
        dtype,
        row_shape: row_shape.clone(),
        frequency: None,
    };
    let mut out = Tensor::empty(&crate::tensor::Layout::new(DType::F32, Vec::new()));
    if accept(&declared, wit::Tensor { shape, data }, rows, &mut out).is_ok() {
        let want: Vec<usize> = row_shape.iter().map(|&d| d as usize).collect();
        assert_eq!(out.rows(), rows, "accepted with another row count");
        assert_eq!(
            out.row_shape(),
            &want[..],
            "accepted with another row shape"
        );
        assert_eq!(out.dtype(), host_dtype(dtype), "accepted another dtype");
    }
}

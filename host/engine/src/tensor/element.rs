//! Element types: [`DType`], the [`Element`] trait each Rust type of them implements, and the
//! typed storage ([`Data`], [`DataRef`]) a tensor holds.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Complex32;
use super::text::{TextColumn, TextSlice};

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// Complex number of two 32-bit floats, real part first.
    C32,
    /// 32-bit signed integer.
    I32,
    /// Unsigned byte.
    U8,
    /// A string of UTF-8 text (one log line, one record).
    Text,
}

/// What one text element is planned to cost: a typical log line (about 150 bytes) and its end
/// offset in the block's [`TextColumn`], with room for the buffer's growth. Budgets and
/// estimates use it;
/// [`Tensor::nbytes`](crate::tensor::Tensor::nbytes) counts the real lengths.
pub const TEXT_ELEMENT_BYTES: usize = 192;

impl DType {
    /// Bytes per element in memory (for text, an estimate: see [`TEXT_ELEMENT_BYTES`]).
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::C32 => 8,
            DType::U8 => 1,
            DType::Text => TEXT_ELEMENT_BYTES,
        }
    }

    /// Short lowercase name, as written in pipelines and reports.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::C32 => "c32",
            DType::I32 => "i32",
            DType::U8 => "u8",
            DType::Text => "text",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Owned element storage of a tensor.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    C32(Vec<Complex32>),
    I32(Vec<i32>),
    U8(Vec<u8>),
    Text(TextColumn),
}

/// Borrowed element storage of a tensor view.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum DataRef<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    C32(&'a [Complex32]),
    I32(&'a [i32]),
    U8(&'a [u8]),
    Text(TextSlice<'a>),
}

/// A Rust type that can be the element of a tensor: the numbers (text elements are held
/// together, in a [`TextColumn`]).
pub trait Element: Clone + Default + Send + Sync + fmt::Debug + 'static {
    /// The matching dtype.
    const DTYPE: DType;
    /// The elements of `data`, if it holds this type.
    fn slice(data: DataRef<'_>) -> Option<&[Self]>;
    /// The vector inside `data`, if it holds this type.
    fn vec_mut(data: &mut Data) -> Option<&mut Vec<Self>>;
    /// Wraps a vector of this type.
    fn wrap(values: Vec<Self>) -> Data;
    /// Bit-exact equality: NaN payloads and signed zeros count.
    fn same(&self, other: &Self) -> bool;
    /// Appends the element's little-endian bytes.
    fn put_le(&self, out: &mut Vec<u8>);
    /// Takes one element off the front of `bytes`; `None` when they end first or are not
    /// an element.
    fn get_le(bytes: &mut &[u8]) -> Option<Self>;
}

macro_rules! element {
    ($ty:ty, $variant:ident, $bits:expr, $put:expr, $get:expr) => {
        impl Element for $ty {
            const DTYPE: DType = DType::$variant;
            fn slice(data: DataRef<'_>) -> Option<&[Self]> {
                match data {
                    DataRef::$variant(values) => Some(values),
                    _ => None,
                }
            }
            fn vec_mut(data: &mut Data) -> Option<&mut Vec<Self>> {
                match data {
                    Data::$variant(values) => Some(values),
                    _ => None,
                }
            }
            fn wrap(values: Vec<Self>) -> Data {
                Data::$variant(values)
            }
            fn same(&self, other: &Self) -> bool {
                let to_bits: fn($ty) -> u64 = $bits;
                to_bits(*self) == to_bits(*other)
            }
            fn put_le(&self, out: &mut Vec<u8>) {
                let put: fn($ty, &mut Vec<u8>) = $put;
                put(*self, out)
            }
            fn get_le(bytes: &mut &[u8]) -> Option<Self> {
                let get: fn(&[u8]) -> $ty = $get;
                let (head, rest) = bytes.split_at_checked(Self::DTYPE.size())?;
                *bytes = rest;
                Some(get(head))
            }
        }
    };
}

fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

element!(
    f32,
    F32,
    |v| u64::from(v.to_bits()),
    |v, out| out.extend_from_slice(&v.to_le_bytes()),
    |b| f32::from_le_bytes(le(b))
);
element!(
    f64,
    F64,
    |v| v.to_bits(),
    |v, out| out.extend_from_slice(&v.to_le_bytes()),
    |b| f64::from_le_bytes(le(b))
);
element!(
    Complex32,
    C32,
    |v| (u64::from(v.re.to_bits()) << 32) | u64::from(v.im.to_bits()),
    |v, out| {
        out.extend_from_slice(&v.re.to_le_bytes());
        out.extend_from_slice(&v.im.to_le_bytes());
    },
    |b| Complex32::new(f32::from_le_bytes(le(b)), f32::from_le_bytes(le(&b[4..])))
);
element!(
    i32,
    I32,
    |v| u64::from(v.cast_unsigned()),
    |v, out| out.extend_from_slice(&v.to_le_bytes()),
    |b| i32::from_le_bytes(le(b))
);
element!(u8, U8, u64::from, |v, out| out.push(v), |b| b[0]);

/// Calls `$f::<T>($args)` with `T` the element type of `$dtype`, or for text `$text`.
macro_rules! with_element {
    ($dtype:expr, $f:ident($($args:expr),*), text => $text:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => $f::<f32>($($args),*),
            $crate::tensor::DType::F64 => $f::<f64>($($args),*),
            $crate::tensor::DType::C32 => $f::<$crate::tensor::Complex32>($($args),*),
            $crate::tensor::DType::I32 => $f::<i32>($($args),*),
            $crate::tensor::DType::U8 => $f::<u8>($($args),*),
            $crate::tensor::DType::Text => $text,
        }
    };
}
pub(crate) use with_element;

impl Data {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::C32(_) => DType::C32,
            Data::I32(_) => DType::I32,
            Data::U8(_) => DType::U8,
            Data::Text(_) => DType::Text,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Bytes allocated: the vector's capacity, and for text the strings' own.
    pub(super) fn nbytes(&self) -> usize {
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        match self {
            Data::F32(v) => vec(v),
            Data::F64(v) => vec(v),
            Data::C32(v) => vec(v),
            Data::I32(v) => vec(v),
            Data::U8(v) => vec(v),
            Data::Text(v) => v.nbytes(),
        }
    }

    pub(super) fn empty(dtype: DType) -> Data {
        fn empty<T: Element>() -> Data {
            T::wrap(Vec::new())
        }
        with_element!(dtype, empty(), text => Data::Text(TextColumn::new()))
    }

    pub(super) fn as_ref(&self) -> DataRef<'_> {
        match self {
            Data::F32(v) => DataRef::F32(v),
            Data::F64(v) => DataRef::F64(v),
            Data::C32(v) => DataRef::C32(v),
            Data::I32(v) => DataRef::I32(v),
            Data::U8(v) => DataRef::U8(v),
            Data::Text(v) => DataRef::Text(v.as_slice()),
        }
    }
}

impl<'a> DataRef<'a> {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            DataRef::F32(_) => DType::F32,
            DataRef::F64(_) => DType::F64,
            DataRef::C32(_) => DType::C32,
            DataRef::I32(_) => DType::I32,
            DataRef::U8(_) => DType::U8,
            DataRef::Text(_) => DType::Text,
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            DataRef::F32(v) => v.len(),
            DataRef::F64(v) => v.len(),
            DataRef::C32(v) => v.len(),
            DataRef::I32(v) => v.len(),
            DataRef::U8(v) => v.len(),
            DataRef::Text(v) => v.len(),
        }
    }

    pub(super) fn sub(self, range: std::ops::Range<usize>) -> DataRef<'a> {
        match self {
            DataRef::F32(v) => DataRef::F32(&v[range]),
            DataRef::F64(v) => DataRef::F64(&v[range]),
            DataRef::C32(v) => DataRef::C32(&v[range]),
            DataRef::I32(v) => DataRef::I32(&v[range]),
            DataRef::U8(v) => DataRef::U8(&v[range]),
            DataRef::Text(v) => DataRef::Text(v.sub(range)),
        }
    }
}

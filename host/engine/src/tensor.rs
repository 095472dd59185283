//! Blocks of windows: the typed, row-major data that flows between stages.
//!
//! A [`Tensor`] holds `rows` rows (one per window) of `row_shape` elements each. Rows start
//! `row_stride` elements apart: for ordinary stage outputs the stride equals the row length,
//! but the framed input uses the hop as its stride, so overlapping windows share their samples
//! instead of being copied out (numpy users know this as `as_strided` framing).

use std::fmt;

use ndarray::{ArrayView2, ShapeBuilder};
use serde::{Deserialize, Serialize};

pub use rustfft::num_complex::Complex32;

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

/// What one text element is planned to cost: a `String` (24 bytes) and a typical log line
/// (about 150 bytes) with its allocation's rounding. Budgets and estimates use it;
/// [`Tensor::nbytes`] counts the real lengths.
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
    Text(Vec<String>),
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
    Text(&'a [String]),
}

/// A Rust type that can be the element of a tensor.
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
    /// Appends the element's little-endian bytes (text: a u32 byte length, then the bytes).
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

impl Element for String {
    const DTYPE: DType = DType::Text;
    fn slice(data: DataRef<'_>) -> Option<&[Self]> {
        match data {
            DataRef::Text(values) => Some(values),
            _ => None,
        }
    }
    fn vec_mut(data: &mut Data) -> Option<&mut Vec<Self>> {
        match data {
            Data::Text(values) => Some(values),
            _ => None,
        }
    }
    fn wrap(values: Vec<Self>) -> Data {
        Data::Text(values)
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.as_bytes()[..len as usize]);
    }
    fn get_le(bytes: &mut &[u8]) -> Option<Self> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let (text, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        let text = std::str::from_utf8(text).ok()?.to_string();
        *bytes = rest;
        Some(text)
    }
}

/// Calls `$f::<T>($args)` with `T` the element type of `$dtype`.
macro_rules! with_element {
    ($dtype:expr, $f:ident($($args:expr),*)) => {
        match $dtype {
            DType::F32 => $f::<f32>($($args),*),
            DType::F64 => $f::<f64>($($args),*),
            DType::C32 => $f::<Complex32>($($args),*),
            DType::I32 => $f::<i32>($($args),*),
            DType::U8 => $f::<u8>($($args),*),
            DType::Text => $f::<String>($($args),*),
        }
    };
}

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

    fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Bytes allocated: the vector's capacity, and for text the strings' own.
    fn nbytes(&self) -> usize {
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        match self {
            Data::F32(v) => vec(v),
            Data::F64(v) => vec(v),
            Data::C32(v) => vec(v),
            Data::I32(v) => vec(v),
            Data::U8(v) => vec(v),
            Data::Text(v) => vec(v) + v.iter().map(String::capacity).sum::<usize>(),
        }
    }

    fn empty(dtype: DType) -> Data {
        fn empty<T: Element>() -> Data {
            T::wrap(Vec::new())
        }
        with_element!(dtype, empty())
    }

    fn as_ref(&self) -> DataRef<'_> {
        match self {
            Data::F32(v) => DataRef::F32(v),
            Data::F64(v) => DataRef::F64(v),
            Data::C32(v) => DataRef::C32(v),
            Data::I32(v) => DataRef::I32(v),
            Data::U8(v) => DataRef::U8(v),
            Data::Text(v) => DataRef::Text(v),
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

    fn len(&self) -> usize {
        match self {
            DataRef::F32(v) => v.len(),
            DataRef::F64(v) => v.len(),
            DataRef::C32(v) => v.len(),
            DataRef::I32(v) => v.len(),
            DataRef::U8(v) => v.len(),
            DataRef::Text(v) => v.len(),
        }
    }

    fn sub(self, range: std::ops::Range<usize>) -> DataRef<'a> {
        match self {
            DataRef::F32(v) => DataRef::F32(&v[range]),
            DataRef::F64(v) => DataRef::F64(&v[range]),
            DataRef::C32(v) => DataRef::C32(&v[range]),
            DataRef::I32(v) => DataRef::I32(&v[range]),
            DataRef::U8(v) => DataRef::U8(&v[range]),
            DataRef::Text(v) => DataRef::Text(&v[range]),
        }
    }
}

/// The dtype and per-row shape a tensor has, without its data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Layout {
    /// Element type.
    pub dtype: DType,
    /// Shape of one row (everything after the row axis).
    pub row_shape: Vec<usize>,
}

impl Layout {
    /// A layout.
    pub fn new(dtype: DType, row_shape: Vec<usize>) -> Layout {
        Layout { dtype, row_shape }
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_shape.iter().product()
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.row_len() * self.dtype.size()
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[rows", self.dtype)?;
        for dim in &self.row_shape {
            write!(f, ", {dim}")?;
        }
        f.write_str("]")
    }
}

/// A tensor's data did not have the type or size a caller needed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TensorError {
    /// The element type differs.
    #[error("expected {expected} data, found {found}")]
    DType {
        /// What the caller asked for.
        expected: DType,
        /// What the tensor holds.
        found: DType,
    },
    /// The data is shorter than the shape requires.
    #[error(
        "{rows} rows of {row_len} elements (stride {stride}) need {needed} elements, found {found}"
    )]
    Size {
        /// Number of rows.
        rows: usize,
        /// Elements per row.
        row_len: usize,
        /// Elements between row starts.
        stride: usize,
        /// Elements the shape needs.
        needed: usize,
        /// Elements present.
        found: usize,
    },
}

fn needed_len(rows: usize, row_len: usize, stride: usize) -> usize {
    if rows == 0 {
        0
    } else {
        (rows - 1) * stride + row_len
    }
}

/// An owned block of rows.
#[derive(Clone, Debug)]
pub struct Tensor {
    data: Data,
    rows: usize,
    row_shape: Vec<usize>,
    row_stride: usize,
}

impl Tensor {
    /// A contiguous tensor from its rows, given flat.
    pub fn new<T: Element>(
        rows: usize,
        row_shape: Vec<usize>,
        values: Vec<T>,
    ) -> Result<Tensor, TensorError> {
        let row_len = row_shape.iter().product();
        Tensor::strided(T::wrap(values), rows, row_shape, row_len)
    }

    /// A tensor whose rows start `row_stride` elements apart; with a stride smaller than the
    /// row length, consecutive rows overlap (framing a signal into windows without copying).
    pub fn strided(
        data: Data,
        rows: usize,
        row_shape: Vec<usize>,
        row_stride: usize,
    ) -> Result<Tensor, TensorError> {
        let row_len: usize = row_shape.iter().product();
        let needed = needed_len(rows, row_len, row_stride);
        if data.len() < needed {
            return Err(TensorError::Size {
                rows,
                row_len,
                stride: row_stride,
                needed,
                found: data.len(),
            });
        }
        Ok(Tensor {
            data,
            rows,
            row_shape,
            row_stride,
        })
    }

    /// Rows of `layout` from the little-endian bytes [`TensorView::to_le_bytes`] wrote; they
    /// must be a whole number of rows.
    pub fn from_le_bytes(layout: &Layout, bytes: &[u8]) -> Result<Tensor, TensorError> {
        fn values<T: Element>(mut bytes: &[u8]) -> Option<Data> {
            let mut values = Vec::new();
            while !bytes.is_empty() {
                values.push(T::get_le(&mut bytes)?);
            }
            Some(T::wrap(values))
        }
        let row_len = layout.row_len();
        let data = with_element!(layout.dtype, values(bytes));
        let elements = data.as_ref().map_or(0, |d| d.len());
        let rows = elements.checked_div(row_len).unwrap_or(0);
        match data {
            Some(data) if rows * row_len == elements => {
                Tensor::strided(data, rows, layout.row_shape.clone(), row_len)
            }
            _ => Err(TensorError::Size {
                rows,
                row_len,
                stride: row_len,
                needed: (rows + 1) * row_len,
                found: elements,
            }),
        }
    }

    /// A tensor with no rows.
    pub fn empty(layout: &Layout) -> Tensor {
        Tensor {
            data: Data::empty(layout.dtype),
            rows: 0,
            row_stride: layout.row_len(),
            row_shape: layout.row_shape.clone(),
        }
    }

    /// Number of rows (windows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Shape of one row.
    pub fn row_shape(&self) -> &[usize] {
        &self.row_shape
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_shape.iter().product()
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The dtype and row shape.
    pub fn layout(&self) -> Layout {
        Layout::new(self.dtype(), self.row_shape.clone())
    }

    /// Bytes of memory this tensor holds (its allocation, not only its rows; for text, the
    /// strings' too).
    pub fn nbytes(&self) -> usize {
        self.data.nbytes()
    }

    /// Borrow the whole tensor.
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            data: self.data.as_ref(),
            rows: self.rows,
            row_shape: &self.row_shape,
            row_stride: self.row_stride,
        }
    }

    /// Borrow rows `range` (relative to this tensor).
    pub fn slice_rows(&self, range: std::ops::Range<usize>) -> TensorView<'_> {
        self.view().slice_rows(range)
    }

    /// Gives the tensor `rows` contiguous rows of `row_shape` and returns the flat elements to
    /// fill, reusing the allocation when the element type matches. Elements that existed
    /// before keep their old values (clearing a reused buffer costs a memset per block), so
    /// the caller must write every element.
    pub fn reset<T: Element>(&mut self, rows: usize, row_shape: &[usize]) -> &mut [T] {
        let len = rows * row_shape.iter().product::<usize>();
        if T::vec_mut(&mut self.data).is_none() {
            self.data = T::wrap(Vec::new());
        }
        self.rows = rows;
        self.row_shape.clear();
        self.row_shape.extend_from_slice(row_shape);
        self.row_stride = self.row_len();
        match T::vec_mut(&mut self.data) {
            Some(values) => {
                values.truncate(len);
                values.resize_with(len, T::default);
                values
            }
            // `data` was replaced by a vector of `T` just above.
            None => unreachable!("tensor data was just set to the requested type"),
        }
    }

    /// The element storage, for reuse.
    pub fn into_data(self) -> Data {
        self.data
    }

    /// Bit-exact equality: same dtype, shape and the same bits in every element (NaN payloads
    /// included). This is what "classic and sqrt outputs are identical" means.
    pub fn bit_identical(&self, other: &Tensor) -> bool {
        self.view().bit_identical(&other.view())
    }
}

/// A borrowed block of rows.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    data: DataRef<'a>,
    rows: usize,
    row_shape: &'a [usize],
    row_stride: usize,
}

impl<'a> TensorView<'a> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Shape of one row.
    pub fn row_shape(&self) -> &'a [usize] {
        self.row_shape
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_shape.iter().product()
    }

    /// Elements between the starts of consecutive rows.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// Bytes the rows' elements take (text: its characters, not an estimate).
    pub fn nbytes(&self) -> usize {
        match self.typed::<String>() {
            Ok(rows) => rows.iter().flatten().map(String::len).sum(),
            Err(_) => self.rows * self.row_len() * self.dtype().size(),
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The dtype and row shape.
    pub fn layout(&self) -> Layout {
        Layout::new(self.dtype(), self.row_shape.to_vec())
    }

    /// Rows `range` of this view.
    pub fn slice_rows(&self, range: std::ops::Range<usize>) -> TensorView<'a> {
        assert!(
            range.start <= range.end && range.end <= self.rows,
            "row range {range:?} outside 0..{}",
            self.rows
        );
        let rows = range.end - range.start;
        let start = range.start * self.row_stride;
        let end = start + needed_len(rows, self.row_len(), self.row_stride);
        TensorView {
            data: self.data.sub(start..end),
            rows,
            row_shape: self.row_shape,
            row_stride: self.row_stride,
        }
    }

    /// Typed access to the rows.
    pub fn typed<T: Element>(&self) -> Result<Rows<'a, T>, TensorError> {
        let values = T::slice(self.data).ok_or(TensorError::DType {
            expected: T::DTYPE,
            found: self.dtype(),
        })?;
        Ok(Rows {
            values,
            rows: self.rows,
            row_len: self.row_len(),
            row_stride: self.row_stride,
        })
    }

    /// The rows as an ndarray view of shape `(rows, row_len)`, strides included (rows may
    /// overlap for the framed input).
    pub fn as_array2<T: Element>(&self) -> Result<ArrayView2<'a, T>, TensorError> {
        let rows = self.typed::<T>()?;
        let shape = (rows.rows, rows.row_len).strides((rows.row_stride, 1));
        match ArrayView2::from_shape(shape, rows.values) {
            Ok(view) => Ok(view),
            // from_shape only fails when the strides reach outside the slice, which the
            // constructors already ruled out.
            Err(_) => Err(TensorError::Size {
                rows: rows.rows,
                row_len: rows.row_len,
                stride: rows.row_stride,
                needed: needed_len(rows.rows, rows.row_len, rows.row_stride),
                found: rows.values.len(),
            }),
        }
    }

    /// A contiguous owned copy.
    pub fn to_tensor(&self) -> Tensor {
        let mut out = Tensor::empty(&self.layout());
        out.extend_rows(self);
        out
    }

    /// A contiguous owned copy with the rows in reverse order (time runs backward).
    pub fn reversed(&self) -> Tensor {
        fn reverse<T: Element>(view: &TensorView<'_>) -> Tensor {
            let rows = match view.typed::<T>() {
                Ok(rows) => rows,
                Err(e) => unreachable!("a view's own dtype: {e}"),
            };
            let mut values = Vec::with_capacity(rows.rows * rows.row_len);
            for i in (0..rows.rows).rev() {
                values.extend_from_slice(rows.row(i));
            }
            Tensor {
                data: T::wrap(values),
                rows: rows.rows,
                row_shape: view.row_shape.to_vec(),
                row_stride: rows.row_len,
            }
        }
        with_element!(self.dtype(), reverse(self))
    }

    /// The rows' elements as little-endian bytes, row after row.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        fn bytes<T: Element>(view: &TensorView<'_>) -> Vec<u8> {
            let mut out = Vec::with_capacity(view.nbytes());
            if let Ok(rows) = view.typed::<T>() {
                for v in rows.iter().flatten() {
                    v.put_le(&mut out);
                }
            }
            out
        }
        with_element!(self.dtype(), bytes(self))
    }

    /// Bit-exact equality (see [`Tensor::bit_identical`]).
    pub fn bit_identical(&self, other: &TensorView<'_>) -> bool {
        fn same<T: Element>(a: &TensorView<'_>, b: &TensorView<'_>) -> bool {
            match (a.typed::<T>(), b.typed::<T>()) {
                (Ok(a), Ok(b)) => a
                    .iter()
                    .zip(b.iter())
                    .all(|(x, y)| x.iter().zip(y).all(|(p, q)| p.same(q))),
                _ => false,
            }
        }
        if self.dtype() != other.dtype()
            || self.rows != other.rows
            || self.row_shape != other.row_shape
        {
            return false;
        }
        with_element!(self.dtype(), same(self, other))
    }
}

impl Tensor {
    /// Appends the rows of `view` (same dtype and row shape) and makes the tensor contiguous.
    ///
    /// # Panics
    /// When the dtype or row shape differ; callers check layouts when the plan is built.
    pub fn extend_rows(&mut self, view: &TensorView<'_>) {
        fn extend<T: Element>(out: &mut Tensor, view: &TensorView<'_>) {
            let src = match view.typed::<T>() {
                Ok(rows) => rows,
                Err(e) => panic!("extend_rows: {e}"),
            };
            out.make_contiguous::<T>();
            if let Some(values) = T::vec_mut(&mut out.data) {
                values.reserve(src.rows * src.row_len);
                for row in src.iter() {
                    values.extend_from_slice(row);
                }
            }
            out.rows += src.rows;
        }
        assert_eq!(
            (self.dtype(), self.row_shape.as_slice()),
            (view.dtype(), view.row_shape),
            "extend_rows: layouts differ"
        );
        with_element!(self.dtype(), extend(self, view))
    }

    fn make_contiguous<T: Element>(&mut self) {
        let row_len = self.row_len();
        if self.row_stride == row_len {
            if let Some(values) = T::vec_mut(&mut self.data) {
                values.truncate(self.rows * row_len);
            }
            return;
        }
        let copy = match self.view().typed::<T>() {
            Ok(rows) => rows.iter().flatten().cloned().collect::<Vec<T>>(),
            Err(_) => return,
        };
        self.data = T::wrap(copy);
        self.row_stride = row_len;
    }
}

/// Typed rows of a view.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, T> {
    values: &'a [T],
    rows: usize,
    row_len: usize,
    row_stride: usize,
}

impl<'a, T> Rows<'a, T> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [T] {
        let start = i * self.row_stride;
        &self.values[start..start + self.row_len]
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [T]> + 'a {
        let Rows {
            values,
            row_len,
            row_stride,
            ..
        } = *self;
        (0..self.rows).map(move |i| &values[i * row_stride..i * row_stride + row_len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_rows_overlap_without_copying() {
        let samples: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let t = Tensor::strided(Data::F32(samples), 4, vec![4], 2).expect("valid framing");
        let rows = t.view().typed::<f32>().expect("f32");
        assert_eq!(rows.row(0), &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(rows.row(3), &[6.0, 7.0, 8.0, 9.0]);
        let tail = t.slice_rows(2..4);
        assert_eq!(
            tail.typed::<f32>().expect("f32").row(0),
            &[4.0, 5.0, 6.0, 7.0]
        );
        let array = t.view().as_array2::<f32>().expect("array");
        assert_eq!(array[[3, 1]], 7.0);
    }

    #[test]
    fn strided_rejects_short_data() {
        let err = Tensor::strided(Data::F32(vec![0.0; 9]), 4, vec![4], 2).unwrap_err();
        assert!(matches!(
            err,
            TensorError::Size {
                needed: 10,
                found: 9,
                ..
            }
        ));
    }

    #[test]
    fn gaps_between_rows_when_stride_exceeds_row() {
        let t = Tensor::strided(Data::F32((0..8).map(|i| i as f32).collect()), 3, vec![2], 3)
            .expect("valid");
        let copy = t.view().to_tensor();
        assert_eq!(copy.view().typed::<f32>().expect("f32").row(2), &[6.0, 7.0]);
        assert!(copy.bit_identical(&t));
    }

    #[test]
    fn bit_identical_distinguishes_nan_payloads_and_signed_zero() {
        let a = Tensor::new(1, vec![2], vec![f32::NAN, 0.0]).expect("valid");
        let b = Tensor::new(1, vec![2], vec![f32::from_bits(0x7fc0_0001), 0.0]).expect("valid");
        let c = Tensor::new(1, vec![2], vec![f32::NAN, -0.0]).expect("valid");
        assert!(a.bit_identical(&a.clone()));
        assert!(!a.bit_identical(&b));
        assert!(!a.bit_identical(&c));
    }

    #[test]
    fn text_rows_frame_copy_compare_and_round_trip_through_bytes() {
        let lines: Vec<String> = ["GET /", "", "naïve ✓", "x,y\"z", "last"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = Tensor::strided(Data::Text(lines), 2, vec![3], 2).expect("framed lines");
        let rows = t.view().typed::<String>().expect("text");
        assert_eq!(rows.row(1), ["naïve ✓", "x,y\"z", "last"]);
        let copy = t.view().to_tensor();
        assert!(copy.bit_identical(&t));
        assert_eq!(
            copy.view().typed::<String>().expect("text").row(0)[2],
            "naïve ✓"
        );
        let bytes = t.view().to_le_bytes();
        let back = Tensor::from_le_bytes(&t.layout(), &bytes).expect("round trip");
        assert!(back.bit_identical(&t));
        assert_eq!(t.view().nbytes(), 5 + 10 + 10 + 5 + 4, "rows 0..3 and 2..5");
        assert!(
            Tensor::from_le_bytes(&t.layout(), &bytes[..bytes.len() - 1]).is_err(),
            "a cut string"
        );
        assert!(
            Tensor::from_le_bytes(&Layout::new(DType::Text, vec![4]), &bytes).is_err(),
            "6 strings are not rows of 4"
        );
        let mut other = copy.clone();
        other.extend_rows(&copy.slice_rows(0..1));
        assert_eq!(other.rows(), 3);
        assert!(!other.slice_rows(0..2).bit_identical(&copy.slice_rows(1..2)));
        assert!(copy.nbytes() >= 6 * std::mem::size_of::<String>() + 30);
    }

    #[test]
    fn extend_rows_concatenates_and_reset_reuses() {
        let mut t = Tensor::new(1, vec![2], vec![1i32, 2]).expect("valid");
        let u = Tensor::new(2, vec![2], vec![3i32, 4, 5, 6]).expect("valid");
        t.extend_rows(&u.view());
        assert_eq!(t.rows(), 3);
        assert_eq!(t.view().typed::<i32>().expect("i32").row(2), &[5, 6]);
        let flat = t.reset::<f32>(2, &[3]);
        assert_eq!(flat.len(), 6);
        assert_eq!(t.dtype(), DType::F32);
    }
}

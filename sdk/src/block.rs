//! What a stage sees: its configuration ([`Config`], the [`Layout`] of each input) and each
//! block of rows ([`Block`]), and what it returns ([`Output`]).

use ndarray::{Array1, Array2, ArrayView2};

use crate::wit;
use crate::{Dtype, Error, FrequencyAxis};

/// The element type, row shape and meaning of an input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Element type.
    pub dtype: Dtype,
    /// Shape of one row.
    pub row_shape: Vec<usize>,
    /// Set when rows are spectra.
    pub frequency: Option<FrequencyAxis>,
}

impl Layout {
    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_shape.iter().product()
    }

    pub(crate) fn from_wit(layout: wit::Layout) -> Layout {
        Layout {
            dtype: layout.dtype,
            row_shape: layout.row_shape.iter().map(|&d| d as usize).collect(),
            frequency: layout.frequency,
        }
    }

    pub(crate) fn to_wit(&self) -> wit::Layout {
        wit::Layout {
            dtype: self.dtype,
            row_shape: self.row_shape.iter().map(|&d| d as u32).collect(),
            frequency: self.frequency,
        }
    }
}

/// What a stage is configured against: its inputs' layouts and the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The inputs' layouts, in the order the pipeline lists them.
    pub inputs: Vec<Layout>,
    /// Samples per second of the input signal (0 for an input of lines).
    pub sample_rate: f64,
    /// Samples (or lines) per window.
    pub window: usize,
    /// Samples (or lines) between window starts.
    pub hop: usize,
}

impl Config {
    /// Windows (rows) per second.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate / self.hop as f64
    }
}

/// One block of windows: the inputs' rows (context rows first) and where the block is.
#[derive(Debug)]
pub struct Block {
    /// Window index of the first output row.
    pub t0: u64,
    /// Output rows to produce.
    pub rows: usize,
    /// Leading rows of every input that come before `t0`.
    pub context_rows: usize,
    pub(crate) inputs: Vec<wit::Tensor>,
    pub(crate) config: std::rc::Rc<Config>,
}

impl Block {
    /// The configuration: inputs' layouts and the stream.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The layout of input `index`.
    pub fn layout(&self, index: usize) -> Option<&Layout> {
        self.config.inputs.get(index)
    }

    /// The frequency axis of input `index`, if it is a spectrum.
    pub fn frequency(&self, index: usize) -> Option<FrequencyAxis> {
        self.layout(index).and_then(|l| l.frequency)
    }

    fn input(&self, index: usize) -> Result<&wit::Tensor, Error> {
        self.inputs.get(index).ok_or_else(|| {
            Error::Input(format!(
                "input {index} is missing ({} given)",
                self.inputs.len()
            ))
        })
    }

    fn view<'a, T>(&'a self, index: usize, values: &'a [T]) -> Result<ArrayView2<'a, T>, Error> {
        let tensor = self.input(index)?;
        let rows = tensor.shape.first().copied().unwrap_or(0) as usize;
        let row_len: usize = tensor.shape.iter().skip(1).map(|&d| d as usize).product();
        ArrayView2::from_shape((rows, row_len), values).map_err(|e| {
            Error::Input(format!(
                "input {index}: shape {:?} does not fit its data: {e}",
                tensor.shape
            ))
        })
    }

    /// Input `index` as rows of f32: `(context_rows + rows) x row length`.
    pub fn f32(&self, index: usize) -> Result<ArrayView2<'_, f32>, Error> {
        match &self.input(index)?.data {
            wit::Data::F32(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not f32"))),
        }
    }

    /// Input `index` as rows of f64.
    pub fn f64(&self, index: usize) -> Result<ArrayView2<'_, f64>, Error> {
        match &self.input(index)?.data {
            wit::Data::F64(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not f64"))),
        }
    }

    /// Input `index` as rows of complex numbers, each as two f32 (real, imaginary):
    /// `rows x (2 * row length)`.
    pub fn c32_interleaved(&self, index: usize) -> Result<ArrayView2<'_, f32>, Error> {
        match &self.input(index)?.data {
            wit::Data::C32(values) => {
                let tensor = self.input(index)?;
                let rows = tensor.shape.first().copied().unwrap_or(0) as usize;
                ArrayView2::from_shape((rows, values.len() / rows.max(1)), values)
                    .map_err(|e| Error::Input(format!("input {index}: {e}")))
            }
            _ => Err(Error::Input(format!("input {index} is not c32"))),
        }
    }

    /// Input `index` as rows of i32.
    pub fn i32(&self, index: usize) -> Result<ArrayView2<'_, i32>, Error> {
        match &self.input(index)?.data {
            wit::Data::S32(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not i32"))),
        }
    }

    /// Input `index` as rows of text: `(context_rows + rows) x row length` elements, each a
    /// `&str` into the one buffer the block arrived in, so reading them allocates nothing (a
    /// log pipeline's input rows are its windows of lines). The buffer is checked once here:
    /// UTF-8, and every element a run of whole characters.
    pub fn text(&self, index: usize) -> Result<TextRows<'_>, Error> {
        let tensor = self.input(index)?;
        let wit::Data::Text(buffer) = &tensor.data else {
            return Err(Error::Input(format!("input {index} is not text")));
        };
        let rows = tensor.shape.first().copied().unwrap_or(0) as usize;
        let row_len: usize = tensor.shape.iter().skip(1).map(|&d| d as usize).product();
        let bad = |what: String| Error::Input(format!("input {index}: {what}"));
        if rows.checked_mul(row_len) != Some(buffer.ends.len()) {
            return Err(bad(format!(
                "{} text elements for shape {:?}",
                buffer.ends.len(),
                tensor.shape
            )));
        }
        let text = std::str::from_utf8(&buffer.bytes).map_err(|e| bad(e.to_string()))?;
        let mut start = 0;
        for &end in &buffer.ends {
            let end = end as usize;
            if end < start || !text.is_char_boundary(end) {
                return Err(bad(format!(
                    "a text element ends at byte {end}, inside a character or before it starts"
                )));
            }
            start = end;
        }
        if start != text.len() {
            return Err(bad(format!(
                "{} bytes of text after the last element",
                text.len() - start
            )));
        }
        Ok(TextRows {
            text,
            ends: &buffer.ends,
            rows,
            row_len,
        })
    }

    /// Input `index` as rows of bytes.
    pub fn u8(&self, index: usize) -> Result<ArrayView2<'_, u8>, Error> {
        match &self.input(index)?.data {
            wit::Data::U8(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not u8"))),
        }
    }
}

/// Rows of text elements, every one a `&str` into one buffer ([`Block::text`]).
#[derive(Debug, Clone, Copy)]
pub struct TextRows<'a> {
    text: &'a str,
    ends: &'a [u32],
    rows: usize,
    row_len: usize,
}

impl<'a> TextRows<'a> {
    /// Rows (windows).
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Elements per row.
    pub fn ncols(&self) -> usize {
        self.row_len
    }

    /// Row `row`, if there is one.
    pub fn row(&self, row: usize) -> Option<TextRow<'a>> {
        let first = row.checked_mul(self.row_len)?;
        let ends = self.ends.get(first..first.checked_add(self.row_len)?)?;
        let start = match first {
            0 => 0,
            _ => self.ends[first - 1] as usize,
        };
        Some(TextRow {
            text: self.text,
            ends,
            start,
        })
    }

    /// Every row, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = TextRow<'a>> + 'a {
        let this = *self;
        let none = TextRow {
            text: this.text,
            ends: &[],
            start: 0,
        };
        (0..this.rows).map(move |r| this.row(r).unwrap_or(none))
    }

    /// The element at `col` of `row`.
    pub fn get(&self, row: usize, col: usize) -> Option<&'a str> {
        self.row(row)?.get(col)
    }

    /// Every element, row by row.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let text = self.text;
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&e| e as usize));
        starts
            .zip(self.ends.iter().map(|&e| e as usize))
            .map(move |(start, end)| text.get(start..end).unwrap_or_default())
    }

    /// A copy as an array of strings (allocates one per element).
    pub fn to_owned(&self) -> Array2<String> {
        let elements: Vec<String> = self.iter().map(str::to_string).collect();
        Array2::from_shape_vec((self.rows, self.row_len), elements).unwrap_or_default()
    }
}

/// One row of [`TextRows`].
#[derive(Debug, Clone, Copy)]
pub struct TextRow<'a> {
    text: &'a str,
    /// Where each element of the row ends.
    ends: &'a [u32],
    /// Where its first element starts.
    start: usize,
}

impl<'a> TextRow<'a> {
    /// Elements in the row.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the row has no elements.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let start = match i {
            0 => self.start,
            _ => *self.ends.get(i - 1)? as usize,
        };
        self.text.get(start..*self.ends.get(i)? as usize)
    }

    /// The row's elements, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let (text, ends, first) = (self.text, self.ends, self.start);
        (0..ends.len()).map(move |i| {
            let start = if i == 0 { first } else { ends[i - 1] as usize };
            text.get(start..ends[i] as usize).unwrap_or_default()
        })
    }
}

/// Text output built without an allocation per element: push the elements row by row, each
/// row `row_len` of them, and return the builder.
///
/// ```
/// use sqrtspace_sdk::{Output, TextBuilder};
/// let mut out = TextBuilder::new(2);
/// for word in ["a", "bc", "", "déf"] {
///     out.push(word);
/// }
/// assert_eq!(out.rows(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TextBuilder {
    row_len: usize,
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl TextBuilder {
    /// An empty output of rows of `row_len` elements.
    pub fn new(row_len: usize) -> TextBuilder {
        TextBuilder {
            row_len,
            ..TextBuilder::default()
        }
    }

    /// Appends the next element.
    pub fn push(&mut self, element: &str) {
        self.bytes.extend_from_slice(element.as_bytes());
        // Past 4 GiB the ends wrap and the host refuses the output, as it must.
        self.ends.push(self.bytes.len() as u32);
    }

    /// Whole rows pushed so far.
    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.row_len).unwrap_or(0)
    }
}

impl Output for TextBuilder {
    fn into_tensor(self) -> wit::Tensor {
        wit::Tensor {
            shape: vec![self.rows() as u32, self.row_len as u32],
            data: wit::Data::Text(wit::TextBuffer {
                bytes: self.bytes,
                ends: self.ends,
            }),
        }
    }
}

/// Strings into one text buffer.
fn text_buffer(strings: Vec<String>) -> wit::TextBuffer {
    let mut out = TextBuilder::new(0);
    for s in &strings {
        out.push(s);
    }
    wit::TextBuffer {
        bytes: out.bytes,
        ends: out.ends,
    }
}

/// What a stage can return: rows of a known element type.
pub trait Output {
    /// The tensor the host receives (`shape[0]` is the row count).
    fn into_tensor(self) -> wit::Tensor;
}

macro_rules! output {
    ($ty:ty, $variant:ident) => {
        output!($ty, $variant, std::convert::identity);
    };
    ($ty:ty, $variant:ident, $pack:expr) => {
        impl Output for Array2<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = vec![self.nrows() as u32, self.ncols() as u32];
                let values = if self.is_standard_layout() {
                    self.into_raw_vec_and_offset().0
                } else {
                    self.iter().cloned().collect()
                };
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant($pack(values)),
                }
            }
        }

        /// Rows of any shape: the first axis is the rows, the others the shape of one row.
        impl Output for ndarray::ArrayD<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = self.shape().iter().map(|&d| d as u32).collect();
                let values = if self.is_standard_layout() {
                    self.into_raw_vec_and_offset().0
                } else {
                    self.iter().cloned().collect()
                };
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant($pack(values)),
                }
            }
        }

        /// One value per row.
        impl Output for Array1<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = vec![self.len() as u32];
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant($pack(self.to_vec())),
                }
            }
        }
    };
}

output!(f32, F32);
output!(f64, F64);
output!(i32, S32);
output!(u8, U8);
output!(String, Text, text_buffer);

/// Output rows of `width` values, one for each row of `input`, filled by
/// `f(row index, input row, output row)`: the loop of every row-wise stage, with both rows
/// borrowed as slices.
///
/// ```
/// use sqrtspace_sdk::ndarray::array;
/// let sums = sqrtspace_sdk::map_rows(array![[1.0f32, 2.0], [3.0, 4.0]].view(), 1, |_, row, out| {
///     out[0] = row.iter().sum::<f32>();
/// })
/// .unwrap();
/// assert_eq!(sums, array![[3.0], [7.0]]);
/// ```
pub fn map_rows<T: Copy, U: Copy + Default>(
    input: ArrayView2<'_, T>,
    width: usize,
    mut f: impl FnMut(usize, &[T], &mut [U]),
) -> Result<Array2<U>, Error> {
    let mut out = Array2::from_elem((input.nrows(), width), U::default());
    for (r, (row, mut dst)) in input.rows().into_iter().zip(out.rows_mut()).enumerate() {
        let (Some(row), Some(dst)) = (row.to_slice(), dst.as_slice_mut()) else {
            return Err(Error::Input("rows are not contiguous".into()));
        };
        f(r, row, dst);
    }
    Ok(out)
}

pub(crate) fn layout_of(tensor: &wit::Tensor, frequency: Option<FrequencyAxis>) -> Layout {
    let dtype = match tensor.data {
        wit::Data::F32(_) => Dtype::F32,
        wit::Data::F64(_) => Dtype::F64,
        wit::Data::C32(_) => Dtype::C32,
        wit::Data::S32(_) => Dtype::S32,
        wit::Data::U8(_) => Dtype::U8,
        wit::Data::Text(_) => Dtype::Text,
    };
    Layout {
        dtype,
        row_shape: tensor.shape.iter().skip(1).map(|&d| d as usize).collect(),
        frequency,
    }
}

pub(crate) fn empty_tensor(layout: &Layout) -> wit::Tensor {
    let shape = std::iter::once(0)
        .chain(layout.row_shape.iter().map(|&d| d as u32))
        .collect();
    let data = match layout.dtype {
        Dtype::F32 => wit::Data::F32(Vec::new()),
        Dtype::F64 => wit::Data::F64(Vec::new()),
        Dtype::C32 => wit::Data::C32(Vec::new()),
        Dtype::S32 => wit::Data::S32(Vec::new()),
        Dtype::U8 => wit::Data::U8(Vec::new()),
        Dtype::Text => wit::Data::Text(wit::TextBuffer {
            bytes: Vec::new(),
            ends: Vec::new(),
        }),
    };
    wit::Tensor { shape, data }
}

//! Blocks of windows: the typed, row-major data that flows between stages.
//!
//! A [`Tensor`] holds `rows` rows (one per window) of `row_shape` elements each. Rows start
//! `row_stride` elements apart: for ordinary stage outputs the stride equals the row length,
//! but the framed input uses the hop as its stride, so overlapping windows share their samples
//! instead of being copied out (numpy users know this as `as_strided` framing).

mod element;
mod layout;
mod text;
mod view;

use element::with_element;
pub use element::{DType, Data, DataRef, Element, TEXT_ELEMENT_BYTES};
pub use layout::Layout;
pub use rustfft::num_complex::Complex32;
pub use text::{TextColumn, TextError, TextRows, TextSlice};
pub use view::{Rows, TensorView};

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

    /// A contiguous tensor of text rows, their elements given flat.
    pub fn text(
        rows: usize,
        row_shape: Vec<usize>,
        values: TextColumn,
    ) -> Result<Tensor, TensorError> {
        let row_len = row_shape.iter().product();
        Tensor::strided(Data::Text(values), rows, row_shape, row_len)
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
        fn text(mut bytes: &[u8]) -> Option<Data> {
            let mut values = TextColumn::new();
            while !bytes.is_empty() {
                let (len, rest) = bytes.split_first_chunk::<4>()?;
                let (element, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
                values.push(std::str::from_utf8(element).ok()?);
                bytes = rest;
            }
            Some(Data::Text(values))
        }
        let row_len = layout.row_len();
        let data = with_element!(layout.dtype, values(bytes), text => text(bytes));
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
        fn text(out: &mut Tensor, view: &TensorView<'_>) {
            let src = match view.text() {
                Ok(rows) => rows,
                Err(e) => panic!("extend_rows: {e}"),
            };
            out.make_text_contiguous();
            if let Data::Text(values) = &mut out.data {
                if src.contiguous() {
                    values.extend_from(src.elements());
                } else {
                    for row in src.iter() {
                        values.extend_from(row);
                    }
                }
            }
            out.rows += src.rows;
        }
        assert_eq!(
            (self.dtype(), self.row_shape.as_slice()),
            (view.dtype(), view.row_shape),
            "extend_rows: layouts differ"
        );
        with_element!(self.dtype(), extend(self, view), text => text(self, view))
    }

    fn make_text_contiguous(&mut self) {
        let row_len = self.row_len();
        if (self.row_stride == row_len || self.rows <= 1)
            && let Data::Text(values) = &mut self.data
        {
            values.truncate(self.rows * row_len);
            self.row_stride = row_len;
            return;
        }
        let mut copy = TextColumn::new();
        if let Ok(rows) = self.view().text() {
            for row in rows.iter() {
                copy.extend_from(row);
            }
        }
        self.data = Data::Text(copy);
        self.row_stride = row_len;
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
        let t = Tensor::strided(Data::Text(lines.iter().collect()), 2, vec![3], 2)
            .expect("framed lines");
        let rows = t.view().text().expect("text");
        assert_eq!(rows.row(1), ["naïve ✓", "x,y\"z", "last"]);
        let copy = t.view().to_tensor();
        assert!(copy.bit_identical(&t));
        assert_eq!(copy.view().text().expect("text").row(0).at(2), "naïve ✓");
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
        assert!(copy.nbytes() >= 6 * std::mem::size_of::<usize>() + 34);
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

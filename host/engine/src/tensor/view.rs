//! Borrowed rows: a [`TensorView`] of a tensor (or of some of its rows), and [`Rows`], its
//! elements typed.

use ndarray::{ArrayView2, ShapeBuilder};

use super::element::with_element;
use super::{
    DType, Data, DataRef, Element, Layout, Tensor, TensorError, TextColumn, TextRows, needed_len,
};

/// A borrowed block of rows.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    pub(super) data: DataRef<'a>,
    pub(super) rows: usize,
    pub(super) row_shape: &'a [usize],
    pub(super) row_stride: usize,
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
        match self.text() {
            Ok(rows) if rows.contiguous() => rows.elements().as_str().len(),
            Ok(rows) => rows.iter().map(|row| row.as_str().len()).sum(),
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

    /// The rows of a text view.
    pub fn text(&self) -> Result<TextRows<'a>, TensorError> {
        let DataRef::Text(values) = self.data else {
            return Err(TensorError::DType {
                expected: DType::Text,
                found: self.dtype(),
            });
        };
        Ok(TextRows {
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
        fn text(view: &TensorView<'_>) -> Tensor {
            let rows = match view.text() {
                Ok(rows) => rows,
                Err(e) => unreachable!("a view's own dtype: {e}"),
            };
            let mut values = TextColumn::with_capacity(rows.rows * rows.row_len, view.nbytes());
            for i in (0..rows.rows).rev() {
                values.extend_from(rows.row(i));
            }
            Tensor {
                data: Data::Text(values),
                rows: rows.rows,
                row_shape: view.row_shape.to_vec(),
                row_stride: rows.row_len,
            }
        }
        with_element!(self.dtype(), reverse(self), text => text(self))
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
        /// Text: each element as a u32 byte length, then its bytes.
        fn text(view: &TensorView<'_>) -> Vec<u8> {
            let mut out = Vec::with_capacity(view.nbytes() + 4 * view.rows * view.row_len());
            if let Ok(rows) = view.text() {
                for element in rows.iter().flat_map(|row| row.iter()) {
                    let len = u32::try_from(element.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&element.as_bytes()[..len as usize]);
                }
            }
            out
        }
        with_element!(self.dtype(), bytes(self), text => text(self))
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
        fn text(a: &TensorView<'_>, b: &TensorView<'_>) -> bool {
            match (a.text(), b.text()) {
                (Ok(a), Ok(b)) => a.iter().zip(b.iter()).all(|(x, y)| x == y),
                _ => false,
            }
        }
        with_element!(self.dtype(), same(self, other), text => text(self, other))
    }
}

/// Typed rows of a view.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, T> {
    pub(super) values: &'a [T],
    pub(super) rows: usize,
    pub(super) row_len: usize,
    pub(super) row_stride: usize,
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

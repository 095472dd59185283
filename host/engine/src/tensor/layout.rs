//! The [`Layout`] of a stage's rows: element type and row shape.

use std::fmt;

use serde::Serialize;

use super::DType;

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

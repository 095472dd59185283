//! Rows as an Apache Parquet table, the columns DuckDB, pandas, polars and Spark read: `t`
//! (the window, INT64), then one column per element of a row, named as the CSV header names
//! them (`v0`, `v1`, …; complex elements `v0_re`, `v0_im`) and typed as the element (FLOAT,
//! DOUBLE, INT32, UINT_8, UTF-8 strings). Rows are buffered column by column and written as a
//! row group whenever [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] bytes are waiting, so
//! memory stays bounded however long the run; the footer goes last, at
//! [`ParquetWriter::finish`]. Pages are Snappy-compressed.

use std::fs::File;
use std::sync::Arc;

use parquet::basic::{Compression, IntType, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::tensor::{Complex32, DType, Layout, TensorView};

/// Most rows a row group holds.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// Most bytes of values a row group holds before it is written (about; text counts its bytes).
pub const ROW_GROUP_BYTES: usize = 8 << 20;

/// One column's values waiting for the next row group.
enum Column {
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    Text(Vec<ByteArray>),
}

impl Column {
    fn clear(&mut self) {
        match self {
            Column::I64(v) => v.clear(),
            Column::F32(v) => v.clear(),
            Column::F64(v) => v.clear(),
            Column::I32(v) => v.clear(),
            Column::Text(v) => v.clear(),
        }
    }
}

/// A Parquet file being written row group by row group.
pub(super) struct ParquetWriter {
    writer: SerializedFileWriter<File>,
    /// `t`, then the element columns.
    columns: Vec<Column>,
    dtype: DType,
    rows: usize,
    bytes: usize,
}

/// The schema of rows of `layout`, and empty columns for it.
fn schema(layout: &Layout) -> Result<(Type, Vec<Column>), ParquetError> {
    let field = |name: String, physical: Physical, logical: Option<LogicalType>| {
        Type::primitive_type_builder(&name, physical)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(logical)
            .build()
            .map(Arc::new)
    };
    let mut fields = vec![field("t".into(), Physical::INT64, None)?];
    let mut columns = vec![Column::I64(Vec::new())];
    for i in 0..layout.row_len() {
        let (physical, logical, column) = match layout.dtype {
            DType::F32 | DType::C32 => (Physical::FLOAT, None, Column::F32(Vec::new())),
            DType::F64 => (Physical::DOUBLE, None, Column::F64(Vec::new())),
            DType::I32 => (Physical::INT32, None, Column::I32(Vec::new())),
            DType::U8 => (
                Physical::INT32,
                Some(LogicalType::Integer(IntType {
                    bit_width: 8,
                    is_signed: false,
                })),
                Column::I32(Vec::new()),
            ),
            DType::Text => (
                Physical::BYTE_ARRAY,
                Some(LogicalType::String),
                Column::Text(Vec::new()),
            ),
        };
        if layout.dtype == DType::C32 {
            fields.push(field(format!("v{i}_re"), physical, None)?);
            fields.push(field(format!("v{i}_im"), physical, None)?);
            columns.push(Column::F32(Vec::new()));
            columns.push(column);
        } else {
            fields.push(field(format!("v{i}"), physical, logical)?);
            columns.push(column);
        }
    }
    let schema = Type::group_type_builder("sqrtspace")
        .with_fields(fields)
        .build()?;
    Ok((schema, columns))
}

impl ParquetWriter {
    /// A writer of rows of `layout` into `file`.
    pub(super) fn new(file: File, layout: &Layout) -> Result<ParquetWriter, ParquetError> {
        let (schema, columns) = schema(layout)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("sqrtspace {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(ParquetWriter {
            writer: SerializedFileWriter::new(file, Arc::new(schema), Arc::new(properties))?,
            columns,
            dtype: layout.dtype,
            rows: 0,
            bytes: 0,
        })
    }

    /// Adds the rows of `view`, the first of them window `t0`; writes a row group when
    /// enough are waiting.
    pub(super) fn write(&mut self, t0: u64, view: &TensorView<'_>) -> Result<(), ParquetError> {
        let rows = view.rows();
        let (t, elements) = self
            .columns
            .split_first_mut()
            .ok_or_else(|| ParquetError::General("no columns".into()))?;
        if let Column::I64(t) = t {
            t.extend((0..rows as u64).map(|r| (t0 + r) as i64));
        }
        let wrong = || ParquetError::General("a block of another element type".into());
        macro_rules! spread {
            ($ty:ty, $variant:ident, $convert:expr) => {{
                let typed = view.typed::<$ty>().map_err(|_| wrong())?;
                for row in typed.iter() {
                    for (value, column) in row.iter().zip(elements.iter_mut()) {
                        let Column::$variant(column) = column else {
                            return Err(wrong());
                        };
                        column.push($convert(value));
                    }
                }
            }};
        }
        match self.dtype {
            DType::F32 => spread!(f32, F32, |v: &f32| *v),
            DType::F64 => spread!(f64, F64, |v: &f64| *v),
            DType::I32 => spread!(i32, I32, |v: &i32| *v),
            DType::U8 => spread!(u8, I32, |v: &u8| i32::from(*v)),
            DType::Text => {
                let typed = view.text().map_err(|_| wrong())?;
                for row in typed.iter() {
                    for (value, column) in row.iter().zip(elements.iter_mut()) {
                        let Column::Text(column) = column else {
                            return Err(wrong());
                        };
                        self.bytes += value.len();
                        column.push(ByteArray::from(value));
                    }
                }
            }
            DType::C32 => {
                let typed = view.typed::<Complex32>().map_err(|_| wrong())?;
                for row in typed.iter() {
                    for (z, pair) in row.iter().zip(elements.chunks_exact_mut(2)) {
                        let [Column::F32(re), Column::F32(im)] = pair else {
                            return Err(wrong());
                        };
                        re.push(z.re);
                        im.push(z.im);
                    }
                }
            }
        }
        self.rows += rows;
        self.bytes += rows * (8 + view.row_len() * self.dtype.size());
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the waiting rows as a row group.
    fn flush(&mut self) -> Result<(), ParquetError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        let mut columns = self.columns.iter_mut();
        while let Some(mut writer) = group.next_column()? {
            let column = columns
                .next()
                .ok_or_else(|| ParquetError::General("more columns than the schema".into()))?;
            match column {
                Column::I64(v) => writer.typed::<Int64Type>().write_batch(v, None, None)?,
                Column::F32(v) => writer.typed::<FloatType>().write_batch(v, None, None)?,
                Column::F64(v) => writer.typed::<DoubleType>().write_batch(v, None, None)?,
                Column::I32(v) => writer.typed::<Int32Type>().write_batch(v, None, None)?,
                Column::Text(v) => writer.typed::<ByteArrayType>().write_batch(v, None, None)?,
            };
            writer.close()?;
            column.clear();
        }
        group.close()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the file.
    pub(super) fn finish(mut self) -> Result<File, ParquetError> {
        self.flush()?;
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    use super::*;
    use crate::tensor::Tensor;

    /// Every row of a Parquet file as its fields.
    fn read_back(path: &std::path::Path) -> (Vec<String>, Vec<Vec<Field>>, usize) {
        let reader = SerializedFileReader::new(File::open(path).expect("opens")).expect("parquet");
        let groups = reader.metadata().num_row_groups();
        let names = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let rows = reader
            .get_row_iter(None)
            .expect("rows")
            .map(|row| {
                row.expect("row")
                    .into_columns()
                    .into_iter()
                    .map(|(_, field)| field)
                    .collect()
            })
            .collect();
        (names, rows, groups)
    }

    fn write(path: &std::path::Path, blocks: &[(u64, &Tensor)]) {
        let layout = blocks[0].1.layout();
        let file = File::create(path).expect("creates");
        let mut writer = ParquetWriter::new(file, &layout).expect("writer");
        for (t0, block) in blocks {
            writer.write(*t0, &block.view()).expect("writes");
        }
        writer.finish().expect("finishes");
    }

    #[test]
    fn every_element_type_reads_back_with_its_bits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.parquet");
        let floats = Tensor::new(2, vec![2], vec![1.5f32, -0.0, f32::NAN, f32::MIN_POSITIVE])
            .expect("tensor");
        write(&path, &[(7, &floats)]);
        let (names, rows, _) = read_back(&path);
        assert_eq!(names, ["t", "v0", "v1"]);
        let bits: Vec<(i64, u32, u32)> = rows
            .iter()
            .map(|r| match r.as_slice() {
                [Field::Long(t), Field::Float(a), Field::Float(b)] => {
                    (*t, a.to_bits(), b.to_bits())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            bits,
            [
                (7, 1.5f32.to_bits(), (-0.0f32).to_bits()),
                (8, f32::NAN.to_bits(), f32::MIN_POSITIVE.to_bits())
            ]
        );

        let text = Tensor::text(2, vec![1], ["naïve ✓", ""].iter().collect()).expect("tensor");
        write(&path, &[(0, &text)]);
        let (_, rows, _) = read_back(&path);
        assert_eq!(rows[0][1], Field::Str("naïve ✓".into()));
        assert_eq!(rows[1][1], Field::Str(String::new()));

        let complex = Tensor::new(1, vec![1], vec![Complex32::new(0.25, -4.0)]).expect("tensor");
        write(&path, &[(3, &complex)]);
        let (names, rows, _) = read_back(&path);
        assert_eq!(names, ["t", "v0_re", "v0_im"]);
        assert_eq!(
            rows[0],
            [Field::Long(3), Field::Float(0.25), Field::Float(-4.0)]
        );

        let bytes = Tensor::new(1, vec![2], vec![0u8, 255]).expect("tensor");
        write(&path, &[(0, &bytes)]);
        let (_, rows, _) = read_back(&path);
        assert_eq!(rows[0][1..], [Field::UByte(0), Field::UByte(255)]);

        let wide = Tensor::new(1, vec![1], vec![f64::MAX]).expect("tensor");
        let ints = Tensor::new(1, vec![1], vec![i32::MIN]).expect("tensor");
        write(&path, &[(0, &wide)]);
        assert_eq!(read_back(&path).1[0][1], Field::Double(f64::MAX));
        write(&path, &[(0, &ints)]);
        assert_eq!(read_back(&path).1[0][1], Field::Int(i32::MIN));
    }

    #[test]
    fn long_runs_are_cut_into_row_groups_and_keep_their_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("long.parquet");
        let block = 10_000;
        let blocks: Vec<Tensor> = (0..20)
            .map(|b| {
                let values = (0..block).map(|i| (b * block + i) as f64).collect();
                Tensor::new(block, vec![1], values).expect("tensor")
            })
            .collect();
        let with_t: Vec<(u64, &Tensor)> = blocks
            .iter()
            .enumerate()
            .map(|(b, t)| ((b * block) as u64, t))
            .collect();
        write(&path, &with_t);
        let (_, rows, groups) = read_back(&path);
        assert_eq!(rows.len(), 20 * block);
        assert!(groups >= 3, "{groups} row groups for 200,000 rows");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row.as_slice(),
                [Field::Long(i as i64), Field::Double(i as f64)]
            );
        }
    }
}

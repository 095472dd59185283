//! An output file: `.npy`, CSV, JSON lines or Parquet, written block by block into a temporary file
//! beside the destination and renamed over it only when the run has finished, so a failed or
//! interrupted run never leaves a partial output behind; or, resumable, under a fixed name
//! that outlives the process and is cut back to the committed length on resume.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::destination::{
    Destination, cannot_create, destination, file_name, needs_a_file, output_temp, parent_dir,
    sync_dir,
};
use super::npy_header::{NPY_PLACEHOLDER, npy_header, npy_placeholder_len, npy_takes};
use super::parquet_sink::ParquetWriter;
use super::sink::{Committed, OutputError, OutputFormat, Sink};
use super::text::{write_csv_header, write_text_any};
use crate::tensor::{DType, Layout, TensorView};

/// Every `.npy` this crate writes has one header layout, [`npy_header`] padded to the length
/// of [`npy_placeholder_len`], whether its row count is known from the start (a resumable
/// output) or patched in at the end: the same rows give the same bytes either way.
enum Writer {
    /// `.npy` of a length found out while writing: a header sized for any row count goes
    /// first, and is rewritten with the count at the end.
    NpyPatched {
        out: BufWriter<File>,
        header_len: usize,
        row_shape: Vec<u64>,
        dtype: DType,
    },
    /// `.npy` of a length known up front: the header is final from the start and rows are
    /// appended as bytes, so the file can be cut back to a committed length and continued.
    NpyFixed {
        out: BufWriter<File>,
        rows: u64,
    },
    Text {
        out: BufWriter<File>,
        csv: bool,
    },
    /// Parquet: row groups as rows accumulate, the footer at the end.
    Parquet(Box<ParquetWriter>),
}

/// Where the rows go until the output is complete.
enum Partial {
    /// A temporary file with a random name, deleted if the sink is dropped.
    Temp(TempPath),
    /// A file with a fixed name ([`FileSink::partial_path`]) that outlives the process, so
    /// that `--resume` can continue it.
    Kept(PathBuf),
}

/// An output file, committed by [`FileSink::finish`]. A plain sink's temporary file is
/// deleted if it is dropped before that; a resumable one's stays for the next run.
pub struct FileSink {
    path: PathBuf,
    partial: Partial,
    writer: Writer,
    rows: u64,
}

impl fmt::Debug for FileSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

impl FileSink {
    /// Creates the temporary file for rows of `layout` in `format`.
    pub fn create(
        path: &Path,
        format: OutputFormat,
        layout: &Layout,
    ) -> Result<FileSink, OutputError> {
        let path = &match destination(path)? {
            Destination::Regular(path) => path,
            Destination::Special { path, kind } => {
                return Err(needs_a_file(
                    &path,
                    kind,
                    "a file output committed at the end",
                ));
            }
        };
        let name = path.display().to_string();
        let create_error = |source| OutputError::Create {
            path: name.clone(),
            source,
        };
        let temp = output_temp(
            &format!(".{}.", file_name(path)),
            ".partial",
            &parent_dir(path),
        )
        .map_err(|e| cannot_create(path, e))?;
        if format == OutputFormat::Npy {
            npy_takes(path, layout)?;
        }
        let (file, temp) = temp.into_parts();
        if format == OutputFormat::Parquet {
            let writer = ParquetWriter::new(file, layout)
                .map_err(|e| create_error(std::io::Error::other(e)))?;
            return Ok(FileSink {
                path: path.to_path_buf(),
                partial: Partial::Temp(temp),
                writer: Writer::Parquet(Box::new(writer)),
                rows: 0,
            });
        }
        let out = BufWriter::with_capacity(1 << 16, file);
        let writer = match format {
            OutputFormat::Npy => {
                let row_shape: Vec<u64> = layout.row_shape.iter().map(|&d| d as u64).collect();
                let mut shape = vec![NPY_PLACEHOLDER];
                shape.extend(&row_shape);
                let header = npy_header(layout.dtype, &shape, 0);
                let mut out = out;
                out.write_all(&header).map_err(create_error)?;
                Writer::NpyPatched {
                    out,
                    header_len: header.len(),
                    row_shape,
                    dtype: layout.dtype,
                }
            }
            OutputFormat::Csv | OutputFormat::Jsonl | OutputFormat::Parquet => {
                text_writer(out, format, layout, true).map_err(create_error)?
            }
        };
        Ok(FileSink {
            path: path.to_path_buf(),
            partial: Partial::Temp(temp),
            writer,
            rows: 0,
        })
    }

    /// The fixed name beside `path` that a resumable output is written under until it is
    /// complete.
    pub fn partial_path(path: &Path) -> PathBuf {
        parent_dir(path).join(format!(".{}.sqrtspace-partial", file_name(path)))
    }

    /// A sink whose file survives the process ([`FileSink::partial_path`]) and can be cut
    /// back to what [`Sink::commit`] made durable and continued: from the start when `from`
    /// is `None`, or from `from`. A `.npy` needs its row count (`rows`) up front, since its
    /// header cannot be patched after a resume.
    pub fn resumable(
        path: &Path,
        format: OutputFormat,
        layout: &Layout,
        rows: Option<u64>,
        from: Option<Committed>,
    ) -> Result<FileSink, OutputError> {
        let path = &match destination(path)? {
            Destination::Regular(path) => path,
            Destination::Special { path, kind } => {
                return Err(needs_a_file(&path, kind, "an output that can be resumed"));
            }
        };
        let name = path.display().to_string();
        if format == OutputFormat::Npy {
            npy_takes(path, layout)?;
        }
        if format == OutputFormat::Parquet {
            return Err(OutputError::Unsupported {
                path: name,
                message: "a Parquet output cannot be resumed (its footer is written last); \
                          resume into .npy, .csv or .jsonl"
                    .into(),
            });
        }
        let partial = FileSink::partial_path(path);
        let create_error = |source| OutputError::Create {
            path: name.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(from.is_none())
            .truncate(from.is_none())
            .open(&partial)
            .map_err(|e| cannot_create(&partial, e))?;
        if let Some(from) = from {
            let len = file.metadata().map_err(create_error)?.len();
            if len < from.bytes {
                return Err(OutputError::Unsupported {
                    path: name,
                    message: format!(
                        "the output in progress ({}) holds {len} bytes, fewer than the {} \
                         its checkpoint committed",
                        partial.display(),
                        from.bytes
                    ),
                });
            }
            file.set_len(from.bytes).map_err(create_error)?;
            file.seek(SeekFrom::End(0)).map_err(create_error)?;
        }
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let fresh = from.is_none();
        let writer = match format {
            OutputFormat::Npy => {
                let Some(total) = rows else {
                    return Err(OutputError::Unsupported {
                        path: name,
                        message: "a resumable .npy needs an input of known length".into(),
                    });
                };
                if fresh {
                    // The header a plain run patches in at its end, to the byte.
                    let row_shape: Vec<u64> = layout.row_shape.iter().map(|&d| d as u64).collect();
                    let mut shape = vec![total];
                    shape.extend(&row_shape);
                    let len = npy_placeholder_len(layout.dtype, &row_shape);
                    out.write_all(&npy_header(layout.dtype, &shape, len))
                        .map_err(create_error)?;
                }
                Writer::NpyFixed { out, rows: total }
            }
            OutputFormat::Csv | OutputFormat::Jsonl | OutputFormat::Parquet => {
                text_writer(out, format, layout, fresh).map_err(create_error)?
            }
        };
        Ok(FileSink {
            path: path.to_path_buf(),
            partial: Partial::Kept(partial),
            writer,
            rows: from.map_or(0, |c| c.rows),
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file (the `.npy` header gets its row count), syncs it and renames it to
    /// its destination. Returns the rows written.
    pub fn finish(self) -> Result<u64, OutputError> {
        let name = self.path.display().to_string();
        let write_error = |source| OutputError::Write {
            path: name.clone(),
            source,
        };
        let file = match self.writer {
            Writer::NpyFixed { out, rows } => {
                if rows != self.rows {
                    return Err(write_error(std::io::Error::other(format!(
                        "{} rows written where the header promises {rows} (the input ended \
                         early?)",
                        self.rows
                    ))));
                }
                out.into_inner().map_err(|e| write_error(e.into_error()))?
            }
            Writer::NpyPatched {
                out,
                header_len,
                row_shape,
                dtype,
            } => {
                let mut file = out.into_inner().map_err(|e| write_error(e.into_error()))?;
                let mut shape = vec![self.rows];
                shape.extend(row_shape);
                file.seek(SeekFrom::Start(0)).map_err(write_error)?;
                file.write_all(&npy_header(dtype, &shape, header_len))
                    .map_err(write_error)?;
                file
            }
            Writer::Text { out, .. } => {
                out.into_inner().map_err(|e| write_error(e.into_error()))?
            }
            Writer::Parquet(writer) => writer
                .finish()
                .map_err(|e| write_error(std::io::Error::other(e)))?,
        };
        file.sync_all().map_err(write_error)?;
        match self.partial {
            Partial::Temp(temp) => super::persist_over(temp, &self.path).map_err(write_error)?,
            Partial::Kept(partial) => {
                super::rename_over(&partial, &self.path).map_err(write_error)?;
                sync_dir(&parent_dir(&self.path)).map_err(write_error)?;
            }
        }
        Ok(self.rows)
    }
}

impl Sink for FileSink {
    fn write(&mut self, t0: u64, view: &TensorView<'_>) -> Result<(), OutputError> {
        let result = match &mut self.writer {
            Writer::NpyFixed { out, .. } | Writer::NpyPatched { out, .. } => {
                out.write_all(&view.to_le_bytes())
            }
            Writer::Text { out, csv } => write_text_any(out, *csv, t0, view),
            Writer::Parquet(writer) => writer.write(t0, view).map_err(std::io::Error::other),
        };
        result.map_err(|source| OutputError::Write {
            path: self.path.display().to_string(),
            source,
        })?;
        self.rows += view.rows() as u64;
        Ok(())
    }

    fn commit(&mut self) -> Result<Option<Committed>, OutputError> {
        let out = match &mut self.writer {
            Writer::NpyFixed { out, .. } | Writer::Text { out, .. } => out,
            // Its header (a Parquet file's footer) is written at the end: nothing to resume
            // into.
            Writer::NpyPatched { .. } | Writer::Parquet(_) => return Ok(None),
        };
        let result = out.flush().and_then(|()| {
            let file = out.get_mut();
            file.sync_data()?;
            file.stream_position()
        });
        let bytes = result.map_err(|source| OutputError::Write {
            path: self.path.display().to_string(),
            source,
        })?;
        Ok(Some(Committed {
            rows: self.rows,
            bytes,
        }))
    }
}

/// A CSV or JSON lines writer; a new CSV file gets its header line.
fn text_writer(
    mut out: BufWriter<File>,
    format: OutputFormat,
    layout: &Layout,
    new_file: bool,
) -> std::io::Result<Writer> {
    let csv = format == OutputFormat::Csv;
    if csv && new_file {
        write_csv_header(&mut out, layout)?;
    }
    Ok(Writer::Text { out, csv })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Complex32, Tensor};

    fn layout(dtype: DType, width: usize) -> Layout {
        Layout::new(dtype, vec![width])
    }

    #[cfg(unix)]
    #[test]
    fn an_output_gets_the_permissions_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.csv");
        let sink =
            FileSink::create(&path, OutputFormat::Csv, &layout(DType::F32, 1)).expect("creates");
        sink.finish().expect("commits");
        let plain = dir.path().join("plain");
        File::create(&plain).expect("creates");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain), "not tempfile's private 0600");
    }

    #[test]
    fn text_rows_are_events_in_json_lines_quoted_in_csv_and_refused_in_npy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = [
            r#"{"window": 3, "alert": "error-ratio"}"#,
            "",
            "{\n \"multi\": [1,\n 2]}",
            "plain, \"quoted\" text",
            "[1, 2]",
            "   ",
        ];
        let rows = Tensor::text(3, vec![2], events.iter().collect()).expect("valid");
        let jsonl = dir.path().join("alerts.jsonl");
        let mut sink =
            FileSink::create(&jsonl, OutputFormat::Jsonl, &rows.layout()).expect("creates");
        sink.write(10, &rows.view()).expect("writes");
        sink.finish().expect("commits");
        assert_eq!(
            std::fs::read_to_string(&jsonl).expect("read"),
            concat!(
                "{\"window\": 3, \"alert\": \"error-ratio\"}\n",
                "{\"multi\":[1,2]}\n",
                "{\"t\": 11, \"text\": \"plain, \\\"quoted\\\" text\"}\n",
                "{\"t\": 12, \"text\": \"[1, 2]\"}\n",
            )
        );
        let csv = dir.path().join("rows.csv");
        let mut sink = FileSink::create(&csv, OutputFormat::Csv, &rows.layout()).expect("creates");
        sink.write(0, &rows.view()).expect("writes");
        sink.finish().expect("commits");
        let text = std::fs::read_to_string(&csv).expect("read");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.expect("valid csv").iter().map(str::to_string).collect())
            .collect();
        assert_eq!(
            records[1],
            ["1", events[2], events[3]],
            "fields read back as written"
        );
        let npy = dir.path().join("rows.npy");
        let err = FileSink::create(&npy, OutputFormat::Npy, &rows.layout())
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("rows of text cannot be written as .npy"),
            "{err}"
        );
        assert!(!npy.exists());
    }

    #[test]
    fn npy_rows_of_several_dimensions_keep_their_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("patches.npy");
        let layout = Layout::new(DType::F32, vec![2, 3]);
        let mut sink = FileSink::create(&path, OutputFormat::Npy, &layout).expect("creates");
        let values: Vec<f32> = (0..42).map(|v| v as f32 * 0.5).collect();
        let rows = Tensor::new(7, vec![2, 3], values.clone()).expect("valid");
        sink.write(0, &rows.slice_rows(0..4)).expect("writes");
        sink.write(4, &rows.slice_rows(4..7)).expect("writes");
        assert_eq!(sink.finish().expect("commits"), 7);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(
            bytes.len() % 64,
            42 * 4 % 64,
            "the header is a multiple of 64 bytes"
        );
        let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
        assert_eq!(npy.shape(), &[7, 2, 3]);
        assert_eq!(npy.into_vec::<f32>().expect("values"), values);
        // The header numpy would write for the same array parses the same way.
        assert_eq!(&npy_header(DType::F32, &[7, 2, 3], 0)[..10], &bytes[..10]);
    }

    #[test]
    fn npy_round_trips_through_npyz_with_row_count_patched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.npy");
        let mut sink =
            FileSink::create(&path, OutputFormat::Npy, &layout(DType::C32, 2)).expect("creates");
        let a = Tensor::new(2, vec![2], vec![Complex32::new(1.0, 2.0); 4]).expect("valid");
        sink.write(0, &a.view()).expect("writes");
        sink.write(2, &a.slice_rows(0..1)).expect("writes");
        assert!(!path.exists(), "nothing at the destination before finish");
        assert_eq!(sink.finish().expect("commits"), 3);
        let npy = npyz::NpyFile::new(std::fs::File::open(&path).expect("open")).expect("npy");
        assert_eq!(npy.shape(), &[3, 2]);
        let values: Vec<Complex32> = npy.into_vec().expect("values");
        assert_eq!(values[5], Complex32::new(1.0, 2.0));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "temporary file renamed, not copied");
    }

    /// Rows of every dtype, with values that differ from row to row.
    fn sample(dtype: DType, rows: usize, width: usize) -> Tensor {
        let n = rows * width;
        let row_shape = if width == 1 { vec![] } else { vec![width] };
        let made = match dtype {
            DType::F32 => Tensor::new(
                rows,
                row_shape,
                (0..n).map(|i| i as f32 * 0.5 - 3.0).collect(),
            ),
            DType::F64 => Tensor::new(rows, row_shape, (0..n).map(|i| i as f64 / 7.0).collect()),
            DType::C32 => Tensor::new(
                rows,
                row_shape,
                (0..n)
                    .map(|i| Complex32::new(i as f32, -(i as f32) / 3.0))
                    .collect(),
            ),
            DType::I32 => Tensor::new(rows, row_shape, (0..n).map(|i| i as i32 - 40).collect()),
            DType::U8 => Tensor::new(
                rows,
                row_shape,
                (0..n).map(|i| (i * 37 % 256) as u8).collect(),
            ),
            DType::Text => Tensor::text(
                rows,
                row_shape,
                (0..n)
                    .map(|i| match i % 3 {
                        0 => format!("{{\"event\": {i}}}"),
                        1 => format!("line {i}, \"quoted\""),
                        _ => String::new(),
                    })
                    .collect(),
            ),
        };
        made.expect("valid")
    }

    /// Bytes before a version-1 `.npy`'s data.
    #[test]
    fn resumed_output_equals_one_written_in_one_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (format, ext) in [
            (OutputFormat::Npy, "npy"),
            (OutputFormat::Csv, "csv"),
            (OutputFormat::Jsonl, "jsonl"),
        ] {
            for dtype in [
                DType::F32,
                DType::F64,
                DType::C32,
                DType::I32,
                DType::U8,
                DType::Text,
            ] {
                if dtype == DType::Text && format == OutputFormat::Npy {
                    continue;
                }
                for width in [1, 3] {
                    let rows = sample(dtype, 10, width);
                    let layout = rows.layout();
                    let plain = dir.path().join(format!("plain-{dtype:?}-{width}.{ext}"));
                    let mut sink = FileSink::create(&plain, format, &layout).expect("creates");
                    sink.write(0, &rows.view()).expect("writes");
                    sink.finish().expect("commits");

                    // Four rows committed, three more written, then the process "dies".
                    let resumed = dir.path().join(format!("resumed-{dtype:?}-{width}.{ext}"));
                    let open =
                        |from| FileSink::resumable(&resumed, format, &layout, Some(10), from);
                    let mut sink = open(None).expect("creates");
                    sink.write(0, &rows.slice_rows(0..4)).expect("writes");
                    let committed = sink.commit().expect("commits").expect("resumable");
                    assert_eq!(committed.rows, 4);
                    sink.write(4, &rows.slice_rows(4..7)).expect("writes");
                    sink.commit().expect("commits");
                    drop(sink);
                    assert!(
                        FileSink::partial_path(&resumed).exists(),
                        "kept for a resume"
                    );
                    assert!(!resumed.exists());

                    let mut sink = open(Some(committed)).expect("reopens");
                    assert_eq!(sink.rows(), 4);
                    sink.write(4, &rows.slice_rows(4..10)).expect("writes");
                    assert_eq!(sink.finish().expect("commits"), 10);
                    let (a, b) = (
                        std::fs::read(&plain).expect("plain"),
                        std::fs::read(&resumed).expect("resumed"),
                    );
                    // Byte for byte, `.npy` headers included.
                    assert_eq!(a, b, "{format} {dtype:?} x{width}");
                    assert!(!FileSink::partial_path(&resumed).exists());
                }
            }
        }
    }

    #[test]
    fn a_resumable_npy_refuses_a_short_run_and_a_missing_partial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("y.npy");
        let rows = sample(DType::F32, 3, 2);
        let gone = Committed {
            rows: 2,
            bytes: 200,
        };
        let missing = FileSink::resumable(
            &path,
            OutputFormat::Npy,
            &rows.layout(),
            Some(5),
            Some(gone),
        );
        assert!(
            matches!(missing, Err(OutputError::Create { .. })),
            "{missing:?}"
        );
        let mut sink = FileSink::resumable(&path, OutputFormat::Npy, &rows.layout(), Some(5), None)
            .expect("creates");
        sink.write(0, &rows.view()).expect("writes");
        let short = sink.finish().expect_err("3 of 5 rows");
        assert!(
            short
                .to_string()
                .contains("3 rows written where the header promises 5"),
            "{short}"
        );
        assert!(!path.exists());
        let too_long = FileSink::resumable(
            &path,
            OutputFormat::Npy,
            &rows.layout(),
            Some(5),
            Some(gone),
        );
        assert!(
            too_long
                .as_ref()
                .is_err_and(|e| e.to_string().contains("fewer than the 200")),
            "{too_long:?}"
        );
    }

    #[test]
    fn a_parquet_output_appears_only_when_finished_and_cannot_be_resumed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rows.parquet");
        let rows = sample(DType::F64, 5, 3);
        let mut sink =
            FileSink::create(&path, OutputFormat::Parquet, &rows.layout()).expect("creates");
        sink.write(0, &rows.view()).expect("writes");
        assert_eq!(sink.commit().expect("commits"), None);
        drop(sink);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        let mut sink =
            FileSink::create(&path, OutputFormat::Parquet, &rows.layout()).expect("creates");
        sink.write(0, &rows.view()).expect("writes");
        assert_eq!(sink.finish().expect("finishes"), 5);
        let bytes = std::fs::read(&path).expect("written");
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        let err = FileSink::resumable(&path, OutputFormat::Parquet, &rows.layout(), None, None)
            .expect_err("refused");
        assert!(err.to_string().contains("cannot be resumed"), "{err}");
    }

    #[test]
    fn dropped_sink_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.csv");
        let mut sink =
            FileSink::create(&path, OutputFormat::Csv, &layout(DType::F32, 1)).expect("creates");
        sink.write(
            0,
            &Tensor::new(1, vec![1], vec![1.0f32]).expect("valid").view(),
        )
        .expect("writes");
        drop(sink);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn text_formats_spell_values_so_they_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows = Tensor::new(
            2,
            vec![3],
            vec![
                0.1f32,
                f32::NAN,
                f32::NEG_INFINITY,
                1e-30,
                2.0,
                f32::INFINITY,
            ],
        )
        .expect("valid");
        let csv_path = dir.path().join("o.csv");
        let mut sink =
            FileSink::create(&csv_path, OutputFormat::Csv, &rows.layout()).expect("creates");
        sink.write(7, &rows.view()).expect("writes");
        sink.finish().expect("commits");
        assert_eq!(
            std::fs::read_to_string(&csv_path).expect("read"),
            "t,v0,v1,v2\n7,0.1,nan,-inf\n8,1e-30,2.0,inf\n"
        );
        let json_path = dir.path().join("o.jsonl");
        let mut sink =
            FileSink::create(&json_path, OutputFormat::Jsonl, &rows.layout()).expect("creates");
        sink.write(7, &rows.view()).expect("writes");
        sink.finish().expect("commits");
        assert_eq!(
            std::fs::read_to_string(&json_path).expect("read"),
            "{\"t\": 7, \"values\": [0.1, NaN, -Infinity]}\n{\"t\": 8, \"values\": [1e-30, 2.0, Infinity]}\n"
        );
    }

    #[test]
    fn missing_directory_is_a_create_error() {
        let err = FileSink::create(
            Path::new("/nonexistent-dir/x.npy"),
            OutputFormat::Npy,
            &layout(DType::F32, 1),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("cannot create output /nonexistent-dir/x.npy:"),
            "{err}"
        );
    }
}

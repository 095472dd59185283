//! Where a run's output rows go: `.npy`, CSV or JSON lines, written block by block into a
//! temporary file beside the destination and renamed over it only when the run has finished,
//! so a failed or interrupted run never leaves a partial output behind.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::{output_temp, parent_dir};
use crate::tensor::{Complex32, DType, Element, Layout, Tensor, TensorView};

/// Receives a run's output, one block of rows at a time, in window order.
pub trait Sink {
    /// Appends rows; `t0` is the window index of the first.
    fn write(&mut self, t0: u64, rows: &TensorView<'_>) -> Result<(), OutputError>;

    /// Makes what was written so far durable and says how much that is, for sinks a run can
    /// be resumed into ([`FileSink::resumable`]); `None` from the others.
    fn commit(&mut self) -> Result<Option<Committed>, OutputError> {
        Ok(None)
    }
}

/// How much of a resumable output is on disk for good: a resumed run cuts the file back to
/// `bytes` and goes on from row `rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Committed {
    /// Rows written.
    pub rows: u64,
    /// Length of the file holding them.
    pub bytes: u64,
}

/// The output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The temporary file could not be created beside the destination.
    #[error("cannot create output {path}: {source}")]
    Create {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing or committing failed.
    #[error("cannot write output {path}: {source}")]
    Write {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The reader of a stream went away (a closed pipe); what was written is intact.
    #[error("{path} was closed by its reader")]
    Closed {
        /// The stream.
        path: String,
    },
    /// The data cannot be written in the chosen format.
    #[error("output {path}: {message}")]
    Unsupported {
        /// The destination.
        path: String,
        /// Why.
        message: String,
    },
}

/// Output file formats.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum OutputFormat {
    /// NumPy `.npy`: rows x row elements, the row count written into the header at the end.
    Npy,
    /// Comma-separated: a header line, then `t` and the row's values.
    Csv,
    /// One JSON object per row: `{"t": 12, "values": [...]}`. Rows of text are events
    /// instead: each element that holds a JSON object is written as it is, one per line (so a
    /// stage that emits alerts writes them in the form it chooses), other text as
    /// `{"t": 12, "text": "..."}`, and empty elements not at all.
    Jsonl,
}

impl OutputFormat {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(OutputFormat::Npy),
            "csv" => Some(OutputFormat::Csv),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            _ => None,
        }
    }
}

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
}

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
const NPY_PLACEHOLDER: u64 = 10_000_000_000_000_000_000;

/// The length every `.npy` header of rows of `row_shape` is padded to: that of a header whose
/// row count has the most digits any count can have, so that the count can be patched in
/// without moving the data.
fn npy_placeholder_len(dtype: DType, row_shape: &[u64]) -> usize {
    let mut shape = vec![NPY_PLACEHOLDER];
    shape.extend(row_shape);
    npy_header(dtype, &shape, 0).len()
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
            OutputFormat::Csv | OutputFormat::Jsonl => {
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
            OutputFormat::Csv | OutputFormat::Jsonl => {
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
        };
        file.sync_all().map_err(write_error)?;
        match self.partial {
            Partial::Temp(temp) => temp.persist(&self.path).map_err(|e| write_error(e.error))?,
            Partial::Kept(partial) => {
                std::fs::rename(&partial, &self.path).map_err(write_error)?;
                sync_dir(&parent_dir(&self.path)).map_err(write_error)?;
            }
        }
        Ok(self.rows)
    }
}

/// Where an output path leads, as far as writing it is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or nothing yet: written to a temporary file beside it and renamed
    /// onto it when complete. A symlink is followed: this is the path it leads to.
    Regular(PathBuf),
    /// A character or block device, a FIFO or a socket (`/dev/stdout`, `/dev/null`, a named
    /// pipe): written to in place as a stream, never replaced.
    Special {
        /// The path.
        path: PathBuf,
        /// What it is, for messages.
        kind: &'static str,
    },
}

/// Where writing `path` leads: through a symlink to what it points at (existing or not), a
/// regular file or nothing yet, or a special file that must be written in place. A
/// directory is refused.
pub fn destination(path: &Path) -> Result<Destination, OutputError> {
    let create_error = |source| OutputError::Create {
        path: path.display().to_string(),
        source,
    };
    // The kernel follows the links (including /proc's, such as /dev/stdout, whose targets
    // are not paths).
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            Ok(Destination::Regular(real))
        }
        Ok(meta) if meta.is_dir() => Err(create_error(std::io::Error::other(
            "it is a directory (name a file in it)",
        ))),
        Ok(meta) => match special_kind(&meta.file_type()) {
            Some(kind) => Ok(Destination::Special {
                path: path.to_path_buf(),
                kind,
            }),
            None => Err(create_error(std::io::Error::other(
                "it is neither a regular file nor a device, FIFO or socket",
            ))),
        },
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            // Nothing there, or a symlink to nothing yet: the new file goes where the links
            // lead.
            let mut resolved = path.to_path_buf();
            for _ in 0..40 {
                match std::fs::read_link(&resolved) {
                    Ok(target) => resolved = parent_dir(&resolved).join(target),
                    Err(_) => return Ok(Destination::Regular(resolved)),
                }
            }
            Err(create_error(std::io::Error::other(
                "too many levels of symbolic links",
            )))
        }
        Err(e) => Err(create_error(e)),
    }
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_char_device() {
        Some("character device")
    } else if file_type.is_block_device() {
        Some("block device")
    } else if file_type.is_fifo() {
        Some("FIFO")
    } else if file_type.is_socket() {
        Some("socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> Option<&'static str> {
    None
}

/// The refusal for a format that needs a regular file, written to a special one.
fn needs_a_file(path: &Path, kind: &str, what: &str) -> OutputError {
    OutputError::Unsupported {
        path: path.display().to_string(),
        message: format!(
            "is a {kind}, but {what} needs a regular file; stream csv or jsonl to it instead"
        ),
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why `file` could not be created, said about its directory where that is the reason.
fn cannot_create(file: &Path, error: std::io::Error) -> OutputError {
    let dir = parent_dir(file);
    let source = if !dir.exists() {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )
    } else if !dir.is_dir() {
        std::io::Error::other(format!("{} is not a directory", dir.display()))
    } else {
        // The OS's reason, without the temporary file's random name that tempfile appends.
        let text = error.to_string();
        match text.rsplit_once(" at path ") {
            Some((reason, _)) => std::io::Error::new(error.kind(), reason.to_string()),
            None => error,
        }
    };
    OutputError::Create {
        path: file.display().to_string(),
        source,
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output")
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

fn write_csv_header(out: &mut impl Write, layout: &Layout) -> std::io::Result<()> {
    out.write_all(b"t")?;
    for i in 0..layout.row_len() {
        if layout.dtype == DType::C32 {
            write!(out, ",v{i}_re,v{i}_im")?;
        } else {
            write!(out, ",v{i}")?;
        }
    }
    out.write_all(b"\n")
}

/// Writes a float so that it reads back to the same value; JSON spells non-finite values the
/// way Python's `json` module does.
fn write_float(out: &mut impl Write, v: f64, json: bool) -> std::io::Result<()> {
    match (v.is_finite(), json) {
        (true, _) => write!(out, "{v:?}"),
        (false, true) if v.is_nan() => out.write_all(b"NaN"),
        (false, true) if v > 0.0 => out.write_all(b"Infinity"),
        (false, true) => out.write_all(b"-Infinity"),
        (false, false) if v.is_nan() => out.write_all(b"nan"),
        (false, false) if v > 0.0 => out.write_all(b"inf"),
        (false, false) => out.write_all(b"-inf"),
    }
}

trait TextValue: Element {
    fn write(&self, out: &mut impl Write, json: bool, sep: &[u8]) -> std::io::Result<()>;
}

macro_rules! text_int {
    ($ty:ty) => {
        impl TextValue for $ty {
            fn write(&self, out: &mut impl Write, _: bool, _: &[u8]) -> std::io::Result<()> {
                write!(out, "{self}")
            }
        }
    };
}
text_int!(i32);
text_int!(u8);

impl TextValue for f32 {
    // Printing the f32 itself keeps its shortest round-trip form ("0.1", not "0.10000000149").
    fn write(&self, out: &mut impl Write, json: bool, _: &[u8]) -> std::io::Result<()> {
        if self.is_finite() {
            write!(out, "{self:?}")
        } else {
            write_float(out, f64::from(*self), json)
        }
    }
}

impl TextValue for f64 {
    fn write(&self, out: &mut impl Write, json: bool, _: &[u8]) -> std::io::Result<()> {
        write_float(out, *self, json)
    }
}

impl TextValue for String {
    fn write(&self, out: &mut impl Write, json: bool, _: &[u8]) -> std::io::Result<()> {
        if json {
            serde_json::to_writer(&mut *out, self).map_err(std::io::Error::other)
        } else if self.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", self.replace('"', "\"\""))
        } else {
            out.write_all(self.as_bytes())
        }
    }
}

/// Rows of text as JSON lines: each element holding a JSON object is an event written as it
/// is (on one line), other text is wrapped with its window index, and empty elements are
/// skipped.
fn write_events(out: &mut impl Write, t0: u64, view: &TensorView<'_>) -> std::io::Result<()> {
    let Ok(rows) = view.typed::<String>() else {
        return Err(std::io::Error::other("row type changed during the run"));
    };
    for (i, row) in rows.iter().enumerate() {
        for text in row.iter().filter(|text| !text.trim().is_empty()) {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(_)) if !text.contains('\n') => {
                    out.write_all(text.trim().as_bytes())?;
                }
                Ok(object @ serde_json::Value::Object(_)) => {
                    serde_json::to_writer(&mut *out, &object).map_err(std::io::Error::other)?;
                }
                _ => {
                    let t = t0 + i as u64;
                    write!(out, "{{\"t\": {t}, \"text\": ")?;
                    serde_json::to_writer(&mut *out, text).map_err(std::io::Error::other)?;
                    out.write_all(b"}")?;
                }
            }
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

impl TextValue for Complex32 {
    fn write(&self, out: &mut impl Write, json: bool, sep: &[u8]) -> std::io::Result<()> {
        if json {
            out.write_all(b"[")?;
        }
        self.re.write(out, json, sep)?;
        out.write_all(sep)?;
        self.im.write(out, json, sep)?;
        if json {
            out.write_all(b"]")?;
        }
        Ok(())
    }
}

fn write_text<T: TextValue>(
    out: &mut impl Write,
    csv: bool,
    t0: u64,
    view: &TensorView<'_>,
) -> std::io::Result<()> {
    let Ok(rows) = view.typed::<T>() else {
        return Err(std::io::Error::other("row type changed during the run"));
    };
    let sep: &[u8] = if csv { b"," } else { b", " };
    for (i, row) in rows.iter().enumerate() {
        let t = t0 + i as u64;
        if csv {
            write!(out, "{t}")?;
        } else {
            write!(out, "{{\"t\": {t}, \"values\": [")?;
        }
        for (j, v) in row.iter().enumerate() {
            if csv || j > 0 {
                out.write_all(sep)?;
            }
            v.write(out, !csv, sep)?;
        }
        out.write_all(if csv { b"\n" } else { b"]}\n" })?;
    }
    Ok(())
}

impl Sink for FileSink {
    fn write(&mut self, t0: u64, view: &TensorView<'_>) -> Result<(), OutputError> {
        let result = match &mut self.writer {
            Writer::NpyFixed { out, .. } | Writer::NpyPatched { out, .. } => {
                out.write_all(&view.to_le_bytes())
            }
            Writer::Text { out, csv } => write_text_any(out, *csv, t0, view),
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
            // Its header is patched at the end: nothing to resume into.
            Writer::NpyPatched { .. } => return Ok(None),
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

fn write_text_any(
    out: &mut impl Write,
    csv: bool,
    t0: u64,
    view: &TensorView<'_>,
) -> std::io::Result<()> {
    match view.dtype() {
        DType::F32 => write_text::<f32>(out, csv, t0, view),
        DType::F64 => write_text::<f64>(out, csv, t0, view),
        DType::C32 => write_text::<Complex32>(out, csv, t0, view),
        DType::I32 => write_text::<i32>(out, csv, t0, view),
        DType::U8 => write_text::<u8>(out, csv, t0, view),
        DType::Text if csv => write_text::<String>(out, csv, t0, view),
        DType::Text => write_events(out, t0, view),
    }
}

/// CSV or JSON lines on a stream (stdout), flushed after every block so a reader downstream
/// sees rows as they are computed. A reader that goes away ends the run with
/// [`OutputError::Closed`], which callers treat as a quiet end: what was written is intact.
pub struct StreamSink<W: Write> {
    name: String,
    out: W,
    csv: bool,
    rows: u64,
}

impl<W: Write> fmt::Debug for StreamSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSink")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .finish()
    }
}

impl<W: Write> StreamSink<W> {
    /// A sink writing rows of `layout` to `out` (called `name` in messages); `.npy` needs a
    /// file, since its header is patched at the end.
    pub fn new(
        name: &str,
        out: W,
        format: OutputFormat,
        layout: &Layout,
    ) -> Result<StreamSink<W>, OutputError> {
        let csv = match format {
            OutputFormat::Csv => true,
            OutputFormat::Jsonl => false,
            OutputFormat::Npy => {
                return Err(OutputError::Unsupported {
                    path: name.into(),
                    message: ".npy needs a file (its header is written last); stream csv or jsonl"
                        .into(),
                });
            }
        };
        let mut sink = StreamSink {
            name: name.into(),
            out,
            csv,
            rows: 0,
        };
        if csv {
            let result = write_csv_header(&mut sink.out, layout);
            sink.check(result)?;
        }
        Ok(sink)
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn check(&self, result: std::io::Result<()>) -> Result<(), OutputError> {
        result.map_err(|source| {
            if source.kind() == std::io::ErrorKind::BrokenPipe {
                OutputError::Closed {
                    path: self.name.clone(),
                }
            } else {
                OutputError::Write {
                    path: self.name.clone(),
                    source,
                }
            }
        })
    }
}

impl<W: Write> Sink for StreamSink<W> {
    fn write(&mut self, t0: u64, view: &TensorView<'_>) -> Result<(), OutputError> {
        let result =
            write_text_any(&mut self.out, self.csv, t0, view).and_then(|()| self.out.flush());
        self.check(result)?;
        self.rows += view.rows() as u64;
        Ok(())
    }
}

/// Collects output rows in memory: the library's way to get results back.
#[derive(Debug)]
pub struct MemorySink {
    /// The rows received, contiguous.
    pub tensor: Tensor,
    /// Window index of the first row received.
    pub first_t: Option<u64>,
}

impl MemorySink {
    /// An empty sink for rows of `layout`.
    pub fn new(layout: &Layout) -> MemorySink {
        MemorySink {
            tensor: Tensor::empty(layout),
            first_t: None,
        }
    }
}

impl Sink for MemorySink {
    fn write(&mut self, t0: u64, rows: &TensorView<'_>) -> Result<(), OutputError> {
        self.first_t.get_or_insert(t0);
        self.tensor.extend_rows(rows);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let rows = Tensor::new(3, vec![2], events.map(str::to_string).to_vec()).expect("valid");
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
            DType::Text => Tensor::new(
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

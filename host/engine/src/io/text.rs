//! CSV and JSON lines: how each element type is spelled so that it reads back, text rows as
//! events, and [`StreamSink`], rows streamed to stdout, a pipe or a device as blocks complete.

use std::fmt;
use std::io::Write;

use super::sink::{OutputError, OutputFormat, Sink};
use crate::tensor::{Complex32, DType, Element, Layout, TensorView};

/// The header line of a CSV file: `t`, then a name per column.
pub(super) fn write_csv_header(out: &mut impl Write, layout: &Layout) -> std::io::Result<()> {
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

trait TextValue {
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

impl TextValue for str {
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
    let Ok(rows) = view.text() else {
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

fn write_text<T: TextValue + Element>(
    out: &mut impl Write,
    csv: bool,
    t0: u64,
    view: &TensorView<'_>,
) -> std::io::Result<()> {
    let Ok(rows) = view.typed::<T>() else {
        return Err(std::io::Error::other("row type changed during the run"));
    };
    write_rows(out, csv, t0, rows.iter())
}

fn write_rows<'a, V: TextValue + ?Sized + 'a, R: IntoIterator<Item = &'a V>>(
    out: &mut impl Write,
    csv: bool,
    t0: u64,
    rows: impl Iterator<Item = R>,
) -> std::io::Result<()> {
    let sep: &[u8] = if csv { b"," } else { b", " };
    for (i, row) in rows.enumerate() {
        let t = t0 + i as u64;
        if csv {
            write!(out, "{t}")?;
        } else {
            write!(out, "{{\"t\": {t}, \"values\": [")?;
        }
        for (j, v) in row.into_iter().enumerate() {
            if csv || j > 0 {
                out.write_all(sep)?;
            }
            v.write(out, !csv, sep)?;
        }
        out.write_all(if csv { b"\n" } else { b"]}\n" })?;
    }
    Ok(())
}

pub(super) fn write_text_any(
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
        DType::Text if csv => match view.text() {
            Ok(rows) => write_rows(out, csv, t0, rows.iter().map(|row| row.iter())),
            Err(_) => Err(std::io::Error::other("row type changed during the run")),
        },
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
            OutputFormat::Npy | OutputFormat::Parquet => {
                return Err(OutputError::Unsupported {
                    path: name.into(),
                    message: format!(
                        "{} needs a file (its {} is written last); stream csv or jsonl",
                        if format == OutputFormat::Npy {
                            ".npy"
                        } else {
                            "Parquet"
                        },
                        if format == OutputFormat::Npy {
                            "header"
                        } else {
                            "footer"
                        },
                    ),
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

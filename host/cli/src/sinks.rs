//! What `run` writes through, for one input and for many: a sink that counts rows on a
//! progress line, and JSON files written whole.

use std::path::Path;

use sqrtspace::io::Sink;

/// A sink that moves a progress bar as rows are written.
pub(crate) struct Progress<'a> {
    inner: &'a mut dyn Sink,
    bar: &'a Option<indicatif::ProgressBar>,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(
        inner: &'a mut dyn Sink,
        bar: &'a Option<indicatif::ProgressBar>,
    ) -> Progress<'a> {
        Progress { inner, bar }
    }
}

impl Sink for Progress<'_> {
    fn write(
        &mut self,
        t0: u64,
        rows: &sqrtspace::TensorView<'_>,
    ) -> Result<(), sqrtspace::io::OutputError> {
        self.inner.write(t0, rows)?;
        if let Some(bar) = self.bar {
            bar.inc(rows.rows() as u64);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<Option<sqrtspace::io::Committed>, sqrtspace::io::OutputError> {
        self.inner.commit()
    }
}

/// Writes `value` as JSON to `path` through a temporary file renamed into place (or in
/// place, to a device or FIFO such as `/dev/stdout`).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    sqrtspace::io::write_atomically(path, |out| {
        serde_json::to_writer_pretty(&mut *out, value)?;
        std::io::Write::write_all(out, b"\n")
    })?;
    Ok(())
}

//! Scratch space for the output of a stage that runs backward in time: its blocks come out
//! last to first, readers want them first to last, and holding them all is what sqrt mode
//! avoids. They go to an unnamed temporary file (in `$TMPDIR`, gone when the run ends) at
//! their row offsets, and are read back a block at a time. Memory stays one block; disk holds
//! the stage's output once.

use std::fs::File;

use crate::tensor::{Layout, Tensor, TensorView};

/// Rows of one layout stored at `t * row_bytes` in a temporary file.
#[derive(Debug)]
pub(crate) struct Spool {
    file: File,
    layout: Layout,
    row_bytes: u64,
}

impl Spool {
    pub(crate) fn new(layout: Layout) -> std::io::Result<Spool> {
        Ok(Spool {
            file: tempfile::tempfile()?,
            row_bytes: layout.row_bytes() as u64,
            layout,
        })
    }

    /// Stores `rows`, the first of them window `t0`.
    pub(crate) fn write(&self, t0: u64, rows: &TensorView<'_>) -> std::io::Result<()> {
        write_all_at(&self.file, &rows.to_le_bytes(), t0 * self.row_bytes)
    }

    /// Reads back `rows` rows from window `t0`.
    pub(crate) fn read(&self, t0: u64, rows: usize) -> std::io::Result<Tensor> {
        let mut bytes = vec![0u8; rows * self.row_bytes as usize];
        read_exact_at(&self.file, &mut bytes, t0 * self.row_bytes)?;
        Tensor::from_le_bytes(&self.layout, &bytes).map_err(std::io::Error::other)
    }
}

/// Writes all of `bytes` at `offset`, without moving a shared cursor.
#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

/// Reads exactly `bytes.len()` bytes from `offset`.
#[cfg(unix)]
fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

/// Writes all of `bytes` at `offset` (Windows' `seek_write` may write less than asked).
#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_write(bytes, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads exactly `bytes.len()` bytes from `offset`.
#[cfg(windows)]
fn read_exact_at(file: &File, mut bytes: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_read(bytes, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                bytes = &mut bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Complex32, DType};

    #[test]
    fn rows_read_back_bit_for_bit_in_any_order() {
        let layout = Layout::new(DType::C32, vec![3]);
        let spool = Spool::new(layout).expect("spool");
        let values: Vec<Complex32> = (0..30)
            .map(|i| Complex32::new(i as f32 * 0.1, if i == 7 { f32::NAN } else { -1.0 }))
            .collect();
        let all = Tensor::new(10, vec![3], values).expect("tensor");
        spool.write(6, &all.slice_rows(6..10)).expect("write");
        spool.write(0, &all.slice_rows(0..6)).expect("write");
        assert!(spool.read(0, 10).expect("read").bit_identical(&all));
        let middle = spool.read(4, 3).expect("read");
        assert!(middle.view().bit_identical(&all.slice_rows(4..7)));
        assert!(
            spool.read(8, 5).is_err(),
            "reading past what was written fails"
        );
    }
}

//! Output as numbered `.npy` shards of a fixed number of rows, for a PyTorch `DataLoader` or
//! numpy: `shard-00000.npy`, `shard-00001.npy`, … Each has shape `(rows, *row_shape)` and is
//! written to a hidden temporary file in the directory, synced and renamed into place once it
//! is complete, so a reader (or a run that was interrupted) never leaves a partial shard under
//! a shard's name.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::npy_header::{npy_header, npy_takes};
use super::output_temp;
use super::sink::{OutputError, Sink};
use super::sync_dir;
use crate::tensor::{Layout, TensorView};

/// The shard files' names: `shard-` and five or more digits.
pub fn shard_name(index: u64) -> String {
    format!("shard-{index:05}.npy")
}

/// Writes rows into shards of `per_shard` rows (the last one holds what is left).
#[derive(Debug)]
pub struct ShardSink {
    dir: PathBuf,
    per_shard: u64,
    layout: Layout,
    total: u64,
    written: u64,
    current: Option<(BufWriter<NamedTempFile>, u64)>,
    finished: Vec<PathBuf>,
}

impl ShardSink {
    /// Shards in `dir` (created if missing; it must hold no shards yet) for `total` rows of
    /// `layout`.
    pub fn create(
        dir: &Path,
        per_shard: u64,
        layout: &Layout,
        total: u64,
    ) -> Result<ShardSink, OutputError> {
        let name = dir.display().to_string();
        let unsupported = |message: String| OutputError::Unsupported {
            path: name.clone(),
            message,
        };
        if per_shard == 0 {
            return Err(unsupported("a shard must hold at least one row".into()));
        }
        npy_takes(dir, layout)?;
        std::fs::create_dir_all(dir).map_err(|source| OutputError::Create {
            path: name.clone(),
            source,
        })?;
        let existing = std::fs::read_dir(dir)
            .map_err(|source| OutputError::Create {
                path: name.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("shard-") && n.ends_with(".npy")
            })
            .count();
        if existing > 0 {
            return Err(unsupported(format!(
                "already holds {existing} shard files; remove them or choose another directory"
            )));
        }
        Ok(ShardSink {
            dir: dir.to_path_buf(),
            per_shard,
            layout: layout.clone(),
            total,
            written: 0,
            current: None,
            finished: Vec::new(),
        })
    }

    fn write_error(&self, source: std::io::Error) -> OutputError {
        OutputError::Write {
            path: self.dir.display().to_string(),
            source,
        }
    }

    /// Starts the next shard: a temporary file with the header for its row count.
    fn open(&mut self) -> Result<(), OutputError> {
        let rows = self.per_shard.min(self.total - self.written);
        let temp = output_temp(".shard-", ".partial", &self.dir).map_err(|source| {
            OutputError::Create {
                path: self.dir.display().to_string(),
                source,
            }
        })?;
        let mut out = BufWriter::with_capacity(1 << 16, temp);
        let mut shape = vec![rows];
        shape.extend(self.layout.row_shape.iter().map(|&d| d as u64));
        out.write_all(&npy_header(self.layout.dtype, &shape, 0))
            .map_err(|e| self.write_error(e))?;
        self.current = Some((out, rows));
        Ok(())
    }

    /// Completes the current shard: syncs it and renames it to its number.
    fn close(&mut self) -> Result<(), OutputError> {
        let Some((out, _)) = self.current.take() else {
            return Ok(());
        };
        let temp = out
            .into_inner()
            .map_err(|e| self.write_error(e.into_error()))?;
        temp.as_file().sync_all().map_err(|e| self.write_error(e))?;
        let path = self.dir.join(shard_name(self.finished.len() as u64));
        super::persist_over(temp, &path).map_err(|e| self.write_error(e))?;
        self.finished.push(path);
        Ok(())
    }

    /// Checks every row arrived, makes the renames durable and returns the shards' paths.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, OutputError> {
        if self.written != self.total {
            return Err(self.write_error(std::io::Error::other(format!(
                "{} rows written of the {} the shards were sized for (the input ended early?)",
                self.written, self.total
            ))));
        }
        self.close()?;
        sync_dir(&self.dir).map_err(|e| self.write_error(e))?;
        Ok(std::mem::take(&mut self.finished))
    }
}

impl Sink for ShardSink {
    fn write(&mut self, _t0: u64, view: &TensorView<'_>) -> Result<(), OutputError> {
        let mut done = 0;
        while done < view.rows() {
            if self.written >= self.total {
                return Err(self.write_error(std::io::Error::other(format!(
                    "more rows than the {} the shards were sized for",
                    self.total
                ))));
            }
            if self.current.is_none() {
                self.open()?;
            }
            let Some((out, left)) = self.current.as_mut() else {
                return Err(self.write_error(std::io::Error::other("no shard open")));
            };
            let n = (*left).min((view.rows() - done) as u64) as usize;
            let bytes = view.slice_rows(done..done + n).to_le_bytes();
            let result = out.write_all(&bytes);
            *left -= n as u64;
            let full = *left == 0;
            result.map_err(|e| self.write_error(e))?;
            done += n;
            self.written += n as u64;
            if full {
                self.close()?;
            }
        }
        Ok(())
    }
}

impl Drop for ShardSink {
    fn drop(&mut self) {
        // An unfinished shard's temporary file is deleted with it; finished shards stay.
        self.current.take();
    }
}

/// Whether `path` is a finished shard's file name (for tests and tools).
pub fn is_shard(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".npy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{DType, Tensor};

    #[test]
    fn rows_split_into_shards_of_the_given_size_with_nd_shapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(DType::F32, vec![2, 3]);
        let mut sink = ShardSink::create(dir.path(), 4, &layout, 10).expect("create");
        let values: Vec<f32> = (0..60).map(|v| v as f32).collect();
        let rows = Tensor::new(10, vec![2, 3], values).expect("tensor");
        // Blocks that straddle shard boundaries.
        for range in [0..3, 3..9, 9..10] {
            sink.write(range.start as u64, &rows.slice_rows(range))
                .expect("write");
        }
        let shards = sink.finish().expect("finish");
        assert_eq!(shards.len(), 3);
        let mut all = Vec::new();
        for (i, path) in shards.iter().enumerate() {
            assert!(is_shard(path) && path.ends_with(shard_name(i as u64)));
            let file = npyz::NpyFile::new(std::fs::File::open(path).expect("open")).expect("npy");
            let expected_rows = [4, 4, 2][i];
            assert_eq!(file.shape(), [expected_rows, 2, 3]);
            all.extend(file.into_vec::<f32>().expect("data"));
        }
        assert_eq!(all, (0..60).map(|v| v as f32).collect::<Vec<_>>());
        // Nothing else in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 3);
    }

    #[test]
    fn an_interrupted_run_leaves_only_complete_shards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(DType::F32, vec![1]);
        let mut sink = ShardSink::create(dir.path(), 4, &layout, 10).expect("create");
        let rows = Tensor::new(6, vec![1], (0..6).map(|v| v as f32).collect::<Vec<f32>>())
            .expect("tensor");
        sink.write(0, &rows.view()).expect("write");
        drop(sink); // mid-shard: rows 4 and 5 were in the second shard
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["shard-00000.npy"]);
        // A second run into the same directory is refused rather than mixed in.
        let again = ShardSink::create(dir.path(), 4, &layout, 10);
        assert!(matches!(again, Err(OutputError::Unsupported { .. })));
    }
}

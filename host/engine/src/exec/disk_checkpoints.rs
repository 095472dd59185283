//! Checkpoints on disk, for runs that must survive being killed: every `k` windows (and at
//! most once per interval of wall time) the output file is synced, then the sweep's state
//! (kernel states and context rows), the output's committed length and the identity of what
//! is running are written to `DIR/checkpoint` through a synced temporary file and a rename.
//! A resumed run checks the identity, cuts the output back to the committed length and goes
//! on from the saved window, so its output is byte for byte that of an uninterrupted run.
//!
//! The file: `MAGIC`, the body's length (u64 LE), the body (postcard), its CRC-32 (u32 LE).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ExecError;
use super::forward_sweep::{AfterBatch, ForwardSweep, SweepState};
use crate::io::{Committed, Sink};
use crate::plugin::hex;

const MAGIC: &[u8; 16] = b"sqrtspace-ckpt\x00\x01";
const FILE: &str = "checkpoint";
/// Bytes hashed at each end of the input to tell one input from another cheaply.
const SAMPLED: u64 = 1 << 20;

/// A checkpoint could not be used or written.
#[derive(Debug, thiserror::Error)]
pub enum DiskCheckpointError {
    /// Reading or writing the checkpoint directory failed.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this version wrote, or was damaged.
    #[error("checkpoint {path} is damaged ({why}); remove it to start over")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The checkpoint belongs to another run.
    #[error(
        "checkpoint {path} was made for another {what} ({was}; now {now}); remove it to start over"
    )]
    Mismatch {
        /// The file.
        path: String,
        /// What differs: pipeline, plugin, input, ...
        what: String,
        /// What the checkpoint says.
        was: String,
        /// What this run has.
        now: String,
    },
    /// A checkpoint exists and the run was not asked to resume it.
    #[error(
        "{path} holds a checkpoint of an unfinished run: pass --resume to continue it, or remove it"
    )]
    Exists {
        /// The file.
        path: String,
    },
}

/// What a checkpoint is a checkpoint of: a resumed run must match it in every field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// sha256 of the pipeline file's bytes.
    pub pipeline: String,
    /// Each plugin's stage and the sha256 of its file.
    pub plugins: Vec<(String, String)>,
    /// The input.
    pub input: InputIdentity,
    /// Everything else that decides the output's bytes: target, range, channel, formats.
    pub options: String,
}

/// An input file, told apart from others by its length, modification time and the hashes of
/// its first and last MiB (hashing all of a day of audio would cost more than the run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputIdentity {
    /// Length in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u128,
    /// sha256 of the first and last MiB.
    pub sampled_sha256: String,
}

impl InputIdentity {
    /// The identity of the file at `path`.
    pub fn of(path: &Path) -> std::io::Result<InputIdentity> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let len = meta.len();
        let modified_ns = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut hash = Sha256::new();
        let mut buf = vec![0; SAMPLED.min(len) as usize];
        file.read_exact(&mut buf)?;
        hash.update(&buf);
        if len > SAMPLED {
            use std::io::{Seek, SeekFrom};
            let from = (len - SAMPLED).max(SAMPLED);
            file.seek(SeekFrom::Start(from))?;
            buf.resize((len - from) as usize, 0);
            file.read_exact(&mut buf)?;
            hash.update(&buf);
        }
        Ok(InputIdentity {
            len,
            modified_ns,
            sampled_sha256: hex(&hash.finalize()),
        })
    }
}

/// One checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// What it is a checkpoint of.
    pub identity: Identity,
    /// How much of the output was durable when it was taken.
    pub committed: Committed,
    /// The sweep's state at that point.
    pub sweep: SweepState,
}

/// Costs of keeping checkpoints on disk during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskCheckpointStats {
    /// Checkpoints written.
    pub saved: u64,
    /// Bytes of the last one.
    pub bytes: u64,
    /// Time spent syncing the output and writing checkpoints, seconds.
    pub secs: f64,
    /// The window the run resumed from, if it did.
    pub resumed_at: Option<u64>,
}

/// A run's checkpoint directory.
#[derive(Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
    identity: Identity,
    every: u64,
    interval: Duration,
    last_t: u64,
    last_at: Instant,
    stats: DiskCheckpointStats,
}

impl CheckpointDir {
    /// The directory `dir` (created if missing) for a run of `identity`, saving every
    /// `every` windows but not more often than once per `interval`. With `resume`, the
    /// checkpoint found there (if any) is checked against `identity` and returned; without,
    /// an existing checkpoint is refused rather than overwritten.
    pub fn open(
        dir: &Path,
        identity: Identity,
        every: u64,
        interval: Duration,
        resume: bool,
    ) -> Result<(CheckpointDir, Option<Saved>), DiskCheckpointError> {
        std::fs::create_dir_all(dir).map_err(|source| DiskCheckpointError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let file = dir.join(FILE);
        let saved = if file.exists() {
            if !resume {
                return Err(DiskCheckpointError::Exists {
                    path: file.display().to_string(),
                });
            }
            let saved = read_checkpoint(&file)?;
            check(&file, &saved.identity, &identity)?;
            Some(saved)
        } else {
            None
        };
        let last_t = saved.as_ref().map_or(0, |s| s.sweep.done);
        Ok((
            CheckpointDir {
                dir: dir.to_path_buf(),
                identity,
                every: every.max(1),
                interval,
                last_t,
                last_at: Instant::now(),
                stats: DiskCheckpointStats {
                    resumed_at: saved.as_ref().map(|s| s.sweep.done),
                    ..DiskCheckpointStats::default()
                },
            },
            saved,
        ))
    }

    /// The file checkpoints are written to.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// What keeping checkpoints has cost so far.
    pub fn stats(&self) -> DiskCheckpointStats {
        self.stats
    }

    /// Syncs the output and writes a checkpoint of `sweep` now.
    fn save(&mut self, sweep: &mut ForwardSweep<'_>, sink: &mut dyn Sink) -> Result<(), ExecError> {
        let started = Instant::now();
        let Some(committed) = sink.commit()? else {
            return Err(ExecError::Unsupported(
                "this output cannot be resumed into (checkpoints need a file output)".into(),
            ));
        };
        let saved = Saved {
            identity: self.identity.clone(),
            committed,
            sweep: sweep.state()?,
        };
        self.stats.bytes = write(&self.dir, &saved)?;
        self.stats.saved += 1;
        self.last_t = saved.sweep.done;
        self.last_at = Instant::now();
        self.stats.secs += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Removes the checkpoint once the output it belongs to is complete.
    pub fn finish(self) -> Result<DiskCheckpointStats, DiskCheckpointError> {
        let file = self.path();
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(DiskCheckpointError::Io {
                    path: file.display().to_string(),
                    source,
                });
            }
        }
        Ok(self.stats)
    }
}

impl AfterBatch for CheckpointDir {
    fn after_batch(
        &mut self,
        sweep: &mut ForwardSweep<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), ExecError> {
        if sweep.done() >= self.last_t + self.every && self.last_at.elapsed() >= self.interval {
            self.save(sweep, sink)?;
        }
        Ok(())
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DiskCheckpointError + '_ {
    move |source| DiskCheckpointError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `saved` to `dir/checkpoint` atomically; returns the file's length.
fn write(dir: &Path, saved: &Saved) -> Result<u64, DiskCheckpointError> {
    let file = dir.join(FILE);
    let body = postcard::to_stdvec(saved).map_err(|e| DiskCheckpointError::Io {
        path: file.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    let mut bytes = Vec::with_capacity(body.len() + 28);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let temp = dir.join(format!("{FILE}.tmp"));
    let mut out = File::create(&temp).map_err(io_error(&temp))?;
    out.write_all(&bytes).map_err(io_error(&temp))?;
    out.sync_all().map_err(io_error(&temp))?;
    drop(out);
    crate::io::rename_over(&temp, &file).map_err(io_error(&file))?;
    crate::io::sync_dir(dir).map_err(io_error(dir))?;
    Ok(bytes.len() as u64)
}

/// Reads and verifies the checkpoint at `file`.
pub fn read_checkpoint(file: &Path) -> Result<Saved, DiskCheckpointError> {
    let bytes = std::fs::read(file).map_err(io_error(file))?;
    let corrupt = |why: &str| DiskCheckpointError::Corrupt {
        path: file.display().to_string(),
        why: why.into(),
    };
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("not a sqrtspace checkpoint of this version"))?;
    if rest.len() < 12 {
        return Err(corrupt("truncated"));
    }
    let (len, rest) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().map_err(|_| corrupt("truncated"))?);
    if len != rest.len() as u64 - 4 {
        return Err(corrupt("its length field does not match the file"));
    }
    let (body, crc) = rest.split_at(rest.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| corrupt("truncated"))?);
    if crc32fast::hash(body) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    postcard::from_bytes(body).map_err(|e| corrupt(&format!("cannot decode: {e}")))
}

/// Refuses a checkpoint made for anything other than `now`.
fn check(file: &Path, was: &Identity, now: &Identity) -> Result<(), DiskCheckpointError> {
    let mismatch = |what: &str, was: String, now: String| DiskCheckpointError::Mismatch {
        path: file.display().to_string(),
        what: what.into(),
        was,
        now,
    };
    let short = |h: &str| h.chars().take(12).collect::<String>();
    if was.pipeline != now.pipeline {
        return Err(mismatch(
            "pipeline",
            format!("sha256 {}", short(&was.pipeline)),
            short(&now.pipeline),
        ));
    }
    if was.plugins != now.plugins {
        let differs = was
            .plugins
            .iter()
            .zip(&now.plugins)
            .find(|(a, b)| a != b)
            .map(|(a, b)| {
                (
                    format!("{} {}", a.0, short(&a.1)),
                    format!("{} {}", b.0, short(&b.1)),
                )
            })
            .unwrap_or_else(|| {
                (
                    format!("{} plugins", was.plugins.len()),
                    format!("{}", now.plugins.len()),
                )
            });
        return Err(mismatch("plugin", differs.0, differs.1));
    }
    if was.input != now.input {
        let describe = |i: &InputIdentity| {
            format!(
                "{} bytes, sampled sha256 {}",
                i.len,
                short(&i.sampled_sha256)
            )
        };
        let (a, b) = if was.input.len == now.input.len
            && was.input.sampled_sha256 == now.input.sampled_sha256
        {
            (
                format!("modified at {} ns", was.input.modified_ns),
                format!("{} ns", now.input.modified_ns),
            )
        } else {
            (describe(&was.input), describe(&now.input))
        };
        return Err(mismatch("input", a, b));
    }
    if was.options != now.options {
        return Err(mismatch(
            "set of options",
            was.options.clone(),
            now.options.clone(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::content_hash;

    fn identity() -> Identity {
        Identity {
            pipeline: content_hash(b"(window: 4)"),
            plugins: vec![("smooth".into(), content_hash(b"wasm"))],
            input: InputIdentity {
                len: 10,
                modified_ns: 5,
                sampled_sha256: content_hash(b"x"),
            },
            options: "target=classify".into(),
        }
    }

    fn saved() -> Saved {
        Saved {
            identity: identity(),
            committed: Committed {
                rows: 3,
                bytes: 140,
            },
            sweep: SweepState {
                done: 64,
                kernels: vec![(4, vec![1, 2, 3])],
                history: vec![(2, vec![0; 16])],
            },
        }
    }

    #[test]
    fn a_checkpoint_reads_back_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &saved()).expect("writes");
        let file = dir.path().join(FILE);
        assert_eq!(read_checkpoint(&file).expect("reads"), saved());
        let good = std::fs::read(&file).expect("bytes");
        for at in [0, 17, 30, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            std::fs::write(&file, &bad).expect("damages");
            let err = read_checkpoint(&file).expect_err("damage found");
            assert!(
                matches!(err, DiskCheckpointError::Corrupt { .. }),
                "byte {at}: {err}"
            );
        }
        std::fs::write(&file, &good[..good.len() - 7]).expect("truncates");
        assert!(matches!(
            read_checkpoint(&file),
            Err(DiskCheckpointError::Corrupt { .. })
        ));
    }

    #[test]
    fn open_refuses_an_unasked_resume_and_another_runs_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &saved()).expect("writes");
        let open = |identity, resume| {
            CheckpointDir::open(dir.path(), identity, 8, Duration::ZERO, resume).map(|(_, s)| s)
        };
        assert!(matches!(
            open(identity(), false),
            Err(DiskCheckpointError::Exists { .. })
        ));
        assert_eq!(open(identity(), true).expect("resumes"), Some(saved()));
        let mut other = identity();
        other.plugins[0].1 = content_hash(b"other wasm");
        let err = open(other, true).expect_err("plugin changed");
        assert!(err.to_string().contains("another plugin (smooth"), "{err}");
        let mut other = identity();
        other.input.modified_ns = 6;
        let err = open(other, true).expect_err("input touched");
        assert!(
            err.to_string().contains("another input (modified at 5 ns"),
            "{err}"
        );
    }

    #[test]
    fn input_identity_sees_a_change_at_either_end_and_in_the_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.raw");
        let mut bytes = vec![7u8; 3 << 20];
        std::fs::write(&path, &bytes).expect("writes");
        let first = InputIdentity::of(&path).expect("identity");
        bytes[(3 << 20) - 1] = 8;
        std::fs::write(&path, &bytes).expect("writes");
        let second = InputIdentity::of(&path).expect("identity");
        assert_ne!(first.sampled_sha256, second.sampled_sha256);
        bytes.push(0);
        std::fs::write(&path, &bytes).expect("writes");
        assert_ne!(InputIdentity::of(&path).expect("identity").len, second.len);
        std::fs::write(&path, b"tiny").expect("writes");
        assert_eq!(InputIdentity::of(&path).expect("identity").len, 4);
    }
}

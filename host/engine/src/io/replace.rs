//! Renaming a finished file over the one it replaces.
//!
//! On Unix a rename over an existing file is atomic and never waits. Windows refuses it
//! (`ERROR_ACCESS_DENIED`, `ERROR_SHARING_VIOLATION`) for as long as another process holds the
//! old file open without sharing its deletion — someone reading a manifest between two of its
//! updates, a virus scanner, a search indexer — which lasts milliseconds. There the rename is
//! tried again, a little later each time, for up to [`PATIENCE`], before the error stands.

use std::path::Path;
use std::time::Duration;

/// How long a rename waits, in all, for another process to let go of the file it replaces
/// (Windows only).
const PATIENCE: Duration = Duration::from_secs(2);

/// Whether `error` is Windows saying that another process holds the file.
fn held_elsewhere(error: &std::io::Error) -> bool {
    // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION.
    cfg!(windows) && matches!(error.raw_os_error(), Some(5 | 32 | 33))
}

/// Calls `attempt` until it succeeds, fails for another reason than a file held elsewhere,
/// or [`PATIENCE`] is spent; `attempt` gets back what the failed attempt before it returned
/// with its error (a temporary file, say).
fn patiently<S, T>(
    mut state: S,
    mut attempt: impl FnMut(S) -> Result<T, (std::io::Error, S)>,
) -> std::io::Result<T> {
    let mut pause = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    loop {
        match attempt(state) {
            Ok(done) => return Ok(done),
            Err((error, back)) if held_elsewhere(&error) && waited < PATIENCE => {
                std::thread::sleep(pause);
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(100));
                state = back;
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// `std::fs::rename(from, to)`, replacing `to`, patient on Windows.
pub fn rename_over(from: &Path, to: &Path) -> std::io::Result<()> {
    patiently((), |()| std::fs::rename(from, to).map_err(|e| (e, ())))
}

/// A temporary file that can take a name for good: a [`tempfile::NamedTempFile`], or the
/// [`tempfile::TempPath`] of one whose handle is closed.
pub trait Persist: Sized {
    /// `persist(path)`, giving the temporary file back with the error.
    fn persist_at(self, path: &Path) -> Result<(), (std::io::Error, Self)>;
}

impl Persist for tempfile::NamedTempFile {
    fn persist_at(self, path: &Path) -> Result<(), (std::io::Error, Self)> {
        self.persist(path).map(drop).map_err(|e| (e.error, e.file))
    }
}

impl Persist for tempfile::TempPath {
    fn persist_at(self, path: &Path) -> Result<(), (std::io::Error, Self)> {
        self.persist(path).map_err(|e| (e.error, e.path))
    }
}

/// Persists `temp` as `path`, replacing it, patient on Windows; on failure the temporary
/// file is removed.
pub fn persist_over(temp: impl Persist, path: &Path) -> std::io::Result<()> {
    patiently(temp, |temp| temp.persist_at(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_replaces_the_file_and_a_failure_is_returned_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "new").expect("writes");
        std::fs::write(&b, "old").expect("writes");
        rename_over(&a, &b).expect("renames");
        assert_eq!(std::fs::read_to_string(&b).expect("reads"), "new");
        assert!(!a.exists());
        let started = std::time::Instant::now();
        let missing = rename_over(&a, &b).expect_err("nothing to rename");
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        assert!(
            started.elapsed() < PATIENCE,
            "a missing file is not waited for"
        );
    }

    #[test]
    fn a_temporary_file_replaces_one_held_open_for_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, "old").expect("writes");
        // A reader holds the old file while the new one replaces it; on Windows the
        // rename waits until the reader lets go.
        let reader = std::fs::File::open(&path).expect("opens");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(reader);
        });
        let mut temp = tempfile::NamedTempFile::new_in(dir.path()).expect("temp");
        std::io::Write::write_all(&mut temp, b"new").expect("writes");
        persist_over(temp, &path).expect("persists");
        release.join().expect("joins");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "new");
        assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 1);
    }
}

//! The lock file beside a pipeline (`audio.ron` → `audio.lock`), like `Cargo.lock`: every
//! plugin the pipeline names, with what it resolved to — an OCI reference's manifest digest,
//! and for every plugin the component's sha256 and size — so that a later run can run the
//! same bytes, and `--locked` can refuse anything else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format's version.
pub const VERSION: u32 = 1;

/// A lock file's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The format's version ([`VERSION`]).
    pub version: u32,
    /// One entry per distinct plugin the pipeline names.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Entry>,
}

/// One plugin, as the pipeline names it and as it resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The OCI reference, as the pipeline writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// The local file, as the pipeline writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The manifest digest the reference resolved to (`sha256:...`; OCI plugins only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The component's sha256 (hex).
    pub sha256: String,
    /// The component's size in bytes.
    pub size: u64,
}

impl Lock {
    /// The entry for an OCI reference, as the pipeline writes it.
    pub fn oci(&self, reference: &str) -> Option<&Entry> {
        self.plugins
            .iter()
            .find(|e| e.oci.as_deref() == Some(reference))
    }

    /// The entry for a local file, as the pipeline writes it.
    pub fn path(&self, path: &str) -> Option<&Entry> {
        self.plugins
            .iter()
            .find(|e| e.path.as_deref() == Some(path))
    }

    /// Adds `entry` unless an equal one is there (two stages may use one plugin).
    pub fn add(&mut self, entry: Entry) {
        if !self.plugins.contains(&entry) {
            self.plugins.push(entry);
        }
    }
}

/// A lock file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Reading or writing failed.
    #[error("lock file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a lock file this version reads.
    #[error("lock file {path}: {message}; write it again with `sqrtspace lock`")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The lock file of `pipeline`: the same name with `.lock`.
pub fn path_for(pipeline: &Path) -> PathBuf {
    pipeline.with_extension("lock")
}

/// Reads the lock file at `path`, if there is one.
pub fn read(path: &Path) -> Result<Option<Lock>, LockError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let lock: Lock = toml::from_str(&text).map_err(|e| LockError::Invalid {
        path: path.display().to_string(),
        message: e.message().to_string(),
    })?;
    if lock.version != VERSION {
        return Err(LockError::Invalid {
            path: path.display().to_string(),
            message: format!(
                "format version {}, but this sqrtspace reads version {VERSION}",
                lock.version
            ),
        });
    }
    Ok(Some(lock))
}

/// Writes `lock` to `path` (a temporary file renamed into place), for `pipeline`.
pub fn write(path: &Path, lock: &Lock, pipeline: &str) -> Result<(), LockError> {
    let body = toml::to_string(lock).map_err(|e| LockError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let text = format!(
        "# Written by `sqrtspace lock {pipeline}`: what each plugin of the pipeline resolved \
         to.\n# `sqrtspace run --locked` runs these bytes and nothing else. Do not edit.\n{body}"
    );
    sqrtspace::io::write_atomically(path, |out| out.write_all(text.as_bytes())).map_err(|e| {
        LockError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        }
    })
}

use std::io::Write as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_reads_back_and_refuses_other_versions_and_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audio.lock");
        assert_eq!(read(&path).expect("reads"), None);
        let mut lock = Lock {
            version: VERSION,
            plugins: Vec::new(),
        };
        let entry = Entry {
            oci: Some("127.0.0.1:5000/acme/denoise:1.2.0".into()),
            path: None,
            digest: Some(format!("sha256:{}", "a".repeat(64))),
            sha256: "b".repeat(64),
            size: 1234,
        };
        lock.add(entry.clone());
        lock.add(entry);
        lock.add(Entry {
            oci: None,
            path: Some("features.wasm".into()),
            digest: None,
            sha256: "c".repeat(64),
            size: 99,
        });
        write(&path, &lock, "audio.ron").expect("writes");
        assert_eq!(read(&path).expect("reads"), Some(lock.clone()));
        assert_eq!(lock.plugins.len(), 2);
        assert!(lock.oci("127.0.0.1:5000/acme/denoise:1.2.0").is_some());
        assert!(lock.path("features.wasm").is_some());

        std::fs::write(&path, "version = 2\n").expect("writes");
        let e = read(&path).expect_err("another version").to_string();
        assert!(e.contains("format version 2"), "{e}");
        std::fs::write(&path, "version = 1\nextra = true\n").expect("writes");
        assert!(read(&path).is_err());
    }
}

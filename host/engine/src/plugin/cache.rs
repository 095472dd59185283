//! Compiled components cached on disk, so a plugin is compiled once, not on every run.
//!
//! An entry is named by the plugin's content hash and the engine's compatibility hash
//! (wasmtime version and every setting that changes generated code), and starts with a CRC32
//! of the rest: a changed plugin or engine finds no entry, and a damaged entry fails its
//! checksum, is ignored and replaced, and is never handed to wasmtime.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// How a component was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Loaded from a cached artifact.
    Hit,
    /// Compiled, and the artifact stored.
    Compiled,
    /// A cached artifact was damaged: compiled again and the entry replaced.
    Replaced,
    /// Compiled; the cache could not be written (the run goes on).
    Uncached,
}

/// The sha256 of a plugin file (or any bytes), as lowercase hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn engine_hash(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The cache file for a plugin with `content` hash under `engine`.
pub fn entry_path(dir: &Path, engine: &Engine, content: &str) -> PathBuf {
    dir.join(format!("{}-{}.cwasm", &content[..32], engine_hash(engine)))
}

/// Reads a cache entry whose checksum holds; `None` when absent or damaged.
fn read_entry(path: &Path) -> Option<Result<Vec<u8>, ()>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 4 {
        return Some(Err(()));
    }
    let (sum, artifact) = bytes.split_at(4);
    let expected = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
    if crc32fast::hash(artifact) != expected {
        return Some(Err(()));
    }
    Some(Ok(artifact.to_vec()))
}

fn write_entry(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&crc32fast::hash(artifact).to_le_bytes())?;
    temp.write_all(artifact)?;
    temp.as_file().sync_all()?;
    crate::io::persist_over(temp, path)?;
    Ok(())
}

/// The component for `wasm` (whose sha256 is `content`), from the cache in `dir` or compiled.
pub fn load(
    engine: &Engine,
    dir: Option<&Path>,
    plugin: &Path,
    wasm: &[u8],
    content: &str,
) -> Result<(Component, CacheOutcome), PluginError> {
    let compile = || {
        Component::new(engine, wasm).map_err(|e| PluginError::Invalid {
            path: plugin.display().to_string(),
            message: format!("not a Wasm component wasmtime can compile: {e}"),
        })
    };
    let Some(dir) = dir else {
        return Ok((compile()?, CacheOutcome::Uncached));
    };
    let entry = entry_path(dir, engine, content);
    let mut outcome = CacheOutcome::Compiled;
    match read_entry(&entry) {
        Some(Ok(artifact)) => {
            // SAFETY: wasmtime requires that deserialized bytes come from `serialize` of a
            // compatible engine. The entry is named by this engine's compatibility hash, was
            // written by `write_entry` below from `Component::serialize`, and its checksum was
            // just verified, so damaged or foreign bytes never get here.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize(engine, &artifact) };
            match loaded {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(_) => outcome = CacheOutcome::Replaced,
            }
        }
        Some(Err(())) => outcome = CacheOutcome::Replaced,
        None => {}
    }
    let component = compile()?;
    let stored = component
        .serialize()
        .ok()
        .map(|artifact| write_entry(&entry, &artifact));
    match stored {
        Some(Ok(())) => Ok((component, outcome)),
        _ => Ok((component, CacheOutcome::Uncached)),
    }
}

//! A pipeline's plugins made runnable: every `oci:` reference resolved to the cached
//! component its digest names (the stage's `path` set to that file, its `sha256` pinned to
//! the component's hash, so the engine refuses any other bytes), and every plugin checked
//! against the lock file where one is used.
//!
//! A tag resolves to a digest once per resolution; from then on the digest is what runs.
//! Which digest: the lock's, when the lock names the reference (as Cargo uses `Cargo.lock`),
//! else what the registry says now (or, offline, what the tag named when last pulled).

use std::path::{Path, PathBuf};

use sqrtspace::Spec;
use sqrtspace::spec::OpSpec;

use crate::lock::{Entry, Lock, LockError};
use crate::{Registry, RegistryError, parse_reference, whole};

/// How the lock file is used.
#[derive(Clone, Debug)]
pub enum LockUse {
    /// Not at all (what `sqrtspace lock` does: it resolves afresh).
    Ignore,
    /// Its entries are used where it has them; plugins it does not name resolve afresh.
    Prefer(Lock),
    /// `--locked`: every plugin must be in it and resolve to what it records; for a tag, the
    /// registry is asked again (unless offline), and a tag that moved is refused.
    Require(Lock),
}

impl LockUse {
    fn lock(&self) -> Option<&Lock> {
        match self {
            LockUse::Ignore => None,
            LockUse::Prefer(lock) | LockUse::Require(lock) => Some(lock),
        }
    }
}

/// A plugin could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The registry or the plugin cache.
    #[error("stage `{stage}`: {source}")]
    Registry {
        /// The stage.
        stage: String,
        /// What failed.
        source: RegistryError,
    },
    /// A local plugin file.
    #[error("stage `{stage}`: {message}")]
    Plugin {
        /// The stage.
        stage: String,
        /// What failed.
        message: String,
    },
    /// The lock file refuses the pipeline (`--locked`).
    #[error("stage `{stage}`: {message}; run `sqrtspace lock {pipeline}` if the change is meant")]
    Locked {
        /// The stage.
        stage: String,
        /// The pipeline file.
        pipeline: String,
        /// What differs.
        message: String,
    },
    /// The lock file itself.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// What resolving a pipeline found: an entry per distinct plugin (what `sqrtspace lock`
/// writes), and what was fetched.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// The lock file's contents for this pipeline.
    pub lock: Lock,
    /// Bytes fetched over the network.
    pub fetched: u64,
}

/// Whether `spec` names any plugin by OCI reference (and so needs a [`Registry`]).
pub fn names_oci(spec: &Spec) -> bool {
    spec.stages
        .iter()
        .any(|s| matches!(&s.op, OpSpec::Plugin(p) if p.oci.is_some()))
}

/// Resolves the plugins of `spec` (read from `pipeline`, which lock messages name): each
/// `oci:` stage gets the cached component's path and its hash as a pin, pulling what is
/// not cached through `registry` (which an `oci:` stage needs); each local plugin is found
/// and hashed, and under [`LockUse::Require`] checked against the lock.
pub fn resolve_spec(
    spec: &mut Spec,
    pipeline: &Path,
    registry: Option<&Registry>,
    lock: &LockUse,
) -> Result<Resolved, ResolveError> {
    let mut resolved = Resolved {
        lock: Lock {
            version: crate::lock::VERSION,
            plugins: Vec::new(),
        },
        fetched: 0,
    };
    let base_dir = spec.base_dir.clone();
    let locked = |stage: &str, message: String| ResolveError::Locked {
        stage: stage.to_string(),
        pipeline: pipeline.display().to_string(),
        message,
    };
    let lock_name = crate::lock::path_for(pipeline).display().to_string();
    for stage in &mut spec.stages {
        let OpSpec::Plugin(plugin) = &mut stage.op else {
            continue;
        };
        let name = stage.name.clone();
        if let Some(reference) = plugin.oci.clone() {
            let registry_error = |source| ResolveError::Registry {
                stage: name.clone(),
                source,
            };
            let registry = registry.ok_or_else(|| ResolveError::Plugin {
                stage: name.clone(),
                message: format!("oci://{reference} needs a registry client to resolve it"),
            })?;
            let target = parse_reference(&reference).map_err(registry_error)?;
            let entry = lock.lock().and_then(|l| l.oci(&reference));
            let asked = match (entry, lock) {
                (None, LockUse::Require(_)) => {
                    return Err(locked(
                        &name,
                        format!("oci://{reference} is not in {lock_name}"),
                    ));
                }
                (Some(entry), _) => {
                    let Some(digest) = entry.digest.clone() else {
                        return Err(locked(
                            &name,
                            format!("{lock_name} records no digest for oci://{reference}"),
                        ));
                    };
                    if matches!(lock, LockUse::Require(_))
                        && !registry.options().offline
                        && target.digest().is_none()
                    {
                        let now = registry.remote_digest(&target).map_err(registry_error)?;
                        if now != digest {
                            return Err(locked(
                                &name,
                                format!(
                                    "oci://{reference} now names {now}, but {lock_name} \
                                     records {digest} (the tag moved after locking)"
                                ),
                            ));
                        }
                    }
                    format!(
                        "{}/{}@{digest}",
                        target.resolve_registry(),
                        target.repository()
                    )
                }
                (None, _) => whole(&target),
            };
            let pulled = registry.pull(&asked).map_err(registry_error)?;
            if let Some(entry) = entry
                && (entry.sha256 != pulled.stored.sha256 || entry.size != pulled.stored.size)
            {
                return Err(locked(
                    &name,
                    format!(
                        "oci://{reference} holds a component with sha256 {} ({} bytes), but \
                         {lock_name} records {} ({} bytes)",
                        pulled.stored.sha256, pulled.stored.size, entry.sha256, entry.size
                    ),
                ));
            }
            resolved.fetched += pulled.fetched;
            resolved.lock.add(Entry {
                oci: Some(reference),
                path: None,
                digest: Some(pulled.stored.digest.clone()),
                sha256: pulled.stored.sha256.clone(),
                size: pulled.stored.size,
            });
            plugin.path = Some(pulled.stored.path.clone());
            plugin.sha256.get_or_insert(pulled.stored.sha256);
        } else if let Some(path) = plugin.path.clone() {
            {
                let (file, sha256, size) =
                    hash_local(&path, base_dir.as_deref()).map_err(|message| {
                        ResolveError::Plugin {
                            stage: name.clone(),
                            message,
                        }
                    })?;
                let written = path.display().to_string();
                if let LockUse::Require(lock) = lock {
                    match lock.path(&written) {
                        None => {
                            return Err(locked(
                                &name,
                                format!("plugin {written} is not in {lock_name}"),
                            ));
                        }
                        Some(entry) if entry.sha256 != sha256 => {
                            return Err(locked(
                                &name,
                                format!(
                                    "plugin {} has sha256 {sha256}, but {lock_name} records {}",
                                    file.display(),
                                    entry.sha256
                                ),
                            ));
                        }
                        Some(_) => {
                            // Pinned, so that the file cannot change between this check
                            // and its load.
                            plugin.sha256.get_or_insert(sha256.clone());
                        }
                    }
                }
                resolved.lock.add(Entry {
                    oci: None,
                    path: Some(written),
                    digest: None,
                    sha256,
                    size,
                });
            }
        }
    }
    Ok(resolved)
}

/// Finds a local plugin as the engine will, and hashes it.
fn hash_local(path: &Path, base_dir: Option<&Path>) -> Result<(PathBuf, String, u64), String> {
    let file = sqrtspace::plugin::resolve(path, base_dir).map_err(|e| e.to_string())?;
    let bytes =
        std::fs::read(&file).map_err(|e| format!("cannot read plugin {}: {e}", file.display()))?;
    Ok((
        file,
        sqrtspace::plugin::content_hash(&bytes),
        bytes.len() as u64,
    ))
}

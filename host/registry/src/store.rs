//! The plugin cache for pulled artifacts, content-addressed:
//!
//! ```text
//! <root>/blobs/sha256/<hex>          a component, named by its sha256
//! <root>/manifests/sha256/<hex>      a manifest as the registry served it, named by its digest
//! <root>/tags/<registry>/<repository>/<tag>   the manifest digest the tag named when pulled
//! ```
//!
//! Every file is written under a temporary name and renamed into place, the component first,
//! so a manifest in the store always has its component beside it; every read checks the bytes
//! against the name they are stored under, so a damaged entry is refused, never run.

use std::path::{Path, PathBuf};

use oci_client::manifest::OciImageManifest;

use crate::artifact::{LAYER_MEDIA_TYPE, digest_of};

/// A pulled artifact in the store: what runs, and what names it.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The manifest's digest (`sha256:...`).
    pub digest: String,
    /// The component file.
    pub path: PathBuf,
    /// The component's sha256 (hex, as `sqrtspace plugin hash` prints it).
    pub sha256: String,
    /// The component's size in bytes.
    pub size: u64,
    /// The manifest, parsed.
    pub manifest: OciImageManifest,
}

/// Something in the store is not what its name says.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("plugin cache {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file's bytes do not hash to its name.
    #[error("plugin cache {path} is damaged (its bytes hash to {found}); remove it and pull again")]
    Damaged {
        /// The file.
        path: String,
        /// What its bytes hash to.
        found: String,
    },
    /// A stored manifest is not one this store writes.
    #[error("plugin cache {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The store at a directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// Where pulled artifacts are kept: `SQRTSPACE_OCI_DIR`, else `sqrtspace/artifacts` in the
/// user's cache directory (beside the compiled components).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SQRTSPACE_OCI_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    Some(dirs::cache_dir()?.join("sqrtspace").join("artifacts"))
}

/// `sha256:<hex>` as a file name: the hex, checked to be hex.
fn hex_of(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// A registry, repository or tag as a path component: letters, digits, `.`, `_` and `-`
/// kept, every other byte written `%XX` (a port's `:` is not allowed in a Windows file
/// name; `/` separates a repository's parts).
fn path_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, byte) in text.bytes().enumerate() {
        // A leading `.` is written out, so that no part is `.`, `..` or hidden.
        let kept =
            byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-') || (byte == b'.' && i > 0);
        if kept {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Store {
    /// The store at `root` (created when something is first written).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The store at [`default_dir`].
    pub fn default_store() -> Option<Store> {
        default_dir().map(Store::at)
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex)
    }

    fn manifest_path(&self, hex: &str) -> PathBuf {
        self.root.join("manifests").join("sha256").join(hex)
    }

    fn tag_path(&self, registry: &str, repository: &str, tag: &str) -> PathBuf {
        let mut path = self.root.join("tags").join(path_part(registry));
        for part in repository.split('/') {
            path.push(path_part(part));
        }
        path.join(path_part(tag))
    }

    /// The manifest digest a tag named when it was last pulled, if it was.
    pub fn tag(
        &self,
        registry: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StoreError> {
        let path = self.tag_path(registry, repository, tag);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let digest = text.trim().to_string();
                if hex_of(&digest).is_none() {
                    return Err(StoreError::Invalid {
                        path: path.display().to_string(),
                        message: format!("holds {digest:?}, not a sha256 digest"),
                    });
                }
                Ok(Some(digest))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(&path)(e)),
        }
    }

    /// The artifact whose manifest has `digest`, checked byte for byte, if it is stored.
    pub fn get(&self, digest: &str) -> Result<Option<Stored>, StoreError> {
        let Some(hex) = hex_of(digest) else {
            return Ok(None);
        };
        let path = self.manifest_path(hex);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io(&path)(e)),
        };
        let found = digest_of(&bytes);
        if found != digest {
            return Err(StoreError::Damaged {
                path: path.display().to_string(),
                found,
            });
        }
        let invalid = |message: String| StoreError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let manifest: OciImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let layer = component_layer(&manifest).map_err(invalid)?;
        let layer_hex =
            hex_of(&layer.digest).ok_or_else(|| invalid(format!("layer {}", layer.digest)))?;
        let blob = self.blob_path(layer_hex);
        let component = match std::fs::read(&blob) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io(&blob)(e)),
        };
        let sha256 = sqrtspace::plugin::content_hash(&component);
        if sha256 != layer_hex {
            return Err(StoreError::Damaged {
                path: blob.display().to_string(),
                found: format!("sha256:{sha256}"),
            });
        }
        Ok(Some(Stored {
            digest: digest.to_string(),
            path: blob,
            sha256,
            size: component.len() as u64,
            manifest,
        }))
    }

    /// Records that `tag` of `repository` at `registry` names the manifest `digest`.
    pub fn set_tag(
        &self,
        registry: &str,
        repository: &str,
        tag: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        write_file(
            &self.tag_path(registry, repository, tag),
            format!("{digest}\n").as_bytes(),
        )
    }

    /// Stores a verified artifact: the component, then its manifest (`manifest_bytes`, as
    /// served, whose digest is `digest`), then the tag that named it, if one did.
    pub fn put(
        &self,
        digest: &str,
        manifest_bytes: &[u8],
        component: &[u8],
        tag: Option<(&str, &str, &str)>,
    ) -> Result<Stored, StoreError> {
        let invalid = |message: String| StoreError::Invalid {
            path: self.root.display().to_string(),
            message,
        };
        let hex = hex_of(digest).ok_or_else(|| invalid(format!("digest {digest}")))?;
        let sha256 = sqrtspace::plugin::content_hash(component);
        write_file(&self.blob_path(&sha256), component)?;
        write_file(&self.manifest_path(hex), manifest_bytes)?;
        if let Some((registry, repository, tag)) = tag {
            self.set_tag(registry, repository, tag, digest)?;
        }
        self.get(digest)?
            .ok_or_else(|| invalid(format!("{digest} was written but is not there")))
    }
}

/// The one `application/wasm` layer of a Wasm artifact's manifest.
pub fn component_layer(
    manifest: &OciImageManifest,
) -> Result<&oci_client::manifest::OciDescriptor, String> {
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => Ok(layer),
        [layer] => Err(format!(
            "its layer is {}, not a Wasm component ({LAYER_MEDIA_TYPE})",
            layer.media_type
        )),
        layers => Err(format!(
            "it has {} layers; a Wasm component artifact has one ({LAYER_MEDIA_TYPE})",
            layers.len()
        )),
    }
}

/// Writes `bytes` to `path` under a temporary name, then renames it into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Store::io(dir))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(Store::io(dir))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(Store::io(path))?;
    temp.as_file().sync_all().map_err(Store::io(path))?;
    sqrtspace::io::persist_over(temp, path).map_err(Store::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_file_names_on_every_system() {
        assert_eq!(path_part("127.0.0.1:5000"), "127.0.0.1%3A5000");
        assert_eq!(path_part("v1.2.0-rc_1"), "v1.2.0-rc_1");
        assert_eq!(path_part(".."), "%2E.");
    }
}

//! sqrtspace plugins as OCI artifacts, the way the Wasm ecosystem ships components.
//!
//! - [`Registry::push`] publishes a plugin file in the Wasm OCI artifact layout
//!   ([`artifact`]) that `wkg oci`, Spin and wasmCloud read; [`Registry::pull`] fetches one
//!   into the content-addressed plugin cache ([`store`]), checked against its digests, its
//!   size cap, its Wasm header and the contract versions this host speaks before anything is
//!   kept.
//! - [`resolve::resolve_spec`] turns the `oci:` references of a pipeline into the cached
//!   component files the engine loads, under a lock file ([`lock`]) when there is one.
//!
//! Built on `oci-client` over rustls with ring. Every network call has a timeout; plain HTTP
//! is spoken only to a registry on this machine (`localhost`, `127.0.0.1`, `[::1]`) or when
//! [`Options::insecure`] says so; credentials come from [`auth`] and are never printed.

pub mod artifact;
pub mod auth;
pub mod lock;
pub mod resolve;
pub mod store;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciImageManifest, OciManifest};
use oci_client::{Client, Reference};

use artifact::{Binary, CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, binary_kind, digest_of};
use auth::Credentials;
pub use resolve::{Resolved, resolve_spec};
use store::{Store, StoreError, Stored};

/// How long a call may wait for a registry, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest component a pull accepts, by default.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// How the registry client behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Speak plain HTTP to every registry, not only to one on this machine.
    pub insecure: bool,
    /// Never touch the network: references resolve from the plugin cache alone.
    pub offline: bool,
    /// Longest wait to connect, and for each read.
    pub timeout: Duration,
    /// Largest component accepted (a manifest declaring more is refused before the download).
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            insecure: false,
            offline: false,
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// A registry operation failed; every error names the reference it was for.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not a reference (`host/repository:tag` or `host/repository@sha256:...`).
    #[error(
        "{reference:?} is not an OCI reference ({message}); write host/repository:tag or host/repository@sha256:<digest>"
    )]
    BadReference {
        /// As written.
        reference: String,
        /// What the parser says.
        message: String,
    },
    /// The registry has no such tag, digest or repository.
    #[error("oci://{reference}: {message}")]
    NotFound {
        /// The reference.
        reference: String,
        /// What is missing.
        message: String,
    },
    /// The registry could not be reached.
    #[error("oci://{reference}: cannot reach the registry {registry}: {message}")]
    Unreachable {
        /// The reference.
        reference: String,
        /// `host:port`.
        registry: String,
        /// Why (connection refused, no such host, TLS).
        message: String,
    },
    /// The registry did not answer in time.
    #[error(
        "oci://{reference}: the registry {registry} did not answer within {} s",
        .timeout.as_secs_f64()
    )]
    Timeout {
        /// The reference.
        reference: String,
        /// `host:port`.
        registry: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// The registry refused the credentials, or wants some.
    #[error(
        "oci://{reference}: the registry {registry} refused access ({message}); log in with \
         `docker login {registry}`, or set SQRTSPACE_REGISTRY_USER and \
         SQRTSPACE_REGISTRY_PASSWORD"
    )]
    Denied {
        /// The reference.
        reference: String,
        /// `host:port`.
        registry: String,
        /// What it said.
        message: String,
    },
    /// What the registry served is not what its digest names.
    #[error("oci://{reference}: {message}; refused, nothing cached")]
    Digest {
        /// The reference.
        reference: String,
        /// Which digest, and what the bytes hash to.
        message: String,
    },
    /// The artifact is not a Wasm component, or not a sqrtspace plugin.
    #[error("oci://{reference}: not a sqrtspace plugin: {message}")]
    NotAPlugin {
        /// The reference.
        reference: String,
        /// Why.
        message: String,
    },
    /// The component is larger than the cap.
    #[error(
        "oci://{reference}: the component is {bytes} bytes, more than the limit of {limit} \
         (raise it with --max-plugin-size)"
    )]
    TooLarge {
        /// The reference.
        reference: String,
        /// Its size (as declared, or as far as the download got).
        bytes: u64,
        /// The cap.
        limit: u64,
    },
    /// Not in the plugin cache, and the network may not be used.
    #[error(
        "oci://{reference} is not in the plugin cache ({cache}), and --offline forbids \
         fetching it; run `sqrtspace plugin pull oci://{reference}` while online"
    )]
    Offline {
        /// The reference.
        reference: String,
        /// The cache's directory.
        cache: String,
    },
    /// The registry answered something else the client could not use.
    #[error("oci://{reference}: {message}")]
    Registry {
        /// The reference.
        reference: String,
        /// What happened.
        message: String,
    },
    /// A file to push is not a sqrtspace plugin.
    #[error("cannot push {file}: {message}")]
    Push {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// The plugin cache.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No plugin cache directory (no home directory and no `SQRTSPACE_OCI_DIR`).
    #[error("no directory for the plugin cache: set SQRTSPACE_OCI_DIR")]
    NoStore,
    /// The async runtime could not start.
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
}

/// A reference as written on the command line or in a pipeline: `oci://` is optional.
pub fn parse_reference(text: &str) -> Result<Reference, RegistryError> {
    let bare = text.strip_prefix("oci://").unwrap_or(text);
    bare.parse::<Reference>()
        .map_err(|e| RegistryError::BadReference {
            reference: text.to_string(),
            message: e.to_string(),
        })
}

/// The reference written back as `host/repository:tag` or `host/repository@digest`.
pub fn whole(reference: &Reference) -> String {
    reference.whole()
}

/// Whether `registry` (`host` or `host:port`) is on this machine.
fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(host, _)| host)
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An artifact pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// The reference it was pushed to.
    pub reference: String,
    /// The manifest's digest, as the registry reports it.
    pub digest: String,
    /// The component's sha256 (hex).
    pub sha256: String,
    /// Bytes sent: the component, the config and the manifest.
    pub bytes: u64,
}

/// An artifact pulled (or found in the cache).
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The reference as asked for.
    pub reference: String,
    /// The stored artifact.
    pub stored: Stored,
    /// Bytes fetched over the network (0 when it was already cached).
    pub fetched: u64,
}

/// A connection to OCI registries, with the plugin cache pulls go into.
#[derive(Debug)]
pub struct Registry {
    options: Options,
    store: Store,
    runtime: tokio::runtime::Runtime,
}

/// A buffer that refuses to grow past a limit (a registry may lie about a blob's size).
struct Capped {
    bytes: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if (self.bytes.len() + buf.len()) as u64 > self.limit {
            self.exceeded = true;
            return Poll::Ready(Err(std::io::Error::other("more bytes than the limit")));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Media types a manifest is asked for in: a Wasm artifact's, and those a reference to
/// something else may name (so that it is refused by what it is, not as missing).
const MANIFEST_TYPES: &[&str] = &[
    artifact::MANIFEST_MEDIA_TYPE,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

impl Registry {
    /// A client with `options`, pulling into `store`.
    pub fn new(options: Options, store: Store) -> Result<Registry, RegistryError> {
        // rustls with ring, whatever else the process links (reqwest is built without a
        // provider of its own). A second call finds one installed and changes nothing.
        // rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange,
        // steering to aws-lc-rs, whose C and assembly need cmake and a native toolchain on
        // every platform we build (Windows and macOS from Linux); ring builds everywhere, and
        // registries negotiate X25519 with it.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RegistryError::Runtime)?;
        Ok(Registry {
            options,
            store,
            runtime,
        })
    }

    /// A client with `options` and the default plugin cache ([`store::default_dir`]).
    pub fn with_default_store(options: Options) -> Result<Registry, RegistryError> {
        let store = Store::default_store().ok_or(RegistryError::NoStore)?;
        Registry::new(options, store)
    }

    /// The plugin cache.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    fn client(&self, registry: &str) -> Client {
        let protocol = if self.options.insecure || is_loopback(registry) {
            ClientProtocol::HttpsExcept(vec![registry.to_string()])
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(self.options.timeout),
            read_timeout: Some(self.options.timeout),
            // One plugin's blobs; nothing to gain from parallel transfers.
            max_concurrent_upload: 1,
            max_concurrent_download: 1,
            ..ClientConfig::default()
        })
    }

    /// Turns a client error into one that names `reference` and says what to do.
    fn error(&self, reference: &Reference, error: OciDistributionError) -> RegistryError {
        let name = whole(reference);
        let registry = reference.resolve_registry().to_string();
        match error {
            OciDistributionError::RequestError(e) => {
                if e.is_timeout() {
                    return RegistryError::Timeout {
                        reference: name,
                        registry,
                        timeout: self.options.timeout,
                    };
                }
                // The innermost cause says the most (connection refused, a certificate).
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message = cause.to_string();
                    source = cause.source();
                }
                if message.contains("timed out") {
                    return RegistryError::Timeout {
                        reference: name,
                        registry,
                        timeout: self.options.timeout,
                    };
                }
                if !is_loopback(&registry) && !self.options.insecure {
                    message.push_str(" (a registry that speaks only plain HTTP needs --insecure)");
                }
                RegistryError::Unreachable {
                    reference: name,
                    registry,
                    message,
                }
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let first = envelope.errors.first();
                let said = first.map_or_else(String::new, |e| e.message.clone());
                match first.map(|e| &e.code) {
                    Some(OciErrorCode::ManifestUnknown) => RegistryError::NotFound {
                        reference: name,
                        message: format!(
                            "the repository has no {}",
                            reference.digest().map_or_else(
                                || format!("tag {}", reference.tag().unwrap_or("latest")),
                                |d| format!("manifest {d}")
                            )
                        ),
                    },
                    Some(OciErrorCode::NameUnknown) => RegistryError::NotFound {
                        reference: name,
                        message: format!(
                            "the registry {registry} has no repository {}",
                            reference.repository()
                        ),
                    },
                    Some(OciErrorCode::BlobUnknown) => RegistryError::NotFound {
                        reference: name,
                        message: format!("the registry has lost a blob of it ({said})"),
                    },
                    Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => {
                        RegistryError::Denied {
                            reference: name,
                            registry,
                            message: said,
                        }
                    }
                    _ => RegistryError::Registry {
                        reference: name,
                        message: format!("the registry says: {said}"),
                    },
                }
            }
            OciDistributionError::UnauthorizedError { .. } => RegistryError::Denied {
                reference: name,
                registry,
                message: "401 Unauthorized".into(),
            },
            OciDistributionError::AuthenticationFailure(message) => RegistryError::Denied {
                reference: name,
                registry,
                message,
            },
            OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound {
                reference: name,
                message: "the registry has no such manifest".into(),
            },
            OciDistributionError::DigestError(e) => RegistryError::Digest {
                reference: name,
                message: format!("what the registry served does not match its digest: {e}"),
            },
            OciDistributionError::ServerError { code, message, .. }
                if code == 401 || code == 403 =>
            {
                // The body is the spec's error envelope; its first message says why.
                let said = serde_json::from_str::<oci_client::errors::OciEnvelope>(&message)
                    .ok()
                    .and_then(|e| e.errors.into_iter().next())
                    .map_or_else(|| format!("HTTP {code}"), |e| e.message);
                RegistryError::Denied {
                    reference: name,
                    registry,
                    message: said,
                }
            }
            OciDistributionError::ServerError { code, message, .. } => RegistryError::Registry {
                reference: name,
                message: format!(
                    "the registry answered HTTP {code}{}",
                    if message.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", message.trim())
                    }
                ),
            },
            other => RegistryError::Registry {
                reference: name,
                message: other.to_string(),
            },
        }
    }

    /// Publishes the plugin `file` as `reference` (which needs a tag): the component as the
    /// artifact's one layer, a config recording its WIT world and contract version, and
    /// annotations with its name, version and description. Refuses a file that is not a
    /// sqrtspace plugin this host can run.
    pub fn push(&self, file: &Path, reference: &str) -> Result<Pushed, RegistryError> {
        let target = parse_reference(reference)?;
        let refuse = |message: String| RegistryError::Push {
            file: file.display().to_string(),
            message,
        };
        if target.tag().is_none() || target.digest().is_some() {
            return Err(refuse(format!(
                "{reference} names no tag to push to (write host/repository:tag)"
            )));
        }
        if self.options.offline {
            return Err(refuse("--offline forbids pushing".into()));
        }
        let bytes = std::fs::read(file).map_err(|e| refuse(e.to_string()))?;
        check_header(&bytes).map_err(refuse)?;
        let info = sqrtspace::plugin::inspect(file, Duration::from_secs(10))
            .map_err(|e| refuse(e.to_string()))?;
        if !info.compatible {
            return Err(refuse(format!(
                "it was built against {}@{}, which this host does not speak (it speaks {})",
                sqrtspace::plugin::WIT_PACKAGE,
                info.wit_version,
                sqrtspace::plugin::WIT_VERSIONS.join(", ")
            )));
        }
        let layer_digest = digest_of(&bytes);
        let created = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .unwrap_or_else(chrono::Utc::now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (config, annotations) = artifact::describe(&info, &layer_digest, created);
        let config = Config {
            data: serde_json::to_vec(&config)
                .map_err(|e| refuse(e.to_string()))?
                .into(),
            media_type: CONFIG_MEDIA_TYPE.to_string(),
            annotations: None,
        };
        let layer = ImageLayer {
            data: bytes.clone().into(),
            media_type: LAYER_MEDIA_TYPE.to_string(),
            annotations: None,
        };
        let manifest =
            OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
        let sent = bytes.len() as u64 + config.data.len() as u64;
        let registry = target.resolve_registry().to_string();
        let client = self.client(&registry);
        let credentials = Credentials::for_registry(&registry);
        let digest = self
            .runtime
            .block_on(async {
                client
                    .push(
                        &target,
                        &[layer],
                        config,
                        credentials.auth(),
                        Some(manifest.clone()),
                    )
                    .await?;
                client
                    .fetch_manifest_digest(&target, credentials.auth())
                    .await
            })
            .map_err(|e| self.error(&target, e))?;
        let manifest_bytes = serde_json::to_vec(&OciManifest::Image(manifest))
            .map(|m| m.len() as u64)
            .unwrap_or(0);
        Ok(Pushed {
            reference: whole(&target),
            digest,
            sha256: info.sha256,
            bytes: sent + manifest_bytes,
        })
    }

    /// The manifest digest `reference` names now, asking the registry (one `HEAD`); a
    /// reference by digest names that digest.
    pub fn remote_digest(&self, reference: &Reference) -> Result<String, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Ok(digest.to_string());
        }
        if self.options.offline {
            return Err(RegistryError::Offline {
                reference: whole(reference),
                cache: self.store.root().display().to_string(),
            });
        }
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let credentials = Credentials::for_registry(&registry);
        self.runtime
            .block_on(client.fetch_manifest_digest(reference, credentials.auth()))
            .map_err(|e| self.error(reference, e))
    }

    /// The artifact `reference` names, from the plugin cache when it is there (a reference by
    /// digest; a tag as it was last pulled, only when offline), else pulled from the registry
    /// and checked before it is kept: the manifest against its digest, a Wasm artifact's
    /// layout, the component's size, digest, header and contract version.
    pub fn pull(&self, reference: &str) -> Result<Pulled, RegistryError> {
        let target = parse_reference(reference)?;
        let name = whole(&target);
        let cached = |stored: Stored| Pulled {
            reference: name.clone(),
            stored,
            fetched: 0,
        };
        if let Some(digest) = target.digest()
            && let Some(stored) = self.store.get(digest)?
        {
            return Ok(cached(stored));
        }
        if self.options.offline {
            if target.digest().is_none()
                && let Some(digest) = self.store.tag(
                    target.resolve_registry(),
                    target.repository(),
                    target.tag().unwrap_or("latest"),
                )?
                && let Some(stored) = self.store.get(&digest)?
            {
                return Ok(cached(stored));
            }
            return Err(RegistryError::Offline {
                reference: name,
                cache: self.store.root().display().to_string(),
            });
        }
        self.fetch(&target)
    }

    /// Pulls `target` from its registry into the cache.
    fn fetch(&self, target: &Reference) -> Result<Pulled, RegistryError> {
        let name = whole(target);
        let registry = target.resolve_registry().to_string();
        let client = self.client(&registry);
        let credentials = Credentials::for_registry(&registry);
        let (manifest_bytes, digest) = match self.runtime.block_on(client.pull_manifest_raw(
            target,
            credentials.auth(),
            MANIFEST_TYPES,
        )) {
            Ok(found) => found,
            Err(e) => {
                return Err(self.explain_missing(
                    &client,
                    &credentials,
                    target,
                    self.error(target, e),
                ));
            }
        };
        let not_a_plugin = |message: String| RegistryError::NotAPlugin {
            reference: name.clone(),
            message,
        };
        let tag = target
            .digest()
            .is_none()
            .then(|| target.tag().unwrap_or("latest"));
        let tag_entry = tag.map(|tag| (registry.as_str(), target.repository(), tag));
        if let Some(stored) = self.store.get(&digest)? {
            // Already here under its digest: only the tag may be new.
            if let Some((registry, repository, tag)) = tag_entry {
                self.store.set_tag(registry, repository, tag, &digest)?;
            }
            return Ok(Pulled {
                reference: name,
                stored,
                fetched: manifest_bytes.len() as u64,
            });
        }
        let manifest: OciManifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| not_a_plugin(format!("its manifest does not parse: {e}")))?;
        let OciManifest::Image(manifest) = manifest else {
            return Err(not_a_plugin(
                "it is an image index (several platforms), not one Wasm component".into(),
            ));
        };
        if manifest.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(not_a_plugin(format!(
                "its config is {}, not a Wasm artifact's ({CONFIG_MEDIA_TYPE})",
                manifest.config.media_type
            )));
        }
        let layer = store::component_layer(&manifest).map_err(not_a_plugin)?;
        let declared = u64::try_from(layer.size).unwrap_or(u64::MAX);
        let too_large = |bytes| RegistryError::TooLarge {
            reference: name.clone(),
            bytes,
            limit: self.options.max_bytes,
        };
        if declared > self.options.max_bytes {
            return Err(too_large(declared));
        }
        let mut component = Capped {
            bytes: Vec::with_capacity(declared as usize),
            limit: self.options.max_bytes,
            exceeded: false,
        };
        let pulled = self
            .runtime
            .block_on(client.pull_blob(target, layer, &mut component));
        if component.exceeded {
            return Err(too_large(component.bytes.len() as u64));
        }
        pulled.map_err(|e| self.error(target, e))?;
        let component = component.bytes;
        check_header(&component).map_err(not_a_plugin)?;
        check_contract(&component).map_err(not_a_plugin)?;
        let stored = self
            .store
            .put(&digest, &manifest_bytes, &component, tag_entry)?;
        Ok(Pulled {
            reference: name,
            stored,
            fetched: (manifest_bytes.len() + component.len()) as u64,
        })
    }

    /// A missing tag said better: whether the repository is there at all, and which tags it
    /// has (the registry is asked for them; any other error is returned as it is).
    fn explain_missing(
        &self,
        client: &Client,
        credentials: &Credentials,
        target: &Reference,
        error: RegistryError,
    ) -> RegistryError {
        let RegistryError::NotFound { reference, message } = error else {
            return error;
        };
        if target.digest().is_some() {
            return RegistryError::NotFound { reference, message };
        }
        let listed =
            self.runtime
                .block_on(client.list_tags(target, credentials.auth(), Some(20), None));
        let message = match listed {
            Ok(list) if list.tags.is_empty() => format!("{message} (it has no tags)"),
            Ok(list) => format!("{message} (its tags include {})", list.tags.join(", ")),
            Err(OciDistributionError::RegistryError { envelope, .. })
                if envelope
                    .errors
                    .iter()
                    .any(|e| e.code == OciErrorCode::NameUnknown) =>
            {
                format!(
                    "the registry {} has no repository {}",
                    target.resolve_registry(),
                    target.repository()
                )
            }
            Err(_) => message,
        };
        RegistryError::NotFound { reference, message }
    }

    /// The file of the cached artifact `digest`, if it is cached.
    pub fn cached(&self, digest: &str) -> Result<Option<PathBuf>, RegistryError> {
        Ok(self.store.get(digest)?.map(|s| s.path))
    }
}

/// Refuses bytes that are not a Wasm component.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    match binary_kind(bytes) {
        Binary::Component => Ok(()),
        Binary::CoreModule => Err(
            "it is a core Wasm module; a sqrtspace plugin is a component (build it with \
             sqrtspace-sdk)"
                .into(),
        ),
        Binary::NotWasm => Err("it is not WebAssembly".into()),
    }
}

/// Refuses a component that is not a sqrtspace plugin of a contract version this host
/// speaks (loading it also fills the compiled-component cache for the run that follows).
fn check_contract(component: &[u8]) -> Result<(), String> {
    let mut temp = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile()
        .map_err(|e| format!("cannot check it: {e}"))?;
    std::io::Write::write_all(&mut temp, component).map_err(|e| format!("cannot check it: {e}"))?;
    let info = sqrtspace::plugin::inspect(temp.path(), Duration::from_secs(10)).map_err(|e| {
        e.to_string()
            .replace(&temp.path().display().to_string(), "it")
    })?;
    if info.compatible {
        Ok(())
    } else {
        Err(format!(
            "it was built against {}@{}, which this host does not speak (it speaks {})",
            sqrtspace::plugin::WIT_PACKAGE,
            info.wit_version,
            sqrtspace::plugin::WIT_VERSIONS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_recognized() {
        for registry in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:80",
        ] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[2001:db8::1]:5000",
        ] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }

    #[test]
    fn references_parse_with_or_without_the_scheme() {
        let r = parse_reference("oci://127.0.0.1:5000/acme/denoise:1.2.0").expect("parses");
        assert_eq!(r.resolve_registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "acme/denoise");
        assert_eq!(r.tag(), Some("1.2.0"));
        assert_eq!(whole(&r), "127.0.0.1:5000/acme/denoise:1.2.0");
        let d = format!("ghcr.io/acme/denoise@sha256:{}", "ab".repeat(32));
        let r = parse_reference(&d).expect("parses");
        assert_eq!(r.digest(), Some(&d[d.len() - 71..]));
        assert!(matches!(
            parse_reference("Not A Reference!"),
            Err(RegistryError::BadReference { .. })
        ));
    }
}

//! Plugins from OCI registries on the command line: the options every pipeline-reading
//! subcommand shares (`--locked`, `--offline`, `--insecure`, ...), resolving a pipeline's
//! `oci:` stages before it is planned, and `sqrtspace lock`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use sqrtspace::Spec;
use sqrtspace::spec::ByteSize;
use sqrtspace_registry::lock::{self, Lock};
use sqrtspace_registry::resolve::{LockUse, names_oci};
use sqrtspace_registry::{Options, Registry, resolve_spec};

/// How plugins named by OCI reference are fetched.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Never touch the network: OCI plugins come from the plugin cache alone (by the lock
    /// file's digests, or as their tags were last pulled).
    #[arg(long)]
    pub offline: bool,
    /// Speak plain HTTP to registries (only a registry on this machine, localhost or
    /// 127.0.0.1, is spoken to in plain HTTP without it).
    #[arg(long)]
    pub insecure: bool,
    /// Largest plugin component a pull accepts.
    #[arg(long, value_name = "BYTES", default_value = "64 MiB")]
    pub max_plugin_size: ByteSize,
    /// Longest wait for a registry to connect and for each of its answers, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub registry_timeout: f64,
}

/// `--locked` and the registry options, for the subcommands that run a pipeline.
#[derive(Debug, Clone, Args)]
pub struct PipelinePlugins {
    /// Refuse to run unless every plugin is in the pipeline's lock file (`NAME.lock`, from
    /// `sqrtspace lock`) and resolves to what it records: a changed local file, an OCI tag
    /// that moved, a plugin the lock does not name.
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl RegistryArgs {
    /// The client these options describe, pulling into the default plugin cache.
    pub fn registry(&self) -> anyhow::Result<Registry> {
        if !(self.registry_timeout.is_finite() && self.registry_timeout > 0.0) {
            crate::args::usage!("--registry-timeout must be a positive number of seconds");
        }
        Ok(Registry::with_default_store(Options {
            insecure: self.insecure,
            offline: self.offline,
            timeout: Duration::from_secs_f64(self.registry_timeout),
            max_bytes: self.max_plugin_size.0,
        })?)
    }
}

impl PipelinePlugins {
    /// Resolves the plugins of `spec`, read from `pipeline`: its `oci:` stages become the
    /// cached files their digests name, and under a lock file (required by `--locked`,
    /// followed where it exists) every plugin is checked against it. A pipeline with neither
    /// OCI stages nor a lock file is left as it is.
    pub fn resolve(&self, spec: &mut Spec, pipeline: &Path) -> anyhow::Result<()> {
        let lock_path = lock::path_for(pipeline);
        let lock = lock::read(&lock_path)?;
        let lock_use = match (self.locked, lock) {
            (true, Some(lock)) => LockUse::Require(lock),
            (true, None) => anyhow::bail!(sqrtspace_registry::resolve::ResolveError::Locked {
                stage: "*".into(),
                pipeline: pipeline.display().to_string(),
                message: format!("--locked needs the lock file {}", lock_path.display()),
            }),
            (false, Some(lock)) => LockUse::Prefer(lock),
            (false, None) if !names_oci(spec) => return Ok(()),
            (false, None) => LockUse::Ignore,
        };
        let registry = if names_oci(spec) {
            Some(self.registry.registry()?)
        } else {
            None
        };
        resolve_spec(spec, pipeline, registry.as_ref(), &lock_use)?;
        Ok(())
    }
}

/// `sqrtspace lock`: writes the lock file beside a pipeline.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sqrtspace lock pipelines/audio.ron             # writes pipelines/audio.lock
  sqrtspace run pipelines/audio.ron --locked ...  # runs only what the lock names
  sqrtspace run pipelines/audio.ron --locked --offline ...

Each plugin the pipeline names goes into the lock: an OCI reference with the manifest digest
its tag names now (pulled into the plugin cache), and every plugin with its component's
sha256 and size. A run follows the lock where it names a reference; `--locked` refuses
anything else.")]
pub struct LockCommand {
    /// The pipeline file; the lock is written beside it with the extension `.lock`.
    pipeline: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl LockCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut spec = Spec::from_file(&self.pipeline)?;
        let registry = if names_oci(&spec) {
            Some(self.registry.registry()?)
        } else {
            None
        };
        let resolved = resolve_spec(
            &mut spec,
            &self.pipeline,
            registry.as_ref(),
            &LockUse::Ignore,
        )?;
        let path = lock::path_for(&self.pipeline);
        let name = self.pipeline.file_name().map_or_else(
            || self.pipeline.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        lock::write(&path, &resolved.lock, &name)?;
        print_lock(&resolved.lock)?;
        eprintln!(
            "wrote {} ({} plugins, {} bytes fetched, {:.0} ms)",
            path.display(),
            resolved.lock.plugins.len(),
            resolved.fetched,
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(())
    }
}

fn print_lock(lock: &Lock) -> anyhow::Result<()> {
    for entry in &lock.plugins {
        match (&entry.oci, &entry.path) {
            (Some(oci), _) => outln!(
                "oci://{oci}  {}  sha256 {}  {} bytes",
                entry.digest.as_deref().unwrap_or("?"),
                entry.sha256,
                entry.size
            ),
            (None, Some(path)) => outln!("{path}  sha256 {}  {} bytes", entry.sha256, entry.size),
            (None, None) => {}
        }
    }
    Ok(())
}

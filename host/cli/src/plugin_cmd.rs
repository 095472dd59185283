//! `sqrtspace plugin`: what a plugin file is, before a pipeline uses it; publishing one to an
//! OCI registry and pulling one from it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use sqrtspace::plugin::{Runtime, content_hash, inspect};

use crate::registry_cmd::RegistryArgs;

#[derive(Debug, Args)]
pub struct PluginCommand {
    #[command(subcommand)]
    what: PluginAction,
}

#[derive(Debug, Subcommand)]
enum PluginAction {
    /// Name, version, contract version, kernel or stage, imports, and the compile cache; of
    /// an OCI artifact (`oci://host/repository:tag`), also its digest (pulled into the cache).
    Inspect {
        /// The component file, or `oci://host/repository:tag` (or `@sha256:...`).
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Longest the plugin's `describe` may run, in milliseconds.
        #[arg(long, default_value_t = sqrtspace::plugin::DEFAULT_DEADLINE_MS)]
        deadline_ms: u64,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Publish a plugin to an OCI registry, in the Wasm artifact layout `wkg oci` reads.
    #[command(after_help = "Examples:
  sqrtspace plugin push target/wasm32-unknown-unknown/plugin/features.wasm \\
      registry.example.com/acme/features:1.2.0
  sqrtspace plugin push features.wasm localhost:5000/acme/features:dev   # plain HTTP

Credentials: SQRTSPACE_REGISTRY_USER and SQRTSPACE_REGISTRY_PASSWORD, else the Docker config
(`docker login`, $DOCKER_CONFIG/config.json or ~/.docker/config.json, with its credential
helpers), else none.")]
    Push {
        /// The component file (a sqrtspace plugin; anything else is refused).
        path: PathBuf,
        /// Where to: `host/repository:tag` (`oci://` may be written in front).
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Fetch a plugin from an OCI registry into the plugin cache, checked before it is kept.
    Pull {
        /// `host/repository:tag` or `host/repository@sha256:...` (`oci://` may be written in
        /// front).
        #[arg(required = true)]
        references: Vec<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Print each file's sha256, to pin in a pipeline: `Plugin(path: .., sha256: "..")`.
    Hash {
        /// Component files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Compile each file into the cache now, so that runs start without compiling.
    Precompile {
        /// Component files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

impl PluginCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        match self.what {
            PluginAction::Inspect {
                path,
                json,
                deadline_ms,
                registry,
            } => {
                let deadline = Duration::from_millis(deadline_ms);
                match path.to_str().and_then(|p| p.strip_prefix("oci://")) {
                    Some(reference) => {
                        let pulled = registry.registry()?.pull(reference)?;
                        print_inspect(&pulled.stored.path, json, deadline, Some(&pulled))
                    }
                    None => print_inspect(&path, json, deadline, None),
                }
            }
            PluginAction::Push {
                path,
                reference,
                registry,
            } => {
                let started = Instant::now();
                let pushed = registry.registry()?.push(&path, &reference)?;
                outln!("{}@{}", pushed.reference, pushed.digest);
                eprintln!(
                    "pushed {} to oci://{} ({} bytes sent, {:.0} ms); component sha256 {}",
                    path.display(),
                    pushed.reference,
                    pushed.bytes,
                    started.elapsed().as_secs_f64() * 1e3,
                    pushed.sha256
                );
                Ok(())
            }
            PluginAction::Pull {
                references,
                registry,
            } => {
                let registry = registry.registry()?;
                for reference in references {
                    let started = Instant::now();
                    let pulled = registry.pull(&reference)?;
                    outln!(
                        "{}  {}  {}",
                        pulled.stored.digest,
                        pulled.stored.path.display(),
                        pulled.reference
                    );
                    eprintln!(
                        "{} oci://{} ({} bytes fetched, {:.0} ms); component sha256 {}, {} bytes",
                        // A tag is asked for again (its manifest); the component only when new.
                        match pulled.fetched {
                            0 => "cached",
                            n if n < pulled.stored.size => "up to date",
                            _ => "pulled",
                        },
                        pulled.reference,
                        pulled.fetched,
                        started.elapsed().as_secs_f64() * 1e3,
                        pulled.stored.sha256,
                        pulled.stored.size
                    );
                }
                Ok(())
            }
            PluginAction::Hash { paths } => {
                for path in paths {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("cannot read plugin {}", path.display()))?;
                    outln!("{}  {}", content_hash(&bytes), path.display());
                }
                Ok(())
            }
            PluginAction::Precompile { paths } => {
                let runtime = Runtime::global()?;
                for path in paths {
                    let loaded = runtime.load(&path)?;
                    outln!(
                        "{:<10} {:>8.1} ms  {}",
                        format!("{:?}", loaded.cache).to_lowercase(),
                        loaded.load_time.as_secs_f64() * 1e3,
                        path.display()
                    );
                }
                Ok(())
            }
        }
    }
}

fn print_inspect(
    path: &Path,
    json: bool,
    deadline: Duration,
    pulled: Option<&sqrtspace_registry::Pulled>,
) -> anyhow::Result<()> {
    let info = inspect(path, deadline)?;
    if json {
        let mut value = serde_json::to_value(&info)?;
        if let (Some(pulled), Some(object)) = (pulled, value.as_object_mut()) {
            object.insert("reference".into(), pulled.reference.clone().into());
            object.insert("digest".into(), pulled.stored.digest.clone().into());
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if let Some(pulled) = pulled {
        outln!("reference    oci://{}", pulled.reference);
        outln!("digest       {}", pulled.stored.digest);
    }
    outln!("plugin       {}", info.path);
    outln!("name         {} {}", info.name, info.version);
    if !info.description.is_empty() {
        outln!("description  {}", info.description);
    }
    outln!(
        "contract     {}@{}{}",
        sqrtspace::plugin::WIT_PACKAGE,
        info.wit_version,
        if info.compatible {
            String::new()
        } else {
            format!(
                " (this host speaks {}; it cannot run)",
                sqrtspace::plugin::WIT_VERSIONS.join(" and ")
            )
        }
    );
    outln!(
        "kind         {}",
        if info.stateful {
            "kernel (stateful)"
        } else {
            "stage (pure)"
        }
    );
    outln!(
        "imports      {}",
        if info.imports.is_empty() {
            "none".to_string()
        } else {
            info.imports.join(", ")
        }
    );
    outln!("size         {} bytes, sha256 {}", info.bytes, info.sha256);
    outln!("loaded       {:.2} ms ({:?})", info.load_ms, info.cache);
    Ok(())
}

//! `sqrtspace plugin`: what a plugin file is, before a pipeline uses it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use sqrtspace::plugin::{Runtime, content_hash, inspect};

#[derive(Debug, Args)]
pub struct PluginCommand {
    #[command(subcommand)]
    what: PluginAction,
}

#[derive(Debug, Subcommand)]
enum PluginAction {
    /// Name, version, contract version, kernel or stage, imports, and the compile cache.
    Inspect {
        /// The component file.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Longest the plugin's `describe` may run, in milliseconds.
        #[arg(long, default_value_t = sqrtspace::plugin::DEFAULT_DEADLINE_MS)]
        deadline_ms: u64,
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
            } => print_inspect(&path, json, Duration::from_millis(deadline_ms)),
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

fn print_inspect(path: &Path, json: bool, deadline: Duration) -> anyhow::Result<()> {
    let info = inspect(path, deadline)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
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

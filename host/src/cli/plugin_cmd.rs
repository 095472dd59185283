//! `sqrtspace plugin`: what a plugin file is, before a pipeline uses it.

use std::path::{Path, PathBuf};

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
            PluginAction::Inspect { path, json } => print_inspect(&path, json),
            PluginAction::Hash { paths } => {
                for path in paths {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("cannot read plugin {}", path.display()))?;
                    println!("{}  {}", content_hash(&bytes), path.display());
                }
                Ok(())
            }
            PluginAction::Precompile { paths } => {
                let runtime = Runtime::global()?;
                for path in paths {
                    let loaded = runtime.load(&path)?;
                    println!(
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

fn print_inspect(path: &Path, json: bool) -> anyhow::Result<()> {
    let info = inspect(path)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("plugin       {}", info.path);
    println!("name         {} {}", info.name, info.version);
    if !info.description.is_empty() {
        println!("description  {}", info.description);
    }
    println!(
        "contract     {}@{}{}",
        sqrtspace::plugin::WIT_PACKAGE,
        info.wit_version,
        if info.compatible {
            String::new()
        } else {
            format!(
                " (this host speaks {}; it cannot run)",
                sqrtspace::plugin::WIT_VERSION
            )
        }
    );
    println!(
        "kind         {}",
        if info.stateful {
            "kernel (stateful)"
        } else {
            "stage (pure)"
        }
    );
    println!(
        "imports      {}",
        if info.imports.is_empty() {
            "none".to_string()
        } else {
            info.imports.join(", ")
        }
    );
    println!("size         {} bytes, sha256 {}", info.bytes, info.sha256);
    println!("loaded       {:.2} ms ({:?})", info.load_ms, info.cache);
    Ok(())
}

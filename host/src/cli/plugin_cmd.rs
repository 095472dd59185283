//! `sqrtspace plugin`: what a plugin file is, before a pipeline uses it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use sqrtspace::plugin::inspect;

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
}

impl PluginCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let PluginAction::Inspect { path, json } = self.what;
        let info = inspect(&path)?;
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
}

//! `sqrtspace plugin inspect`: what a component says about itself (name, version, contract,
//! imports) without a pipeline around it, under a deadline.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use wasmtime::Store;
use wasmtime::component::Linker;

use super::contract::{Contract, exported_version, imports};
use super::exports::Exports;
use super::sandbox::{Limiter, trap_message};
use super::{DEFAULT_MEMORY_LIMIT, PluginError, Runtime, WIT_PACKAGE, plugin_text};

/// What `sqrtspace plugin inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// sha256 of the file.
    pub sha256: String,
    /// The `sqrtspace:pipeline` version it was built against.
    pub wit_version: String,
    /// Whether this host can run it.
    pub compatible: bool,
    /// The plugin's own name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// Whether it is a kernel.
    pub stateful: bool,
    /// What it imports (a sandboxed plugin imports nothing).
    pub imports: Vec<String>,
    /// Whether the component came from the cache.
    pub cache: super::CacheOutcome,
    /// Time to load it.
    pub load_ms: f64,
}

/// Loads a plugin file and describes it, without configuring it; `describe` runs under
/// `deadline`.
pub fn inspect(path: &Path, deadline: Duration) -> Result<PluginInfo, PluginError> {
    let runtime = Runtime::global()?;
    let loaded = runtime.load(path)?;
    let name = path.display().to_string();
    let wit_version =
        exported_version(&loaded.component, runtime).ok_or_else(|| PluginError::Invalid {
            path: name.clone(),
            message: format!("does not export {WIT_PACKAGE}/stage: not a sqrtspace plugin"),
        })?;
    let contract = Contract::of(&wit_version);
    let imports = imports(&loaded.component, runtime);
    let mut info = PluginInfo {
        path: name.clone(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        sha256: loaded.sha256.clone(),
        wit_version,
        compatible: contract.is_some(),
        name: String::new(),
        version: String::new(),
        description: String::new(),
        stateful: false,
        imports,
        cache: loaded.cache,
        load_ms: loaded.load_time.as_secs_f64() * 1e3,
    };
    if let Some(contract) = contract {
        let mut linker = Linker::new(runtime.engine());
        linker
            .define_unknown_imports_as_traps(&loaded.component)
            .map_err(|e| PluginError::Invalid {
                path: name.clone(),
                message: e.to_string(),
            })?;
        let mut store = Store::new(
            runtime.engine(),
            Limiter {
                memory_cap: DEFAULT_MEMORY_LIMIT as usize,
                refused: None,
                grown: 0,
            },
        );
        store.limiter(|limiter| limiter);
        store.set_epoch_deadline(Runtime::ticks(deadline));
        let plugin = Exports::instantiate(contract, &mut store, &loaded.component, &linker)
            .map_err(|e| PluginError::Invalid {
                path: name.clone(),
                message: format!("cannot instantiate: {e}"),
            })?;
        let described = plugin
            .describe(&mut store)
            .map_err(|trap| PluginError::Invalid {
                path: name.clone(),
                message: trap_message("describe", &trap, store.data(), deadline, &info.imports),
            })?;
        info.name = plugin_text(&described.name);
        info.version = plugin_text(&described.version);
        info.description = plugin_text(&described.description);
        info.stateful = described.stateful;
    }
    Ok(info)
}

//! Stages written as Wasm components: finding and loading them (compiled once, cached on
//! disk), checking the contract version, and running them sandboxed.
//!
//! The sandbox: a plugin gets no imports at all (no files, network, environment or clock),
//! each call runs under an epoch deadline, each instance under a memory cap, and whatever it
//! returns is checked against the layout it declared before anything downstream reads it. A
//! trap, a deadline, a cap or a malformed result becomes an error that names the plugin file;
//! the executor adds the stage and the window range. After a trap the instance is rebuilt.

mod cache;
mod contract;
pub(crate) mod convert;
mod exports;
mod inspect;
mod operator;
mod sandbox;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

pub(crate) use cache::hex;
pub use cache::{CacheOutcome, content_hash};
pub use contract::SPOKEN as WIT_VERSIONS;
pub use inspect::{PluginInfo, inspect};
pub(crate) use operator::build;

/// The WIT package this host speaks, as `wit/sqrtspace.wit` declares it.
pub const WIT_PACKAGE: &str = env!("SQRTSPACE_WIT_PACKAGE");
/// Its version, as `wit/sqrtspace.wit` declares it (read by the build script): the contract
/// plugins are built against now. The host also runs plugins built against the earlier
/// versions in [`WIT_VERSIONS`].
pub const WIT_VERSION: &str = env!("SQRTSPACE_WIT_VERSION");

/// How often the deadline clock ticks.
const TICK: Duration = Duration::from_millis(5);
/// Per-call deadline when the pipeline does not set one.
pub const DEFAULT_DEADLINE_MS: u64 = 10_000;
/// Per-instance memory cap when the pipeline does not set one.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;

/// Most bytes of text a plugin's message or description keeps; the rest is cut, saying how
/// much.
pub(crate) const MAX_PLUGIN_TEXT: usize = 1024;

/// Text a plugin wrote (an error message, its name or description), made safe to show on a
/// terminal: control characters (newlines that would forge another `error:` line, ANSI
/// escapes, BEL) are written as escapes, and past [`MAX_PLUGIN_TEXT`] bytes it is cut, saying
/// how much was.
pub(crate) fn plugin_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_PLUGIN_TEXT) + 32);
    let mut kept = 0;
    for (at, c) in text.char_indices() {
        if out.len() >= MAX_PLUGIN_TEXT {
            kept = at;
            break;
        }
        kept = at + c.len_utf8();
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if kept < text.len() {
        out.push_str(&format!(" [... {} more bytes cut]", text.len() - kept));
    }
    out
}

/// A plugin the plan loaded, and how.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct PluginLoad {
    /// The stage it implements.
    pub stage: String,
    /// The component file.
    pub path: String,
    /// sha256 of the file.
    pub sha256: String,
    /// Whether it was compiled or came from the cache.
    pub cache: CacheOutcome,
    /// Time to read, hash and compile or deserialize it, in milliseconds.
    pub load_ms: f64,
}

/// A plugin could not be found, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file is not where the pipeline says.
    #[error(
        "plugin {path} not found (looked in {}){}",
        .searched.join(", "),
        if .searched.len() > 1 { "; `cargo plugins` builds the example plugins, `plugins/build-polyglot` the C and JavaScript ones" } else { "" }
    )]
    NotFound {
        /// The path as written.
        path: String,
        /// Where it was looked for.
        searched: Vec<String>,
    },
    /// The file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a usable component.
    #[error("plugin {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Built against a version of the contract this host does not speak.
    #[error(
        "plugin {path} was built against {WIT_PACKAGE}@{found}, but this host speaks \
         {WIT_PACKAGE}@{WIT_VERSION} (and the earlier {}); rebuild it with a matching \
         sqrtspace-sdk",
        contract::SPOKEN[1..].join(", ")
    )]
    Version {
        /// The file.
        path: String,
        /// The version it exports.
        found: String,
    },
    /// The plugin refused its parameters or inputs.
    #[error("plugin {path} rejected its configuration: {message}")]
    Configure {
        /// The file.
        path: String,
        /// What it said.
        message: String,
    },
    /// The file is not the one the pipeline pinned.
    #[error(
        "plugin {path} has sha256 {found}, but the pipeline pins {pinned}; if the new file is \
         trusted, pin it again with `sqrtspace plugin hash {path}`"
    )]
    Pin {
        /// The file.
        path: String,
        /// The hash the pipeline gives.
        pinned: String,
        /// The file's hash.
        found: String,
    },
    /// The wasmtime engine could not be set up.
    #[error("cannot start the Wasm engine: {0}")]
    Engine(String),
}

/// One loaded plugin file: its compiled component and how it was obtained.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Where it was found.
    pub path: PathBuf,
    /// sha256 of the file.
    pub sha256: String,
    /// The compiled component.
    pub(crate) component: Component,
    /// Cache hit, or compiled.
    pub cache: CacheOutcome,
    /// Time to read, hash and compile or deserialize it.
    pub load_time: Duration,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("cache", &self.cache)
            .finish()
    }
}

/// Engine settings that change generated code, and so the cache key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// Make every NaN a plugin produces the canonical NaN (portable bits, some cost).
    pub canonicalize_nans: bool,
}

/// The process's Wasm engine, its deadline clock and its compiled-component cache.
pub struct Runtime {
    engine: Engine,
    cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

/// Where compiled components are cached: `SQRTSPACE_CACHE_DIR`, else `sqrtspace/components`
/// in the user's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
/// `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows).
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SQRTSPACE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    Some(dirs::cache_dir()?.join("sqrtspace").join("components"))
}

impl Runtime {
    /// An engine with `options`, caching compiled components in `cache_dir`.
    pub fn new(
        options: &EngineOptions,
        cache_dir: Option<PathBuf>,
    ) -> Result<Runtime, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_nan_canonicalization(options.canonicalize_nans);
        // `SQRTSPACE_WASM_PROFILER=perfmap` names plugin functions in `perf report` (through
        // /tmp/perf-PID.map), for finding where a plugin's time goes.
        if std::env::var_os("SQRTSPACE_WASM_PROFILER").is_some_and(|v| v == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        // The deadline clock: one thread per engine, for the life of the process.
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("sqrtspace-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start the deadline clock: {e}")))?;
        Ok(Runtime { engine, cache_dir })
    }

    /// The process-wide runtime: default options, the default cache directory.
    pub fn global() -> Result<&'static Runtime, PluginError> {
        static GLOBAL: OnceLock<Result<Runtime, String>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                Runtime::new(&EngineOptions::default(), default_cache_dir())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| PluginError::Engine(e.clone()))
    }

    /// The engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads `path`, and compiles it or takes it from the cache.
    pub fn load(&self, path: &Path) -> Result<LoadedPlugin, PluginError> {
        self.load_pinned(path, None)
    }

    /// [`Runtime::load`], refusing a file whose sha256 is not `pin` (when given) before
    /// anything of it is compiled.
    pub fn load_pinned(&self, path: &Path, pin: Option<&str>) -> Result<LoadedPlugin, PluginError> {
        let started = Instant::now();
        let wasm = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if !wasm.starts_with(b"\0asm") {
            return Err(PluginError::Invalid {
                path: path.display().to_string(),
                message: "not a Wasm file (no \\0asm header)".into(),
            });
        }
        let sha256 = content_hash(&wasm);
        if let Some(pin) = pin
            && !pin.trim().eq_ignore_ascii_case(&sha256)
        {
            return Err(PluginError::Pin {
                path: path.display().to_string(),
                pinned: pin.trim().to_string(),
                found: sha256,
            });
        }
        let (component, cache) = cache::load(
            &self.engine,
            self.cache_dir.as_deref(),
            path,
            &wasm,
            &sha256,
        )?;
        Ok(LoadedPlugin {
            path: path.to_path_buf(),
            sha256,
            component,
            cache,
            load_time: started.elapsed(),
        })
    }

    /// Deadline in ticks of the clock.
    fn ticks(deadline: Duration) -> u64 {
        (deadline.as_nanos() / TICK.as_nanos()).max(1) as u64 + 1
    }
}

/// The user's plugins directory, `sqrtspace/plugins` in the user's local data directory:
/// `$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application Support` on macOS,
/// `%LOCALAPPDATA%` on Windows.
pub fn user_plugin_dir() -> Option<PathBuf> {
    Some(dirs::data_local_dir()?.join("sqrtspace").join("plugins"))
}

/// Finds a plugin file: an absolute path as is; a relative one in each directory of
/// `SQRTSPACE_PLUGIN_PATH`, then next to the pipeline file (`base_dir`), then in the user's
/// plugins directory ([`user_plugin_dir`]), then where `cargo plugins` and
/// `plugins/build-polyglot` put them beside the running executable
/// (`<target>/wasm32-unknown-unknown/plugin` or `release`, and `<target>/polyglot`).
pub fn resolve(path: &Path, base_dir: Option<&Path>) -> Result<PathBuf, PluginError> {
    if path.is_absolute() {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(PluginError::NotFound {
                path: path.display().to_string(),
                searched: vec![path.display().to_string()],
            })
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("SQRTSPACE_PLUGIN_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    dirs.push(base_dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf));
    dirs.extend(user_plugin_dir());
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent()
    {
        // target/<profile>/sqrtspace (or target/<profile>/deps/<test binary>).
        for up in [
            profile_dir.parent(),
            profile_dir.parent().and_then(Path::parent),
        ]
        .into_iter()
        .flatten()
        {
            for profile in ["plugin", "release"] {
                dirs.push(up.join("wasm32-unknown-unknown").join(profile));
            }
            dirs.push(up.join("polyglot"));
        }
    }
    for dir in &dirs {
        let candidate = dir.join(path);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(PluginError::NotFound {
        path: path.display().to_string(),
        searched: dirs.iter().map(|d| d.display().to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_PLUGIN_TEXT, plugin_text};

    #[test]
    fn plugin_text_escapes_control_characters_and_cuts_saying_how_much() {
        assert_eq!(plugin_text("plain ünïcode"), "plain ünïcode");
        assert_eq!(
            plugin_text("bad\nerror: forged\x1b[2J\x07"),
            "bad\\nerror: forged\\u{1b}[2J\\u{7}"
        );
        let long = "é".repeat(5000);
        let shown = plugin_text(&long);
        assert!(shown.len() < MAX_PLUGIN_TEXT + 40, "{}", shown.len());
        let kept = shown.split(" [... ").next().unwrap_or_default();
        assert_eq!(
            shown,
            format!("{kept} [... {} more bytes cut]", long.len() - kept.len())
        );
    }
}

//! The pipeline file: RON text parsed into a [`Spec`], with errors that point at a line and
//! column. A spec is only what the user wrote; [`crate::Plan`] validates and resolves it.
//!
//! ```
//! let spec = sqrtspace::Spec::from_ron(r#"
//!     Pipeline(
//!         window: 1024, hop: 256, sample_rate: 48000,
//!         stages: [
//!             (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
//!             (name: "magnitude", inputs: ["fft"], op: Magnitude),
//!         ],
//!     )
//! "#, "example.ron").unwrap();
//! assert_eq!(spec.stages.len(), 2);
//! ```

use std::fmt;
use std::path::Path;

use ron::extensions::Extensions;
use serde::{Deserialize, Serialize};

use sqrtspace_kernels::iir;

mod ops;

pub use ops::{
    BandpassParams, FiltfiltParams, HostSpec, OpSpec, PatchesParams, PluginSpec, RollingMeanParams,
    WindowFftParams, WindowFunction,
};

/// The name inputs use for the framed input signal.
pub const INPUT: &str = "input";

/// A parsed pipeline file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename = "Pipeline", deny_unknown_fields)]
pub struct Spec {
    /// What the input holds: `Samples` (the default) or `Lines` of text.
    #[serde(default)]
    pub input: InputKind,
    /// Samples (or lines) per window.
    pub window: usize,
    /// Samples (or lines) between the starts of consecutive windows.
    pub hop: usize,
    /// Samples per second of the input; not given for lines.
    #[serde(default)]
    pub sample_rate: u32,
    /// Which executor runs the pipeline.
    #[serde(default)]
    pub mode: Mode,
    /// Where the spectral front end runs: `Cpu` (the default), `Cuda` or `Auto`.
    #[serde(default, skip_serializing_if = "Device::is_cpu")]
    pub device: Device,
    /// Windows per block; chosen by the planner when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    /// Windows between checkpoints: a number, or `Auto` (the same as leaving it out) for
    /// about √T windows when the stream's length T is known.
    #[serde(
        default,
        deserialize_with = "count_or_auto",
        skip_serializing_if = "Option::is_none"
    )]
    pub checkpoint_every: Option<usize>,
    /// Checkpoints kept per stage (a ring); 64 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_slots: Option<usize>,
    /// Byte cap of the block cache (an integer or a string such as "16 MiB").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lru_bytes: Option<ByteSize>,
    /// Worker threads (1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<usize>,
    /// Windows of input a streaming session buffers (64 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_buffer_blocks: Option<usize>,
    /// Machine facts to plan with instead of the detected ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineOverrides>,
    /// The stage whose output a run produces; the last stage when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bounds on what the pipeline and its plugins may ask for; raise them here when a
    /// pipeline really needs more.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// The stages, in any order; their inputs make the graph.
    pub stages: Vec<StageSpec>,
    /// The directory of the pipeline file, where relative plugin paths are looked for.
    #[serde(skip)]
    pub base_dir: Option<std::path::PathBuf>,
    /// The text the spec was parsed from and its name, so that errors found later (a
    /// plugin's complaint about its params) can point at a line of the file.
    #[serde(skip)]
    pub source: Option<Source>,
    /// Settings given on the command line rather than in the file (`mode`, `block`, ...),
    /// so that the plan's reasons say where each came from.
    #[serde(skip)]
    pub from_command_line: Vec<&'static str>,
}

/// The text of a pipeline and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The file name (or a name for text from elsewhere).
    pub origin: String,
    /// The text, as parsed.
    pub text: std::sync::Arc<str>,
}

impl Source {
    /// The 1-based line and column of byte `offset`.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// Bounds on what a pipeline or a plugin may ask for. Each keeps an absurd or hostile value
/// from making a run's work or memory grow without end; each can be raised in the pipeline
/// (`limits: (context_rows: 1000000)`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most earlier rows a stage may declare as context (65,536).
    pub context_rows: usize,
    /// Most bytes one output row of a stage may hold (256 MiB).
    pub row_bytes: ByteSize,
    /// Most bytes a kernel's state may hold (16 MiB).
    pub state_bytes: ByteSize,
    /// Most stages, counting the ones composite operators expand into (1,024).
    pub stages: usize,
    /// Most worker threads (1,024).
    pub workers: usize,
}

impl Limits {
    /// Whether these are the defaults (a pipeline written out leaves them out).
    pub fn is_default(&self) -> bool {
        *self == Limits::default()
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            context_rows: 1 << 16,
            row_bytes: ByteSize(256 << 20),
            state_bytes: ByteSize(16 << 20),
            stages: 1024,
            workers: 1024,
        }
    }
}

/// Where a setting the planner reports came from.
/// Facts a pipeline sets instead of the detected ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineOverrides {
    /// Memory available to the run.
    #[serde(default)]
    pub available_ram: Option<ByteSize>,
    /// Per-core L2 cache.
    #[serde(default)]
    pub l2: Option<ByteSize>,
    /// Last-level cache.
    #[serde(default)]
    pub llc: Option<ByteSize>,
    /// Cores.
    #[serde(default)]
    pub cores: Option<usize>,
    /// Nanoseconds per byte of fresh memory written and read back.
    #[serde(default)]
    pub fresh_ns_per_byte: Option<f64>,
}

impl Spec {
    /// "set on the command line" or "set in the pipeline", for the plan's reasons.
    pub fn set_by(&self, setting: &str) -> &'static str {
        if self.from_command_line.contains(&setting) {
            "set on the command line"
        } else {
            "set in the pipeline"
        }
    }
}

/// One stage of the pipeline.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Unique name; other stages use it in their inputs.
    pub name: String,
    /// Names of the stages (or `"input"`) whose rows this stage reads, in order.
    pub inputs: Vec<String>,
    /// What the stage computes, with its parameters.
    pub op: OpSpec,
    /// Also keep this stage's output blocks in checkpoints (kernels always keep their state).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checkpoint: bool,
    /// Run this kernel backward in time: it sees its input from the last window to the first
    /// (the backward half of a zero-phase filter, a smoother's backward pass).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
}

impl Spec {
    /// The spec with every composite operator replaced by the stages it stands for:
    /// `Filtfilt` becomes a forward `Iir` stage and a backward one reading it.
    pub fn expanded(&self) -> Spec {
        let mut out = self.clone();
        out.stages.clear();
        for stage in &self.stages {
            match &stage.op {
                OpSpec::Filtfilt(params) => {
                    let forward = format!("{}.forward", stage.name);
                    let iir = |filter: &iir::Filter| {
                        OpSpec::Iir(iir::Params {
                            filter: filter.clone(),
                            start: iir::Start::Steady,
                        })
                    };
                    out.stages.push(StageSpec {
                        name: forward.clone(),
                        inputs: stage.inputs.clone(),
                        op: iir(&params.filter),
                        checkpoint: false,
                        reverse: stage.reverse,
                    });
                    out.stages.push(StageSpec {
                        name: stage.name.clone(),
                        inputs: vec![forward],
                        op: iir(&params.filter),
                        checkpoint: stage.checkpoint,
                        reverse: !stage.reverse,
                    });
                }
                _ => out.stages.push(stage.clone()),
            }
        }
        out
    }
}

/// A count, or `Auto` (`None`): the planner chooses.
fn count_or_auto<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    enum Word {
        Auto,
    }
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a number of windows or Auto")]
    enum CountOrAuto {
        Count(usize),
        Word(Word),
    }
    Ok(match Option::<CountOrAuto>::deserialize(d)? {
        Some(CountOrAuto::Count(n)) => Some(n),
        Some(CountOrAuto::Word(Word::Auto)) | None => None,
    })
}

/// What a pipeline's input is made of.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum InputKind {
    /// f32 samples (audio, sensors): WAV, raw f32 or `.npy`, framed into rows of f32.
    #[default]
    Samples,
    /// Lines of text (logs, records), framed into rows of text: window and hop count lines.
    Lines,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Samples => "samples",
            InputKind::Lines => "lines",
        })
    }
}

/// Which executor runs a pipeline.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Mode {
    /// Let the planner choose, and say why.
    #[default]
    Auto,
    /// Every stage over the whole stream, one after another (the reference).
    Classic,
    /// Depth-first, one block at a time, with checkpoints and a block cache.
    Sqrt,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Auto => "auto",
            Mode::Classic => "classic",
            Mode::Sqrt => "sqrt",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Mode::Auto),
            "classic" => Ok(Mode::Classic),
            "sqrt" => Ok(Mode::Sqrt),
            _ => Err(format!(
                "unknown mode `{s}` (expected auto, classic or sqrt)"
            )),
        }
    }
}

/// Where the spectral front end (window, FFT, band-pass, magnitude) runs.
///
/// `Cpu` is the default and the reference. `Cuda` asks for the GPU and fails, saying why, where
/// there is none; `Auto` takes the GPU only where the probe finds one that is faster, and says
/// why it chose what it chose (so outputs then depend on the machine: opt in).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Device {
    /// The CPU.
    #[default]
    Cpu,
    /// An NVIDIA GPU through CUDA and cuFFT.
    Cuda,
    /// The GPU where one is found and faster, the CPU otherwise.
    Auto,
}

impl Device {
    fn is_cpu(&self) -> bool {
        *self == Device::Cpu
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::Auto => "auto",
        })
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            "auto" => Ok(Device::Auto),
            _ => Err(format!("unknown device `{s}` (expected cpu, cuda or auto)")),
        }
    }
}

/// A number of bytes, written as an integer or as a string with a unit ("64 MiB", "1.5GB").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<ByteSize, String> {
        let s = text.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a size (try 1048576, \"64 MiB\" or \"2GB\")"))?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            other => return Err(format!("unknown size unit `{other}` in `{text}`")),
        };
        Ok(ByteSize((number * scale as f64).round() as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte count: an integer or a string such as \"64 MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("a size cannot be negative ({v})")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if self.0 >= 1 << 30 {
            write!(f, "{:.1} GiB", b / f64::from(1u32 << 30))
        } else if self.0 >= 1 << 20 {
            write!(f, "{:.1} MiB", b / f64::from(1u32 << 20))
        } else if self.0 >= 1 << 10 {
            write!(f, "{:.1} KiB", b / 1024.0)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}

/// Largest pipeline file read: a pipeline is a page of text; a file larger than this is
/// almost surely something else, and parsing it would cost time and memory for nothing.
pub const MAX_PIPELINE_BYTES: u64 = 4 << 20;

/// A pipeline file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read pipeline {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a valid pipeline: RON syntax, an unknown or missing field, a value of
    /// the wrong type.
    #[error("{origin}:{line}:{col}: {message}")]
    Syntax {
        /// The file (or a name for text that came from elsewhere).
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What the parser says.
        message: String,
    },
    /// The file is larger than any pipeline.
    #[error(
        "{origin} holds {} ({bytes} bytes), more than the {} a pipeline file may hold",
        ByteSize(*.bytes), ByteSize(MAX_PIPELINE_BYTES)
    )]
    TooLarge {
        /// The file.
        origin: String,
        /// Its size.
        bytes: u64,
    },
}

/// Refuses a `Plugin` that names its component twice (`path` and `oci`) or not at all,
/// pointing at the stage's `Plugin(` in `text`.
fn plugins_named_once(spec: &Spec, text: &str, origin: &str) -> Result<(), SpecError> {
    for stage in &spec.stages {
        let OpSpec::Plugin(plugin) = &stage.op else {
            continue;
        };
        let message = match (&plugin.path, &plugin.oci) {
            (Some(_), Some(_)) => "a Plugin gives `path` or `oci`, not both",
            (None, None) => "a Plugin names its component: `path: \"...\"` or `oci: \"...\"`",
            _ => continue,
        };
        let named = text.find(&format!("{:?}", stage.name)).unwrap_or(0);
        let at = text[named..].find("Plugin").map_or(named, |i| named + i);
        let line = text[..at].matches('\n').count() + 1;
        let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        return Err(SpecError::Syntax {
            origin: origin.to_string(),
            line,
            col,
            message: format!("stage `{}`: {message}", stage.name),
        });
    }
    Ok(())
}

/// Parses RON text the way pipelines are written (`Some` implied, newtype variants unwrapped);
/// `origin` names it in errors.
fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T, SpecError> {
    let options = ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES);
    options.from_str(text).map_err(|e| SpecError::Syntax {
        origin: origin.to_string(),
        line: e.span.start.line,
        col: e.span.start.col,
        message: e.code.to_string(),
    })
}

impl OpSpec {
    /// Parses one operator as a pipeline's `op:` field writes it (`Bandpass(lo_hz: 80.0,
    /// hi_hz: 2000.0)`); `origin` names it in errors.
    pub fn from_ron(text: &str, origin: &str) -> Result<OpSpec, SpecError> {
        parse_ron(text, origin)
    }
}

impl Spec {
    /// Parses RON text; `origin` names it in errors (a file name).
    pub fn from_ron(text: &str, origin: &str) -> Result<Spec, SpecError> {
        if text.len() as u64 > MAX_PIPELINE_BYTES {
            return Err(SpecError::TooLarge {
                origin: origin.to_string(),
                bytes: text.len() as u64,
            });
        }
        // Editors on some systems start UTF-8 files with a byte-order mark; it is not RON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut spec: Spec = parse_ron(text, origin)?;
        plugins_named_once(&spec, text, origin)?;
        spec.source = Some(Source {
            origin: origin.to_string(),
            text: text.into(),
        });
        Ok(spec)
    }

    /// The spec as RON text that [`Spec::from_ron`] reads back to the same spec (what a
    /// pipeline built by a program looks like as a file).
    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::new()
            .depth_limit(3)
            .compact_arrays(true);
        // Every field is plain data (numbers, strings, enums, RON params kept as text), which
        // RON always writes.
        let text = ron::Options::default()
            .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
            .to_string_pretty(self, config)
            .unwrap_or_else(|e| format!("/* cannot write this pipeline as RON: {e} */"));
        format!("Pipeline{text}")
    }

    /// The spec with relative plugin paths looked for in `dir` (what [`Spec::from_file`] sets
    /// to the pipeline file's directory), for a pipeline that is not read from a file.
    pub fn with_base_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Spec {
        self.base_dir = Some(dir.into());
        self
    }

    /// Reads and parses a pipeline file; relative plugin paths are looked for beside it.
    pub fn from_file(path: &Path) -> Result<Spec, SpecError> {
        let io = |source| SpecError::Io {
            path: path.display().to_string(),
            source,
        };
        // Refused before it is read: a pipeline "file" could be a device or a huge log.
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        use std::io::Read;
        let read = file
            .take(MAX_PIPELINE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if read as u64 > MAX_PIPELINE_BYTES {
            let bytes = std::fs::metadata(path).map_or(read as u64, |m| m.len());
            return Err(SpecError::TooLarge {
                origin: path.display().to_string(),
                bytes,
            });
        }
        let mut spec = Spec::from_ron(&text, &path.display().to_string())?;
        spec.base_dir = path.parent().map(Path::to_path_buf);
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"(window: 8, hop: 4, sample_rate: 100,
        stages: [(name: "f", inputs: ["input"], op: WindowFft())])"#;

    /// Every example pipeline, written out by `to_ron` and read back, is the same spec; so is
    /// one with every optional setting, a host stage and plugin parameters.
    #[test]
    fn to_ron_reads_back_as_the_same_spec() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
        let mut specs: Vec<Spec> = std::fs::read_dir(&dir)
            .expect("pipelines/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "ron"))
            .map(|p| Spec::from_file(&p).expect("an example parses"))
            .collect();
        assert!(specs.len() >= 5);
        specs.push(
            Spec::from_ron(
                r#"Pipeline(window: 8, hop: 4, sample_rate: 100, mode: Sqrt, block: 7,
                lru_bytes: "2 MiB", checkpoint_every: 14, target: "g", max_workers: 3,
                limits: (state_bytes: "1 MiB"), machine: (cores: 4),
                stages: [(name: "f", inputs: ["input"], op: WindowFft(window: Hamming), checkpoint: true),
                    (name: "p", inputs: ["f"], op: Plugin(path: "x.wasm", params: (a: [1, 2], b: "c\n"), deadline_ms: 5)),
                    (name: "g", inputs: ["p"], op: Host(name: "g"), reverse: true)])"#,
                "t.ron",
            )
            .expect("parses"),
        );
        for spec in specs {
            let text = spec.to_ron();
            let mut back =
                Spec::from_ron(&text, "written").unwrap_or_else(|e| panic!("{e}\n{text}"));
            back.source = spec.source.clone();
            back.base_dir = spec.base_dir.clone();
            assert_eq!(back, spec, "{text}");
        }
    }

    #[test]
    fn defaults_and_optional_fields() {
        let spec = Spec::from_ron(MINIMAL, "t.ron").expect("parses");
        assert_eq!(spec.mode, Mode::Auto);
        assert_eq!(spec.block, None);
        assert_eq!(
            spec.stages[0].op,
            OpSpec::WindowFft(WindowFftParams::default())
        );
        let spec = Spec::from_ron(
            r#"Pipeline(window: 8, hop: 4, sample_rate: 100, mode: Sqrt, block: 7,
                lru_bytes: "2 MiB", checkpoint_every: 14, target: "f",
                stages: [(name: "f", inputs: ["input"], op: WindowFft(window: Hamming), checkpoint: true)])"#,
            "t.ron",
        )
        .expect("parses");
        assert_eq!(
            (spec.mode, spec.block, spec.checkpoint_every),
            (Mode::Sqrt, Some(7), Some(14))
        );
        assert_eq!(spec.lru_bytes, Some(ByteSize(2 << 20)));
        assert!(spec.stages[0].checkpoint);
    }

    #[test]
    fn checkpoint_every_is_a_count_or_auto() {
        let with = |value: &str| {
            Spec::from_ron(
                &format!(
                    r#"(window: 8, hop: 4, sample_rate: 100, checkpoint_every: {value},
                    stages: [(name: "f", inputs: ["input"], op: WindowFft())])"#
                ),
                "t.ron",
            )
            .map(|s| s.checkpoint_every)
            .map_err(|e| e.to_string())
        };
        assert_eq!(with("Auto"), Ok(None));
        assert_eq!(with("64"), Ok(Some(64)));
        for bad in ["Sometimes", "-3", "\"64\""] {
            let err = with(bad).unwrap_err();
            assert!(err.contains("a number of windows or Auto"), "{bad}: {err}");
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = Spec::from_ron(
            "(window: 8,\n  hop: 4\n  sample_rate: 1, stages: [])",
            "p.ron",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "p.ron:3:3: Expected comma");
    }

    #[test]
    fn a_plugin_names_its_component_once_by_path_or_by_reference() {
        let pipeline = |op: &str| {
            format!(
                "(window: 8, hop: 4, sample_rate: 1, stages: [\n  (name: \"p\", inputs: \
                 [\"input\"],\n   op: {op}),\n])"
            )
        };
        let by_path = Spec::from_ron(&pipeline(r#"Plugin(path: "x.wasm")"#), "p.ron");
        let by_ref = Spec::from_ron(&pipeline(r#"Plugin(oci: "r.io/a/b:1")"#), "p.ron");
        for spec in [by_path, by_ref] {
            let spec = spec.expect("parses");
            let OpSpec::Plugin(p) = &spec.stages[0].op else {
                panic!("a plugin");
            };
            assert!(p.path.is_some() != p.oci.is_some());
        }
        let both = Spec::from_ron(
            &pipeline(r#"Plugin(path: "x.wasm", oci: "r.io/a/b:1")"#),
            "p.ron",
        )
        .unwrap_err();
        assert_eq!(
            both.to_string(),
            "p.ron:3:8: stage `p`: a Plugin gives `path` or `oci`, not both"
        );
        let neither = Spec::from_ron(&pipeline("Plugin()"), "p.ron").unwrap_err();
        assert!(
            neither.to_string().contains("a Plugin names its component"),
            "{neither}"
        );
    }

    #[test]
    fn unknown_fields_and_operators_are_named() {
        let err =
            Spec::from_ron(&MINIMAL.replace("hop: 4", "hop: 4, hopp: 2"), "p.ron").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.ron:1:21: Unexpected field named `hopp` in `Pipeline`"),
            "{err}"
        );
        let err =
            Spec::from_ron(&MINIMAL.replace("WindowFft()", "WindowFFT()"), "p.ron").unwrap_err();
        assert!(
            err.to_string()
                .contains("Unexpected variant named `WindowFFT` in enum `OpSpec`"),
            "{err}"
        );
        let err = Spec::from_ron(
            &MINIMAL.replace("WindowFft()", "Bandpass(lo_hz: 1.0, hi: 2.0)"),
            "p.ron",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Unexpected field named `hi` in `Bandpass`"),
            "{err}"
        );
    }

    #[test]
    fn every_operator_parses_in_the_documented_syntax() {
        let spec = Spec::from_ron(
            r#"(window: 8, hop: 4, sample_rate: 100, stages: [
                (name: "a", inputs: ["input"], op: WindowFft(window: Rectangular)),
                (name: "b", inputs: ["a"], op: Bandpass(lo_hz: 0.0, hi_hz: 50.0)),
                (name: "c", inputs: ["b"], op: Magnitude),
                (name: "d", inputs: ["c"], op: SpectralFeatures),
                (name: "e", inputs: ["d"], op: Iir(filter: Sos(sections: [(1.0, 0.0, 0.0, 1.0, 0.5, 0.0)]))),
                (name: "f", inputs: ["e"], op: Iir(filter: Highpass(cutoff_hz: 1.0, q: 0.5))),
                (name: "g", inputs: ["f"], op: RollingMean(rows: 3)),
                (name: "h", inputs: ["g", "d"], op: Concat),
                (name: "i", inputs: ["h"], op: Mlp(layers: [(weights: [[1.0]], bias: [0.0], activation: Tanh)])),
            ])"#,
            "all.ron",
        )
        .expect("parses");
        let names: Vec<&str> = spec.stages.iter().map(|s| s.op.name()).collect();
        assert_eq!(
            names,
            [
                "WindowFft",
                "Bandpass",
                "Magnitude",
                "SpectralFeatures",
                "Iir",
                "Iir",
                "RollingMean",
                "Concat",
                "Mlp"
            ]
        );
        assert!(Spec::from_ron(
            r#"(window: 8, hop: 4, sample_rate: 100, stages: [(name: "e", inputs: ["input"], op: Iir(filter: Lowpass(cutoff_hz: 1.0, q: 0.5, gain: 2.0)))])"#,
            "x.ron"
        )
        .is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!("64 MiB".parse::<ByteSize>(), Ok(ByteSize(64 << 20)));
        assert_eq!("1.5GB".parse::<ByteSize>(), Ok(ByteSize(1_500_000_000)));
        assert_eq!("4096".parse::<ByteSize>(), Ok(ByteSize(4096)));
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(3 << 20).to_string(), "3.0 MiB");
    }
}

//! The operators a stage can run, as a pipeline writes them: the built-ins with their
//! parameters, and plugins. What each one computes lives with its implementation
//! (`stage::builtin`, `sqrtspace_kernels`, the plugin host); this is the description only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sqrtspace_kernels::{iir, logs, mlp};

use super::ByteSize;

/// The operators a stage can run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum OpSpec {
    /// Window function and real FFT.
    WindowFft(WindowFftParams),
    /// Keep the spectrum bins in a frequency band.
    Bandpass(BandpassParams),
    /// Absolute value of complex elements.
    Magnitude,
    /// Peak frequency, centroid, kurtosis and log energy of a magnitude spectrum.
    SpectralFeatures,
    /// A small dense network.
    Mlp(mlp::Params),
    /// Biquad cascade along time (a stateful kernel).
    Iir(iir::Params),
    /// Zero-phase IIR: the filter forward, then backward over its output. Expands into two
    /// stages, `NAME.forward` (forward, steady-state start) and `NAME` (backward in time,
    /// steady-state start at the last window), like scipy's `filtfilt(..., padtype=None)`.
    Filtfilt(FiltfiltParams),
    /// Mean over the last rows (declares context).
    RollingMean(RollingMeanParams),
    /// The last rows stacked into one (declares context).
    Patches(PatchesParams),
    /// Join rows of several inputs.
    Concat,
    /// Status, latency and time of each line of access-log text (the `logparse` plugin's
    /// parser and parameters, natively).
    LogParse(logs::ParseParams),
    /// A stage or kernel in a Wasm component.
    Plugin(PluginSpec),
    /// A stage or kernel the program running the engine provides (a Python function given to
    /// `sqrtspace.Pipeline.stage`), found by name in the [`HostOps`](crate::extend::HostOps)
    /// the plan is made with ([`Plan::with_host_ops`](crate::Plan::with_host_ops)).
    Host(HostSpec),
}

impl OpSpec {
    /// The name of the operator as written in pipelines.
    pub fn name(&self) -> &'static str {
        match self {
            OpSpec::WindowFft(_) => "WindowFft",
            OpSpec::Bandpass(_) => "Bandpass",
            OpSpec::Magnitude => "Magnitude",
            OpSpec::SpectralFeatures => "SpectralFeatures",
            OpSpec::Mlp(_) => "Mlp",
            OpSpec::Iir(_) => "Iir",
            OpSpec::Filtfilt(_) => "Filtfilt",
            OpSpec::RollingMean(_) => "RollingMean",
            OpSpec::Patches(_) => "Patches",
            OpSpec::Concat => "Concat",
            OpSpec::LogParse(_) => "LogParse",
            OpSpec::Plugin(_) => "Plugin",
            OpSpec::Host(_) => "Host",
        }
    }
}

/// A stage the embedding program provides: `Host(name: "centroid")`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// The name it is registered under.
    pub name: String,
}

/// Parameters of [`OpSpec::Filtfilt`].
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FiltfiltParams {
    /// The filter run in each direction (the magnitude response is squared, the phase zero).
    pub filter: iir::Filter,
}

/// Parameters of `Bandpass`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BandpassParams {
    /// Lowest frequency kept, in Hz.
    pub lo_hz: f64,
    /// Highest frequency kept, in Hz.
    pub hi_hz: f64,
}

/// Parameters of `Patches`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PatchesParams {
    /// Input rows per patch, the current one last.
    pub rows: usize,
}

/// Parameters of `RollingMean`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RollingMeanParams {
    /// How many rows, the current one included, each mean covers.
    pub rows: usize,
}

/// Parameters of `WindowFft`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowFftParams {
    /// The window function (default: Hann).
    #[serde(default)]
    pub window: WindowFunction,
}

/// Window functions, in their periodic (DFT-even) form, as spectral analysis uses them
/// (`scipy.signal.get_window` default).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum WindowFunction {
    /// `0.5 - 0.5 cos(2πi/n)`.
    #[default]
    Hann,
    /// `0.54 - 0.46 cos(2πi/n)`.
    Hamming,
    /// All ones.
    Rectangular,
}

/// A stage implemented by a plugin, as the pipeline declares it:
/// `Plugin(path: "features.wasm", params: (...), deadline_ms: 1000, memory_limit: "64 MiB")`,
/// or `Plugin(oci: "registry.example.com/acme/denoise:1.2.0", ...)`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// The component file: absolute, or found in `SQRTSPACE_PLUGIN_PATH`, next to the
    /// pipeline file, in the user's plugins directory, or where `cargo plugins` and
    /// `plugins/build-polyglot` build them. A pipeline gives this or [`oci`](Self::oci).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The component as an OCI artifact: `host/repository:tag`, or
    /// `host/repository@sha256:...` (the manifest's digest). The plan cannot fetch it: a
    /// runner resolves it first (`sqrtspace-registry`, which the CLI uses), to the file in the
    /// plugin cache that the digest names, setting [`path`](Self::path) to that file and
    /// pinning [`sha256`](Self::sha256) to its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// Parameters handed to the plugin, as written (and converted to JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<ron::value::RawValue>>,
    /// Longest a single call may run, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Most linear memory one instance may grow to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<ByteSize>,
    /// Most bytes a kernel's state may hold (the pipeline's `limits: (state_bytes: ..)` when
    /// absent): every checkpoint keeps a copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_state: Option<ByteSize>,
    /// The file's sha256 (hex, from `sqrtspace plugin hash`): a file with another hash is
    /// refused before it is compiled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PluginSpec {
    /// The component as the pipeline names it: its path, or `oci://` and its reference.
    pub fn named(&self) -> String {
        match (&self.path, &self.oci) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(reference)) => format!("oci://{reference}"),
            (None, None) => "a plugin without `path` or `oci`".into(),
        }
    }
}

//! Whether this machine has a CUDA GPU that sqrtspace can use: the driver and cuFFT libraries
//! found and loaded at run time (cudarc's dynamic loading, so a binary built without CUDA runs
//! on a machine with it), and a device that answers.
//!
//! cudarc panics when a library it needs cannot be loaded, so [`probe`] looks for each library
//! first and turns every absence into an [`Unavailable`] that says what was looked for. Without
//! the `cuda` feature nothing is linked and [`probe`] says the build has no GPU support.
//!
//! This crate is where sqrtspace's GPU code and its `unsafe` live.

/// A GPU found and answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpu {
    /// Device 0's name, as the driver gives it.
    pub name: String,
    /// Its memory, bytes.
    pub memory_bytes: u64,
    /// Devices the driver sees.
    pub devices: usize,
}

impl std::fmt::Display for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:.1} GiB; {} device{})",
            self.name,
            self.memory_bytes as f64 / (1u64 << 30) as f64,
            self.devices,
            if self.devices == 1 { "" } else { "s" }
        )
    }
}

/// Why no GPU can be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Built without the `cuda` feature.
    #[error("this sqrtspace was built without GPU support (build it with `--features gpu`)")]
    NotBuilt,
    /// The CUDA driver library is not there.
    #[error("no CUDA driver: none of {looked_for} can be loaded (is the NVIDIA driver installed?)")]
    NoDriver {
        /// The library names tried.
        looked_for: String,
    },
    /// The cuFFT library is not there.
    #[error(
        "no cuFFT: none of {looked_for} can be loaded (install the CUDA toolkit's libcufft, or put it on LD_LIBRARY_PATH)"
    )]
    NoCufft {
        /// The library names tried.
        looked_for: String,
    },
    /// The driver sees no device.
    #[error("the CUDA driver sees no GPU")]
    NoDevice,
    /// The driver refused.
    #[error("the CUDA driver failed: {0}")]
    Driver(String),
}

/// Looks for the driver, cuFFT and a device, in that order.
pub fn probe() -> Result<Gpu, Unavailable> {
    imp::probe()
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::{Gpu, Unavailable};

    pub(super) fn probe() -> Result<Gpu, Unavailable> {
        Err(Unavailable::NotBuilt)
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use super::{Gpu, Unavailable};
    use cudarc::driver::result;

    /// The file names cudarc tries for `libs`: the first few, and how many more.
    fn names(libs: &[&str]) -> String {
        let all: Vec<String> = libs
            .iter()
            .flat_map(|l| cudarc::get_lib_name_candidates(l))
            .collect();
        let shown = all.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        match all.len().saturating_sub(3) {
            0 => shown,
            more => format!("{shown} and {more} other names"),
        }
    }

    pub(super) fn probe() -> Result<Gpu, Unavailable> {
        // SAFETY: loading a shared library runs its initialisers; the CUDA driver's and
        // cuFFT's are what every CUDA program runs. Nothing is called through them here.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Unavailable::NoDriver {
                looked_for: names(&["cuda", "nvcuda"]),
            });
        }
        // SAFETY: as above.
        if !unsafe { cudarc::cufft::sys::is_culib_present() } {
            return Err(Unavailable::NoCufft {
                looked_for: names(&["cufft"]),
            });
        }
        // Both libraries load, so cudarc's lookups cannot panic for their absence; a symbol
        // an old driver lacks still could, which is caught rather than let end the process.
        let answered = std::panic::catch_unwind(|| -> Result<Gpu, Unavailable> {
            let failed = |e: result::DriverError| Unavailable::Driver(format!("{e:?}"));
            result::init().map_err(failed)?;
            let devices = result::device::get_count().map_err(failed)?;
            if devices < 1 {
                return Err(Unavailable::NoDevice);
            }
            let device = result::device::get(0).map_err(failed)?;
            let name = result::device::get_name(device).map_err(failed)?;
            // SAFETY: `device` is a handle the driver just gave for ordinal 0.
            let memory = unsafe { result::device::total_mem(device) }.map_err(failed)?;
            Ok(Gpu {
                name,
                memory_bytes: memory as u64,
                devices: devices as usize,
            })
        });
        answered.unwrap_or_else(|_| {
            Err(Unavailable::Driver(
                "the driver library lacks a function this build needs (an older driver?)".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a machine without a GPU (CI), the probe answers with a reason, never a panic; on one
    /// with a GPU, with the device. Which one this machine is, `nvidia-smi` tells.
    #[test]
    fn the_probe_answers_without_panicking() {
        let has_gpu = std::process::Command::new("nvidia-smi")
            .arg("-L")
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        let built = cfg!(feature = "cuda");
        match probe() {
            Ok(gpu) => {
                assert!(built && has_gpu, "found {gpu} where none is");
                assert!(gpu.memory_bytes > 0 && gpu.devices >= 1);
            }
            Err(Unavailable::NotBuilt) => assert!(!built, "a cuda build said it was not one"),
            Err(why) => {
                assert!(built, "{why}");
                assert!(!has_gpu, "a GPU is there, but: {why}");
                let text = why.to_string();
                assert!(
                    text.contains("libcuda") || text.contains("cufft") || text.contains("no GPU"),
                    "{text}"
                );
            }
        }
    }
}

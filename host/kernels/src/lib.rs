//! The numeric cores of sqrtspace's stages, plain Rust that compiles natively and to Wasm.
//!
//! The engine's built-in stages run these functions natively and the Rust plugins wrap the same
//! functions as Wasm components, so a built-in and its plugin twin give the same bits: every sum
//! runs in a fixed order and transcendental functions come from `libm`, never from the
//! platform's math library.
//!
//! | module | what | built-in | plugin |
//! |---|---|---|---|
//! | [`iir`] | biquad cascade along time (a kernel: carries state) | `Iir` | `plugins/iir` |
//! | [`mlp`] | dense layers over joined rows | `Mlp` | `plugins/classify` |
//! | [`features`] | peak, centroid, kurtosis, log energy of a spectrum | `SpectralFeatures` | `plugins/features` |
//! | [`stats`] | quantiles and MAD of a spectrum | | `plugins/stats-rust` |
//! | [`quantile`] | numpy's default quantile, used by `stats` and `logs` | | |
//! | [`logs`] | access-log parsing, per-window stats, rolling aggregates, alerts | | `plugins/log*` |
#![deny(missing_docs)]

pub mod features;
pub mod iir;
pub mod logs;
pub mod mlp;
pub mod quantile;
pub mod stats;

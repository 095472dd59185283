//! Spectral features of a magnitude spectrum: the numeric core, plain Rust that the host's
//! native `SpectralFeatures` stage and the `features` plugin both run.
//!
//! With magnitudes `m_i` at frequencies `f_i` and `M = Σ m_i`, the features of a row are
//! - `peak_hz`: the frequency of the largest magnitude (the first one on ties);
//! - `centroid_hz`: `c = Σ f_i m_i / M`;
//! - `kurtosis`: `Σ (f_i - c)⁴ m_i / M / s⁴` with `s² = Σ (f_i - c)² m_i / M`;
//! - `log_energy`: `ln(Σ m_i² + 1e-12)`.
//!
//! A silent row (`M = 0`) has centroid and kurtosis 0. NaN and infinities are not filtered:
//! a NaN magnitude makes every feature of its row NaN. Sums run in f64, and the logarithm
//! comes from `libm`, so native and Wasm builds compute the same bits.

/// Names of the features, in output order.
pub const COLUMNS: [&str; 4] = ["peak_hz", "centroid_hz", "kurtosis", "log_energy"];

/// The features of one magnitude spectrum whose element `i` is at `first_hz + i * step_hz`.
pub fn features(magnitudes: &[f32], first_hz: f64, step_hz: f64) -> [f32; 4] {
    let hz = |i: usize| first_hz + i as f64 * step_hz;
    let mut total = 0.0f64;
    let mut weighted = 0.0f64;
    let mut energy = 0.0f64;
    let mut peak = f64::NAN;
    let mut best = f32::NEG_INFINITY;
    let mut saw_nan = false;
    for (i, &m) in magnitudes.iter().enumerate() {
        let m64 = f64::from(m);
        total += m64;
        weighted += hz(i) * m64;
        energy += m64 * m64;
        if m.is_nan() {
            saw_nan = true;
        } else if m > best || peak.is_nan() {
            best = m;
            peak = hz(i);
        }
    }
    if saw_nan {
        peak = f64::NAN;
    }
    let (centroid, kurtosis) = if total == 0.0 {
        (0.0, 0.0)
    } else {
        let centroid = weighted / total;
        let (mut m2, mut m4) = (0.0f64, 0.0f64);
        for (i, &m) in magnitudes.iter().enumerate() {
            let d = hz(i) - centroid;
            let d2 = d * d;
            m2 += d2 * f64::from(m);
            m4 += d2 * d2 * f64::from(m);
        }
        let variance = m2 / total;
        let kurtosis = if variance == 0.0 {
            0.0
        } else {
            m4 / total / (variance * variance)
        };
        (centroid, kurtosis)
    };
    [
        peak as f32,
        centroid as f32,
        kurtosis as f32,
        libm::log(energy + 1e-12) as f32,
    ]
}

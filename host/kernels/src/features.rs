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
//! a NaN magnitude makes every feature of its row NaN. Sums run in f64, in four lanes added in
//! a fixed order (so they vectorize and every target gets the same bits), and the logarithm
//! comes from `libm`, so native and Wasm builds compute the same bits.

/// Names of the features, in output order.
pub const COLUMNS: [&str; 4] = ["peak_hz", "centroid_hz", "kurtosis", "log_energy"];

/// Independent partial sums per sum: element `i` goes to lane `i % LANES`, and the lanes are
/// added together in one fixed order at the end, so every target computes the same bits while
/// the loops vectorize (f64x2 in Wasm simd128, SSE2 or AVX natively; with Wasm's NaN
/// canonicalization on, a vector op is canonicalized once, not once per element).
const LANES: usize = 4;
const LANE_INDEX: [f64; LANES] = [0.0, 1.0, 2.0, 3.0];

/// Adds the lanes in a fixed order, then the elements left over after the last whole group.
fn total(lanes: [f64; LANES], rest: impl Iterator<Item = f64>) -> f64 {
    rest.fold((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]), |sum, x| {
        sum + x
    })
}

/// The features of one magnitude spectrum whose element `i` is at `first_hz + i * step_hz`.
pub fn features(magnitudes: &[f32], first_hz: f64, step_hz: f64) -> [f32; 4] {
    let hz = |i: usize| first_hz + i as f64 * step_hz;
    let groups = magnitudes.chunks_exact(LANES);
    let rest = groups.remainder();
    let tail = magnitudes.len() - rest.len();
    let (mut sum, mut weighted, mut energy) = ([0.0f64; LANES], [0.0f64; LANES], [0.0f64; LANES]);
    // Element indices as floats, carried per lane: exact (they are small integers), so the
    // frequencies are `hz(i)`'s bits without a conversion per element.
    let mut index = LANE_INDEX;
    for group in groups {
        for lane in 0..LANES {
            let m = f64::from(group[lane]);
            sum[lane] += m;
            weighted[lane] += (first_hz + index[lane] * step_hz) * m;
            energy[lane] += m * m;
            index[lane] += LANES as f64;
        }
    }
    let rest64 = || rest.iter().map(|&m| f64::from(m));
    let total_m = total(sum, rest64());
    let weighted = total(
        weighted,
        rest64().enumerate().map(|(j, m)| hz(tail + j) * m),
    );
    let energy = total(energy, rest64().map(|m| m * m));
    let mut peak = f64::NAN;
    let mut best = f32::NEG_INFINITY;
    let mut saw_nan = false;
    for (i, &m) in magnitudes.iter().enumerate() {
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
    let (centroid, kurtosis) = if total_m == 0.0 {
        (0.0, 0.0)
    } else {
        let centroid = weighted / total_m;
        let (mut m2, mut m4) = ([0.0f64; LANES], [0.0f64; LANES]);
        let mut index = LANE_INDEX;
        for group in magnitudes.chunks_exact(LANES) {
            for lane in 0..LANES {
                let d = (first_hz + index[lane] * step_hz) - centroid;
                let d2 = d * d;
                m2[lane] += d2 * f64::from(group[lane]);
                m4[lane] += d2 * d2 * f64::from(group[lane]);
                index[lane] += LANES as f64;
            }
        }
        let moment = |i: usize, m: f64| {
            let d = hz(i) - centroid;
            let d2 = d * d;
            (d2 * m, d2 * d2 * m)
        };
        let m2 = total(m2, rest64().enumerate().map(|(j, m)| moment(tail + j, m).0));
        let m4 = total(m4, rest64().enumerate().map(|(j, m)| moment(tail + j, m).1));
        let variance = m2 / total_m;
        let kurtosis = if variance == 0.0 {
            0.0
        } else {
            m4 / total_m / (variance * variance)
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

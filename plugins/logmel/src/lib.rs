//! Log-mel bands of a magnitude spectrum: the numeric core, and the Wasm stage around it.
//!
//! `bands` triangular filters (HTK mel scale, `mel = 2595 log10(1 + f / 700)`) spaced evenly in
//! mel between `fmin_hz` and `fmax_hz` (default: the spectrum's last bin) weight the power
//! spectrum `m²`; each band is `ln(Σ w m² + 1e-10)`. Sums run in f64 and the logarithm comes
//! from `libm`, so every build computes the same bits.

use serde::Deserialize;

/// Parameters of the stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Number of mel bands.
    #[serde(default = "default_bands")]
    pub bands: usize,
    /// Lowest frequency of the first filter, Hz.
    #[serde(default)]
    pub fmin_hz: f64,
    /// Highest frequency of the last filter, Hz (default: the spectrum's last bin).
    #[serde(default)]
    pub fmax_hz: Option<f64>,
}

fn default_bands() -> usize {
    64
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * libm::log10(1.0 + hz / 700.0)
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (libm::pow(10.0, mel / 2595.0) - 1.0)
}

/// The filters for a spectrum of `bins` bins at `first_hz + i * step_hz`: for each band, its
/// first bin and its weights from there.
#[derive(Debug, Clone)]
pub struct MelBank {
    filters: Vec<(usize, Vec<f64>)>,
}

impl MelBank {
    /// The bank, or why these parameters do not fit the spectrum.
    pub fn new(
        params: &Params,
        first_hz: f64,
        step_hz: f64,
        bins: usize,
    ) -> Result<MelBank, String> {
        let last_hz = first_hz + (bins.max(1) - 1) as f64 * step_hz;
        let fmax = params.fmax_hz.unwrap_or(last_hz);
        if params.bands == 0 || !(params.fmin_hz >= 0.0 && params.fmin_hz < fmax) || bins < 2 {
            return Err(format!(
                "need bands >= 1 and 0 <= fmin_hz < fmax_hz, got bands {}, fmin_hz {}, fmax_hz {fmax}",
                params.bands, params.fmin_hz
            ));
        }
        let (lo, hi) = (hz_to_mel(params.fmin_hz), hz_to_mel(fmax));
        let points: Vec<f64> = (0..params.bands + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (params.bands + 1) as f64))
            .collect();
        let filters = points
            .windows(3)
            .map(|edge| {
                let (left, center, right) = (edge[0], edge[1], edge[2]);
                let weight = |i: usize| {
                    let f = first_hz + i as f64 * step_hz;
                    if f > left && f <= center {
                        (f - left) / (center - left)
                    } else if f > center && f < right {
                        (right - f) / (right - center)
                    } else {
                        0.0
                    }
                };
                let first = (0..bins).position(|i| weight(i) > 0.0).unwrap_or(bins);
                let weights: Vec<f64> =
                    (first..bins).map(weight).take_while(|&w| w > 0.0).collect();
                (first, weights)
            })
            .collect();
        Ok(MelBank { filters })
    }

    /// Number of bands.
    pub fn bands(&self) -> usize {
        self.filters.len()
    }

    /// The log-mel bands of one magnitude spectrum into `out` (`bands()` long).
    pub fn apply(&self, magnitudes: &[f32], out: &mut [f32]) {
        for ((first, weights), dst) in self.filters.iter().zip(out.iter_mut()) {
            let mut energy = 0.0f64;
            for (w, &m) in weights.iter().zip(&magnitudes[*first..]) {
                let m = f64::from(m);
                energy += w * m * m;
            }
            *dst = libm::log(energy + 1e-10) as f32;
        }
    }
}

/// The Wasm component: magnitude spectra in, log-mel bands out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error};

    fn log_mel(block: &Block, params: &super::Params) -> Result<Array2<f32>, Error> {
        let axis = block
            .frequency(0)
            .ok_or_else(|| Error::Input("input 0 is not a spectrum (no frequency axis)".into()))?;
        let input = block.f32(0)?;
        let bank = super::MelBank::new(params, axis.first_hz, axis.step_hz, input.ncols())
            .map_err(Error::Params)?;
        sqrtspace_sdk::map_rows(input, bank.bands(), |_, values, out| {
            bank.apply(values, out)
        })
    }

    sqrtspace_sdk::export_stage!(
        log_mel,
        name = "logmel",
        version = env!("CARGO_PKG_VERSION"),
        description = "log-mel bands of a magnitude spectrum"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(bands: usize) -> Params {
        Params {
            bands,
            fmin_hz: 0.0,
            fmax_hz: None,
        }
    }

    #[test]
    fn mel_scale_round_trips_and_has_its_anchor() {
        assert!((hz_to_mel(1000.0) - 999.98).abs() < 0.01);
        for hz in [0.0, 440.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }

    #[test]
    fn a_tone_lights_the_band_around_it_and_silence_is_the_floor() {
        let (bins, step) = (513, 8000.0 / 512.0);
        let bank = MelBank::new(&params(20), 0.0, step, bins).expect("bank");
        let mut spectrum = vec![0.0f32; bins];
        spectrum[64] = 10.0; // 1000 Hz
        let mut out = vec![0.0f32; 20];
        bank.apply(&spectrum, &mut out);
        let loudest = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .expect("bands");
        let center = |b: usize| {
            let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
            mel_to_hz(lo + (hi - lo) * (b + 1) as f64 / 21.0)
        };
        assert!((center(loudest) - 1000.0).abs() < 300.0, "band {loudest}");
        assert!(
            out.iter()
                .filter(|&&v| v == libm::log(1e-10) as f32)
                .count()
                >= 17
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(MelBank::new(&params(0), 0.0, 1.0, 10).is_err());
        let inverted = Params {
            bands: 4,
            fmin_hz: 500.0,
            fmax_hz: Some(100.0),
        };
        assert!(MelBank::new(&inverted, 0.0, 1.0, 1000).is_err());
    }
}

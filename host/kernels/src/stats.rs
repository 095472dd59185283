//! Quantiles and median absolute deviation of each spectrum, in Rust: the reference the
//! JavaScript plugin in `plugins/stats-js` (simple-statistics) is tested against, and the
//! yardstick its speed is measured by.
//!
//! Quantiles interpolate linearly between order statistics, as numpy's default (type 7) and
//! simple-statistics do: for `n` sorted values and `p` in `[0, 1]`, `h = (n - 1) p` and the
//! quantile is `x[⌊h⌋] + (h - ⌊h⌋)(x[⌈h⌉] - x[⌊h⌋])`, in f64. The MAD is the median of
//! `|x_i - median|`. Each result is rounded to f32 once, so this and the JavaScript build give
//! the same bits for inputs without NaN.

use serde::Deserialize;

/// Which quantiles to compute; the output row is these followed by the MAD.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Probabilities in `[0, 1]`; default the quartiles.
    #[serde(default = "quartiles")]
    pub quantiles: Vec<f64>,
}

fn quartiles() -> Vec<f64> {
    vec![0.25, 0.5, 0.75]
}

impl Default for Params {
    fn default() -> Self {
        Params {
            quantiles: quartiles(),
        }
    }
}

impl Params {
    /// Why these parameters cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.quantiles.is_empty() || !self.quantiles.iter().all(|p| (0.0..=1.0).contains(p)) {
            return Err("`quantiles` must be a non-empty list of numbers in [0, 1]".into());
        }
        Ok(())
    }
}

pub use crate::quantile::quantile_sorted;

fn sort(x: &mut [f64]) {
    x.sort_unstable_by(f64::total_cmp);
}

/// The row of statistics of one spectrum (non-empty): each quantile of `params`, then the MAD.
pub fn stats(magnitudes: &[f32], params: &Params, out: &mut [f32]) {
    let mut x: Vec<f64> = magnitudes.iter().map(|&m| f64::from(m)).collect();
    sort(&mut x);
    for (dst, &p) in out.iter_mut().zip(&params.quantiles) {
        *dst = quantile_sorted(&x, p) as f32;
    }
    let median = quantile_sorted(&x, 0.5);
    let mut deviations: Vec<f64> = x.iter().map(|v| (v - median).abs()).collect();
    sort(&mut deviations);
    out[params.quantiles.len()] = quantile_sorted(&deviations, 0.5) as f32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear_interpolation() {
        // numpy.quantile([1, 2, 4, 8], [0, .25, .5, .75, .9, 1]) = 1, 1.75, 3, 5, 6.8, 8
        let x = [1.0, 2.0, 4.0, 8.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0]
            .iter()
            .map(|&p| quantile_sorted(&x, p))
            .collect();
        assert_eq!(got[..4], [1.0, 1.75, 3.0, 5.0]);
        assert!((got[4] - 6.8).abs() < 1e-12 && got[5] == 8.0);
    }

    #[test]
    fn mad_is_the_median_of_absolute_deviations() {
        // simple-statistics' own example: medianAbsoluteDeviation([1, 1, 2, 2, 4, 6, 9]) = 1.
        let mut out = [0.0f32; 4];
        stats(
            &[9.0, 1.0, 2.0, 6.0, 1.0, 4.0, 2.0],
            &Params::default(),
            &mut out,
        );
        // Quartiles of 1 1 2 2 4 6 9: h = 1.5, 3, 4.5.
        assert_eq!(out, [1.5, 2.0, 5.0, 1.0]);
    }

    #[test]
    fn bad_quantiles_are_refused() {
        assert!(Params { quantiles: vec![] }.check().is_err());
        assert!(
            Params {
                quantiles: vec![1.5]
            }
            .check()
            .is_err()
        );
        assert!(Params::default().check().is_ok());
    }
}

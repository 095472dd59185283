//! Zero-crossing rate, in Rust: the reference the C plugin in `plugins/zcr-c` is tested
//! against, and the yardstick its speed is measured by.
//!
//! The rate of a window is the fraction of neighbouring pairs of samples whose signs differ,
//! a sample of zero counting as positive: `crossings / (n - 1)`, divided in f64 and rounded
//! to f32 once.

/// The zero-crossing rate of `samples` (at least two).
pub fn zcr(samples: &[f32]) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|pair| (pair[0] >= 0.0) != (pair[1] >= 0.0))
        .count();
    (crossings as f64 / (samples.len() - 1) as f64) as f32
}

/// The Wasm component: windows of samples in, one rate per window out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error, NoParams};

    fn zero_crossing_rate(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
        let input = block.f32(0)?;
        if input.ncols() < 2 {
            return Err(Error::Input(
                "zcr needs rows of at least two samples".into(),
            ));
        }
        sqrtspace_sdk::map_rows(input, 1, |_, samples, out| out[0] = super::zcr(samples))
    }

    sqrtspace_sdk::export_stage!(
        zero_crossing_rate,
        name = "zcr-rust",
        version = env!("CARGO_PKG_VERSION"),
        description = "zero-crossing rate of each window (Rust)"
    );
}

#[cfg(test)]
mod tests {
    use super::zcr;

    #[test]
    fn counts_sign_changes_with_zero_as_positive() {
        assert_eq!(zcr(&[1.0, -1.0, 1.0, -1.0, 1.0]), 1.0);
        assert_eq!(zcr(&[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(zcr(&[-1.0, 0.0, -0.0, 1.0, -2.0]), 0.5);
    }
}

//! Per-row standardization: each row (a patch, flattened) minus its mean, over its standard
//! deviation plus `eps`. Sums run in f64 in element order, and the square root is IEEE's, so
//! every build computes the same bits.

use serde::Deserialize;

/// Parameters of the stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Added to the standard deviation, so a constant row does not divide by zero.
    #[serde(default = "default_eps")]
    pub eps: f64,
}

fn default_eps() -> f64 {
    1e-6
}

impl Default for Params {
    fn default() -> Self {
        Params { eps: default_eps() }
    }
}

/// Standardizes `row` in place.
pub fn normalize(row: &mut [f32], params: &Params) {
    let n = row.len().max(1) as f64;
    let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let variance = row
        .iter()
        .map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean))
        .sum::<f64>()
        / n;
    let scale = 1.0 / (variance.sqrt() + params.eps);
    for v in row.iter_mut() {
        *v = ((f64::from(*v) - mean) * scale) as f32;
    }
}

/// The Wasm component: rows of any shape in, standardized rows of the same shape out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_sdk::ndarray::{ArrayD, IxDyn};
    use sqrtspace_sdk::{Block, Error};

    fn standardize(block: &Block, params: &super::Params) -> Result<ArrayD<f32>, Error> {
        let layout = block
            .layout(0)
            .ok_or_else(|| Error::Input("normalize reads one input".into()))?;
        let input = block.f32(0)?;
        let out = sqrtspace_sdk::map_rows(input, input.ncols(), |_, row, values| {
            values.copy_from_slice(row);
            super::normalize(values, params);
        })?;
        let mut shape = vec![out.nrows()];
        shape.extend(&layout.row_shape);
        out.into_shape_with_order(IxDyn(&shape))
            .map_err(|e| Error::Failed(e.to_string()))
    }

    sqrtspace_sdk::export_stage!(
        standardize,
        name = "normalize",
        version = env!("CARGO_PKG_VERSION"),
        description = "each row to zero mean and unit variance"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_get_zero_mean_and_unit_variance() {
        let mut row: Vec<f32> = (0..100).map(|v| v as f32 * 3.0 + 7.0).collect();
        normalize(&mut row, &Params::default());
        let mean: f64 = row.iter().map(|&v| f64::from(v)).sum::<f64>() / 100.0;
        let var: f64 = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 100.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
        let mut flat = vec![5.0f32; 10];
        normalize(&mut flat, &Params::default());
        assert!(flat.iter().all(|&v| v == 0.0));
    }
}

//! `SpectralFeatures`: four numbers per magnitude spectrum — peak frequency, centroid,
//! kurtosis and log energy. The arithmetic is the `features` plugin crate's, so this native
//! stage and the Wasm plugin compute the same bits; its documentation gives the definitions.

use std::sync::Arc;

use super::expect_rank1;
use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Tensor};

/// Names of the output columns, in order.
pub use sqrtspace_kernels::features::COLUMNS;

/// Builds the operator for one f32 magnitude spectrum.
pub fn build(ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::F32)?;
    expect_rank1(input, 0)?;
    let axis = input.freq_axis.ok_or_else(|| BuildError::Input {
        index: 0,
        message: "is not a spectrum (no frequency axis); use the Magnitude of a WindowFft".into(),
    })?;
    Ok(Arc::new(FeaturesOp {
        axis,
        output: Port::plain(DType::F32, vec![COLUMNS.len()]),
    }))
}

#[derive(Debug)]
struct FeaturesOp {
    axis: FreqAxis,
    output: Port,
}

impl Operator for FeaturesOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(SpectralFeatures {
            axis: self.axis,
        })))
    }
}

struct SpectralFeatures {
    axis: FreqAxis,
}

/// The four features of one magnitude spectrum.
pub fn features(magnitudes: &[f32], axis: FreqAxis) -> [f32; 4] {
    sqrtspace_kernels::features::features(magnitudes, axis.first_hz, axis.step_hz)
}

impl Pure for SpectralFeatures {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let input = call.input(0)?.typed::<f32>()?;
        let output = out.reset::<f32>(call.rows, &[COLUMNS.len()]);
        for (row, dst) in input.iter().zip(output.chunks_exact_mut(COLUMNS.len())) {
            dst.copy_from_slice(&features(row, self.axis));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::{call_with_ports, seeded_f32};
    use crate::tensor::Layout;
    use ndarray::Array1;

    /// The textbook definitions written with whole-array operations.
    fn reference(m: &[f32], axis: FreqAxis) -> [f64; 4] {
        let m = Array1::from_iter(m.iter().map(|&v| f64::from(v)));
        let f = Array1::from_iter((0..m.len()).map(|i| axis.hz(i)));
        let total = m.sum();
        let centroid = f.dot(&m) / total;
        let dev = &f - centroid;
        let variance = (&dev * &dev).dot(&m) / total;
        let kurt = (&dev * &dev * &dev * &dev).dot(&m) / total / variance.powi(2);
        let argmax = m
            .iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
            )
            .0;
        [axis.hz(argmax), centroid, kurt, (m.dot(&m) + 1e-12).ln()]
    }

    fn run(magnitudes: Vec<f32>, rows: usize, axis: FreqAxis) -> Tensor {
        let width = magnitudes.len() / rows;
        let input = Tensor::new(rows, vec![width], magnitudes).expect("valid");
        let port = Port {
            layout: Layout::new(DType::F32, vec![width]),
            freq_axis: Some(axis),
        };
        call_with_ports(build, &[&input], &[port], 48_000.0).expect("runs")
    }

    #[test]
    fn matches_reference_on_seeded_spectra() {
        let axis = FreqAxis {
            first_hz: 80.0,
            step_hz: 11.71875,
        };
        let rows = 16;
        let width = 164;
        let mags: Vec<f32> = seeded_f32(rows * width, 7)
            .iter()
            .map(|v| v.abs() * 10.0)
            .collect();
        let out = run(mags.clone(), rows, axis);
        let view = out.view();
        let got = view.typed::<f32>().expect("f32");
        for r in 0..rows {
            let expected = reference(&mags[r * width..(r + 1) * width], axis);
            for (c, (&g, &e)) in got.row(r).iter().zip(&expected).enumerate() {
                let tol = 1e-5 * e.abs().max(1.0);
                assert!(
                    (f64::from(g) - e).abs() <= tol,
                    "row {r} {}: {g} vs {e}",
                    COLUMNS[c]
                );
            }
        }
    }

    #[test]
    fn pure_tone_has_peak_and_centroid_at_its_bin() {
        let axis = FreqAxis {
            first_hz: 0.0,
            step_hz: 10.0,
        };
        let mut mags = vec![0.0f32; 10];
        mags[3] = 2.0;
        let out = run(mags, 1, axis);
        let view = out.view();
        let row = view.typed::<f32>().expect("f32").row(0).to_vec();
        assert_eq!(row[0], 30.0);
        assert_eq!(row[1], 30.0);
        assert_eq!(row[2], 0.0, "zero spread gives kurtosis 0");
        assert_eq!(row[3], (4.0f64 + 1e-12).ln() as f32);
    }

    #[test]
    fn silence_and_nan() {
        let axis = FreqAxis {
            first_hz: 0.0,
            step_hz: 1.0,
        };
        let silent = features(&[0.0; 4], axis);
        assert_eq!(&silent[..3], &[0.0, 0.0, 0.0]);
        let with_nan = features(&[1.0, f32::NAN, 2.0], axis);
        assert!(with_nan.iter().all(|v| v.is_nan()), "{with_nan:?}");
        let with_inf = features(&[1.0, f32::INFINITY, 2.0], axis);
        assert_eq!(with_inf[0], 1.0);
        assert_eq!(with_inf[3], f32::INFINITY);
    }
}

//! `WindowFft`: multiplies each window by a window function and takes its real FFT.
//!
//! Rows of `n` f32 samples become rows of `n / 2 + 1` complex bins (unnormalized, like
//! `numpy.fft.rfft`), bin `k` at `k * sample_rate / n` Hz. FFT plans come from one
//! process-wide planner and the work buffers live in the instance, so the hot loop allocates
//! nothing.
//!
//! [`build_band`] makes the same stage with a `Bandpass` after it, for the planner to fuse the
//! two when the band-pass is the FFT's only reader: each spectrum then goes to one row of
//! scratch, which stays in the first-level cache, and only the band is copied out, instead of
//! every bin of every window of a block going out to a block the size of the second-level cache
//! and a fraction of them coming back. The bits are the two stages': the same FFT, and a
//! band-pass copies bins.

use std::sync::{Arc, Mutex, OnceLock};

use realfft::{RealFftPlanner, RealToComplex};

use super::{bandpass, expect_rank1};
use crate::spec::{BandpassParams, WindowFftParams, WindowFunction};
use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{Complex32, DType, Tensor};

impl WindowFunction {
    /// The `n` coefficients, computed in f64 and rounded once to f32.
    pub fn coefficients(self, n: usize) -> Vec<f32> {
        let (a0, a1) = match self {
            WindowFunction::Hann => (0.5, 0.5),
            WindowFunction::Hamming => (0.54, 0.46),
            WindowFunction::Rectangular => (1.0, 0.0),
        };
        (0..n)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                (a0 - a1 * phase.cos()) as f32
            })
            .collect()
    }
}

fn plan(n: usize) -> Arc<dyn RealToComplex<f32>> {
    static PLANNER: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();
    let planner = PLANNER.get_or_init(|| Mutex::new(RealFftPlanner::new()));
    // A poisoned lock only means another thread panicked while planning; the cache inside is
    // still a valid map of finished plans.
    let mut planner = planner.lock().unwrap_or_else(|poison| poison.into_inner());
    planner.plan_fft_forward(n)
}

/// Builds the operator for one input of f32 windows.
pub fn build(
    params: &WindowFftParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    Ok(Arc::new(whole_spectrum(params, ctx)?))
}

/// Builds a `WindowFft` with a `Bandpass` after it as one operator, whose rows are the band's
/// (see the module's documentation). `ctx` is the FFT's.
pub(crate) fn build_band(
    params: &WindowFftParams,
    band: &BandpassParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    let whole = whole_spectrum(params, ctx)?;
    let spectrum = [whole.output.clone()];
    let (bins, output) = bandpass::band(
        band,
        &BuildContext {
            inputs: &spectrum,
            ..*ctx
        },
    )?;
    Ok(Arc::new(WindowFftOp {
        band: Some(bins),
        output,
        ..whole
    }))
}

fn whole_spectrum(
    params: &WindowFftParams,
    ctx: &BuildContext<'_>,
) -> Result<WindowFftOp, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::F32)?;
    let n = expect_rank1(input, 0)?;
    if n == 0 {
        return Err(BuildError::Input {
            index: 0,
            message: "rows are empty".into(),
        });
    }
    Ok(WindowFftOp {
        coefficients: params.window.coefficients(n).into(),
        fft: plan(n),
        band: None,
        output: Port {
            layout: crate::tensor::Layout::new(DType::C32, vec![n / 2 + 1]),
            freq_axis: Some(FreqAxis {
                first_hz: 0.0,
                step_hz: ctx.sample_rate / n as f64,
            }),
        },
    })
}

struct WindowFftOp {
    coefficients: Arc<[f32]>,
    fft: Arc<dyn RealToComplex<f32>>,
    /// The bins a fused band-pass keeps; `None` for the whole spectrum.
    band: Option<std::ops::Range<usize>>,
    output: Port,
}

impl std::fmt::Debug for WindowFftOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowFft")
            .field("n", &self.coefficients.len())
            .field("band", &self.band)
            .finish()
    }
}

impl Operator for WindowFftOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(WindowFft {
            coefficients: Arc::clone(&self.coefficients),
            work: self.fft.make_input_vec(),
            scratch: self.fft.make_scratch_vec(),
            band: self
                .band
                .clone()
                .map(|bins| (bins, self.fft.make_output_vec())),
            fft: Arc::clone(&self.fft),
        })))
    }
}

/// One instance: the shared plan and window, its own work buffers.
struct WindowFft {
    coefficients: Arc<[f32]>,
    fft: Arc<dyn RealToComplex<f32>>,
    work: Vec<f32>,
    scratch: Vec<Complex32>,
    /// A fused band-pass's bins and the one spectrum they are copied from.
    band: Option<(std::ops::Range<usize>, Vec<Complex32>)>,
}

impl WindowFft {
    /// The spectrum of one window, into `spectrum` (all its bins).
    fn transform(&mut self, row: &[f32], spectrum: &mut [Complex32]) -> Result<(), StageError> {
        for ((w, &x), &c) in self.work.iter_mut().zip(row).zip(self.coefficients.iter()) {
            *w = x * c;
        }
        self.fft
            .process_with_scratch(&mut self.work, spectrum, &mut self.scratch)
            .map_err(|e| StageError::Failed(format!("FFT: {e}")))
    }
}

impl Pure for WindowFft {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let input = call.input(0)?.typed::<f32>()?;
        match self.band.take() {
            None => {
                let bins = self.fft.complex_len();
                let output = out.reset::<Complex32>(call.rows, &[bins]);
                for (row, spectrum) in input.iter().zip(output.chunks_exact_mut(bins)) {
                    self.transform(row, spectrum)?;
                }
                Ok(())
            }
            Some((bins, mut spectrum)) => {
                let output = out.reset::<Complex32>(call.rows, &[bins.len()]);
                let done = input
                    .iter()
                    .zip(output.chunks_exact_mut(bins.len()))
                    .try_for_each(|(row, kept)| {
                        self.transform(row, &mut spectrum)?;
                        kept.copy_from_slice(&spectrum[bins.clone()]);
                        Ok(())
                    });
                self.band = Some((bins, spectrum));
                done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::{call_stage, seeded_f32};

    /// Direct O(n²) DFT of the windowed row, in f64.
    fn naive_dft(row: &[f32], window: &[f32]) -> Vec<(f64, f64)> {
        let n = row.len();
        (0..n / 2 + 1)
            .map(|k| {
                row.iter()
                    .zip(window)
                    .enumerate()
                    .fold((0.0, 0.0), |(re, im), (i, (&x, &w))| {
                        let v = f64::from(x * w);
                        let phase = -2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                        (re + v * phase.cos(), im + v * phase.sin())
                    })
            })
            .collect()
    }

    #[test]
    fn matches_naive_dft_for_every_window_function_and_odd_even_sizes() {
        for &n in &[1usize, 2, 7, 64, 100, 257] {
            for window in [
                WindowFunction::Hann,
                WindowFunction::Hamming,
                WindowFunction::Rectangular,
            ] {
                let rows = 3;
                let input = Tensor::new(rows, vec![n], seeded_f32(rows * n, n as u64))
                    .expect("valid tensor");
                let params = WindowFftParams { window };
                let out = call_stage(|ctx| build(&params, ctx), &[&input], 48_000.0).expect("runs");
                let coefficients = window.coefficients(n);
                let got = out.view();
                let got = got.typed::<Complex32>().expect("complex output");
                let input_view = input.view();
                let input_rows = input_view.typed::<f32>().expect("f32");
                for r in 0..rows {
                    let expected = naive_dft(input_rows.row(r), &coefficients);
                    let scale = (n as f64).sqrt();
                    for (bin, (z, (re, im))) in got.row(r).iter().zip(&expected).enumerate() {
                        let err = (f64::from(z.re) - re).hypot(f64::from(z.im) - im);
                        assert!(
                            err <= 1e-5 * scale,
                            "n={n} {window:?} row {r} bin {bin}: {z} vs ({re}, {im}), err {err}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn periodic_hann_matches_its_formula() {
        let w = WindowFunction::Hann.coefficients(4);
        assert_eq!(w, vec![0.0, 0.5, 1.0, 0.5]);
        assert_eq!(WindowFunction::Rectangular.coefficients(3), vec![1.0; 3]);
    }

    #[test]
    fn output_port_is_a_spectrum() {
        let input = Tensor::new(0, vec![8], Vec::<f32>::new()).expect("valid");
        let port = [Port::plain(DType::F32, vec![8])];
        let ctx = BuildContext {
            inputs: &port,
            sample_rate: 8000.0,
            window: 8,
            hop: 4,
            base_dir: None,
        };
        let op = build(&WindowFftParams::default(), &ctx).expect("builds");
        assert_eq!(op.output().layout.row_shape, vec![5]);
        assert_eq!(op.output().freq_axis.map(|a| a.step_hz), Some(1000.0));
        assert_eq!(input.rows(), 0);
    }

    #[test]
    fn rejects_wrong_dtype_and_arity() {
        let complex = [Port::plain(DType::C32, vec![8])];
        let ctx = BuildContext {
            inputs: &complex,
            sample_rate: 8000.0,
            window: 8,
            hop: 4,
            base_dir: None,
        };
        let err = build(&WindowFftParams::default(), &ctx).unwrap_err();
        assert_eq!(err.to_string(), "input 0 must be f32, but it is c32");
        let ctx = BuildContext { inputs: &[], ..ctx };
        let err = build(&WindowFftParams::default(), &ctx).unwrap_err();
        assert_eq!(err.to_string(), "takes 1 input(s), got 0");
    }
}

//! `Bandpass`: keeps the spectrum bins whose frequency lies in `[lo_hz, hi_hz]`.
//!
//! The output holds only those bins (its frequency axis starts at the first kept bin), so
//! every later stage works on the band, not on the whole spectrum.

use std::sync::Arc;

use super::expect_rank1;
use crate::spec::BandpassParams;
use crate::stage::{
    BuildContext, BuildError, FreqAxis, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{Complex32, DType, Element, Layout, Tensor};

/// Builds the operator for one spectrum input (complex or real).
pub fn build(
    params: &BandpassParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    let (bins, output) = band(params, ctx)?;
    Ok(Arc::new(BandpassOp { bins, output }))
}

/// The bins of the input spectrum that the band keeps, and the port of the band.
pub(crate) fn band(
    params: &BandpassParams,
    ctx: &BuildContext<'_>,
) -> Result<(std::ops::Range<usize>, Port), BuildError> {
    ctx.expect_inputs(1)?;
    let input = &ctx.inputs[0];
    let bins = expect_rank1(input, 0)?;
    let axis = input.freq_axis.ok_or_else(|| BuildError::Input {
        index: 0,
        message: "is not a spectrum (no frequency axis); put a WindowFft before Bandpass".into(),
    })?;
    let BandpassParams { lo_hz, hi_hz } = *params;
    if !(lo_hz.is_finite() && hi_hz.is_finite() && 0.0 <= lo_hz && lo_hz <= hi_hz) {
        return Err(BuildError::Param(format!(
            "needs 0 <= lo_hz <= hi_hz, got lo_hz {lo_hz}, hi_hz {hi_hz}"
        )));
    }
    let nyquist = ctx.sample_rate / 2.0;
    if hi_hz > nyquist {
        return Err(BuildError::Param(format!(
            "hi_hz {hi_hz} is above the Nyquist frequency {nyquist} Hz (sample_rate {})",
            ctx.sample_rate
        )));
    }
    let kept: Vec<usize> = (0..bins)
        .filter(|&i| (lo_hz..=hi_hz).contains(&axis.hz(i)))
        .collect();
    let (Some(&first), Some(&last)) = (kept.first(), kept.last()) else {
        return Err(BuildError::Param(format!(
            "keeps no bins: no bin of the spectrum (spacing {} Hz) lies in [{lo_hz}, {hi_hz}] Hz",
            axis.step_hz
        )));
    };
    let dtype = input.layout.dtype;
    if !matches!(dtype, DType::C32 | DType::F32) {
        return Err(BuildError::DType {
            index: 0,
            expected: DType::C32,
            found: dtype,
        });
    }
    Ok((
        first..last + 1,
        Port {
            layout: Layout::new(dtype, vec![last + 1 - first]),
            freq_axis: Some(FreqAxis {
                first_hz: axis.hz(first),
                step_hz: axis.step_hz,
            }),
        },
    ))
}

#[derive(Debug)]
struct BandpassOp {
    bins: std::ops::Range<usize>,
    output: Port,
}

impl Operator for BandpassOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(Bandpass {
            bins: self.bins.clone(),
        })))
    }
}

struct Bandpass {
    bins: std::ops::Range<usize>,
}

impl Bandpass {
    fn keep<T: Element>(&self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let input = call.input(0)?.typed::<T>()?;
        let width = self.bins.len();
        let output = out.reset::<T>(call.rows, &[width]);
        for (row, kept) in input.iter().zip(output.chunks_exact_mut(width)) {
            kept.clone_from_slice(&row[self.bins.clone()]);
        }
        Ok(())
    }
}

impl Pure for Bandpass {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        match call.input(0)?.dtype() {
            DType::F32 => self.keep::<f32>(call, out),
            _ => self.keep::<Complex32>(call, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::call_with_ports;

    fn spectrum_port(bins: usize, step_hz: f64) -> Port {
        Port {
            layout: Layout::new(DType::C32, vec![bins]),
            freq_axis: Some(FreqAxis {
                first_hz: 0.0,
                step_hz,
            }),
        }
    }

    #[test]
    fn keeps_exactly_the_bins_in_band_inclusive() {
        // 9 bins at 0, 10, ..., 80 Hz; sample rate 160.
        let values: Vec<Complex32> = (0..18)
            .map(|i| Complex32::new(i as f32, -(i as f32)))
            .collect();
        let input = Tensor::new(2, vec![9], values).expect("valid");
        let params = BandpassParams {
            lo_hz: 15.0,
            hi_hz: 40.0,
        };
        let out = call_with_ports(
            |ctx| build(&params, ctx),
            &[&input],
            &[spectrum_port(9, 10.0)],
            160.0,
        )
        .expect("runs");
        let view = out.view();
        let rows = view.typed::<Complex32>().expect("complex");
        let kept: Vec<f32> = rows.row(1).iter().map(|z| z.re).collect();
        // Row 1 holds 9..18; bins 2, 3, 4 are 20, 30 and 40 Hz.
        assert_eq!(kept, vec![11.0, 12.0, 13.0]);
    }

    #[test]
    fn output_axis_starts_at_first_kept_bin() {
        let ports = [spectrum_port(9, 10.0)];
        let ctx = BuildContext {
            inputs: &ports,
            sample_rate: 160.0,
            window: 16,
            hop: 16,
            base_dir: None,
        };
        let op = build(
            &BandpassParams {
                lo_hz: 20.0,
                hi_hz: 40.0,
            },
            &ctx,
        )
        .expect("builds");
        assert_eq!(op.output().layout.row_shape, vec![3]);
        assert_eq!(op.output().freq_axis.map(|a| a.first_hz), Some(20.0));
    }

    #[test]
    fn rejects_bad_bands() {
        let ports = [spectrum_port(9, 10.0)];
        let ctx = BuildContext {
            inputs: &ports,
            sample_rate: 160.0,
            window: 16,
            hop: 16,
            base_dir: None,
        };
        let err = |lo_hz, hi_hz| {
            build(&BandpassParams { lo_hz, hi_hz }, &ctx)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(50.0, 40.0),
            "needs 0 <= lo_hz <= hi_hz, got lo_hz 50, hi_hz 40"
        );
        assert_eq!(
            err(10.0, 90.0),
            "hi_hz 90 is above the Nyquist frequency 80 Hz (sample_rate 160)"
        );
        assert_eq!(
            err(11.0, 19.0),
            "keeps no bins: no bin of the spectrum (spacing 10 Hz) lies in [11, 19] Hz"
        );
        let plain = [Port::plain(DType::F32, vec![9])];
        let ctx = BuildContext {
            inputs: &plain,
            ..ctx
        };
        assert!(
            build(
                &BandpassParams {
                    lo_hz: 0.0,
                    hi_hz: 10.0
                },
                &ctx
            )
            .unwrap_err()
            .to_string()
            .contains("is not a spectrum")
        );
    }
}

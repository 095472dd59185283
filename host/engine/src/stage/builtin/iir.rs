//! `Iir`: a stateful kernel that filters every element of the row along time (across
//! windows) with a cascade of biquad sections. The arithmetic and the state format are the
//! `iir` plugin crate's, so this native kernel and the Wasm plugin compute the same bits.

use std::sync::Arc;

use sqrtspace_kernels::iir::State;
use sqrtspace_kernels::iir::{Params, Section, Start};

use crate::stage::{
    BuildContext, BuildError, Instance, Kernel, Operator, Port, StageCall, StageError,
};
use crate::tensor::{DType, Layout, Tensor};

/// Builds the kernel for one f32 input of any row shape.
pub fn build(params: &Params, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::F32)?;
    let sections = params
        .filter
        .sections(ctx.frame_rate())
        .map_err(BuildError::Param)?;
    sqrtspace_kernels::iir::check_start(&sections, params.start).map_err(BuildError::Param)?;
    Ok(Arc::new(IirOp {
        start: params.start,
        sections: sections.into(),
        width: input.layout.row_len(),
        output: Port {
            layout: Layout::new(DType::F32, input.layout.row_shape.clone()),
            freq_axis: input.freq_axis,
        },
    }))
}

#[derive(Debug)]
struct IirOp {
    sections: Arc<[Section]>,
    start: Start,
    width: usize,
    output: Port,
}

impl Operator for IirOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn is_kernel(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Kernel(Box::new(Iir::with_start(
            Arc::clone(&self.sections),
            self.width,
            self.start,
        ))))
    }
}

/// The cascade for `width` independent signals, with its state.
#[derive(Debug)]
pub struct Iir {
    sections: Arc<[Section]>,
    width: usize,
    start: Start,
    state: State,
}

impl Iir {
    /// A cascade in its zero initial state.
    #[cfg(test)]
    fn new(sections: Arc<[Section]>, width: usize) -> Iir {
        Iir::with_start(sections, width, Start::Zero)
    }

    /// A cascade that starts as `start` says.
    pub fn with_start(sections: Arc<[Section]>, width: usize, start: Start) -> Iir {
        Iir {
            state: State::new(width, sections.len(), start),
            sections,
            width,
            start,
        }
    }
}

impl Kernel for Iir {
    fn reset(&mut self) -> Result<(), StageError> {
        self.state = State::new(self.width, self.sections.len(), self.start);
        Ok(())
    }

    fn step(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let view = call.input(0)?;
        let input = view.typed::<f32>()?;
        let output = out.reset::<f32>(call.rows, view.row_shape());
        for (row, dst) in input.iter().zip(output.chunks_exact_mut(self.width.max(1))) {
            sqrtspace_kernels::iir::filter_row(&self.sections, &mut self.state, row, dst);
        }
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        self.state.to_bytes()
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        self.state =
            State::from_bytes(bytes, self.width, self.sections.len()).map_err(StageError::State)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::seeded_f32;
    use proptest::prelude::*;
    use sqrtspace_kernels::iir::Filter;

    /// Direct form I, sample by sample, section by section, with explicit histories.
    fn direct_form_one(sections: &[Section], x: &[f64]) -> Vec<f64> {
        let mut signal = x.to_vec();
        for &[b0, b1, b2, a1, a2] in sections {
            let mut y = vec![0.0; signal.len()];
            for n in 0..signal.len() {
                let xn1 = if n >= 1 { signal[n - 1] } else { 0.0 };
                let xn2 = if n >= 2 { signal[n - 2] } else { 0.0 };
                let yn1 = if n >= 1 { y[n - 1] } else { 0.0 };
                let yn2 = if n >= 2 { y[n - 2] } else { 0.0 };
                y[n] = b0 * signal[n] + b1 * xn1 + b2 * xn2 - a1 * yn1 - a2 * yn2;
            }
            signal = y;
        }
        signal
    }

    fn run_whole(iir: &mut Iir, input: &Tensor) -> Tensor {
        let views = [input.view()];
        let call = StageCall {
            t0: 0,
            rows: input.rows(),
            context_rows: 0,
            inputs: &views,
        };
        let mut out = Tensor::empty(&input.layout());
        iir.step(&call, &mut out).expect("steps");
        out
    }

    fn two_sections() -> Arc<[Section]> {
        let lp = Filter::Lowpass {
            cutoff_hz: 3.0,
            q: std::f64::consts::FRAC_1_SQRT_2,
        }
        .sections(46.875)
        .expect("valid");
        let hp = Filter::Highpass {
            cutoff_hz: 0.5,
            q: 0.9,
        }
        .sections(46.875)
        .expect("valid");
        [lp, hp].concat().into()
    }

    #[test]
    fn matches_direct_form_one_per_signal() {
        let (rows, width) = (500, 3);
        let values = seeded_f32(rows * width, 42);
        let input = Tensor::new(rows, vec![width], values.clone()).expect("valid");
        let sections = two_sections();
        let out = run_whole(&mut Iir::new(Arc::clone(&sections), width), &input);
        let view = out.view();
        let got = view.typed::<f32>().expect("f32");
        for c in 0..width {
            let x: Vec<f64> = (0..rows)
                .map(|r| f64::from(values[r * width + c]))
                .collect();
            let expected = direct_form_one(&sections, &x);
            for (r, e) in expected.iter().enumerate() {
                let g = f64::from(got.row(r)[c]);
                assert!(
                    (g - e).abs() <= 1e-6 * e.abs().max(1e-3),
                    "signal {c} row {r}: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn rbj_lowpass_has_unit_dc_gain() {
        let s = Filter::Lowpass {
            cutoff_hz: 2.0,
            q: std::f64::consts::FRAC_1_SQRT_2,
        }
        .sections(50.0)
        .expect("valid");
        let [b0, b1, b2, a1, a2] = s[0];
        assert!(((b0 + b1 + b2) / (1.0 + a1 + a2) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sos_is_normalized_by_a0_and_validated() {
        let s = Filter::Sos {
            sections: vec![[2.0, 4.0, 2.0, 2.0, 1.0, 0.5]],
        }
        .sections(1.0)
        .expect("valid");
        assert_eq!(s, vec![[1.0, 2.0, 1.0, 0.5, 0.25]]);
        let err = Filter::Sos {
            sections: vec![[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]],
        }
        .sections(1.0)
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "section 0 needs finite coefficients and a0 != 0"
        );
        let err = Filter::Lowpass {
            cutoff_hz: 30.0,
            q: 0.7,
        }
        .sections(50.0)
        .unwrap_err();
        assert!(
            err.to_string().starts_with("needs 0 < cutoff_hz < 25"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_state_of_the_wrong_size() {
        let mut a = Iir::new(two_sections(), 3);
        let b = Iir::new(two_sections(), 2);
        let err = a.load_state(&b.save_state()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot restore kernel state: state is for 2 signals x 2 sections, this filter has 3 x 2"
        );
        assert!(a.load_state(&[1, 2, 3]).is_err());
    }

    proptest! {
        /// Any chunking, with the state saved to bytes and restored into a fresh instance at
        /// every boundary, gives the bits of one pass.
        #[test]
        fn chunked_with_state_round_trips_equals_one_pass(
            cuts in proptest::collection::vec(0usize..300, 0..6),
            seed in 0u64..1000,
        ) {
            let (rows, width) = (300, 2);
            let input = Tensor::new(rows, vec![width], seeded_f32(rows * width, seed)).expect("valid");
            let whole = run_whole(&mut Iir::new(two_sections(), width), &input);
            let mut bounds: Vec<usize> = cuts.into_iter().chain([0, rows]).collect();
            bounds.sort_unstable();
            let mut state = Iir::new(two_sections(), width).save_state();
            let mut joined = Tensor::empty(&input.layout());
            for pair in bounds.windows(2) {
                let mut iir = Iir::new(two_sections(), width);
                iir.load_state(&state).expect("own state loads");
                let part = input.slice_rows(pair[0]..pair[1]).to_tensor();
                let out = run_whole(&mut iir, &part);
                joined.extend_rows(&out.view());
                state = iir.save_state();
            }
            prop_assert!(joined.bit_identical(&whole));
        }
    }
}

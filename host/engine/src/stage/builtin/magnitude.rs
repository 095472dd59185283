//! `Magnitude`: the absolute value `sqrt(re² + im²)` of every complex element.

use std::sync::Arc;

use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{Complex32, DType, Layout, Tensor};

/// Builds the operator for one complex input; the output keeps its shape and frequency axis.
pub fn build(ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::C32)?;
    Ok(Arc::new(MagnitudeOp {
        output: Port {
            layout: Layout::new(DType::F32, input.layout.row_shape.clone()),
            freq_axis: input.freq_axis,
        },
    }))
}

#[derive(Debug)]
struct MagnitudeOp {
    output: Port,
}

impl Operator for MagnitudeOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(Magnitude)))
    }
}

struct Magnitude;

impl Pure for Magnitude {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let input = call.input(0)?;
        let rows = input.typed::<Complex32>()?;
        let width = rows.row_len();
        let output = out.reset::<f32>(call.rows, input.row_shape());
        for (row, mags) in rows.iter().zip(output.chunks_exact_mut(width.max(1))) {
            for (m, z) in mags.iter_mut().zip(row) {
                *m = (z.re * z.re + z.im * z.im).sqrt();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::call_stage;

    #[test]
    fn computes_modulus_and_passes_non_finite_values_through() {
        let values = vec![
            Complex32::new(3.0, 4.0),
            Complex32::new(-5.0, 12.0),
            Complex32::new(f32::NAN, 0.0),
            Complex32::new(f32::INFINITY, 1.0),
        ];
        let input = Tensor::new(2, vec![2], values).expect("valid");
        let out = call_stage(build, &[&input], 1.0).expect("runs");
        let view = out.view();
        let rows = view.typed::<f32>().expect("f32");
        assert_eq!(rows.row(0), &[5.0, 13.0]);
        assert!(rows.row(1)[0].is_nan());
        assert_eq!(rows.row(1)[1], f32::INFINITY);
    }

    #[test]
    fn needs_complex_input() {
        let input = Tensor::new(1, vec![1], vec![1.0f32]).expect("valid");
        let err = call_stage(build, &[&input], 1.0).unwrap_err();
        assert_eq!(err, "input 0 must be c32, but it is f32");
    }
}

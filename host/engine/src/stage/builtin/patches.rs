//! `Patches(rows)`: each output row is the last `rows` input rows stacked, oldest first (a
//! patch, or shingle, of a spectrogram for a model that reads several frames at once). Rows
//! before the stream's first window are zeros.
//!
//! It declares `rows - 1` rows of context, so a patch whose earlier rows belong to the previous
//! block is the same patch whatever the block size.

use std::sync::Arc;

use crate::spec::PatchesParams;
use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Layout, Tensor};

/// Builds the operator for one f32 input; rows of shape `s` become rows of `[rows, s...]`.
pub fn build(
    params: &PatchesParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::F32)?;
    if params.rows == 0 {
        return Err(BuildError::Param("rows must be at least 1".into()));
    }
    let mut shape = vec![params.rows];
    shape.extend(&input.layout.row_shape);
    Ok(Arc::new(PatchesOp {
        rows: params.rows,
        output: Port {
            layout: Layout::new(DType::F32, shape),
            freq_axis: None,
        },
    }))
}

#[derive(Debug)]
struct PatchesOp {
    rows: usize,
    output: Port,
}

impl Operator for PatchesOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn context(&self) -> usize {
        self.rows - 1
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(Patches {
            rows: self.rows,
            shape: self.output.layout.row_shape.clone(),
        })))
    }
}

struct Patches {
    rows: usize,
    shape: Vec<usize>,
}

impl Pure for Patches {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let view = call.input(0)?;
        let input = view.typed::<f32>()?;
        let width = input.row_len();
        let output = out.reset::<f32>(call.rows, &self.shape);
        for (r, patch) in output
            .chunks_exact_mut((self.rows * width).max(1))
            .enumerate()
        {
            let current = call.context_rows + r;
            for (j, dst) in patch.chunks_exact_mut(width.max(1)).enumerate() {
                // Row j of the patch is input row current - (rows - 1 - j).
                match (current + 1 + j).checked_sub(self.rows) {
                    Some(src) => dst.copy_from_slice(input.row(src)),
                    None => dst.fill(0.0),
                }
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
    fn stacks_the_last_rows_with_zeros_before_the_stream() {
        let input = Tensor::new(4, vec![2], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
            .expect("valid");
        let out =
            call_stage(|ctx| build(&PatchesParams { rows: 3 }, ctx), &[&input], 1.0).expect("runs");
        assert_eq!(out.row_shape(), [3, 2]);
        let view = out.view();
        let rows: Vec<Vec<f32>> = view
            .typed::<f32>()
            .expect("f32")
            .iter()
            .map(<[f32]>::to_vec)
            .collect();
        assert_eq!(rows[0], [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]);
        assert_eq!(rows[1], [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(rows[3], [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    }
}

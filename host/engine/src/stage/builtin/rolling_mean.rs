//! `RollingMean`: each output row is the mean of the last `rows` input rows (fewer at the
//! start of the stream), element by element.
//!
//! It declares `rows - 1` rows of context, so the executor hands it the earlier rows it needs
//! even when they belong to the previous block. Each row's sum is recomputed from its own
//! window, oldest row first, instead of kept as a running sum: a running sum would make the
//! bits depend on where blocks start.

use std::sync::Arc;

use crate::spec::RollingMeanParams;
use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Layout, Tensor};

/// Builds the operator for one f32 input.
pub fn build(
    params: &RollingMeanParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::F32)?;
    if params.rows == 0 {
        return Err(BuildError::Param("rows must be at least 1".into()));
    }
    Ok(Arc::new(RollingMeanOp {
        rows: params.rows,
        output: Port {
            layout: Layout::new(DType::F32, input.layout.row_shape.clone()),
            freq_axis: input.freq_axis,
        },
    }))
}

#[derive(Debug)]
struct RollingMeanOp {
    rows: usize,
    output: Port,
}

impl Operator for RollingMeanOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn context(&self) -> usize {
        self.rows - 1
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(RollingMean { rows: self.rows })))
    }
}

struct RollingMean {
    rows: usize,
}

impl Pure for RollingMean {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let view = call.input(0)?;
        let input = view.typed::<f32>()?;
        let width = input.row_len();
        let output = out.reset::<f32>(call.rows, view.row_shape());
        for (r, mean) in output.chunks_exact_mut(width.max(1)).enumerate() {
            let current = call.context_rows + r;
            let first = (current + 1).saturating_sub(self.rows);
            let count = (current + 1 - first) as f32;
            for (c, m) in mean.iter_mut().enumerate() {
                let mut sum = 0.0f32;
                for past in first..=current {
                    sum += input.row(past)[c];
                }
                *m = sum / count;
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
    fn averages_available_rows_at_the_start() {
        let input = Tensor::new(4, vec![1], vec![1.0f32, 3.0, 5.0, 7.0]).expect("valid");
        let out = call_stage(
            |ctx| build(&RollingMeanParams { rows: 2 }, ctx),
            &[&input],
            1.0,
        )
        .expect("runs");
        let view = out.view();
        let values: Vec<f32> = view
            .typed::<f32>()
            .expect("f32")
            .iter()
            .flatten()
            .copied()
            .collect();
        assert_eq!(values, vec![1.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn uses_context_rows_from_before_the_block() {
        let op = build(
            &RollingMeanParams { rows: 3 },
            &BuildContext {
                inputs: &[Port::plain(DType::F32, vec![1])],
                sample_rate: 1.0,
                window: 1,
                hop: 1,
                base_dir: None,
            },
        )
        .expect("builds");
        assert_eq!(op.context(), 2);
        let Ok(Instance::Pure(mut stage)) = op.instantiate() else {
            panic!("a stage")
        };
        // Rows 8..10 of a stream of 0, 1, 2, ...; context rows 6 and 7 come first.
        let input = Tensor::new(4, vec![1], vec![6.0f32, 7.0, 8.0, 9.0]).expect("valid");
        let views = [input.view()];
        let call = StageCall {
            t0: 8,
            rows: 2,
            context_rows: 2,
            inputs: &views,
        };
        let mut out = Tensor::empty(&op.output().layout);
        stage.process(&call, &mut out).expect("runs");
        let view = out.view();
        let values: Vec<f32> = view
            .typed::<f32>()
            .expect("f32")
            .iter()
            .flatten()
            .copied()
            .collect();
        assert_eq!(values, vec![7.0, 8.0]);
    }

    #[test]
    fn rejects_zero_rows() {
        let input = Tensor::new(1, vec![1], vec![1.0f32]).expect("valid");
        let err = call_stage(
            |ctx| build(&RollingMeanParams { rows: 0 }, ctx),
            &[&input],
            1.0,
        )
        .unwrap_err();
        assert_eq!(err, "rows must be at least 1");
    }
}

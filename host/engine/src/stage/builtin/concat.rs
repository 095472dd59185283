//! `Concat`: joins the rows of several f32 inputs side by side into one flat row.

use std::sync::Arc;

use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Tensor};

/// Builds the operator for one or more f32 inputs.
pub fn build(ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_some_inputs()?;
    let mut widths = Vec::with_capacity(ctx.inputs.len());
    for index in 0..ctx.inputs.len() {
        widths.push(ctx.input(index, DType::F32)?.layout.row_len());
    }
    let total = widths.iter().sum();
    Ok(Arc::new(ConcatOp {
        widths: widths.into(),
        output: Port::plain(DType::F32, vec![total]),
    }))
}

#[derive(Debug)]
struct ConcatOp {
    widths: Arc<[usize]>,
    output: Port,
}

impl Operator for ConcatOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(Concat {
            widths: Arc::clone(&self.widths),
        })))
    }
}

struct Concat {
    widths: Arc<[usize]>,
}

impl Pure for Concat {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let total: usize = self.widths.iter().sum();
        let inputs = call
            .inputs
            .iter()
            .map(|view| view.typed::<f32>())
            .collect::<Result<Vec<_>, _>>()?;
        let output = out.reset::<f32>(call.rows, &[total]);
        for (r, row) in output.chunks_exact_mut(total.max(1)).enumerate() {
            let mut at = 0;
            for input in &inputs {
                let part = input.row(r);
                row[at..at + part.len()].copy_from_slice(part);
                at += part.len();
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
    fn joins_rows_in_input_order() {
        let a = Tensor::new(2, vec![1], vec![1.0f32, 2.0]).expect("valid");
        let b = Tensor::new(2, vec![2], vec![10.0f32, 11.0, 20.0, 21.0]).expect("valid");
        let out = call_stage(build, &[&a, &b], 1.0).expect("runs");
        let view = out.view();
        let rows = view.typed::<f32>().expect("f32");
        assert_eq!(rows.row(0), &[1.0, 10.0, 11.0]);
        assert_eq!(rows.row(1), &[2.0, 20.0, 21.0]);
    }
}

//! Classic mode, the reference: each stage runs once over the whole stream, in dependency
//! order, every intermediate held in full until its last reader is done. It calls the same
//! per-block code as sqrt mode, with one block that is the whole stream.

use std::sync::Arc;

use super::runner::Runner;
use super::{ExecError, WindowRange};
use crate::io::{Framer, Sink};
use crate::plan::{INPUT_NODE, Plan};
use crate::tensor::Tensor;

/// Runs `plan` over the whole input and writes the target's rows in `range`.
pub(crate) fn run(
    plan: &Plan,
    runner: &mut Runner<'_>,
    framer: &mut Framer,
    range: WindowRange,
    sink: &mut dyn Sink,
) -> Result<u64, ExecError> {
    let nodes = plan.nodes();
    let limit = range
        .end
        .map_or(usize::MAX, |end| usize::try_from(end).unwrap_or(usize::MAX));
    let input = framer.frame(0, limit)?;
    let rows = input.rows();
    let mut outputs: Vec<Option<Arc<Tensor>>> = vec![None; nodes.len()];
    outputs[INPUT_NODE] = Some(Arc::new(input));
    let mut readers_left: Vec<usize> = nodes.iter().map(|n| n.fan_out).collect();
    for (id, node) in nodes.iter().enumerate().skip(1).filter(|(_, n)| n.needed) {
        let inputs: Vec<Arc<Tensor>> = node
            .inputs
            .iter()
            .map(|&i| {
                outputs[i].clone().ok_or_else(|| {
                    ExecError::Internal(format!("`{}` ran before its input", node.name))
                })
            })
            .collect::<Result<_, _>>()?;
        if node.kernel {
            runner.reset(id)?;
        }
        let out = if node.reverse {
            // Backward in time: the kernel sees the stream last window first.
            let reversed: Vec<Tensor> = inputs.iter().map(|t| t.view().reversed()).collect();
            let views: Vec<_> = reversed.iter().map(Tensor::view).collect();
            runner.call(id, 0, rows, 0, &views)?.view().reversed()
        } else {
            let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
            runner.call(id, 0, rows, 0, &views)?
        };
        drop(inputs);
        for &i in &node.inputs {
            readers_left[i] -= 1;
            if readers_left[i] == 0 && i != plan.target() {
                outputs[i] = None;
            }
        }
        outputs[id] = Some(Arc::new(out));
    }
    let target = outputs[plan.target()]
        .take()
        .ok_or_else(|| ExecError::Internal("the target was not computed".into()))?;
    let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(rows);
    let end = limit.min(rows);
    if end > start {
        sink.write(start as u64, &target.slice_rows(start..end))?;
    }
    Ok(end.saturating_sub(start) as u64)
}

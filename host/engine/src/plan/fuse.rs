//! Stages the planner runs as one: a `WindowFft` whose only reader is a `Bandpass`.
//!
//! The FFT's block output is every bin of every window (2,049 complex bins, 16 KiB, for a
//! 4,096-sample window), written out to a block the size of the second-level cache so that
//! the band-pass can copy a few of them back. Fused, each spectrum stays in one row of scratch
//! and only the band leaves it (see [`window_fft::build_band`]). The bits are the same: the
//! same FFT, and a band-pass copies bins. Nothing changes for a user but the time and the
//! plan, which names the fusion; the FFT stage stays in the graph, read by no one.

use super::{Decision, Node, NodeId, PlanError, build_context, graph, input_ports};
use crate::spec::{OpSpec, Spec};
use crate::stage::builtin::window_fft;

/// Fuses each `WindowFft` into the `Bandpass` that is its only reader, unless the FFT's rows
/// are wanted for themselves: as the target or in checkpoints. Returns what was fused, as the
/// plan's decisions.
pub(super) fn fft_into_bandpass(
    spec: &Spec,
    nodes: &mut [Node],
    target: NodeId,
) -> Result<Vec<Decision>, PlanError> {
    let mut decisions = Vec::new();
    for band_id in 1..nodes.len() {
        let band_stage = graph::stage_spec(spec, &nodes[band_id].name);
        let (OpSpec::Bandpass(band), &[fft_id]) =
            (&band_stage.op, nodes[band_id].inputs.as_slice())
        else {
            continue;
        };
        let fft_stage = graph::stage_spec(spec, &nodes[fft_id].name);
        let OpSpec::WindowFft(fft) = &fft_stage.op else {
            continue;
        };
        let readers = nodes.iter().filter(|n| n.inputs.contains(&fft_id)).count();
        if readers > 1 || fft_id == target || nodes[fft_id].checkpoint_output {
            continue;
        }
        let ports = input_ports(nodes, fft_id);
        let fused =
            window_fft::build_band(fft, band, &build_context(spec, &ports)).map_err(|source| {
                PlanError::Stage {
                    stage: band_stage.name.clone(),
                    op: band_stage.op.name(),
                    source,
                }
            })?;
        let (kept, bins) = (
            fused
                .output()
                .layout
                .row_shape
                .first()
                .copied()
                .unwrap_or(0),
            nodes[fft_id]
                .port
                .layout
                .row_shape
                .first()
                .copied()
                .unwrap_or(0),
        );
        nodes[band_id].inputs = nodes[fft_id].inputs.clone();
        nodes[band_id].op = Some(fused);
        nodes[band_id].op_name = "WindowFft+Bandpass";
        nodes[fft_id].fused_into = Some(band_id);
        decisions.push(Decision {
            setting: "fused",
            value: format!("{}+{}", nodes[fft_id].name, nodes[band_id].name),
            reason: format!(
                "`{}` (WindowFft) is read only by `{}` (Bandpass): one stage takes each \
                 window's spectrum in scratch and keeps the band's {kept} of its {bins} bins",
                nodes[fft_id].name, nodes[band_id].name
            ),
        });
    }
    Ok(decisions)
}

//! `sqrtspace plan`: what the planner makes of a pipeline, and why.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use sqrtspace::io::{Framer, InputFormat};
use sqrtspace::machine::Machine;
use sqrtspace::plan::Port;
use sqrtspace::plan::{Decision, Estimates, Probe};
use sqrtspace::spec::ByteSize;
use sqrtspace::{Plan, Spec};

#[derive(Debug, Args)]
pub struct PlanCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    #[command(flatten)]
    plugins: crate::registry_cmd::PipelinePlugins,
    /// An input, so that settings that depend on the stream length can be resolved.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Input format (default: from the extension).
    #[arg(long, value_parser = crate::args::choice::<InputFormat>())]
    format: Option<InputFormat>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct NodeJson<'a> {
    name: &'a str,
    op: &'a str,
    inputs: Vec<&'a str>,
    output: &'a Port,
    kernel: bool,
    context: usize,
    /// Stages the planner fused into this one (computed as part of it, read by no one).
    fused: Vec<&'a str>,
}

#[derive(Serialize)]
struct PlanJson<'a> {
    window: usize,
    hop: usize,
    sample_rate: u32,
    input_windows: Option<u64>,
    target: &'a str,
    stages: Vec<NodeJson<'a>>,
    decisions: &'a [Decision],
    machine: &'a Machine,
    estimates: Option<&'a Estimates>,
    probe: Option<&'a Probe>,
}

impl PlanCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let mut spec = Spec::from_file(&self.pipeline)?;
        self.plugins.resolve(&mut spec, &self.pipeline)?;
        let mut framer = match &self.input {
            Some(path) => Some(
                crate::input::open(path, self.format, None, &spec, &self.pipeline)?.framer(&spec),
            ),
            None => None,
        };
        let windows = framer.as_ref().and_then(Framer::total_windows);
        let mut plan = Plan::new(&spec, windows)?;
        let mut probed = None;
        if let (Some(framer), Some(_)) = (framer.as_mut(), windows) {
            let probe = sqrtspace::exec::probe(&plan, framer)?;
            plan.apply_probe(&probe);
            probed = Some(probe);
        }
        if self.json {
            let nodes = plan.nodes();
            let json = PlanJson {
                window: plan.window,
                hop: plan.hop,
                sample_rate: plan.sample_rate,
                input_windows: windows,
                target: &plan.target_node().name,
                stages: nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.needed)
                    .map(|(id, n)| NodeJson {
                        name: &n.name,
                        op: n.op_name,
                        inputs: n.inputs.iter().map(|&i| nodes[i].name.as_str()).collect(),
                        output: &n.port,
                        kernel: n.kernel,
                        context: n.context,
                        fused: nodes
                            .iter()
                            .filter(|f| f.fused_into == Some(id))
                            .map(|f| f.name.as_str())
                            .collect(),
                    })
                    .collect(),
                decisions: &plan.decisions,
                machine: &plan.machine,
                estimates: plan.estimates.as_ref(),
                probe: probed.as_ref(),
            };
            outln!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            if let Some(t) = windows {
                outln!("input: {t} windows");
            }
            out!("{plan}");
            let m = &plan.machine;
            outln!(
                "machine: {} cores, {} of {} memory available, L2 {}, LLC {}, fresh memory {:.2} ns/byte ({})",
                m.cores,
                ByteSize(m.available_ram),
                ByteSize(m.total_ram),
                ByteSize(m.l2_bytes),
                ByteSize(m.llc_bytes),
                m.fresh_ns_per_byte,
                m.source
            );
            if let Some(e) = &plan.estimates {
                outln!(
                    "predicted for {} windows: classic peak {}, {:.3} s; sqrt peak {}, {:.3} s",
                    e.windows,
                    ByteSize(e.classic_peak_bytes),
                    e.classic_secs,
                    ByteSize(e.sqrt_peak_bytes),
                    e.sqrt_secs
                );
            }
        }
        Ok(())
    }
}

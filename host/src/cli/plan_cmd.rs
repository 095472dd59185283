//! `sqrtspace plan`: what the planner makes of a pipeline, and why.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use sqrtspace::io::{Framer, InputFormat, open_source};
use sqrtspace::plan::Decision;
use sqrtspace::stage::Port;
use sqrtspace::{Plan, Spec};

#[derive(Debug, Args)]
pub struct PlanCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    /// An input, so that settings that depend on the stream length can be resolved.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Input format (default: from the extension).
    #[arg(long, value_enum)]
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
}

impl PlanCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let spec = Spec::from_file(&self.pipeline)?;
        let windows = match &self.input {
            Some(path) => {
                let source = open_source(path, self.format, None)?;
                Framer::new(source, spec.window, spec.hop).total_windows()
            }
            None => None,
        };
        let plan = Plan::new(&spec, windows)?;
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
                    .filter(|n| n.needed)
                    .map(|n| NodeJson {
                        name: &n.name,
                        op: n.op_name,
                        inputs: n.inputs.iter().map(|&i| nodes[i].name.as_str()).collect(),
                        output: &n.port,
                        kernel: n.kernel,
                        context: n.context,
                    })
                    .collect(),
                decisions: &plan.decisions,
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            if let Some(t) = windows {
                println!("input: {t} windows");
            }
            print!("{plan}");
        }
        Ok(())
    }
}

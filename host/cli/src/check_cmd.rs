//! `sqrtspace check`: runs each plugin stage of a pipeline twice over the first windows of an
//! input, once as one call and once in blocks of a few windows, and says which stages give
//! different bits. Such a stage keeps state between calls or is not deterministic, and
//! classic and sqrt mode would disagree over it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sqrtspace::exec::WindowRange;
use sqrtspace::io::MemorySink;

use crate::input::InputArgs;
use sqrtspace::{Mode, Plan, Spec, run};

#[derive(Debug, Args)]
pub struct CheckCommand {
    /// The pipeline file (RON).
    pipeline: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    plugins: crate::registry_cmd::PipelinePlugins,
    /// Windows each stage runs over.
    #[arg(long, default_value_t = 64)]
    windows: u64,
    /// Windows per block of the second run.
    #[arg(long, default_value_t = 3)]
    block: usize,
}

impl CheckCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        if self.windows == 0 || self.block == 0 {
            crate::args::usage!("--windows and --block must be at least 1");
        }
        let mut spec = Spec::from_file(&self.pipeline)?;
        self.plugins.resolve(&mut spec, &self.pipeline)?;
        let plan = Plan::new(&spec, None)?;
        let stages: Vec<String> = plan.plugins.iter().map(|p| p.stage.clone()).collect();
        if stages.is_empty() {
            outln!("{}: no plugin stages to check", self.pipeline.display());
            return Ok(());
        }
        let mut differ = Vec::new();
        for stage in &stages {
            let once = self.rows(&spec, stage, Mode::Classic, None)?;
            let blocks = self.rows(&spec, stage, Mode::Sqrt, Some(self.block))?;
            if once.rows() == 0 {
                anyhow::bail!(
                    "{} holds no complete window for `{stage}` to run over",
                    self.input.path()?.display()
                );
            }
            if once.bit_identical(&blocks) {
                outln!(
                    "ok       {stage}: the same bits over {} windows in one call and in blocks of {}",
                    once.rows(),
                    self.block
                );
            } else {
                outln!(
                    "DIFFERS  {stage}: {} windows give other bits in one call than in blocks of \
                     {}; the plugin keeps state between calls or is not deterministic, so \
                     classic and sqrt mode disagree over it",
                    once.rows(),
                    self.block
                );
                differ.push(stage.clone());
            }
        }
        if !differ.is_empty() {
            anyhow::bail!(
                "{} of {} plugin stages are not deterministic: {}",
                differ.len(),
                stages.len(),
                differ.join(", ")
            );
        }
        Ok(())
    }

    /// The rows of `stage` over the first windows, in `mode` with `block`, on one worker.
    fn rows(
        &self,
        spec: &Spec,
        stage: &str,
        mode: Mode,
        block: Option<usize>,
    ) -> anyhow::Result<sqrtspace::Tensor> {
        let mut spec = spec.clone();
        spec.target = Some(stage.to_string());
        spec.mode = mode;
        spec.block = block;
        spec.max_workers = Some(1);
        let plan = Plan::new(&spec, None)?;
        let mut framer = self.input.open(&spec, &self.pipeline)?.framer(&spec);
        let mut sink = MemorySink::new(&plan.target_node().port.layout);
        run(
            &plan,
            &mut framer,
            WindowRange::new(0, self.windows),
            &mut sink,
        )
        .with_context(|| format!("running `{stage}` in {mode} mode"))?;
        Ok(sink.tensor)
    }
}

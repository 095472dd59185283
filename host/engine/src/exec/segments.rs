//! One long stream spread over many workers (or machines): its pure prefix — the stages with
//! neither state nor context, up to the first kernel or context-reading stage — computes any
//! segment of windows anywhere, since its rows depend only on the input's windows; what the
//! prefix hands on ([`SegmentRows`], a few values a window for most pipelines) goes to the one
//! [`StatefulPart`], which steps the rest of the graph through the segments in time order,
//! exactly as a forward sweep of one process does. So the output is the same bits whichever
//! worker computed which segment.
//!
//! ```
//! use sqrtspace::exec::{PrefixWorker, Split, StatefulPart};
//! use sqrtspace::io::{Framer, MemorySink, MemorySource};
//! use sqrtspace::{evaluate, Plan, Spec, WindowRange};
//!
//! let spec = Spec::from_ron(r#"(window: 64, hop: 16, sample_rate: 8000, stages: [
//!     (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
//!     (name: "magnitude", inputs: ["fft"], op: Magnitude),
//!     (name: "smooth", inputs: ["magnitude"], op: Iir(filter: Lowpass(cutoff_hz: 50.0, q: 0.7))),
//! ])"#, "doc").unwrap();
//! let samples: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.01).sin()).collect();
//! let plan = Plan::new(&spec, None).unwrap();
//! let split = Split::of(&plan).unwrap();
//! assert_eq!(split.crossing_names(&plan), ["magnitude"]);
//! let framer = || Framer::new(Box::new(MemorySource::new(samples.clone())), 64, 16);
//! // Two workers' prefixes, over alternate segments of 300 windows; the rest in time order.
//! let mut workers = [PrefixWorker::new(&plan, framer()).unwrap(), PrefixWorker::new(&plan, framer()).unwrap()];
//! let mut rest = StatefulPart::new(&plan, None).unwrap();
//! let mut sink = MemorySink::new(&plan.target_node().port.layout);
//! for (j, start) in (0..).zip((0..1247).step_by(300)) {
//!     let rows = workers[j % 2].segment(start, start + 300).unwrap();
//!     let bytes = rows.to_bytes();                      // what crosses the wire
//!     let rows = split.segment_from_bytes(&plan, &bytes).unwrap();
//!     rest.step(rows, &mut sink).unwrap();
//! }
//! let whole = evaluate(&plan, samples, WindowRange::all()).unwrap();
//! assert!(sink.tensor.bit_identical(&whole));
//! ```

use super::ExecError;
use super::disk_checkpoints::{CheckpointDir, Saved};
use super::forward_sweep::{AfterBatch, ForwardSweep, run_chain};
use super::runner::{Runner, StageStats};
use crate::io::{Framer, Sink};
use crate::plan::{INPUT_NODE, Plan};
use crate::tensor::Tensor;

/// Where a plan is cut for a long stream spread over workers: its pure prefix, and the nodes
/// whose rows cross from it into the stateful part.
#[derive(Clone, Debug)]
pub struct Split {
    /// The prefix's stages, in dependency order.
    chain: Vec<usize>,
    /// Whether anything after the prefix reads each of them.
    read_after: Vec<bool>,
    /// The prefix's nodes the stateful part reads, in plan order.
    crossing: Vec<usize>,
    /// Whether a stage after the prefix reads the input's windows themselves.
    input_after: bool,
}

impl Split {
    /// The cut of `plan`. A plan with a stage that runs backward in time cannot be stepped
    /// forward through segments, and is refused.
    pub fn of(plan: &Plan) -> Result<Split, ExecError> {
        let nodes = plan.nodes();
        if let Some(node) = nodes.iter().find(|n| n.needed && n.reverse) {
            return Err(ExecError::Unsupported(format!(
                "stage `{}` runs backward in time, so it needs the whole stream before its \
                 first output; a stream spread over workers is stepped forward",
                node.name
            )));
        }
        let keep_rows = plan.context_rows();
        let (chain, read_after) = plan.pure_prefix(&keep_rows);
        let mut crossing: Vec<usize> = chain
            .iter()
            .zip(&read_after)
            .filter(|&(_, &after)| after)
            .map(|(&id, _)| id)
            .collect();
        crossing.sort_unstable();
        let input_after =
            plan.target() == INPUT_NODE
                || keep_rows[INPUT_NODE] > 0
                || nodes.iter().enumerate().skip(1).any(|(id, n)| {
                    n.needed && !chain.contains(&id) && n.inputs.contains(&INPUT_NODE)
                });
        Ok(Split {
            chain,
            read_after,
            crossing,
            input_after,
        })
    }

    /// The stages any worker computes over its own segments.
    pub fn prefix_names<'p>(&self, plan: &'p Plan) -> Vec<&'p str> {
        self.chain
            .iter()
            .map(|&id| plan.nodes()[id].name.as_str())
            .collect()
    }

    /// The stages whose rows cross to the stateful part.
    pub fn crossing_names<'p>(&self, plan: &'p Plan) -> Vec<&'p str> {
        self.crossing
            .iter()
            .map(|&id| plan.nodes()[id].name.as_str())
            .collect()
    }

    /// Whether the stateful part reads the input's windows too (it then frames them itself,
    /// from its own reader of the input, rather than have them cross).
    pub fn input_after(&self) -> bool {
        self.input_after
    }

    /// Reads what [`SegmentRows::to_bytes`] wrote, checked against this plan's rows.
    pub fn segment_from_bytes(&self, plan: &Plan, bytes: &[u8]) -> Result<SegmentRows, ExecError> {
        let bad =
            |why: &str| ExecError::Internal(format!("a segment's rows arrived damaged: {why}"));
        let mut rest = bytes;
        let mut word = || -> Result<u64, ExecError> {
            let (head, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| bad("cut short"))?;
            rest = tail;
            Ok(u64::from_le_bytes(*head))
        };
        let start = word()?;
        let rows = word()?;
        let mut stages = Vec::with_capacity(self.crossing.len());
        let mut lengths = Vec::with_capacity(self.crossing.len());
        for _ in &self.crossing {
            lengths.push(word()?);
        }
        for (&id, len) in self.crossing.iter().zip(lengths) {
            let len = usize::try_from(len).map_err(|_| bad("a length past memory"))?;
            let (these, tail) = rest.split_at_checked(len).ok_or_else(|| bad("cut short"))?;
            rest = tail;
            let node = &plan.nodes()[id];
            let tensor = Tensor::from_le_bytes(&node.port.layout, these)
                .map_err(|e| bad(&format!("`{}`: {e}", node.name)))?;
            if tensor.rows() as u64 != rows {
                return Err(bad(&format!(
                    "`{}` has {} rows, the segment {rows}",
                    node.name,
                    tensor.rows()
                )));
            }
            stages.push(tensor);
        }
        if !rest.is_empty() {
            return Err(bad("bytes past its end"));
        }
        Ok(SegmentRows {
            start,
            rows,
            stages,
        })
    }
}

/// The prefix's rows of one segment of windows: what crosses from a worker to the stateful
/// part.
#[derive(Debug)]
pub struct SegmentRows {
    /// Its first window.
    pub start: u64,
    /// Its windows (fewer than asked at the end of the input; none past it).
    pub rows: u64,
    /// The rows of each node that crosses, in [`Split`]'s order.
    stages: Vec<Tensor>,
}

impl SegmentRows {
    /// The segment as bytes: its start, its rows, each crossing node's byte length, then each
    /// node's elements (little-endian; text as length-prefixed UTF-8).
    pub fn to_bytes(&self) -> Vec<u8> {
        let bodies: Vec<Vec<u8>> = self.stages.iter().map(|t| t.view().to_le_bytes()).collect();
        let mut out =
            Vec::with_capacity(16 + 8 * bodies.len() + bodies.iter().map(Vec::len).sum::<usize>());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.rows.to_le_bytes());
        for body in &bodies {
            out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        }
        for body in &bodies {
            out.extend_from_slice(body);
        }
        out
    }
}

/// A worker's share of a long stream: the pure prefix over the segments it is handed, read
/// from its own reader of the input (one that can seek).
pub struct PrefixWorker<'p> {
    plan: &'p Plan,
    split: Split,
    runner: Runner<'p>,
    framer: Framer,
}

impl std::fmt::Debug for PrefixWorker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixWorker")
            .field("input", &self.framer.describe())
            .finish()
    }
}

impl<'p> PrefixWorker<'p> {
    /// A worker of `plan`'s prefix over the windows of `framer`.
    pub fn new(plan: &'p Plan, framer: Framer) -> Result<PrefixWorker<'p>, ExecError> {
        Ok(PrefixWorker {
            plan,
            split: Split::of(plan)?,
            runner: Runner::for_worker(plan, false)?,
            framer,
        })
    }

    /// The crossing rows of windows `start..end` (fewer at the end of the input), computed a
    /// block at a time.
    pub fn segment(&mut self, start: u64, end: u64) -> Result<SegmentRows, ExecError> {
        let plan = self.plan;
        let nodes = plan.nodes();
        let block = plan.block.max(1);
        let mut stages: Vec<Tensor> = self
            .split
            .crossing
            .iter()
            .map(|&id| Tensor::empty(&nodes[id].port.layout))
            .collect();
        let mut t = start;
        while t < end {
            let want = usize::try_from(end - t).unwrap_or(usize::MAX).min(block);
            let part = self.framer.frame(t, want)?;
            let got = part.rows();
            if got > 0 {
                let chain = (&self.split.chain[..], &self.split.read_after[..]);
                let outs = run_chain(plan, &mut self.runner, chain, &part, t)?;
                for (k, (out, &id)) in outs.into_iter().zip(&self.split.chain).enumerate() {
                    if !self.split.read_after[k] {
                        continue;
                    }
                    if let Some(i) = self.split.crossing.iter().position(|&c| c == id) {
                        stages[i].extend_rows(&out.view());
                    }
                    self.runner.recycle(id, out);
                }
            }
            self.framer.recycle(part);
            t += got as u64;
            if got < want {
                break;
            }
        }
        Ok(SegmentRows {
            start,
            rows: t - start,
            stages,
        })
    }

    /// Per stage counters of the prefix's calls.
    pub fn stats(&self) -> &[StageStats] {
        &self.runner.stats
    }
}

/// The part of a long stream that must step in time order: everything after the pure prefix,
/// fed the segments' crossing rows in order, writing the target's rows to a sink.
pub struct StatefulPart<'p> {
    plan: &'p Plan,
    split: Split,
    sweep: ForwardSweep<'p>,
    /// Its own reader of the input, when a stage after the prefix reads the input's windows.
    framer: Option<Framer>,
}

impl std::fmt::Debug for StatefulPart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatefulPart")
            .field("done", &self.sweep.done())
            .finish()
    }
}

impl<'p> StatefulPart<'p> {
    /// The stateful part of `plan`, from window 0; `framer` reads the input when a stage after
    /// the prefix reads its windows ([`Split::input_after`]), and is required then.
    pub fn new(plan: &'p Plan, framer: Option<Framer>) -> Result<StatefulPart<'p>, ExecError> {
        let split = Split::of(plan)?;
        if split.input_after && framer.is_none() {
            return Err(ExecError::Unsupported(
                "a stage after the pure prefix reads the input's windows: the stateful part needs \
                 a reader of the input"
                    .into(),
            ));
        }
        Ok(StatefulPart {
            plan,
            split,
            sweep: ForwardSweep::new(plan, 1)?,
            framer,
        })
    }

    /// Goes on from a checkpoint of a run of the same plan (a segment boundary).
    pub fn restore(&mut self, saved: &Saved) -> Result<(), ExecError> {
        self.sweep.restore(&saved.sweep)
    }

    /// Windows stepped so far: the next segment must start here.
    pub fn done(&self) -> u64 {
        self.sweep.done()
    }

    /// Steps the rest of the graph through `segment` (the next in time) and writes the
    /// target's rows to `sink`; returns how many.
    pub fn step(&mut self, segment: SegmentRows, sink: &mut dyn Sink) -> Result<u64, ExecError> {
        let start = self.sweep.done();
        if segment.start != start {
            return Err(ExecError::Internal(format!(
                "segment from window {} stepped after window {start}",
                segment.start
            )));
        }
        if segment.rows == 0 {
            return Ok(0);
        }
        let block = self.plan.block.max(1);
        let rows = usize::try_from(segment.rows)
            .map_err(|_| ExecError::Internal("a segment past memory".into()))?;
        let sizes: Vec<usize> = (0..rows)
            .step_by(block)
            .map(|from| block.min(rows - from))
            .collect();
        let cut = |tensor: &Tensor| -> Vec<Tensor> {
            let mut from = 0;
            sizes
                .iter()
                .map(|&n| {
                    let part = tensor.slice_rows(from..from + n).to_tensor();
                    from += n;
                    part
                })
                .collect()
        };
        let given: Vec<(usize, Vec<Tensor>)> = self
            .split
            .crossing
            .iter()
            .zip(&segment.stages)
            .map(|(&id, rows)| (id, cut(rows)))
            .collect();
        let input = match (&mut self.framer, self.split.input_after) {
            (Some(framer), true) => {
                let mut parts = Vec::with_capacity(sizes.len());
                let mut t = start;
                for &n in &sizes {
                    let part = framer.frame(t, n)?;
                    if part.rows() != n {
                        return Err(ExecError::Internal(format!(
                            "the input ended at window {}, inside a segment",
                            t + part.rows() as u64
                        )));
                    }
                    t += n as u64;
                    parts.push(part);
                }
                Some(parts)
            }
            _ => None,
        };
        let outputs = self.sweep.step_given(&sizes, given, input)?;
        if let Some(framer) = &mut self.framer {
            for part in self.sweep.take_spent_input() {
                framer.recycle(part);
            }
        }
        let mut t0 = start;
        for out in &outputs {
            sink.write(t0, &out.view())?;
            t0 += out.rows() as u64;
        }
        Ok(t0 - start)
    }

    /// Takes a checkpoint into `dir` when one is due (every `checkpoint_every` windows, at
    /// most once per the directory's interval): `sink`'s rows made durable, then the state.
    pub fn checkpoint(
        &mut self,
        dir: &mut CheckpointDir,
        sink: &mut dyn Sink,
    ) -> Result<(), ExecError> {
        dir.after_batch(&mut self.sweep, sink)
    }

    /// Per stage counters of the stateful part's calls.
    pub fn stats(&self) -> Vec<StageStats> {
        self.sweep.stats()
    }
}

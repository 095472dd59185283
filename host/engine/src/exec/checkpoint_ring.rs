//! The checkpoint ring: every `k` windows, a stage's state (kernels) and, when asked for, its
//! output block, kept in a ring of slots per stage. A slot is chosen by `(t / k) % slots`, and
//! a lookup checks the window index stored in the slot, so a slot that has wrapped around to a
//! later checkpoint is a miss, never a stale hit.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::plan::NodeId;
use crate::tensor::Tensor;

/// What is kept for one stage at one window.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Window index.
    pub t: u64,
    /// Kernel state at `t` (before window `t` is processed).
    pub state: Option<Arc<[u8]>>,
    /// The output block that starts at `t`.
    pub output: Option<Arc<Tensor>>,
}

impl Checkpoint {
    fn bytes(&self) -> u64 {
        (self.state.as_ref().map_or(0, |s| s.len())
            + self.output.as_ref().map_or(0, |o| o.nbytes())) as u64
    }
}

/// Counters of the in-memory checkpoint ring of a sqrt run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// States saved.
    pub states_saved: u64,
    /// Output blocks saved.
    pub outputs_saved: u64,
    /// Kernel states restored to recompute from.
    pub restores: u64,
    /// Output blocks served from a checkpoint.
    pub output_hits: u64,
    /// Windows kernels stepped through only to bring their state to a requested block (from
    /// a checkpoint, or from the start when none is near): the cost of random access.
    #[serde(default)]
    pub windows_recomputed: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// Most bytes held at once.
    pub peak_bytes: u64,
}

/// Checkpoints every `every` windows, `slots` per stage.
#[derive(Debug)]
pub struct CheckpointRing {
    every: u64,
    slots: usize,
    rings: Vec<Vec<Option<Checkpoint>>>,
    stats: CheckpointStats,
}

impl CheckpointRing {
    /// A ring for `nodes` stages.
    pub fn new(nodes: usize, every: u64, slots: usize) -> CheckpointRing {
        CheckpointRing {
            every: every.max(1),
            slots: slots.max(1),
            rings: vec![Vec::new(); nodes],
            stats: CheckpointStats::default(),
        }
    }

    /// Windows between checkpoints.
    pub fn every(&self) -> u64 {
        self.every
    }

    /// Whether window `t` is a checkpoint position.
    pub fn is_checkpoint(&self, t: u64) -> bool {
        t.is_multiple_of(self.every)
    }

    fn slot(&mut self, node: NodeId, t: u64) -> &mut Option<Checkpoint> {
        let slots = self.slots;
        let ring = &mut self.rings[node];
        if ring.is_empty() {
            ring.resize(slots, None);
        }
        &mut ring[((t / self.every) % slots as u64) as usize]
    }

    /// The entry for `(node, t)`, replacing whatever older checkpoint had the slot.
    fn entry(&mut self, node: NodeId, t: u64) -> &mut Checkpoint {
        let mut freed = 0;
        let slot = self.slot(node, t);
        if slot.as_ref().is_some_and(|c| c.t != t) {
            freed = slot.take().map_or(0, |c| c.bytes());
        }
        self.stats.bytes -= freed;
        self.slot(node, t).get_or_insert(Checkpoint {
            t,
            state: None,
            output: None,
        })
    }

    fn account(&mut self, before: u64, after: u64) {
        self.stats.bytes = self.stats.bytes + after - before;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.stats.bytes);
    }

    /// Saves a kernel's state at window `t` (a checkpoint position).
    pub fn save_state(&mut self, node: NodeId, t: u64, state: Vec<u8>) {
        let entry = self.entry(node, t);
        let before = entry.bytes();
        entry.state = Some(state.into());
        let after = entry.bytes();
        self.stats.states_saved += 1;
        self.account(before, after);
    }

    /// Saves the output block starting at window `t` (a checkpoint position).
    pub fn save_output(&mut self, node: NodeId, t: u64, output: Arc<Tensor>) {
        let entry = self.entry(node, t);
        let before = entry.bytes();
        entry.output = Some(output);
        let after = entry.bytes();
        self.stats.outputs_saved += 1;
        self.account(before, after);
    }

    fn get(&self, node: NodeId, t: u64) -> Option<&Checkpoint> {
        let ring = self.rings.get(node)?;
        let slot = ring.get(((t / self.every) % self.slots as u64) as usize)?;
        slot.as_ref().filter(|c| c.t == t)
    }

    /// The output block saved at exactly window `t`.
    pub fn output(&mut self, node: NodeId, t: u64) -> Option<Arc<Tensor>> {
        let found = self.get(node, t).and_then(|c| c.output.clone());
        if found.is_some() {
            self.stats.output_hits += 1;
        }
        found
    }

    /// The latest saved state at a window `<= t`, with its window, searching back through the
    /// positions the ring can still hold.
    pub fn state_at_or_before(&self, node: NodeId, t: u64) -> Option<(u64, Arc<[u8]>)> {
        let newest = t / self.every;
        let oldest = newest.saturating_sub(self.slots as u64 - 1);
        (oldest..=newest)
            .rev()
            .map(|i| i * self.every)
            .find_map(|at| {
                self.get(node, at)
                    .and_then(|c| c.state.clone())
                    .map(|s| (at, s))
            })
    }

    /// Counts windows stepped through to reach a requested block.
    pub fn note_recompute(&mut self, windows: u64) {
        self.stats.windows_recomputed += windows;
    }

    /// Counts a state restored to recompute from.
    pub fn note_restore(&mut self) {
        self.stats.restores += 1;
    }

    /// The counters so far.
    pub fn stats(&self) -> CheckpointStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(v: f32) -> Arc<Tensor> {
        Arc::new(Tensor::new(1, vec![1], vec![v]).expect("valid"))
    }

    #[test]
    fn lookup_checks_the_window_not_just_the_slot() {
        let mut ring = CheckpointRing::new(2, 16, 4);
        ring.save_output(1, 0, out(0.0));
        // 64 lands in the same slot as 0 (64 / 16 = 4, 4 % 4 = 0) and replaces it.
        assert!(ring.output(1, 64).is_none());
        assert_eq!(ring.output(1, 0).map(|t| t.rows()), Some(1));
        ring.save_output(1, 64, out(64.0));
        assert!(
            ring.output(1, 0).is_none(),
            "window 0 was overwritten: a miss, not window 64's block"
        );
        let hit = ring.output(1, 64).expect("saved");
        assert_eq!(hit.view().typed::<f32>().expect("f32").row(0), &[64.0]);
        assert!(
            ring.output(0, 64).is_none(),
            "other stages have their own ring"
        );
    }

    #[test]
    fn nearest_state_at_or_before_within_the_ring() {
        let mut ring = CheckpointRing::new(1, 10, 3);
        for t in [10u64, 20, 30, 40] {
            ring.save_state(0, t, vec![t as u8]);
        }
        // 10 was overwritten by 40 (slots 1, 2, 0, 1).
        assert_eq!(
            ring.state_at_or_before(0, 45).map(|(t, s)| (t, s[0])),
            Some((40, 40))
        );
        assert_eq!(ring.state_at_or_before(0, 39).map(|(t, _)| t), Some(30));
        assert_eq!(ring.state_at_or_before(0, 29).map(|(t, _)| t), Some(20));
        assert_eq!(ring.state_at_or_before(0, 15), None, "10 is gone");
    }

    #[test]
    fn bytes_follow_wraparound() {
        let mut ring = CheckpointRing::new(1, 1, 2);
        ring.save_state(0, 0, vec![0; 10]);
        ring.save_state(0, 1, vec![0; 20]);
        assert_eq!(ring.stats().bytes, 30);
        ring.save_state(0, 2, vec![0; 5]);
        assert_eq!(ring.stats().bytes, 25);
        ring.save_output(0, 2, out(1.0));
        assert_eq!(ring.stats().bytes, 25 + out(1.0).nbytes() as u64);
        assert_eq!(ring.stats().peak_bytes, ring.stats().bytes.max(30));
    }
}

//! Random access: any window range of a pipeline with kernels equals the same rows of a full
//! classic run, bit for bit, and once checkpoints exist a request recomputes at most
//! `checkpoint_every` windows per kernel to reach its start.

use proptest::prelude::*;
use sqrtspace::io::{Framer, MemorySource};
use sqrtspace::{Evaluator, Mode, Plan, Tensor, WindowRange};

use crate::common::{chirp_noise, run, spec};

const K: u64 = 32;

/// Two kernels in a chain, a context stage after them, a join.
fn kernels(block: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"(window: 64, hop: 16, sample_rate: 8000, block: {block}, checkpoint_every: {K},
            stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures),
            (name: "low", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 20.0, q: 0.7071))),
            (name: "high", inputs: ["low"], op: Iir(filter: Highpass(cutoff_hz: 2.0, q: 0.9))),
            (name: "rolling", inputs: ["high"], op: RollingMean(rows: 3)),
            (name: "out", inputs: ["rolling", "features"], op: Concat),
        ])"#
    ))
}

fn evaluator<'p>(plan: &'p Plan, samples: &[f32]) -> Evaluator<'p> {
    let framer = Framer::new(
        Box::new(MemorySource::new(samples.to_vec())),
        plan.window,
        plan.hop,
    );
    Evaluator::new(plan, framer).unwrap_or_else(|e| panic!("{e}"))
}

fn rows(full: &Tensor, start: u64, end: u64) -> Tensor {
    let end = end.min(full.rows() as u64);
    let start = start.min(end);
    full.slice_rows(start as usize..end as usize).to_tensor()
}

#[test]
fn ranges_around_checkpoints_at_the_end_and_empty_equal_the_full_run() {
    let samples = chirp_noise(40_000, 7);
    let spec = kernels(8);
    let (full, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
    let total = full.rows() as u64;
    assert_eq!(total, 2497);
    let plan = Plan::new(&spec, Some(total)).expect("plan");
    let mut at = evaluator(&plan, &samples);
    let requests = [
        (1000, 1010),         // cold, mid-stream
        (10 * K, 10 * K + 5), // on a checkpoint
        (20 * K - 1, 20 * K + 3),
        (20 * K + 1, 20 * K + 4),
        (total - 3, total),
        (total - 1, total + 10), // past the end: what there is
        (total + 5, total + 9),  // wholly past the end: nothing
        (500, 500),              // empty
        (0, 3),
        (77 * K - 1, 77 * K),
    ];
    for (start, end) in requests {
        let got = at
            .evaluate(WindowRange::new(start, end))
            .expect("evaluates");
        let expected = rows(&full, start, end);
        assert_eq!(got.rows(), expected.rows(), "rows of {start}..{end}");
        assert!(
            got.bit_identical(&expected),
            "{start}..{end} differs from the full run"
        );
    }
}

#[test]
fn once_checkpoints_exist_a_request_recomputes_at_most_k_windows_per_kernel() {
    let samples = chirp_noise(40_000, 8);
    let spec = kernels(8);
    let plan = Plan::new(&spec, Some(2497)).expect("plan");
    let mut at = evaluator(&plan, &samples);
    // Cold: the kernels step from window 0 to the request, leaving a checkpoint every K.
    at.evaluate(WindowRange::new(2400, 2410)).expect("cold");
    let cold = at.last_request().checkpoints.windows_recomputed;
    // Both kernels step from 0 to the block before (the rolling mean reads one block back).
    assert_eq!(cold, 2 * 2392, "two kernels stepped 0..2392 to get there");
    for (start, end) in [(100, 104), (1999, 2001), (31, 33), (2200, 2300), (5, 6)] {
        at.evaluate(WindowRange::new(start, end)).expect("warm");
        let stats = at.last_request();
        assert!(
            stats.checkpoints.windows_recomputed <= 2 * K,
            "{start}..{end} recomputed {} windows",
            stats.checkpoints.windows_recomputed
        );
        assert!(stats.checkpoints.restores <= 2, "one restore per kernel");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Any sequence of requests on one evaluator, forward or backward in time, gives the
    /// full run's rows.
    #[test]
    fn any_request_sequence_equals_the_full_run(
        block in 1usize..20,
        requests in proptest::collection::vec((0u64..1300, 0u64..90), 1..8),
        seed in 0u64..100,
    ) {
        let samples = chirp_noise(20_000, seed);
        let spec = kernels(block);
        let (full, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
        let plan = Plan::new(&spec, Some(full.rows() as u64)).expect("plan");
        let mut at = evaluator(&plan, &samples);
        for (start, len) in requests {
            let got = at.evaluate(WindowRange::new(start, start + len)).expect("evaluates");
            prop_assert!(got.bit_identical(&rows(&full, start, start + len)));
        }
    }
}

//! Parallel execution: the forward sweep gives the same bits for any number of workers, on
//! pure stages, kernels, context stages and Wasm stages, in runs and in streaming sessions.

use proptest::prelude::*;
use sqrtspace::{Mode, Plan, Session, Spec, Tensor, WindowRange};

use crate::common::{chirp_noise, run, small_audio, spec, stage};
use crate::plugins::wasm_audio;

/// A kernel, a diamond, context across part and batch boundaries, a join.
fn mixed(block: usize) -> Spec {
    spec(&format!(
        r#"(window: 128, hop: 32, sample_rate: 8000, block: {block}, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures),
            (name: "smooth", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 20.0, q: 0.7071))),
            (name: "rolling", inputs: ["smooth"], op: RollingMean(rows: 9)),
            (name: "wide", inputs: ["mag"], op: RollingMean(rows: 3)),
            (name: "out", inputs: ["rolling", "features", "smooth"], op: Concat),
        ])"#
    ))
}

fn with_workers(spec: &Spec, workers: usize) -> Spec {
    let mut s = spec.clone();
    s.max_workers = Some(workers);
    s
}

fn session_rows(spec: &Spec, samples: &[f32], chunk: usize) -> Tensor {
    let plan = Plan::new(spec, None).unwrap_or_else(|e| panic!("{e}"));
    let mut session = Session::new(&plan).expect("session");
    let mut out = Tensor::empty(&plan.target_node().port.layout);
    for piece in samples.chunks(chunk.min(session.capacity())) {
        while !session.push_samples(piece) {
            out.extend_rows(&session.pull_until(u64::MAX).expect("pull").view());
        }
    }
    out.extend_rows(&session.pull_until(u64::MAX).expect("pull").view());
    out
}

#[test]
fn any_worker_count_gives_the_bits_of_one() {
    let samples = chirp_noise(30_011, 9);
    for block in [1, 7, 64] {
        let base = mixed(block);
        let (classic, _) = run(&base, Mode::Classic, &samples, WindowRange::all());
        for workers in [1, 2, 3, 8] {
            let s = with_workers(&base, workers);
            let (sqrt, stats) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
            assert!(
                sqrt.bit_identical(&classic),
                "{workers} workers, block {block}: differs from classic"
            );
            assert_eq!(
                stage(&stats, "fft").windows,
                classic.rows() as u64,
                "each window computed once"
            );
            let streamed = session_rows(&s, &samples, 5_000);
            assert!(
                streamed.bit_identical(&classic),
                "{workers} workers, block {block}: session differs from classic"
            );
        }
    }
}

#[test]
fn workers_that_frame_their_own_parts_read_each_sample_about_once() {
    // Samples in memory, like a file, give each worker a reader of its own: each frames the
    // parts it takes, and reads again only the overlap of a part with the part before it.
    let samples = chirp_noise(30_011, 4);
    for (block, workers) in [(1, 2), (7, 3), (64, 2)] {
        let s = with_workers(&mixed(block), workers);
        let (rows, stats) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
        let (one, alone) = run(
            &with_workers(&s, 1),
            Mode::Sqrt,
            &samples,
            WindowRange::all(),
        );
        assert!(rows.bit_identical(&one), "block {block}, {workers} workers");
        // One worker's framing thread reads the samples of whole windows once (and perhaps
        // the rest of the input); the workers read them, and again only the overlaps.
        let windows = 30_011 - (30_011 - 128) % 32;
        assert!((windows..=30_011).contains(&alone.samples_read));
        let parts = (rows.rows() as u64).div_ceil(block as u64);
        assert!(
            (windows..=30_011 + parts * (128 - 32)).contains(&stats.samples_read),
            "block {block}, {workers} workers: {} samples read",
            stats.samples_read
        );
    }
}

#[test]
fn wasm_stages_get_an_instance_per_worker_and_the_same_bits() {
    let samples = chirp_noise(40_000, 10);
    let native = small_audio(256, 64);
    let (expected, _) = run(&native, Mode::Classic, &samples, WindowRange::all());
    for workers in [1, 2, 3, 8] {
        let mut s = with_workers(&wasm_audio(256, 64), workers);
        s.block = Some(16);
        let (got, _) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
        assert!(
            got.bit_identical(&expected),
            "{workers} Wasm workers differ"
        );
    }
}

#[test]
fn a_range_from_the_start_stops_at_its_end() {
    let samples = chirp_noise(20_000, 11);
    let s = with_workers(&mixed(8), 3);
    let (full, _) = run(&s, Mode::Classic, &samples, WindowRange::all());
    let (part, stats) = run(&s, Mode::Sqrt, &samples, WindowRange::new(0, 100));
    assert!(part.view().bit_identical(&full.slice_rows(0..100)));
    assert!(
        stage(&stats, "fft").windows <= 100 + 3 * 8,
        "stops within a batch of the range's end"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn random_sizes_and_workers_agree_with_classic(
        n in 0usize..20_000,
        block in 1usize..40,
        workers in 1usize..6,
        seed in 0u64..100,
    ) {
        let samples = chirp_noise(n, seed);
        let s = with_workers(&mixed(block), workers);
        let (classic, _) = run(&s, Mode::Classic, &samples, WindowRange::all());
        let (sqrt, _) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
        prop_assert!(sqrt.bit_identical(&classic));
    }
}

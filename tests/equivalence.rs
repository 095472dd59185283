//! Classic and sqrt mode give the same bits, for every block size, checkpoint interval,
//! cache size and graph shape, pure stages and kernels alike.

use proptest::prelude::*;
use sqrtspace::spec::ByteSize;
use sqrtspace::{Mode, WindowRange};

use crate::common::{
    assert_modes_agree, chirp_noise, run, run_depth_first, small_audio, spec, stage,
};

/// A stage read by two others (a diamond), a context stage, a kernel, a multi-input join.
fn context_dag(window: usize, hop: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"(window: {window}, hop: {hop}, sample_rate: 8000, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hamming)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "rolling", inputs: ["mag"], op: RollingMean(rows: 5)),
            (name: "smooth", inputs: ["mag"], op: Iir(filter: Highpass(cutoff_hz: 0.5, q: 0.9))),
            (name: "joined", inputs: ["rolling", "smooth", "mag"], op: Concat),
        ])"#
    ))
}

/// A kernel read by two stages, so with no cache its block is asked for twice and the
/// second time must come from a restored checkpoint; a checkpointed pure stage likewise.
fn shared_kernel(window: usize, hop: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"(window: {window}, hop: {hop}, sample_rate: 8000, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft()),
            (name: "band", inputs: ["fft"], op: Bandpass(lo_hz: 0.0, hi_hz: 4000.0)),
            (name: "mag", inputs: ["band"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures, checkpoint: true),
            (name: "smooth", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 1.0, q: 0.7071))),
            (name: "slow", inputs: ["smooth"], op: RollingMean(rows: 3)),
            (name: "out", inputs: ["smooth", "slow", "features"], op: Concat),
        ])"#
    ))
}

#[test]
fn audio_pipeline_for_blocks_1_7_64_and_the_whole_stream() {
    // 12_345 samples is not a whole number of hops; 64-sample hops give 189 windows.
    let samples = chirp_noise(12_345, 1);
    let base = small_audio(256, 64);
    let total = 189;
    for block in [1, 7, 64, total, 4 * total] {
        for k in [1, 2, 16] {
            let mut s = base.clone();
            s.block = Some(block);
            s.checkpoint_every = Some(k * block);
            let rows = assert_modes_agree(&s, &samples);
            assert_eq!(rows.rows(), total);
        }
    }
}

#[test]
fn diamond_is_computed_once_per_block() {
    let samples = chirp_noise(20_000, 2);
    let mut s = small_audio(256, 64);
    s.block = Some(16);
    let (rows, stats) = run_depth_first(&s, &samples);
    let windows = (20_000 - 256) / 64 + 1;
    assert_eq!(rows.rows(), windows);
    let blocks = windows.div_ceil(16) as u64;
    assert_eq!(
        stage(&stats, "features").calls,
        blocks,
        "features feeds smooth and classify"
    );
    // (The FFT is computed inside the band-pass, its only reader.)
    assert_eq!(
        stage(&stats, "bandpass").windows,
        windows as u64,
        "no window computed twice"
    );
    assert_eq!(stats.cache.hits, blocks);
}

#[test]
fn context_crosses_block_boundaries() {
    let samples = chirp_noise(9_999, 3);
    for block in [1, 2, 3, 4, 5, 9, 64, 1000] {
        let mut s = context_dag(128, 40);
        s.block = Some(block);
        assert_modes_agree(&s, &samples);
    }
}

#[test]
fn kernel_restored_from_checkpoints_when_nothing_is_cached() {
    let samples = chirp_noise(12_000, 4);
    for (block, k, slots) in [(1, 1, 2), (4, 8, 2), (5, 5, 3), (16, 64, 64), (7, 700, 1)] {
        let mut s = shared_kernel(128, 32);
        s.block = Some(block);
        s.checkpoint_every = Some(k);
        s.checkpoint_slots = Some(slots);
        s.lru_bytes = Some(ByteSize(0));
        assert_modes_agree(&s, &samples);
        let (_, stats) = run_depth_first(&s, &samples);
        assert_eq!(stats.cache.peak_bytes, 0, "a zero-byte cache holds nothing");
        assert!(
            stage(&stats, "smooth").windows > stage(&stats, "out").windows,
            "the kernel was recomputed"
        );
        // `slow` reads two rows of context, so `smooth` is asked for again one block back
        // (two blocks back when a block is one row). The state a block starts from is saved
        // when the block before it ends; a ring that still holds it restores from there,
        // a smaller one starts over from window 0 (slower, same bits).
        if slots >= 3 {
            assert!(stats.checkpoints.restores > 0, "block {block} k {k}");
            assert!(
                stats.checkpoints.output_hits > 0,
                "features came from checkpoints"
            );
        }
    }
}

#[test]
fn windows_at_multiples_of_k_see_their_own_checkpoint() {
    // A ring of 2 slots wraps every 2k windows; with no cache, every block at a multiple of
    // k is served from the ring. Returning an older block for the same slot would show here.
    let samples = chirp_noise(40_000, 5);
    let mut s = shared_kernel(64, 16);
    s.block = Some(8);
    s.checkpoint_every = Some(8);
    s.checkpoint_slots = Some(2);
    s.lru_bytes = Some(ByteSize(0));
    let rows = assert_modes_agree(&s, &samples);
    let view = rows.view();
    let typed = view.typed::<f32>().expect("f32 rows");
    assert_ne!(typed.row(8), typed.row(0), "the input is not constant");
}

#[test]
fn ranges_equal_rows_of_the_full_run() {
    let samples = chirp_noise(25_000, 6);
    let mut s = shared_kernel(128, 32);
    s.block = Some(8);
    s.checkpoint_every = Some(16);
    let (full, _) = run(&s, Mode::Classic, &samples, WindowRange::all());
    let total = full.rows() as u64;
    for (t0, t1) in [
        (0, 1),
        (15, 17),
        (16, 32),
        (17, 100),
        (total - 5, total),
        (40, 40),
        (total - 3, total + 50),
    ] {
        for mode in [Mode::Sqrt, Mode::Classic] {
            let (part, _) = run(&s, mode, &samples, WindowRange::new(t0, t1));
            let end = t1.min(total) as usize;
            let expected = full.slice_rows(t0 as usize..end).to_tensor();
            assert!(part.bit_identical(&expected), "{mode} range {t0}..{t1}");
        }
    }
}

fn pipeline(choice: usize, window: usize, hop: usize) -> sqrtspace::Spec {
    match choice {
        0 => small_audio(window, hop),
        1 => context_dag(window, hop),
        _ => shared_kernel(window, hop),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random sizes, intervals, caches and graphs: the bits never depend on the plan.
    #[test]
    fn classic_equals_sqrt(
        choice in 0usize..3,
        window in 1usize..300,
        hop in 1usize..400,
        samples in 0usize..6000,
        block in prop_oneof![1usize..70, 500usize..2000],
        k in 1usize..100,
        slots in 1usize..6,
        lru in prop_oneof![Just(0u64), 1u64..20_000, Just(64 << 20)],
        seed in 0u64..1000,
    ) {
        let mut s = pipeline(choice, window, hop);
        s.block = Some(block);
        s.checkpoint_every = Some(k);
        s.checkpoint_slots = Some(slots);
        s.lru_bytes = Some(ByteSize(lru));
        let input = chirp_noise(samples, seed);
        let rows = assert_modes_agree(&s, &input);
        let expected = if samples < window { 0 } else { (samples - window) / hop + 1 };
        prop_assert_eq!(rows.rows(), expected);
    }
}

/// The band's rows of a pipeline whose FFT the planner fuses into its band-pass, or not (a
/// checkpointed FFT is not fused), in `mode`.
fn band_rows(
    (window, hop, block): (usize, usize, usize),
    (lo_hz, hi_hz): (f64, f64),
    mode: &str,
    fused: bool,
    samples: &[f32],
) -> sqrtspace::Tensor {
    let spec = crate::common::spec(&format!(
        r#"(window: {window}, hop: {hop}, sample_rate: 1000, block: {block}, mode: {mode},
            stages: [(name: "fft", inputs: ["input"], op: WindowFft(window: Hann),
                      checkpoint: {}),
                     (name: "band", inputs: ["fft"], op: Bandpass(lo_hz: {lo_hz:?}, hi_hz: {hi_hz:?}))])"#,
        !fused
    ));
    let plan = sqrtspace::Plan::new(&spec, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.nodes()[1].fused_into.is_some(), fused);
    sqrtspace::evaluate(&plan, samples.to_vec(), WindowRange::all()).expect("runs")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The planner's fused FFT and band-pass give the bits of the two stages apart, in both
    /// modes, for any window (odd, even, tiny), hop, block and band, the whole spectrum
    /// included.
    #[test]
    fn a_fused_fft_and_bandpass_give_the_bits_of_the_two_apart(
        window in 1usize..300,
        hop in 1usize..80,
        block in 1usize..40,
        band in (0.0f64..=500.0, 0.0f64..=500.0),
        samples in proptest::collection::vec(-1.0f32..1.0, 0..3000),
    ) {
        let (lo, hi) = if band.0 <= band.1 { band } else { (band.1, band.0) };
        // A band that holds no bin is refused by both; the whole spectrum instead.
        let step = 1000.0 / window as f64;
        let (lo, hi) = if (lo / step).ceil() > (hi / step).floor() { (0.0, 500.0) } else { (lo, hi) };
        for mode in ["Classic", "Sqrt"] {
            let sizes = (window, hop, block);
            let fused = band_rows(sizes, (lo, hi), mode, true, &samples);
            let apart = band_rows(sizes, (lo, hi), mode, false, &samples);
            prop_assert!(fused.rows() == apart.rows() && fused.bit_identical(&apart), "{}", mode);
        }
    }
}

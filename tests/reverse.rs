//! Stages that run backward in time: `Filtfilt` against a whole-array forward-then-backward
//! oracle (same arithmetic order, so the same bits), classic and sqrt agreeing for any block
//! size and checkpoint interval, and the steady-state edges that make it zero-phase.

use proptest::prelude::*;
use sqrtspace::{Mode, Tensor, WindowRange};
use sqrtspace_kernels::iir::{Filter, Section};

use crate::common::{chirp_noise, run, spec};

const LOWPASS: &str = "Lowpass(cutoff_hz: 20.0, q: 0.7071)";

/// Features of a chirp, smoothed with zero phase; `block` and `k` as given.
fn zero_phase(window: usize, hop: usize, block: usize, k: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"(window: {window}, hop: {hop}, sample_rate: 8000, block: {block}, checkpoint_every: {k},
            stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures),
            (name: "smooth", inputs: ["features"], op: Filtfilt(filter: {LOWPASS})),
        ])"#
    ))
}

/// One section in transposed direct form II, as the kernel computes it.
fn tdf2(s: &Section, v: f64, z: &mut [f64; 2]) -> f64 {
    let [b0, b1, b2, a1, a2] = *s;
    let out = b0 * v + z[0];
    z[0] = b1 * v - a1 * out + z[1];
    z[1] = b2 * v - a2 * out;
    out
}

/// A whole signal through the cascade, starting at rest at its first value.
fn lfilter_steady(sections: &[Section], x: &[f32]) -> Vec<f32> {
    let mut z = vec![[0.0f64; 2]; sections.len()];
    if let Some(&first) = x.first() {
        let mut u = f64::from(first);
        for (s, z) in sections.iter().zip(z.iter_mut()) {
            let [b0, b1, b2, a1, a2] = *s;
            let y = u * (b0 + b1 + b2) / (1.0 + a1 + a2);
            *z = [y - b0 * u, b2 * u - a2 * y];
            u = y;
        }
    }
    x.iter()
        .map(|&v| {
            let mut v = f64::from(v);
            for (s, z) in sections.iter().zip(z.iter_mut()) {
                v = tdf2(s, v, z);
            }
            v as f32
        })
        .collect()
}

/// filtfilt over whole columns: forward, then backward over the reversed forward output.
fn filtfilt_oracle(sections: &[Section], input: &Tensor) -> Vec<Vec<f32>> {
    let view = input.view();
    let rows = view.typed::<f32>().expect("f32");
    (0..input.row_len())
        .map(|c| {
            let x: Vec<f32> = rows.iter().map(|r| r[c]).collect();
            let mut forward = lfilter_steady(sections, &x);
            forward.reverse();
            let mut backward = lfilter_steady(sections, &forward);
            backward.reverse();
            backward
        })
        .collect()
}

fn columns(t: &Tensor) -> Vec<Vec<f32>> {
    let view = t.view();
    let rows = view.typed::<f32>().expect("f32");
    (0..t.row_len())
        .map(|c| rows.iter().map(|r| r[c]).collect())
        .collect()
}

fn bits(columns: &[Vec<f32>]) -> Vec<Vec<u32>> {
    columns
        .iter()
        .map(|c| c.iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn sections(hop: usize) -> Vec<Section> {
    let filter: Filter = ron::from_str(LOWPASS).expect("filter");
    filter.sections(8000.0 / hop as f64).expect("valid")
}

#[test]
fn filtfilt_equals_the_whole_array_oracle_on_block_multiples_and_not() {
    // 64 windows per block; 20_000 samples give 309 windows (not a multiple), 16_448 give 256.
    for samples in [20_000usize, 16_448] {
        let signal = chirp_noise(samples, 5);
        let spec = zero_phase(128, 64, 64, 128);
        let mut features = spec.clone();
        features.target = Some("features".into());
        let (input, _) = run(&features, Mode::Classic, &signal, WindowRange::all());
        let expected = filtfilt_oracle(&sections(64), &input);
        for mode in [Mode::Classic, Mode::Sqrt] {
            let (got, _) = run(&spec, mode, &signal, WindowRange::all());
            assert_eq!(got.rows(), input.rows());
            assert_eq!(
                bits(&columns(&got)),
                bits(&expected),
                "{mode} filtfilt differs from the oracle on {samples} samples"
            );
        }
    }
}

#[test]
fn steady_edges_leave_a_constant_untouched_at_both_ends() {
    let spec = spec(&format!(
        r#"(window: 4, hop: 4, sample_rate: 8000, stages: [
            (name: "mean", inputs: ["input"], op: RollingMean(rows: 1)),
            (name: "first", inputs: ["input"], op: Concat),
            (name: "smooth", inputs: ["first"], op: Filtfilt(filter: {LOWPASS})),
        ])"#
    ));
    let signal = vec![3.0f32; 4000];
    let (out, _) = run(&spec, Mode::Sqrt, &signal, WindowRange::all());
    let view = out.view();
    for row in view.typed::<f32>().expect("f32").iter() {
        for v in row {
            assert!(
                (v - 3.0).abs() < 1e-5,
                "{v}: a start-up transient at an edge"
            );
        }
    }
}

#[test]
fn the_backward_half_runs_once_per_window_and_recomputes_its_input_once() {
    let signal = chirp_noise(40_000, 6);
    let spec = zero_phase(128, 64, 16, 64);
    let (_, stats) = run(&spec, Mode::Sqrt, &signal, WindowRange::all());
    let windows = sqrtspace::io::windows_in(40_000, 128, 64);
    let stage = |name: &str| crate::common::stage(&stats, name).windows;
    assert_eq!(
        stage("smooth"),
        windows,
        "the backward kernel steps each window once"
    );
    // One forward pass to the end, then each segment again from its checkpoint.
    assert!(
        stage("smooth.forward") <= 2 * windows,
        "forward half computed {} windows for {windows}",
        stage("smooth.forward")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn classic_and_sqrt_agree_for_any_blocking(
        n in 0usize..12_000,
        block in 1usize..40,
        k_blocks in 1usize..6,
        hop in 16usize..80,
        seed in 0u64..100,
    ) {
        let signal = chirp_noise(n, seed);
        let spec = zero_phase(64, hop, block, k_blocks * block);
        let (classic, _) = run(&spec, Mode::Classic, &signal, WindowRange::all());
        let (sqrt, _) = run(&spec, Mode::Sqrt, &signal, WindowRange::all());
        prop_assert!(classic.bit_identical(&sqrt));
    }
}

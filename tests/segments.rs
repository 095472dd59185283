//! One long stream cut into segments: the pure prefix computed by several workers, each over
//! the segments it is handed and from its own reader of the input, the crossing rows sent as
//! bytes, the stateful rest stepped in order — the same bits as one process's run, whatever
//! the segment size, the number of workers and the order the segments are computed in.

use proptest::prelude::*;
use sqrtspace::exec::{PrefixWorker, Split, StatefulPart};
use sqrtspace::io::{Framer, MemorySink, MemorySource};
use sqrtspace::{Mode, Plan, Spec, Tensor, WindowRange};

use crate::common::{chirp_noise, run, small_audio, spec};

/// Kernels, context, a diamond, and a stage after the prefix that reads the input itself.
fn shapes() -> Vec<(&'static str, Spec)> {
    vec![
        ("audio, kernel after the prefix", small_audio(128, 32)),
        (
            "diamond with context and a join",
            spec(
                r#"(window: 128, hop: 32, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "features", inputs: ["mag"], op: SpectralFeatures),
                (name: "smooth", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 20.0, q: 0.7071))),
                (name: "rolling", inputs: ["smooth"], op: RollingMean(rows: 9)),
                (name: "wide", inputs: ["mag"], op: RollingMean(rows: 3)),
                (name: "out", inputs: ["rolling", "features", "smooth"], op: Concat),
            ])"#,
            ),
        ),
        (
            "the input read after the prefix",
            spec(
                r#"(window: 64, hop: 16, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "features", inputs: ["mag"], op: SpectralFeatures),
                (name: "slow", inputs: ["input"], op: RollingMean(rows: 4)),
                (name: "out", inputs: ["slow", "features"], op: Concat),
            ])"#,
            ),
        ),
        (
            "pure all the way",
            spec(
                r#"(window: 64, hop: 16, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "features", inputs: ["mag"], op: SpectralFeatures),
            ])"#,
            ),
        ),
    ]
}

/// The run spread over `workers` workers in segments of `segment` windows, computed in the
/// order `order` gives (a permutation seed), stepped in time order.
fn spread(spec: &Spec, samples: &[f32], workers: usize, segment: u64, order: u64) -> Tensor {
    let plan = Plan::new(spec, None).unwrap_or_else(|e| panic!("{e}"));
    let split = Split::of(&plan).unwrap_or_else(|e| panic!("{e}"));
    let framer = || {
        Framer::new(
            Box::new(MemorySource::new(samples.to_vec())),
            plan.window,
            plan.hop,
        )
    };
    let total = sqrtspace::io::windows_in(samples.len() as u64, plan.window, plan.hop);
    let mut prefixes: Vec<PrefixWorker<'_>> = (0..workers)
        .map(|_| PrefixWorker::new(&plan, framer()).expect("prefix worker"))
        .collect();
    let count = total.div_ceil(segment);
    // Every worker computes its segments (j mod workers) in an order of its own; the bytes
    // wait for the stateful part, which takes them in time order.
    let mut arrived: Vec<Option<Vec<u8>>> = vec![None; count as usize];
    let mut jobs: Vec<u64> = (0..count).collect();
    let mut state = order.wrapping_mul(6364136223846793005).wrapping_add(1);
    for i in (1..jobs.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        jobs.swap(i, (state >> 33) as usize % (i + 1));
    }
    for j in jobs {
        let t0 = j * segment;
        let rows = prefixes[j as usize % workers]
            .segment(t0, (t0 + segment).min(total))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.start, t0);
        arrived[j as usize] = Some(rows.to_bytes());
    }
    let reader = split.input_after().then(framer);
    let mut rest = StatefulPart::new(&plan, reader).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = MemorySink::new(&plan.target_node().port.layout);
    for bytes in arrived {
        let bytes = bytes.expect("every segment computed");
        let rows = split
            .segment_from_bytes(&plan, &bytes)
            .unwrap_or_else(|e| panic!("{e}"));
        rest.step(rows, &mut sink).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(rest.done(), total);
    sink.tensor
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn segments_on_any_workers_in_any_order_give_one_process_bits(
        shape in 0usize..4,
        seconds_x10 in 1usize..25,
        workers in 1usize..4,
        segment in 1u64..200,
        block in 1usize..70,
        order in any::<u64>(),
        seed in 0u64..1000,
    ) {
        let (_, mut spec) = shapes().swap_remove(shape);
        spec.block = Some(block);
        let samples = chirp_noise(800 * seconds_x10 + 37, seed);
        let (whole, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
        let got = spread(&spec, &samples, workers, segment, order);
        prop_assert!(got.bit_identical(&whole), "{} rows vs {}", got.rows(), whole.rows());
    }
}

#[test]
fn the_cut_falls_before_the_first_kernel_or_context() {
    let names: Vec<(Vec<String>, Vec<String>, bool)> = shapes()
        .iter()
        .map(|(_, spec)| {
            let plan = Plan::new(spec, None).expect("plan");
            let split = Split::of(&plan).expect("split");
            let owned = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
            (
                owned(split.prefix_names(&plan)),
                owned(split.crossing_names(&plan)),
                split.input_after(),
            )
        })
        .collect();
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // (The audio pipeline's FFT is fused into its band-pass, which reads the input.)
    assert_eq!(
        names[0],
        (
            v(&["bandpass", "magnitude", "features"]),
            v(&["features"]),
            false
        )
    );
    // `wide` is not needed by the target: it is not computed, nor does it cross.
    assert_eq!(
        names[1],
        (v(&["fft", "mag", "features"]), v(&["features"]), false)
    );
    assert_eq!(
        names[2],
        (v(&["fft", "mag", "features"]), v(&["features"]), true)
    );
    assert_eq!(
        names[3],
        (v(&["fft", "mag", "features"]), v(&["features"]), false)
    );
}

#[test]
fn a_stage_backward_in_time_cannot_be_spread() {
    let plan = Plan::new(
        &spec(
            r#"(window: 64, hop: 16, sample_rate: 8000, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "zero", inputs: ["mag"], op: Filtfilt(filter: Lowpass(cutoff_hz: 20.0, q: 0.7071))),
        ])"#,
        ),
        None,
    )
    .expect("plan");
    let err = Split::of(&plan).expect_err("refused").to_string();
    assert!(err.contains("`zero` runs backward in time"), "{err}");
}

#[test]
fn damaged_segment_bytes_are_refused_not_misread() {
    let spec = small_audio(128, 32);
    let plan = Plan::new(&spec, None).expect("plan");
    let split = Split::of(&plan).expect("split");
    let samples = chirp_noise(8000, 3);
    let framer = Framer::new(Box::new(MemorySource::new(samples)), 128, 32);
    let mut prefix = PrefixWorker::new(&plan, framer).expect("prefix");
    let bytes = prefix.segment(0, 50).expect("segment").to_bytes();
    for cut in [0, 7, 20, bytes.len() - 1] {
        let err = split
            .segment_from_bytes(&plan, &bytes[..cut])
            .expect_err("cut short")
            .to_string();
        assert!(err.contains("damaged"), "{err}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(split.segment_from_bytes(&plan, &longer).is_err());
    // A segment out of order is an error, not a silent reorder.
    let mut rest = StatefulPart::new(&plan, None).expect("rest");
    let mut sink = MemorySink::new(&plan.target_node().port.layout);
    let later = prefix.segment(50, 100).expect("segment");
    let err = rest
        .step(later, &mut sink)
        .expect_err("out of order")
        .to_string();
    assert!(err.contains("after window 0"), "{err}");
}

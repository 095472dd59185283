//! Push/pull streaming: any chunking of a stream gives the bits of one push and of a classic
//! run; a full buffer refuses a chunk without changing anything; pulls return complete
//! windows only, each exactly once.

use proptest::prelude::*;
use sqrtspace::{Mode, Plan, Session, Tensor, WindowRange};

use crate::common::{chirp_noise, run, spec};

/// A kernel, a context stage read across chunk boundaries, and a join.
fn stateful(window: usize, hop: usize, buffer: usize, block: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"(window: {window}, hop: {hop}, sample_rate: 8000, input_buffer_blocks: {buffer},
            block: {block}, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures),
            (name: "smooth", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 20.0, q: 0.7071))),
            (name: "rolling", inputs: ["smooth"], op: RollingMean(rows: 4)),
            (name: "out", inputs: ["rolling", "features"], op: Concat),
        ])"#
    ))
}

/// Pushes `samples` in chunks of the given sizes (cycled), pulling whenever the buffer is
/// full, and every `pull_every` chunks up to a window `pull_ahead` past the last one pulled
/// (often more than the input completes); returns everything pulled, in order.
fn stream(
    plan: &Plan,
    samples: &[f32],
    sizes: &[usize],
    pull_every: usize,
    pull_ahead: u64,
) -> Tensor {
    let mut session = Session::new(plan).expect("session");
    let mut out = Tensor::empty(&plan.target_node().port.layout);
    let mut at = 0;
    let mut pushes = 0;
    while at < samples.len() {
        let size = sizes[pushes % sizes.len()]
            .clamp(1, session.capacity())
            .min(samples.len() - at);
        let chunk = &samples[at..at + size];
        while !session.push_samples(chunk) {
            // A refused chunk changes nothing.
            let before = (session.buffered(), session.windows_available());
            assert!(!session.push_samples(chunk));
            assert_eq!(before, (session.buffered(), session.windows_available()));
            let pulled = session.pull_until(u64::MAX).expect("pull");
            out.extend_rows(&pulled.view());
            assert!(
                session.buffered() < before.0,
                "a pull on a full buffer frees room"
            );
        }
        at += size;
        pushes += 1;
        if pushes % pull_every.max(1) == 0 {
            let done = session.windows_done();
            let upto = done.saturating_add(pull_ahead);
            let pulled = session.pull_until(upto).expect("pull");
            // Only complete windows, none twice, up to what was asked.
            let expect = upto.min(session.windows_available()) - done;
            assert_eq!(pulled.rows() as u64, expect);
            out.extend_rows(&pulled.view());
        }
    }
    out.extend_rows(&session.pull_until(u64::MAX).expect("pull").view());
    assert_eq!(session.windows_done(), out.rows() as u64);
    out
}

fn plan(spec: &sqrtspace::Spec) -> Plan {
    Plan::new(spec, None).unwrap_or_else(|e| panic!("{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_chunking_gives_the_bits_of_one_push_and_of_classic(
        n in 0usize..6000,
        window in 8usize..96,
        hop in 1usize..80,
        buffer in 1usize..40,
        block in 1usize..20,
        sizes in proptest::collection::vec(1usize..900, 1..6),
        pull_every in 1usize..5,
        pull_ahead in 0u64..200,
        seed in 0u64..1000,
    ) {
        let samples = chirp_noise(n, seed);
        let spec = stateful(window, hop, buffer, block);
        let (classic, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
        let plan = plan(&spec);
        let chunked = stream(&plan, &samples, &sizes, pull_every, pull_ahead);
        let whole = stream(&plan, &samples, &[usize::MAX], 1, u64::MAX);
        prop_assert_eq!(chunked.rows(), classic.rows());
        prop_assert!(chunked.bit_identical(&classic), "chunked stream differs from classic");
        prop_assert!(whole.bit_identical(&classic), "one push differs from classic");
    }
}

#[test]
fn a_full_buffer_refuses_the_chunk_and_changes_nothing() {
    let spec = stateful(64, 16, 4, 2);
    let plan = plan(&spec);
    let mut session = Session::new(&plan).expect("session");
    assert_eq!(session.capacity(), 4 * 16 + 64);
    let samples = chirp_noise(1000, 3);
    assert!(session.push_samples(&samples[..100]));
    assert!(
        !session.push_samples(&samples[100..129]),
        "29 more do not fit in 128"
    );
    assert_eq!(
        session.buffered(),
        100,
        "nothing of a refused chunk is enqueued"
    );
    assert!(session.push_samples(&samples[100..128]));
    assert!(!session.push_samples(&samples[128..129]));
    // The refused samples are pushed again later; the result is the stream's, exactly.
    let mut out = session.pull_until(u64::MAX).expect("pull");
    for chunk in samples[128..].chunks(50) {
        while !session.push_samples(chunk) {
            out.extend_rows(&session.pull_until(u64::MAX).expect("pull").view());
        }
    }
    out.extend_rows(&session.pull_until(u64::MAX).expect("pull").view());
    let (classic, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
    assert!(out.bit_identical(&classic));
}

#[test]
fn pulls_return_complete_windows_once_and_the_rest_later() {
    let spec = stateful(64, 16, 64, 8);
    let plan = plan(&spec);
    let samples = chirp_noise(2000, 4);
    let (classic, _) = run(&spec, Mode::Classic, &samples, WindowRange::all());
    let mut session = Session::new(&plan).expect("session");
    assert!(session.push_samples(&samples[..63]));
    assert_eq!(
        session.pull_until(10).expect("pull").rows(),
        0,
        "no window complete"
    );
    assert!(session.push_samples(&samples[63..200]));
    // 200 samples complete windows 0..=8; asking for 100 gives the 9 there are.
    let first = session.pull_until(100).expect("pull");
    assert_eq!(first.rows(), 9);
    assert_eq!(
        session.pull_until(100).expect("pull").rows(),
        0,
        "nothing repeated"
    );
    assert!(session.push_samples(&samples[200..1000]));
    let second = session.pull_until(20).expect("pull");
    assert_eq!(second.rows(), 11, "up to window 20, exclusive");
    let third = session.pull_until(u64::MAX).expect("pull");
    let mut joined = first;
    joined.extend_rows(&second.view());
    joined.extend_rows(&third.view());
    assert!(
        joined
            .view()
            .bit_identical(&classic.slice_rows(0..joined.rows()))
    );
    assert_eq!(joined.rows() as u64, session.windows_available());
}

#[test]
fn a_backward_stage_cannot_stream() {
    let spec = spec(
        r#"(window: 8, hop: 4, sample_rate: 8000, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft()),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "back", inputs: ["mag"], op: Iir(filter: Lowpass(cutoff_hz: 100.0, q: 0.7)), reverse: true),
        ])"#,
    );
    let plan = plan(&spec);
    let err = Session::new(&plan).unwrap_err().to_string();
    assert!(
        err.contains("stage `back` runs backward in time")
            && err.contains("cannot run on a live stream"),
        "{err}"
    );
}

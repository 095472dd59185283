//! Inputs at the edges: shorter than a window, hops larger than windows or not dividing
//! them, one-sample windows, and non-finite samples, and an output device that fills up mid-run.

use sqrtspace::{Mode, Plan, WindowRange};

use crate::common::{assert_modes_agree, chirp_noise, run, small_audio, spec};

#[test]
fn input_shorter_than_a_window_gives_zero_rows() {
    for samples in [0, 1, 255] {
        for mode in [Mode::Classic, Mode::Sqrt] {
            let (rows, stats) = run(
                &small_audio(256, 64),
                mode,
                &chirp_noise(samples, 1),
                WindowRange::all(),
            );
            assert_eq!(
                (rows.rows(), rows.row_shape()),
                (0, &[3][..]),
                "{samples} samples, {mode}"
            );
            assert_eq!(stats.windows_out, 0);
        }
    }
}

#[test]
fn window_larger_than_the_input() {
    let s = small_audio(4096, 1024);
    let rows = assert_modes_agree(&s, &chirp_noise(4095, 2));
    assert_eq!(rows.rows(), 0);
    let rows = assert_modes_agree(&s, &chirp_noise(4096, 2));
    assert_eq!(rows.rows(), 1);
}

#[test]
fn hop_larger_than_window_skips_samples() {
    let samples = chirp_noise(10_000, 3);
    for block in [1, 3, 50] {
        let mut s = small_audio(64, 150);
        s.block = Some(block);
        let rows = assert_modes_agree(&s, &samples);
        assert_eq!(rows.rows(), (10_000 - 64) / 150 + 1);
    }
}

#[test]
fn hop_that_does_not_divide_the_window() {
    let samples = chirp_noise(7_777, 4);
    for block in [1, 6, 1000] {
        let mut s = small_audio(100, 30);
        s.block = Some(block);
        let rows = assert_modes_agree(&s, &samples);
        assert_eq!(rows.rows(), (7_777 - 100) / 30 + 1);
    }
}

#[test]
fn one_sample_windows() {
    let samples = chirp_noise(3_000, 5);
    let mut s = small_audio(1, 1);
    s.block = Some(17);
    let rows = assert_modes_agree(&s, &samples);
    assert_eq!(rows.rows(), 3_000);
}

#[test]
fn nan_and_infinities_pass_through_untouched() {
    let pure = spec(
        r#"(window: 64, hop: 32, sample_rate: 8000, block: 4, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft()),
            (name: "mag", inputs: ["fft"], op: Magnitude),
            (name: "features", inputs: ["mag"], op: SpectralFeatures),
        ])"#,
    );
    let clean = chirp_noise(4_000, 6);
    let mut dirty = clean.clone();
    dirty[1000] = f32::NAN;
    dirty[2000] = f32::INFINITY;
    dirty[3000] = f32::NEG_INFINITY;
    let with = assert_modes_agree(&pure, &dirty);
    let without = assert_modes_agree(&pure, &clean);
    let (wv, ov) = (with.view(), without.view());
    let (w, o) = (
        wv.typed::<f32>().expect("f32"),
        ov.typed::<f32>().expect("f32"),
    );
    for t in 0..with.rows() {
        let span = t * 32..t * 32 + 64;
        let touched = [1000, 2000, 3000].iter().any(|i| span.contains(i));
        if touched {
            assert!(
                w.row(t).iter().any(|v| !v.is_finite()),
                "window {t} hides a non-finite sample"
            );
        } else {
            assert_eq!(w.row(t), o.row(t), "window {t} is unaffected");
        }
    }
    // The whole audio pipeline, with its kernel, still agrees across modes.
    let mut s = small_audio(64, 32);
    s.block = Some(3);
    assert_modes_agree(&s, &dirty);
}

/// A sink whose device fills up after `room` rows.
struct FillsUp {
    room: u64,
    written: u64,
    calls_after_failing: u32,
}

impl sqrtspace::io::Sink for FillsUp {
    fn write(
        &mut self,
        _t0: u64,
        rows: &sqrtspace::TensorView<'_>,
    ) -> Result<(), sqrtspace::io::OutputError> {
        if self.written + rows.rows() as u64 > self.room {
            self.calls_after_failing += 1;
            return Err(sqrtspace::io::OutputError::Write {
                path: "y.npy".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            });
        }
        self.written += rows.rows() as u64;
        Ok(())
    }
}

#[test]
fn a_write_failing_mid_run_stops_the_run_with_the_output_named() {
    let samples = chirp_noise(40_000, 31);
    for mode in [Mode::Classic, Mode::Sqrt] {
        for workers in [1, 3] {
            let mut s = small_audio(64, 32);
            s.mode = mode;
            s.block = Some(16);
            s.max_workers = Some(workers);
            let plan = Plan::new(&s, None).expect("plans");
            let mut framer = sqrtspace::io::Framer::new(
                Box::new(sqrtspace::io::MemorySource::new(samples.clone())),
                64,
                32,
            );
            let mut sink = FillsUp {
                room: 100,
                written: 0,
                calls_after_failing: 0,
            };
            let err = sqrtspace::run(&plan, &mut framer, WindowRange::all(), &mut sink)
                .expect_err("the device is full");
            assert!(
                matches!(err, sqrtspace::ExecError::Output(_)),
                "{mode:?} x{workers}: {err}"
            );
            assert!(
                err.to_string().contains("cannot write output y.npy"),
                "{err}"
            );
            assert_eq!(
                sink.calls_after_failing, 1,
                "{mode:?} x{workers}: stopped at once"
            );
        }
    }
}

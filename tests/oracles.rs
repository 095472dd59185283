//! End to end against naive implementations: what the pipeline computes is what the
//! definitions say, not only the same in both modes.

use sqrtspace::spec::WindowFunction;
use sqrtspace::tensor::Complex32;
use sqrtspace::{Mode, WindowRange};
use sqrtspace_kernels::features::{COLUMNS, features};
use sqrtspace_kernels::iir::Filter;

use crate::common::{chirp_noise, run, small_audio};

/// The windowed DFT of samples `[t * hop, t * hop + n)`, computed directly in f64.
fn naive_spectrum(samples: &[f32], t: usize, n: usize, hop: usize) -> Vec<(f64, f64)> {
    let w = WindowFunction::Hann.coefficients(n);
    let x: Vec<f64> = (0..n)
        .map(|i| f64::from(samples[t * hop + i] * w[i]))
        .collect();
    (0..n / 2 + 1)
        .map(|k| {
            x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, v)| {
                let phase = -2.0 * std::f64::consts::PI * (k * i % n) as f64 / n as f64;
                (re + v * phase.cos(), im + v * phase.sin())
            })
        })
        .collect()
}

#[test]
fn fft_target_is_the_dft_of_each_window() {
    let (n, hop) = (128, 48);
    let samples = chirp_noise(5_000, 11);
    let mut s = small_audio(n, hop);
    s.target = Some("fft".into());
    s.block = Some(5);
    let (rows, _) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
    assert_eq!(rows.rows(), (5_000 - n) / hop + 1);
    let view = rows.view();
    let got = view.typed::<Complex32>().expect("complex rows");
    for t in [0, 1, 7, rows.rows() - 1] {
        for (k, (z, (re, im))) in got
            .row(t)
            .iter()
            .zip(naive_spectrum(&samples, t, n, hop))
            .enumerate()
        {
            let err = (f64::from(z.re) - re).hypot(f64::from(z.im) - im);
            assert!(err < 1e-4, "window {t} bin {k}: {z} vs ({re}, {im})");
        }
    }
}

#[test]
fn features_of_the_band_match_the_definitions_on_naive_spectra() {
    let (n, hop) = (256, 100);
    let samples = chirp_noise(8_000, 12);
    let mut s = small_audio(n, hop);
    s.target = Some("features".into());
    let (rows, _) = run(&s, Mode::Classic, &samples, WindowRange::all());
    let step = 8000.0 / n as f64;
    // The band is 0..=2000 Hz: bins 0..=64.
    let band = (0..=n / 2).filter(|&k| k as f64 * step <= 2000.0).count();
    let view = rows.view();
    let got = view.typed::<f32>().expect("f32 rows");
    for t in 0..rows.rows() {
        let mags: Vec<f32> = naive_spectrum(&samples, t, n, hop)[..band]
            .iter()
            .map(|(re, im)| re.hypot(*im) as f32)
            .collect();
        let expected = features(&mags, 0.0, step);
        for (c, (g, e)) in got.row(t).iter().zip(expected).enumerate() {
            let tol = 1e-3 * e.abs().max(1.0);
            assert!(
                (g - e).abs() <= tol,
                "window {t} {}: {g} vs {e}",
                COLUMNS[c]
            );
        }
    }
}

#[test]
fn smoothing_kernel_is_a_sample_by_sample_biquad_over_each_feature() {
    let (n, hop) = (256, 64);
    let samples = chirp_noise(30_000, 13);
    let mut s = small_audio(n, hop);
    s.block = Some(9);
    s.target = Some("features".into());
    let (features, _) = run(&s, Mode::Classic, &samples, WindowRange::all());
    s.target = Some("smooth".into());
    let (smooth, _) = run(&s, Mode::Sqrt, &samples, WindowRange::all());
    let frame_rate = 8000.0 / hop as f64;
    let sections = Filter::Lowpass {
        cutoff_hz: 1.5,
        q: std::f64::consts::FRAC_1_SQRT_2,
    }
    .sections(frame_rate)
    .expect("valid filter");
    let [b0, b1, b2, a1, a2] = sections[0];
    let (fv, sv) = (features.view(), smooth.view());
    let (f, y) = (
        fv.typed::<f32>().expect("f32"),
        sv.typed::<f32>().expect("f32"),
    );
    for c in 0..4 {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0, 0.0, 0.0);
        for t in 0..features.rows() {
            let x = f64::from(f.row(t)[c]);
            let out = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x, y1, out);
            let got = f64::from(y.row(t)[c]);
            assert!(
                (got - out).abs() <= 1e-5 * out.abs().max(1.0),
                "feature {c} window {t}: {got} vs {out}"
            );
        }
    }
}

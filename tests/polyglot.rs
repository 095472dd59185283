//! Stages written in C and JavaScript (`pipelines/polyglot.ron`): each gives the same bits as
//! its Rust twin and as a reference computed here, the polyglot pipeline gives the same bits
//! in classic and sqrt mode at any block size, and `plugin inspect` describes each one.
//!
//! `plugins/build-polyglot` builds the C and JavaScript plugins (it installs clang, wit-bindgen
//! and the npm packages); CI runs it and sets `SQRTSPACE_REQUIRE_POLYGLOT=1`, under which a
//! missing plugin fails these tests. Without it they say what is missing and stop.

use crate::cli::Start;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqrtspace::spec::OpSpec;
use sqrtspace::{Mode, Spec, Tensor, WindowRange};
use sqrtspace_test_artifacts as artifacts;

use crate::common::{assert_modes_agree, chirp_noise, run, spec};

const POLYGLOT: &str = include_str!("../pipelines/polyglot.ron");
const EXE: &str = env!("CARGO_BIN_EXE_sqrtspace");

/// The C and JavaScript plugins, or `None` (with a note) when they have not been built.
fn built() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(artifacts::POLYGLOT_DIR);
    let (c, js) = (dir.join("zcr.wasm"), dir.join("stats.wasm"));
    if c.is_file() && js.is_file() {
        return Some((c, js));
    }
    let missing = format!(
        "{} or {} is missing: run plugins/build-polyglot",
        c.display(),
        js.display()
    );
    assert!(
        std::env::var_os("SQRTSPACE_REQUIRE_POLYGLOT").is_none(),
        "{missing}"
    );
    eprintln!("skipping the polyglot tests: {missing}");
    None
}

/// `polyglot.ron` at 8 kHz with 512-sample windows, every plugin path made absolute. With
/// `twins`, the C and JavaScript stages are replaced by their Rust twins.
fn polyglot(c: &Path, js: &Path, twins: bool) -> Spec {
    let mut s = spec(POLYGLOT);
    s.window = 512;
    s.hop = 128;
    s.sample_rate = 8000;
    for stage in &mut s.stages {
        if let OpSpec::Plugin(plugin) = &mut stage.op {
            let named = plugin.path.clone().unwrap_or_default();
            plugin.path = Some(match (named.to_str(), twins) {
                (Some("zcr.wasm"), false) => c.to_path_buf(),
                (Some("stats.wasm"), false) => js.to_path_buf(),
                (Some("zcr.wasm"), true) => artifacts::ZCR_RUST.into(),
                (Some("stats.wasm"), true) => artifacts::STATS_RUST.into(),
                _ => Path::new(artifacts::DIR).join(named),
            });
        }
    }
    s
}

fn target(s: &Spec, name: &str) -> Spec {
    let mut s = s.clone();
    s.target = Some(name.into());
    s
}

fn rows_f32(t: &Tensor) -> Vec<Vec<f32>> {
    let view = t.view();
    let rows = view.typed::<f32>().expect("f32 rows");
    rows.iter().map(<[f32]>::to_vec).collect()
}

fn same_bits(a: &[Vec<f32>], b: &[Vec<f32>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: row counts");
    for (t, (x, y)) in a.iter().zip(b).enumerate() {
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(x), bits(y), "{what}: window {t}: {x:?} vs {y:?}");
    }
}

#[test]
fn the_polyglot_pipeline_gives_the_same_bits_in_both_modes_at_any_block() {
    let Some((c, js)) = built() else { return };
    let samples = chirp_noise(24_000, 31);
    let s = polyglot(&c, &js, false);
    let mut outputs = Vec::new();
    for block in [1, 7, 64] {
        let mut s = s.clone();
        s.block = Some(block);
        let rows = assert_modes_agree(&s, &samples);
        assert_eq!(
            rows.row_shape(),
            [9],
            "4 features, zcr, 3 quartiles and the MAD"
        );
        outputs.push(rows);
    }
    assert!(outputs[0].rows() > 150);
    assert!(outputs.iter().all(|o| o.bit_identical(&outputs[0])));
    // And the same bits as the pipeline with every stage in Rust.
    let (rust, _) = run(
        &polyglot(&c, &js, true),
        Mode::Sqrt,
        &samples,
        WindowRange::all(),
    );
    assert!(rust.bit_identical(&outputs[0]));
}

#[test]
fn the_c_stage_equals_its_rust_twin_and_a_direct_count() {
    let Some((c, js)) = built() else { return };
    let samples = chirp_noise(30_000, 32);
    let (window, hop) = (512, 128);
    let (from_c, _) = run(
        &target(&polyglot(&c, &js, false), "zcr"),
        Mode::Sqrt,
        &samples,
        WindowRange::all(),
    );
    let (from_rust, _) = run(
        &target(&polyglot(&c, &js, true), "zcr"),
        Mode::Classic,
        &samples,
        WindowRange::all(),
    );
    let direct: Vec<Vec<f32>> = (0..from_c.rows())
        .map(|t| {
            let w = &samples[t * hop..t * hop + window];
            let mut crossings = 0u32;
            for i in 1..window {
                if (w[i - 1] < 0.0) != (w[i] < 0.0) {
                    crossings += 1;
                }
            }
            vec![(f64::from(crossings) / (window - 1) as f64) as f32]
        })
        .collect();
    assert_eq!(from_c.rows(), (samples.len() - window) / hop + 1);
    same_bits(&rows_f32(&from_c), &direct, "C vs direct count");
    same_bits(&rows_f32(&from_c), &rows_f32(&from_rust), "C vs Rust");
    assert!(direct.iter().any(|r| r[0] > 0.0) && direct.iter().any(|r| r[0] < 0.5));
}

/// numpy's default (linear) quantile of sorted `x`.
fn numpy_quantile(x: &[f64], p: f64) -> f64 {
    let h = (x.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    x[lo] + (h - lo as f64) * (x[hi] - x[lo])
}

#[test]
fn the_javascript_stage_equals_its_rust_twin_and_sorted_quantiles() {
    let Some((c, js)) = built() else { return };
    let samples = chirp_noise(20_000, 33);
    let mut s = polyglot(&c, &js, false);
    let mut twin = polyglot(&c, &js, true);
    // Other quantiles than the pipeline's, to show the parameters reach the plugin.
    let quantiles = [0.1, 0.5, 0.9, 0.99];
    for spec in [&mut s, &mut twin] {
        for stage in &mut spec.stages {
            if let (OpSpec::Plugin(p), "stats") = (&mut stage.op, stage.name.as_str()) {
                p.params = Some(
                    ron::value::RawValue::from_boxed_ron(
                        "(quantiles: [0.1, 0.5, 0.9, 0.99])".into(),
                    )
                    .expect("ron"),
                );
            }
        }
    }
    let (from_js, _) = run(
        &target(&s, "stats"),
        Mode::Sqrt,
        &samples,
        WindowRange::all(),
    );
    let (from_rust, _) = run(
        &target(&twin, "stats"),
        Mode::Classic,
        &samples,
        WindowRange::all(),
    );
    let (magnitudes, _) = run(
        &target(&s, "magnitude"),
        Mode::Classic,
        &samples,
        WindowRange::all(),
    );
    let reference: Vec<Vec<f32>> = rows_f32(&magnitudes)
        .iter()
        .map(|row| {
            let mut x: Vec<f64> = row.iter().map(|&m| f64::from(m)).collect();
            x.sort_by(f64::total_cmp);
            let median = numpy_quantile(&x, 0.5);
            let mut dev: Vec<f64> = x.iter().map(|v| (v - median).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let mut out: Vec<f32> = quantiles
                .iter()
                .map(|&p| numpy_quantile(&x, p) as f32)
                .collect();
            out.push(numpy_quantile(&dev, 0.5) as f32);
            out
        })
        .collect();
    assert!(reference.len() > 100);
    same_bits(
        &rows_f32(&from_js),
        &reference,
        "JavaScript vs sorted quantiles",
    );
    same_bits(
        &rows_f32(&from_js),
        &rows_f32(&from_rust),
        "JavaScript vs Rust",
    );
}

fn cli(args: &[&str], cache: &Path) -> std::process::Output {
    Command::new(EXE)
        .args(args)
        .env("SQRTSPACE_CACHE_DIR", cache)
        .run()
        .expect("runs")
}

#[test]
fn inspect_describes_each_language_and_bad_parameters_are_named() {
    let Some((c, js)) = built() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, name, language) in [
        (&c, "zcr", "(C)"),
        (&js, "spectral-stats", "(JavaScript"),
        (&artifacts::ZCR_RUST.into(), "zcr-rust", "(Rust)"),
    ] {
        let out = cli(
            &["plugin", "inspect", &path.to_string_lossy(), "--json"],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(info["name"], name);
        assert_eq!(info["wit_version"], "0.2.0");
        assert_eq!(info["compatible"], true);
        assert_eq!(info["stateful"], false);
        assert_eq!(
            info["imports"],
            serde_json::json!([]),
            "{name} imports nothing"
        );
        let description = info["description"].as_str().unwrap_or_default();
        assert!(description.contains(language), "{description}");
    }

    // The JavaScript stage refuses a bad quantile with its own message, which the host names.
    let pipeline = dir.path().join("p.ron");
    std::fs::write(
        &pipeline,
        format!(
            r#"(window: 64, hop: 32, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft()),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "stats", inputs: ["mag"], op: Plugin(path: {js:?}, params: (quantiles: [1.5]))),
            ])"#
        ),
    )
    .expect("write");
    let input = dir.path().join("x.f32");
    let bytes: Vec<u8> = chirp_noise(4_000, 34)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&input, bytes).expect("write");
    let out = cli(
        &[
            "run",
            &pipeline.to_string_lossy(),
            "--input",
            &input.to_string_lossy(),
            "--output",
            &dir.path().join("y.npy").to_string_lossy(),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("stats.wasm"), "{err}");
    assert!(
        err.contains("`quantiles` must be a non-empty list of numbers in [0, 1]"),
        "{err}"
    );
    assert!(!dir.path().join("y.npy").exists());
}

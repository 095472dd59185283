//! Stages as Wasm plugins: the same bits as their native twins, the same bits in both modes,
//! the host surviving a hostile plugin, and the compile cache (each hostile plugin's message
//! through the CLI is a case in `bad_input`).

use crate::cli::Start;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqrtspace::plugin::{CacheOutcome, EngineOptions, Runtime};
use sqrtspace::spec::OpSpec;
use sqrtspace::{Mode, Plan, Spec, WindowRange};
use sqrtspace_test_artifacts as artifacts;

use crate::common::{assert_modes_agree, chirp_noise, run, run_depth_first, small_audio, spec};

/// The audio pipeline with its Wasm stages.
const AUDIO: &str = include_str!("../pipelines/audio.ron");

const EXE: &str = env!("CARGO_BIN_EXE_sqrtspace");

/// The Wasm audio pipeline, its plugins taken from the test build, resized like `small_audio`.
pub(crate) fn wasm_audio(window: usize, hop: usize) -> Spec {
    let mut s = small_audio(window, hop);
    let wasm = spec(AUDIO);
    for (stage, wasm_stage) in s.stages.iter_mut().zip(wasm.stages) {
        if let OpSpec::Plugin(mut plugin) = wasm_stage.op {
            plugin.path = plugin
                .path
                .as_ref()
                .map(|p| Path::new(artifacts::DIR).join(p));
            stage.op = OpSpec::Plugin(plugin);
        }
    }
    s
}

#[test]
fn wasm_pipeline_equals_its_native_twin_and_both_modes_agree() {
    let samples = chirp_noise(20_000, 21);
    let native = small_audio(256, 64);
    let wasm = wasm_audio(256, 64);
    assert_eq!(
        wasm.stages
            .iter()
            .filter(|s| matches!(s.op, OpSpec::Plugin(_)))
            .count(),
        3,
        "features, smooth and classify run as Wasm"
    );
    for block in [1, 7, 64, 1000] {
        let (mut n, mut w) = (native.clone(), wasm.clone());
        n.block = Some(block);
        w.block = Some(block);
        let wasm_rows = assert_modes_agree(&w, &samples);
        let (native_rows, _) = run(&n, Mode::Sqrt, &samples, WindowRange::all());
        assert!(
            wasm_rows.bit_identical(&native_rows),
            "block {block}: Wasm and native differ"
        );
    }
}

#[test]
fn each_plugin_equals_the_same_crate_run_natively() {
    let samples = chirp_noise(30_000, 22);
    let wasm = wasm_audio(512, 128);
    let native = small_audio(512, 128);
    for target in ["features", "smooth", "classify"] {
        let (mut w, mut n) = (wasm.clone(), native.clone());
        w.target = Some(target.into());
        n.target = Some(target.into());
        w.block = Some(13);
        let (wasm_rows, _) = run(&w, Mode::Sqrt, &samples, WindowRange::all());
        let (native_rows, _) = run(&n, Mode::Classic, &samples, WindowRange::all());
        assert!(wasm_rows.rows() > 200);
        assert!(wasm_rows.bit_identical(&native_rows), "{target}");
    }
}

#[test]
fn the_kernel_plugin_restores_its_state_from_checkpoints() {
    let samples = chirp_noise(15_000, 23);
    let mut s = wasm_audio(256, 64);
    s.block = Some(4);
    s.checkpoint_every = Some(4);
    s.checkpoint_slots = Some(3);
    s.lru_bytes = Some(sqrtspace::spec::ByteSize(0));
    s.target = Some("classify".into());
    let (rows, stats) = run_depth_first(&s, &samples);
    assert!(stats.checkpoints.states_saved > 0);
    let (reference, _) = run(
        &small_audio(256, 64),
        Mode::Classic,
        &samples,
        WindowRange::all(),
    );
    assert!(rows.bit_identical(&reference));
    // A range late in the stream starts the kernel over from window 0 and still agrees.
    let (late, _) = run(&s, Mode::Sqrt, &samples, WindowRange::new(150, 170));
    assert!(late.bit_identical(&reference.slice_rows(150..170).to_tensor()));
}

/// A pipeline of one plugin stage after the FFT's magnitude, written to `dir`.
fn one_plugin_pipeline(dir: &Path, plugin: &str, extra: &str) -> PathBuf {
    let path = dir.join("p.ron");
    std::fs::write(
        &path,
        format!(
            r#"(window: 64, hop: 32, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft()),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "hostile", inputs: ["mag"], op: Plugin(path: {plugin:?}{extra})),
            ])"#
        ),
    )
    .expect("write pipeline");
    path
}

fn raw_input(dir: &Path) -> PathBuf {
    let path = dir.join("x.f32");
    let bytes: Vec<u8> = chirp_noise(8_000, 24)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&path, bytes).expect("write input");
    path
}

#[test]
fn the_host_survives_a_trap_and_runs_the_next_pipeline() {
    let samples = chirp_noise(4_000, 25);
    let mut s = spec(
        &std::fs::read_to_string(one_plugin_pipeline(
            tempfile::tempdir().expect("tempdir").path(),
            artifacts::PANIC,
            "",
        ))
        .unwrap_or_default(),
    );
    s.mode = Mode::Sqrt;
    let plan = Plan::new(&s, None).expect("plans");
    let err = sqrtspace::evaluate(&plan, samples.clone(), WindowRange::all())
        .expect_err("the plugin panics");
    assert!(err.to_string().contains("trapped"), "{err}");
    let (rows, _) = run(
        &wasm_audio(256, 64),
        Mode::Sqrt,
        &samples,
        WindowRange::all(),
    );
    assert!(rows.rows() > 0);
}

#[test]
fn the_compile_cache_hits_recompiles_on_change_and_replaces_damage() {
    let cache = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let plugin = work.path().join("p.wasm");
    std::fs::copy(artifacts::FEATURES, &plugin).expect("copy");
    let runtime =
        Runtime::new(&EngineOptions::default(), Some(cache.path().to_path_buf())).expect("engine");
    assert_eq!(
        runtime.load(&plugin).expect("loads").cache,
        CacheOutcome::Compiled
    );
    assert_eq!(
        runtime.load(&plugin).expect("loads").cache,
        CacheOutcome::Hit
    );

    // Another file at the same path: compiled, not served the old artifact.
    std::fs::copy(artifacts::CLASSIFY, &plugin).expect("copy");
    assert_eq!(
        runtime.load(&plugin).expect("loads").cache,
        CacheOutcome::Compiled
    );

    // Another engine configuration: compiled again, then hits.
    let other = Runtime::new(
        &EngineOptions {
            canonicalize_nans: true,
        },
        Some(cache.path().to_path_buf()),
    )
    .expect("engine");
    assert_eq!(
        other.load(&plugin).expect("loads").cache,
        CacheOutcome::Compiled
    );
    assert_eq!(other.load(&plugin).expect("loads").cache, CacheOutcome::Hit);

    // Damage every entry: each is ignored, compiled again and replaced.
    for entry in std::fs::read_dir(cache.path())
        .expect("cache dir")
        .filter_map(Result::ok)
    {
        let mut bytes = std::fs::read(entry.path()).expect("entry");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(entry.path(), bytes).expect("damage");
    }
    assert_eq!(
        runtime.load(&plugin).expect("loads").cache,
        CacheOutcome::Replaced
    );
    assert_eq!(
        runtime.load(&plugin).expect("loads").cache,
        CacheOutcome::Hit
    );
    std::fs::write(cache.path().join("truncated.cwasm"), b"ab").expect("write");
}

#[test]
fn a_second_run_loads_from_the_cache_as_its_metrics_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = one_plugin_pipeline(dir.path(), artifacts::FEATURES, "");
    let input = raw_input(dir.path());
    let mut outcomes = Vec::new();
    for run in 0..2 {
        let metrics = dir.path().join(format!("m{run}.json"));
        let out = Command::new(EXE)
            .args([
                "run",
                pipeline.to_str().unwrap_or_default(),
                "--input",
                input.to_str().unwrap_or_default(),
            ])
            .args(["--metrics-json", metrics.to_str().unwrap_or_default()])
            .env("SQRTSPACE_CACHE_DIR", dir.path().join("cache"))
            .run()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&metrics).expect("metrics"))
                .expect("json");
        outcomes.push(
            json["plugins"][0]["cache"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(outcomes, ["compiled", "hit"]);
}

#[test]
fn inspect_describes_plugins() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, name, kind) in [
        (artifacts::IIR, "iir", "kernel (stateful)"),
        (artifacts::FEATURES, "features", "stage (pure)"),
    ] {
        let out = Command::new(EXE)
            .args(["plugin", "inspect", path])
            .env("SQRTSPACE_CACHE_DIR", dir.path())
            .run()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("name         {name} 0.1.0")),
            "{text}"
        );
        assert!(
            text.contains("contract     sqrtspace:pipeline@0.2.0"),
            "{text}"
        );
        assert!(text.contains(kind), "{text}");
        assert!(text.contains("imports      none"), "{text}");
    }
    let out = Command::new(EXE)
        .args(["plugin", "inspect", artifacts::OLD_WIT, "--json"])
        .env("SQRTSPACE_CACHE_DIR", dir.path())
        .run()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["wit_version"], "0.0.1");
    assert_eq!(json["compatible"], false);
}

#[test]
fn hash_pins_and_precompile_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let cli = |args: &[&str]| {
        let out = Command::new(EXE)
            .args(args)
            .env("SQRTSPACE_CACHE_DIR", &cache)
            .run()
            .expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(std::fs::read(artifacts::FEATURES).expect("reads"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hashed = cli(&["plugin", "hash", artifacts::FEATURES]);
    assert_eq!(hashed, format!("{expected}  {}\n", artifacts::FEATURES));

    // Precompiled, then taken from the cache.
    let first = cli(&["plugin", "precompile", artifacts::FEATURES]);
    assert!(first.starts_with("compiled"), "{first}");
    let info = cli(&["plugin", "inspect", artifacts::FEATURES, "--json"]);
    let info: serde_json::Value = serde_json::from_str(&info).expect("json");
    assert_eq!(info["cache"], "hit");

    // The pinned file runs; the pin written in upper case too.
    let pipeline = one_plugin_pipeline(
        dir.path(),
        artifacts::FEATURES,
        &format!(", sha256: {:?}", expected.to_uppercase()),
    );
    let input = raw_input(dir.path());
    cli(&[
        "run",
        pipeline.to_str().unwrap_or_default(),
        "--input",
        input.to_str().unwrap_or_default(),
    ]);
}

#[test]
fn a_plugin_named_by_file_name_is_found_on_the_search_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipelines, on_path, data) = (
        dir.path().join("pipelines"),
        dir.path().join("on-path"),
        dir.path().join("data"),
    );
    let user_dir = data.join("sqrtspace").join("plugins");
    for d in [&pipelines, &on_path, &user_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let pipeline = one_plugin_pipeline(&pipelines, "stage.wasm", "");
    let input = raw_input(dir.path());
    let run_with = |env: &[(&str, &Path)]| {
        let mut cmd = Command::new(EXE);
        cmd.args(["run", &pipeline.to_string_lossy(), "--input"])
            .arg(&input)
            .arg("--output")
            .arg(dir.path().join("out.npy"))
            .env("SQRTSPACE_CACHE_DIR", dir.path().join("cache"))
            .env_remove("SQRTSPACE_PLUGIN_PATH")
            .env("XDG_DATA_HOME", dir.path().join("nowhere"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.run().expect("runs")
    };

    // Nowhere yet: the error lists every place it looked, the search path's first.
    let out = run_with(&[("SQRTSPACE_PLUGIN_PATH", &on_path)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("plugin stage.wasm not found"), "{err}");
    let at = |p: &Path| err.find(&p.display().to_string());
    assert!(
        matches!((at(&on_path), at(&pipelines)), (Some(a), Some(b)) if a < b),
        "{err}"
    );

    // The user's plugins directory, which on Linux follows XDG_DATA_HOME (macOS and Windows
    // ask the system for theirs, which a test cannot point elsewhere).
    if cfg!(target_os = "linux") {
        std::fs::copy(artifacts::FEATURES, user_dir.join("stage.wasm")).expect("copy");
        let out = run_with(&[("XDG_DATA_HOME", &data)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The search path comes before the pipeline's directory: a trapping plugin beside the
    // pipeline is not the one that runs.
    std::fs::copy(artifacts::PANIC, pipelines.join("stage.wasm")).expect("copy");
    std::fs::copy(artifacts::FEATURES, on_path.join("stage.wasm")).expect("copy");
    let out = run_with(&[("SQRTSPACE_PLUGIN_PATH", &on_path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with(&[]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "the panicking plugin beside the pipeline runs"
    );
}

#[test]
fn classic_mode_feeds_a_plugin_its_whole_stream_in_calls_that_fit_its_memory() {
    // 2,400 windows of 512 samples: 4.7 MB of framed input, more than the 4 MiB the stages
    // may use. Classic mode hands each stage the whole stream; the host splits the calls (the
    // kernel's state carried from one to the next) and gets the bits of sqrt mode.
    let samples = chirp_noise(128 * 2_400 + 384, 35);
    let s = spec(&format!(
        r#"(window: 512, hop: 128, sample_rate: 8000, stages: [
            (name: "zcr", inputs: ["input"],
             op: Plugin(path: {:?}, memory_limit: "4 MiB")),
            (name: "smooth", inputs: ["zcr"], op: Plugin(path: {:?}, memory_limit: "4 MiB",
             params: (filter: Lowpass(cutoff_hz: 2.0, q: 0.7071)))),
        ])"#,
        artifacts::ZCR_RUST,
        artifacts::IIR,
    ));
    let rows = assert_modes_agree(&s, &samples);
    assert_eq!(rows.rows(), 2_400);
    let mut zcr = s.clone();
    zcr.target = Some("zcr".into());
    let (direct, _) = run(&zcr, Mode::Classic, &samples, WindowRange::all());
    let expected: Vec<u32> = (0..2_400)
        .map(|t| zcr_rust::zcr(&samples[t * 128..t * 128 + 512]).to_bits())
        .collect();
    let got: Vec<u32> = direct
        .view()
        .typed::<f32>()
        .expect("f32")
        .iter()
        .map(|r| r[0].to_bits())
        .collect();
    assert_eq!(got, expected);
}

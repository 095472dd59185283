//! The engine as a library: every pipeline in `pipelines/`, run through the public API only
//! (load, plan, frame a source, run into a sink), writes the bytes `sqrtspace run` writes.

use crate::cli::Start;
use std::path::{Path, PathBuf};

use sqrtspace::io::{FileSink, Framer, OutputFormat, open_lines, open_source};
use sqrtspace::spec::{InputKind, OpSpec};
use sqrtspace::{Plan, Spec, WindowRange};
use sqrtspace_test_artifacts as artifacts;
use sqrtspace_testdata::logs::write_logs;
use sqrtspace_testdata::{AudioFormat, write_audio};

use crate::cli::{command, s};

/// Where a plugin of the test build is: the Rust plugins, or the C and JavaScript ones.
fn plugin_dirs() -> Vec<PathBuf> {
    vec![artifacts::DIR.into(), artifacts::POLYGLOT_DIR.into()]
}

/// Whether every plugin `spec` names has been built (the C and JavaScript plugins need
/// `plugins/build-polyglot`; without them, and without `SQRTSPACE_REQUIRE_POLYGLOT`, their
/// pipeline is skipped as in `tests/polyglot.rs`).
fn plugins_built(spec: &Spec) -> bool {
    spec.stages.iter().all(|stage| match &stage.op {
        OpSpec::Plugin(p) => p
            .path
            .as_ref()
            .is_some_and(|path| plugin_dirs().iter().any(|d| d.join(path).is_file())),
        _ => true,
    })
}

/// The library's run of `pipeline` over `input` into `output`, as a Rust user writes it: the
/// pipeline from its text with the plugins' directory as its base, the input opened as what
/// its bytes say, the target's rows into a file committed at the end.
fn library_run(pipeline: &Path, input: &Path, output: &Path, format: OutputFormat) {
    let text = std::fs::read_to_string(pipeline).expect("pipeline");
    let mut spec = Spec::from_ron(&text, &pipeline.display().to_string())
        .expect("parses")
        .with_base_dir(artifacts::DIR);
    // The C and JavaScript plugins live in a directory of their own.
    for stage in &mut spec.stages {
        if let OpSpec::Plugin(p) = &mut stage.op
            && let Some(path) = &p.path
            && let Some(dir) = plugin_dirs().into_iter().find(|d| d.join(path).is_file())
        {
            p.path = Some(dir.join(path));
        }
    }
    let mut framer = match spec.input {
        InputKind::Samples => {
            let source = open_source(input, None, None).expect("opens");
            Framer::new(source, spec.window, spec.hop)
        }
        InputKind::Lines => Framer::lines(open_lines(input).expect("opens"), spec.window, spec.hop),
    };
    let plan = Plan::new(&spec, framer.total_windows()).expect("plans");
    let mut sink =
        FileSink::create(output, format, &plan.target_node().port.layout).expect("creates");
    sqrtspace::run(&plan, &mut framer, WindowRange::all(), &mut sink).expect("runs");
    sink.finish().expect("commits");
}

#[test]
fn every_pipeline_writes_through_the_api_what_the_cli_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = dir.path().join("audio.wav");
    write_audio(&audio, AudioFormat::WavF32, 48_000 * 30, 48_000, 7).expect("audio");
    let logs = dir.path().join("access.log");
    write_logs(&logs, &dir.path().join("truth.jsonl"), 120_000, 3).expect("logs");

    let mut pipelines: Vec<PathBuf> = std::fs::read_dir(crate::common::root().join("pipelines"))
        .expect("pipelines/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    pipelines.sort();
    assert!(pipelines.len() >= 6, "{pipelines:?}");
    let plugin_path = std::env::join_paths(plugin_dirs()).expect("joins");
    let mut compared = Vec::new();
    for pipeline in &pipelines {
        let name = pipeline.file_stem().and_then(|n| n.to_str()).unwrap_or("?");
        let spec = Spec::from_file(pipeline).expect("parses");
        if !plugins_built(&spec) {
            assert!(
                std::env::var_os("SQRTSPACE_REQUIRE_POLYGLOT").is_none(),
                "{name}: its plugins are not built (plugins/build-polyglot)"
            );
            eprintln!("skipping {name}: its plugins are not built (plugins/build-polyglot)");
            continue;
        }
        let (input, ext, format) = match spec.input {
            InputKind::Samples => (&audio, "npy", OutputFormat::Npy),
            InputKind::Lines => (&logs, "jsonl", OutputFormat::Jsonl),
        };
        let by_cli = dir.path().join(format!("{name}.cli.{ext}"));
        let out = command(&[
            "run",
            s(pipeline),
            "--input",
            s(input),
            "--output",
            s(&by_cli),
        ])
        .env("SQRTSPACE_PLUGIN_PATH", &plugin_path)
        .run()
        .expect("runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let by_api = dir.path().join(format!("{name}.api.{ext}"));
        library_run(pipeline, input, &by_api, format);
        let (cli, api) = (
            std::fs::read(&by_cli).expect("cli output"),
            std::fs::read(&by_api).expect("api output"),
        );
        assert!(!cli.is_empty(), "{name}: empty output");
        assert!(
            cli == api,
            "{name}: the library's bytes differ from the CLI's"
        );
        compared.push(name.to_string());
    }
    // Everything but the C/JavaScript pipeline runs on every machine.
    assert!(compared.len() + 1 >= pipelines.len(), "{compared:?}");
}

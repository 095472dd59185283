//! Replays the fuzzing corpus in `tests/fuzz/corpus` (seeds, and every input a fuzzer found
//! worth keeping, crashes among them) through the same entry points the fuzz targets call:
//! `cargo test` runs what `cargo fuzz` found, without sanitizers or a nightly compiler.

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("pipeline", sqrtspace::fuzz::pipeline),
    ("wav", sqrtspace::fuzz::wav),
    ("npy", sqrtspace::fuzz::npy),
    ("lines", sqrtspace::fuzz::lines),
    ("plugin_output", sqrtspace::fuzz::plugin_output),
];

#[test]
fn every_corpus_input_runs_without_a_panic() {
    let root = crate::common::root().join("tests/fuzz/corpus");
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {name}");
        for file in files {
            let bytes = std::fs::read(&file).expect("reads a corpus file");
            if let Err(panic) = std::panic::catch_unwind(|| target(&bytes)) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {why}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_seed_pipelines_plan_and_agree() {
    // The seeds must be valid, or the fuzzer starts from nothing.
    let root = crate::common::root().join("tests/fuzz/corpus/pipeline");
    for seed in ["seed-small", "seed-audio-native", "seed-zero-phase"] {
        let text = std::fs::read_to_string(root.join(seed)).expect("reads");
        let spec = sqrtspace::Spec::from_ron(&text, seed).unwrap_or_else(|e| panic!("{e}"));
        sqrtspace::Plan::new(&spec, None).unwrap_or_else(|e| panic!("{seed}: {e}"));
    }
}

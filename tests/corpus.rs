//! Runs over many inputs: a directory, a pattern or a list of inputs into an output directory,
//! each output the bytes one `run` per input writes, bad inputs named, `--resume` after a kill
//! redoing only what was not finished.

use crate::cli::Start;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::{command, ok, s, sqrtspace};
use crate::common::pipeline;

/// 18 recordings of 1 to 3.5 s, an empty file and a WAV cut short.
pub(crate) fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for i in 0..18 {
        let path = dir.join(format!("rec-{i:02}.wav"));
        let seconds = format!("{}", 1.0 + f64::from(i % 6) * 0.5);
        let seed = format!("{i}");
        let args = ["gen", "audio", "--seconds", &seconds, "--seed", &seed];
        ok(&[&args[..], &["--out", s(&path)]].concat());
        paths.push(path);
    }
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").expect("write");
    let whole = std::fs::read(&paths[5]).expect("read");
    let cut = dir.join("cut.wav");
    std::fs::write(&cut, &whole[..whole.len() / 3]).expect("write");
    paths
}

/// What `sqrtspace run` writes for `input` alone.
pub(crate) fn single(input: &Path, out: &Path) -> Vec<u8> {
    ok(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input",
        s(input),
        "--output",
        s(out),
    ]);
    std::fs::read(out).expect("read")
}

/// Each input's output in `out` holds the bytes a run of that input alone writes.
pub(crate) fn each_as_alone(inputs: &[PathBuf], out: &Path, scratch: &Path) {
    for input in inputs {
        let name = input.with_extension("npy");
        let name = name.file_name().expect("name");
        assert_eq!(
            std::fs::read(out.join(name)).expect("output"),
            single(input, scratch),
            "{}",
            input.display()
        );
    }
}

pub(crate) fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("sqrtspace-manifest.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn done(dir: &Path) -> usize {
    manifest(dir)["done"].as_object().map_or(0, |d| d.len())
}

pub(crate) fn mtimes(dir: &Path) -> BTreeMap<String, std::time::SystemTime> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .map(|p| {
            let t = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .expect("mtime");
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                t,
            )
        })
        .collect()
}

#[test]
fn a_directory_of_recordings_gives_one_run_per_input_and_names_the_bad_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    let good = recordings(&inputs);
    let out = dir.path().join("out");
    let run = sqrtspace(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input",
        s(&inputs),
        "--output",
        s(&out),
        "--workers",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("20 inputs: 18 written"), "{stderr}");
    for bad in ["empty.wav", "cut.wav"] {
        assert!(
            stderr.contains(&format!("failed: {}", s(&inputs.join(bad)))),
            "{stderr}"
        );
    }
    assert!(!out.join("empty.npy").exists() && !out.join("cut.npy").exists());
    let expected = dir.path().join("single.npy");
    each_as_alone(&good, &out, &expected);
    assert_eq!(done(&out), 18);

    // A second run refuses to start over the manifest unless asked to resume; resuming
    // redoes nothing that is done, and a changed input is redone.
    let again = sqrtspace(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input",
        s(&inputs),
        "--output",
        s(&out),
    ]);
    assert_eq!(
        again.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let before = mtimes(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let changed = &good[3];
    ok(&[
        "gen",
        "audio",
        "--seconds",
        "2",
        "--seed",
        "99",
        "--out",
        s(changed),
    ]);
    let pattern = format!("{}/rec-*.wav", inputs.display());
    ok(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input",
        &pattern,
        "--output",
        s(&out),
        "--resume",
    ]);
    let after = mtimes(&out);
    for (name, t) in &before {
        let redone = name == "rec-03.npy";
        assert_eq!(after[name] != *t, redone, "{name}");
    }
    assert_eq!(
        std::fs::read(out.join("rec-03.npy")).expect("read"),
        single(changed, &expected)
    );
}

#[test]
fn a_killed_run_resumes_where_it_stopped_and_lists_and_logs_work_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    let mut good = recordings(&inputs);
    good.sort();
    let list = dir.path().join("inputs.txt");
    let listed: Vec<String> = good.iter().map(|p| s(p).to_string()).collect();
    std::fs::write(
        &list,
        format!("# the recordings\n{}\n\n", listed.join("\n")),
    )
    .expect("write");
    let out = dir.path().join("out");
    let args = [
        "run",
        &pipeline("audio-native.ron"),
        "--input-list",
        s(&list),
        "--output",
        s(&out),
        "--workers",
        "1",
    ];
    let mut child = command(&args).start().expect("spawn");
    while done(&out) < 3 {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let finished = done(&out);
    assert!((3..18).contains(&finished), "{finished} done when killed");
    let before = mtimes(&out);
    assert_eq!(
        before.len(),
        finished,
        "only finished outputs have their names"
    );
    ok(&[&args[..], &["--resume"]].concat());
    assert_eq!(done(&out), 18);
    let left: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(
        left.is_empty(),
        "a killed output's temporary file is left: {left:?}"
    );
    let after = mtimes(&out);
    for (name, t) in &before {
        assert_eq!(after[name], *t, "{name} was redone");
    }
    let expected = dir.path().join("single.npy");
    each_as_alone(&good, &out, &expected);

    // Lines: each log's alerts, as one run writes them.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    for (i, lines) in ["30000", "45000"].iter().enumerate() {
        let path = logs.join(format!("day-{i}.log"));
        ok(&["gen", "logs", "--lines", lines, "--out", s(&path)]);
    }
    let alerts = dir.path().join("alerts");
    let pattern = format!("{}/*.log", logs.display());
    ok(&[
        "run",
        &pipeline("logs.ron"),
        "--input",
        &pattern,
        "--output",
        s(&alerts),
    ]);
    for i in 0..2 {
        let one = dir.path().join("one.jsonl");
        let input = logs.join(format!("day-{i}.log"));
        ok(&[
            "run",
            &pipeline("logs.ron"),
            "--input",
            s(&input),
            "--output",
            s(&one),
        ]);
        assert_eq!(
            std::fs::read(alerts.join(format!("day-{i}.jsonl"))).expect("alerts"),
            std::fs::read(&one).expect("one")
        );
    }

    // Two inputs with one name, and options that take one input, are refused.
    let twins = dir.path().join("twins.txt");
    std::fs::write(&twins, format!("{}\n{}\n", s(&good[0]), s(&good[0]))).expect("write");
    let refused = sqrtspace(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input-list",
        s(&twins),
        "--output",
        s(&out),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("would both be written"));
    let refused = sqrtspace(&[
        "run",
        &pipeline("audio-native.ron"),
        "--input",
        s(&inputs),
        "--output",
        s(&out),
        "--range",
        "0:5",
    ]);
    assert_eq!(refused.status.code(), Some(2));
}

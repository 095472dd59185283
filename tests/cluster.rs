//! Runs over a cluster of real processes on loopback, on timely-dataflow: the outputs and the
//! manifest of one machine's run, byte for byte; a cluster that cannot form is refused with a
//! reason; a process that dies stops the others within seconds, and `--resume` finishes.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use crate::cli::{command, ok, s, sqrtspace};
use crate::common::pipeline;
use crate::corpus::{done, each_as_alone, mtimes, recordings};

/// A hostfile of `n` free loopback ports.
fn hostfile(dir: &Path, n: usize) -> PathBuf {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let lines: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().expect("address").to_string())
        .collect();
    let path = dir.join(format!("hosts-{}.txt", lines[0].replace([':', '.'], "-")));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    path
}

/// One process of a cluster described by `hosts`, started.
fn process(run: &[&str], hosts: &Path, processes: usize, index: usize, extra: &[&str]) -> Child {
    let n = processes.to_string();
    let i = index.to_string();
    let cluster = ["--hostfile", s(hosts), "--processes", &n, "--process", &i];
    let args = [&["cluster"], run, &cluster[..], extra].concat();
    command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Waits for `child`, failing the test (after killing it) if it takes longer than `limit`: a
/// guard against a hang, not a timing.
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            child.kill().expect("kill");
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cluster_on_loopback_writes_what_one_machine_writes_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    let good = recordings(&inputs);
    let run = |out: &Path| {
        vec![
            "run".to_string(),
            pipeline("audio-native.ron"),
            "--input".to_string(),
            s(&inputs).to_string(),
            "--output".to_string(),
            s(out).to_string(),
        ]
    };
    let alone = dir.path().join("alone");
    let args = run(&alone);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(sqrtspace(&args).status.code(), Some(8));

    // Three processes of two workers each; the two bad inputs fail there too.
    let spread = dir.path().join("spread");
    let args = run(&spread);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cluster = sqrtspace(
        &[
            &["cluster", "local", "-n", "3", "--threads", "2", "--"],
            &args[..],
        ]
        .concat(),
    );
    let text = stderr(&cluster);
    assert_eq!(cluster.status.code(), Some(8), "{text}");
    assert!(text.contains("20 inputs: 18 written"), "{text}");
    assert!(
        text.contains(&format!("failed: {}", s(&inputs.join("cut.wav")))),
        "{text}"
    );
    let names = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&alone), names(&spread));
    for name in names(&alone) {
        assert_eq!(
            std::fs::read(alone.join(&name)).expect("alone"),
            std::fs::read(spread.join(&name)).expect("spread"),
            "{name:?}"
        );
    }
    each_as_alone(&good[..3], &spread, &dir.path().join("one.npy"));

    // Again over the finished directory without --resume: refused by process 0, and the
    // other processes end too rather than wait for it.
    let hosts = hostfile(dir.path(), 2);
    let again: Vec<_> = (0..2).map(|i| process(&args, &hosts, 2, i, &[])).collect();
    let codes: Vec<_> = again
        .into_iter()
        .map(|child| finish_within(child, Duration::from_secs(60)))
        .map(|out| {
            if out.status.code() == Some(7) {
                assert!(stderr(&out).contains("pass --resume"), "{}", stderr(&out));
            }
            out.status.code()
        })
        .collect();
    assert_eq!(codes, [Some(7), Some(0)]);

    // Logs through the Wasm plugins, over two processes started by hand.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    for (i, lines) in ["20000", "35000", "5000"].iter().enumerate() {
        let path = logs.join(format!("day-{i}.log"));
        ok(&["gen", "logs", "--lines", lines, "--out", s(&path)]);
    }
    let alerts = dir.path().join("alerts");
    let hosts = hostfile(dir.path(), 2);
    let logs_ron = pipeline("logs.ron");
    // `gen logs` writes each log's incidents beside it: the pattern picks the logs.
    let pattern = format!("{}/*.log", logs.display());
    let run = [
        "run",
        &logs_ron,
        "--input",
        &pattern,
        "--output",
        s(&alerts),
    ];
    let children: Vec<_> = (0..2).map(|i| process(&run, &hosts, 2, i, &[])).collect();
    for child in children {
        let out = finish_within(child, Duration::from_secs(300));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let one = dir.path().join("one.jsonl");
    for i in 0..3 {
        let input = logs.join(format!("day-{i}.log"));
        ok(&["run", &logs_ron, "--input", s(&input), "--output", s(&one)]);
        assert_eq!(
            std::fs::read(alerts.join(format!("day-{i}.jsonl"))).expect("alerts"),
            std::fs::read(&one).expect("one")
        );
    }
}

#[test]
fn a_cluster_that_cannot_form_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    for i in 0..3 {
        let path = inputs.join(format!("r{i}.wav"));
        ok(&[
            "gen",
            "audio",
            "--seconds",
            "1",
            "--seed",
            &i.to_string(),
            "--out",
            s(&path),
        ]);
    }
    let out = dir.path().join("out");
    let native = pipeline("audio-native.ron");
    let run = ["run", &native, "--input", s(&inputs), "--output", s(&out)];

    // Alone where two were asked for: a deadline, not a wait forever.
    let hosts = hostfile(dir.path(), 2);
    let alone = process(&run, &hosts, 2, 0, &["--connect-timeout", "1"]);
    let alone = finish_within(alone, Duration::from_secs(60));
    assert_eq!(alone.status.code(), Some(9), "{}", stderr(&alone));
    assert!(
        stderr(&alone).contains("did not connect within 1 s"),
        "{}",
        stderr(&alone)
    );
    assert!(alone.stdout.is_empty(), "nothing on stdout");
    assert_eq!(done(&out), 0);

    // Two processes that run different things, or with different thread counts, refuse
    // each other.
    let other = [
        "run",
        &native,
        "--input",
        s(&inputs),
        "--output",
        s(&out),
        "--target",
        "features",
    ];
    for (second, extra, why) in [
        (&other[..], &[][..], "runs another pipeline"),
        (&run[..], &["--threads", "2"][..], "same --threads"),
    ] {
        let hosts = hostfile(dir.path(), 2);
        let first = process(&run, &hosts, 2, 0, &["--connect-timeout", "30"]);
        let second = process(
            second,
            &hosts,
            2,
            1,
            &[&["--connect-timeout", "30"], extra].concat(),
        );
        for child in [first, second] {
            let out = finish_within(child, Duration::from_secs(60));
            assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
            assert!(stderr(&out).contains(why), "{}", stderr(&out));
        }
    }
    assert_eq!(done(&out), 0);

    // Flags that do not describe a cluster are usage errors; one input is not spread yet.
    let one = inputs.join("r0.wav");
    for (extra, why) in [
        (
            &["--processes", "2", "--process", "2"][..],
            "is not one of the 2 processes",
        ),
        (
            &["--processes", "3", "--hostfile", s(&hosts)][..],
            "names 2 processes",
        ),
    ] {
        let refused = sqrtspace(&[&["cluster"], &run[..], extra].concat());
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains(why), "{}", stderr(&refused));
    }
    let single = [
        "cluster",
        "run",
        &native,
        "--input",
        s(&one),
        "--output",
        s(&out),
    ];
    let refused = sqrtspace(&single);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
}

#[test]
fn when_a_process_dies_the_others_stop_within_seconds_and_resume_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).expect("mkdir");
    let mut good = Vec::new();
    for i in 0..16 {
        let path = inputs.join(format!("long-{i:02}.wav"));
        let seed = i.to_string();
        ok(&[
            "gen",
            "audio",
            "--seconds",
            "40",
            "--seed",
            &seed,
            "--out",
            s(&path),
        ]);
        good.push(path);
    }
    let out = dir.path().join("out");
    let native = pipeline("audio-native.ron");
    let run = ["run", &native, "--input", s(&inputs), "--output", s(&out)];

    // Each of the two processes is killed in turn: process 1 first, then process 0, which
    // keeps the manifest. The survivor notices, stops, and says which one it lost.
    let mut finished = 0;
    for (killed, resume) in [(1, &[][..]), (0, &["--resume"][..])] {
        let hosts = hostfile(dir.path(), 2);
        let mut children: Vec<_> = (0..2)
            .map(|i| process(&run, &hosts, 2, i, resume))
            .collect();
        while done(&out) < finished + 2 {
            if children
                .iter_mut()
                .any(|c| c.try_wait().expect("wait").is_some())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut victim = children.remove(killed);
        victim.kill().expect("kill");
        victim.wait().expect("wait");
        let survivor = finish_within(children.remove(0), Duration::from_secs(30));
        let text = stderr(&survivor);
        assert_eq!(survivor.status.code(), Some(9), "{text}");
        assert!(text.contains(&format!("lost process {killed}")), "{text}");
        assert!(!text.contains("panicked"), "{text}");
        let now = done(&out);
        assert!(now >= finished + 2 && now < 16, "{now} done after the kill");
        finished = now;
    }

    // Started again with --resume: what was done stays, the rest is run, nothing is left.
    let before = mtimes(&out);
    let resumed = sqrtspace(
        &[
            &["cluster", "local", "-n", "2", "--"],
            &run[..],
            &["--resume"],
        ]
        .concat(),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(done(&out), 16);
    let after = mtimes(&out);
    for (name, t) in &before {
        assert_eq!(after[name], *t, "{name} was redone");
    }
    let left: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    each_as_alone(&good, &out, &dir.path().join("one.npy"));
}

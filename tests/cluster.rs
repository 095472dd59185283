//! Runs over a cluster of real processes on loopback, on timely-dataflow: the outputs and the
//! manifest of one machine's run, byte for byte; a cluster that cannot form is refused with a
//! reason; a process that dies stops the others within seconds, and `--resume` finishes.

use crate::cli::Start;
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
        .start()
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

    // A port another program holds: named, not retried forever.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let busy = dir.path().join("busy-hosts.txt");
    std::fs::write(&busy, format!("{address}\n127.0.0.1:1\n")).expect("write");
    let refused = finish_within(process(&run, &busy, 2, 0, &[]), Duration::from_secs(60));
    assert_eq!(refused.status.code(), Some(9), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!("process 0 cannot listen on {address}")),
        "{}",
        stderr(&refused)
    );
    drop(taken);

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
    // One input over a cluster: every process reads its own segments of a file, and process
    // 0 writes one output file.
    let gz = dir.path().join("r0.wav.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &std::fs::read(&one).expect("read")).expect("gzip");
    std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write");
    let y = dir.path().join("y.npy");
    for (input, extra, why) in [
        (
            s(&one),
            &["--output", s(&out)][..],
            "cannot tell the output format",
        ),
        (s(&one), &[][..], "needs --output FILE"),
        ("-", &["--output", s(&y)][..], "not stdin"),
        (s(&gz), &["--output", s(&y)][..], "decompress it first"),
        (
            s(&one),
            &["--output", s(&y), "--range", "0:10"][..],
            "--range",
        ),
        (
            s(&one),
            &["--output", s(&y), "--resume"][..],
            "--resume needs --checkpoint-dir",
        ),
        (
            s(&one),
            &["--output", s(&y), "--segment-windows", "0"][..],
            "at least 1",
        ),
    ] {
        let single = [&["cluster", "run", &native, "--input", input][..], extra].concat();
        let refused = sqrtspace(&single);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains(why),
            "{why}: {}",
            stderr(&refused)
        );
        assert!(!y.exists());
    }
    // Processes that cut the stream into segments of different sizes refuse each other.
    let hosts = hostfile(dir.path(), 2);
    let stream = ["run", &native, "--input", s(&one), "--output", s(&y)];
    let children: Vec<_> = ["100", "200"]
        .iter()
        .enumerate()
        .map(|(i, windows)| process(&stream, &hosts, 2, i, &["--segment-windows", windows]))
        .collect();
    for child in children {
        let out = finish_within(child, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("another pipeline"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!y.exists());
}

/// A diamond whose stateful part reads the input's windows themselves (a context stage on the
/// input), besides the features that cross from the prefix.
const DIAMOND: &str = r#"(window: 4096, hop: 1024, sample_rate: 48000, stages: [
    (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
    (name: "magnitude", inputs: ["fft"], op: Magnitude),
    (name: "features", inputs: ["magnitude"], op: SpectralFeatures),
    (name: "smooth", inputs: ["features"], op: Iir(filter: Lowpass(cutoff_hz: 1.5, q: 0.7071))),
    (name: "level", inputs: ["input"], op: RollingMean(rows: 3)),
    (name: "out", inputs: ["features", "smooth", "level"], op: Concat),
])"#;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn one_long_input_over_a_cluster_is_one_process_run_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("long.wav");
    ok(&[
        "gen",
        "audio",
        "--seconds",
        "75",
        "--seed",
        "7",
        "--out",
        s(&input),
    ]);
    let diamond = dir.path().join("diamond.ron");
    std::fs::write(&diamond, DIAMOND).expect("write");
    let wasm = pipeline("audio.ron");
    let native = pipeline("audio-native.ron");
    // Wasm stages and a Wasm kernel; native ones; a pure pipeline (all of it spread); the
    // diamond. Segments of 250 windows: 15 of them, over 3 processes of 2 workers.
    for (ron, extra) in [
        (&wasm[..], &[][..]),
        (&native[..], &[][..]),
        (&native[..], &["--target", "features"][..]),
        (s(&diamond), &[][..]),
    ] {
        let alone = dir.path().join("alone.npy");
        let spread = dir.path().join("spread.npy");
        let run = |out: &Path| -> Vec<String> {
            [
                &["run", ron, "--input", s(&input), "--output", s(out)][..],
                extra,
            ]
            .concat()
            .into_iter()
            .map(String::from)
            .collect()
        };
        ok(&strs(&run(&alone)));
        let cluster = sqrtspace(
            &[
                &["cluster", "local", "-n", "3", "--threads", "2", "--"],
                &strs(&run(&spread))[..],
                &["--segment-windows", "250"],
            ]
            .concat(),
        );
        let text = stderr(&cluster);
        assert!(cluster.status.success(), "{ron} {extra:?}: {text}");
        assert!(text.contains("15 segments of 250 windows"), "{text}");
        assert!(text.contains("crossed to worker 0"), "{text}");
        assert_eq!(
            std::fs::read(&alone).expect("alone"),
            std::fs::read(&spread).expect("spread"),
            "{ron} {extra:?}"
        );
        std::fs::remove_file(&spread).expect("remove");
    }
}

#[test]
fn a_long_stream_survives_a_killed_process_and_resumes_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("long.wav");
    ok(&[
        "gen",
        "audio",
        "--seconds",
        "400",
        "--seed",
        "3",
        "--out",
        s(&input),
    ]);
    let native = pipeline("audio-native.ron");
    let reference = dir.path().join("reference.npy");
    ok(&[
        "run",
        &native,
        "--input",
        s(&input),
        "--output",
        s(&reference),
    ]);
    let expected = std::fs::metadata(&reference).expect("reference").len();
    let y = dir.path().join("y.npy");
    let checkpoints = dir.path().join("ck");
    let run = [
        "run",
        &native,
        "--input",
        s(&input),
        "--output",
        s(&y),
        "--checkpoint-dir",
        s(&checkpoints),
        "--checkpoint-secs",
        "0",
        "--checkpoint-every",
        "200",
        "--resume",
    ];
    let partial = dir.path().join(format!(
        ".{}.sqrtspace-partial",
        y.file_name().and_then(|n| n.to_str()).unwrap_or("")
    ));
    // Five seeded points, each further along: one of the three processes is killed there,
    // the others stop by themselves, and the next start resumes from the checkpoint.
    let mut kills = 0;
    for seed in 0..5u64 {
        let victim = (seed * 7 + 1) as usize % 3;
        let at = expected * (seed + 1) / 7;
        let hosts = hostfile(dir.path(), 3);
        let mut children: Vec<_> = (0..3)
            .map(|i| process(&run, &hosts, 3, i, &["--segment-windows", "300"]))
            .collect();
        let mut ended = false;
        while std::fs::metadata(&partial).map_or(0, |m| m.len()) < at {
            if children
                .iter_mut()
                .any(|c| c.try_wait().expect("wait").is_some())
            {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if ended {
            // The run got past this point before it was seen there: nothing to kill.
            for child in children {
                let out = finish_within(child, Duration::from_secs(60));
                assert!(out.status.success(), "{}", stderr(&out));
            }
            break;
        }
        let mut target = children.remove(victim);
        target.kill().expect("kill");
        target.wait().expect("wait");
        kills += 1;
        for child in children {
            let out = finish_within(child, Duration::from_secs(60));
            let text = stderr(&out);
            assert_eq!(out.status.code(), Some(9), "seed {seed}: {text}");
            // The killed one, or the other survivor when that one noticed first and left.
            assert!(text.contains("lost process "), "{text}");
            assert!(!text.contains("panicked"), "{text}");
        }
        assert!(!y.exists(), "an output of a failed run");
    }
    // Each point lies well before the end, and the output grows as windows complete: every
    // one of them is reached with the run still going.
    assert_eq!(kills, 5, "the run ended before a point to kill it at");
    if !y.exists() {
        let resumed = sqrtspace(
            &[
                &["cluster", "local", "-n", "3", "--"],
                &run[..],
                &["--segment-windows", "300"],
            ]
            .concat(),
        );
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert!(
            stderr(&resumed).contains("resuming at window"),
            "{}",
            stderr(&resumed)
        );
    }
    assert_eq!(
        std::fs::read(&y).expect("y"),
        std::fs::read(&reference).expect("reference")
    );
    assert!(!partial.exists());
    assert!(!checkpoints.join("checkpoint").exists());
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

#[test]
fn a_plugin_that_traps_on_any_worker_stops_the_whole_cluster_with_its_name_and_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("long.wav");
    ok(&["gen", "audio", "--seconds", "20", "--out", s(&input)]);
    let ron = dir.path().join("boom.ron");
    std::fs::write(
        &ron,
        r#"(window: 4096, hop: 1024, sample_rate: 48000, stages: [
            (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
            (name: "magnitude", inputs: ["fft"], op: Magnitude),
            (name: "boom", inputs: ["magnitude"], op: Plugin(path: "hostile_panic.wasm")),
            (name: "smooth", inputs: ["boom"], op: Iir(filter: Lowpass(cutoff_hz: 1.5, q: 0.7071))),
        ])"#,
    )
    .expect("write");
    let y = dir.path().join("y.npy");
    let run = ["run", s(&ron), "--input", s(&input), "--output", s(&y)];
    let hosts = hostfile(dir.path(), 2);
    let children: Vec<_> = (0..2)
        .map(|i| process(&run, &hosts, 2, i, &["--segment-windows", "100"]))
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|child| finish_within(child, Duration::from_secs(60)))
        .collect();
    // A trap is a plugin's failure (status 6) on every process, not a lost peer.
    let text = stderr(&outs[0]);
    assert_eq!(outs[0].status.code(), Some(6), "{text}");
    assert!(text.contains("on windows 0..100"), "{text}");
    assert!(text.contains("`boom`"), "{text}");
    let other = stderr(&outs[1]);
    assert_eq!(outs[1].status.code(), Some(6), "{other}");
    assert!(other.contains("worker 0 stopped the run"), "{other}");
    assert!(!text.contains("panicked at") && !other.contains("panicked at"));
    assert!(!y.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn process_0_that_cannot_write_the_output_ends_every_process_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("a.wav");
    ok(&["gen", "audio", "--seconds", "20", "--out", s(&input)]);
    let y = dir.path().join("missing").join("y.npy");
    let native = pipeline("audio-native.ron");
    let run = ["run", &native, "--input", s(&input), "--output", s(&y)];
    let hosts = hostfile(dir.path(), 2);
    let children: Vec<_> = (0..2)
        .map(|i| {
            process(
                &run,
                &hosts,
                2,
                i,
                &["--threads", "2", "--segment-windows", "100"],
            )
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|child| finish_within(child, Duration::from_secs(60)))
        .collect();
    let (zero, one) = (stderr(&outs[0]), stderr(&outs[1]));
    // An output that cannot be written: status 5 on every process, the path named.
    assert_eq!(outs[0].status.code(), Some(5), "{zero}");
    assert!(zero.contains("missing"), "{zero}");
    assert_eq!(outs[1].status.code(), Some(5), "{one}");
    assert!(one.contains("worker 0 stopped the run"), "{one}");
}

//! Bad input of every kind, through the command line (#8): each case gets a one-line error
//! that says what and where, its documented exit code (see `sqrtspace::cli`: 2 usage, 3
//! pipeline, 4 input, 5 output, 6 plugin), no panic, and no output file, not even a
//! temporary one.

use crate::cli::Start;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sqrtspace_test_artifacts as artifacts;

use crate::cli::{command, ok, s};

/// Where a case's standard streams go.
enum Io {
    /// stdin empty, stdout discarded.
    Plain,
    /// stdin from this file.
    Stdin(PathBuf),
    /// stdout into `/dev/full`: every write fails with "no space".
    FullStdout,
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    io: Io,
    code: i32,
    expected: Vec<String>,
}

/// Files the cases read, made from 2 s of generated audio.
struct Files {
    dir: PathBuf,
    wav: PathBuf,
}

impl Files {
    fn new(dir: &Path) -> Files {
        let wav = dir.join("ok.wav");
        ok(&["gen", "audio", "--seconds", "2", "--out", s(&wav)]);
        Files {
            dir: dir.to_path_buf(),
            wav,
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).expect("writes a case's file");
        path.display().to_string()
    }

    fn pipeline(&self, name: &str, text: &str) -> String {
        self.write(name, text.as_bytes())
    }

    /// The generated WAV with `edit` applied to its bytes.
    fn wav_with(&self, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut bytes = std::fs::read(&self.wav).expect("reads the WAV");
        edit(&mut bytes);
        self.write(name, &bytes)
    }

    fn npy<T: npyz::AutoSerialize + Copy>(&self, name: &str, shape: &[u64], value: T) -> String {
        use npyz::WriterBuilder;
        let path = self.dir.join(name);
        let file = std::fs::File::create(&path).expect("creates");
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(std::io::BufWriter::new(file))
            .begin_nd()
            .expect("npy header");
        for _ in 0..shape.iter().product::<u64>() {
            writer.push(&value).expect("npy value");
        }
        writer.finish().expect("npy");
        path.display().to_string()
    }
}

/// Offset of a RIFF chunk's id in a WAV file.
fn chunk(bytes: &[u8], id: &[u8; 4]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == id)
        .unwrap_or_else(|| panic!("no {id:?} chunk"))
}

/// A chain of `n` stages that pass their input on (`Concat` of one input), after an FFT and
/// its magnitude; `settings` go before the stages.
pub(crate) fn chain(n: usize, settings: &str) -> String {
    let mut stages = vec![
        r#"(name: "fft", inputs: ["input"], op: WindowFft())"#.to_string(),
        r#"(name: "s0", inputs: ["fft"], op: Magnitude)"#.to_string(),
    ];
    for i in 1..=n {
        stages.push(format!(
            r#"(name: "s{i}", inputs: ["s{}"], op: Concat)"#,
            i - 1
        ));
    }
    format!(
        "(window: 64, hop: 32, sample_rate: 48000, {settings} stages: [{}])",
        stages.join(",\n")
    )
}

/// One FFT stage and a plugin stage after its magnitude.
fn plugin_pipeline(files: &Files, name: &str, plugin: &str, extra: &str) -> String {
    files.pipeline(
        name,
        &format!(
            // Blocks of 64 windows: the 2999 windows take 47 calls on every machine (the
            // planner's own block follows the cache, up to all of them in two calls), so a
            // kernel state that grows each call passes its limit wherever this runs.
            r#"(window: 64, hop: 32, sample_rate: 48000, block: 64, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft()),
                (name: "mag", inputs: ["fft"], op: Magnitude),
                (name: "hostile", inputs: ["mag"], op: Plugin(path: {plugin:?}{extra})),
            ])"#
        ),
    )
}

const GOOD: &str = r#"(window: 4096, hop: 1024, sample_rate: 48000, stages: [
    (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
    (name: "mag", inputs: ["fft"], op: Magnitude),
])"#;

fn cases(files: &Files, out: &str) -> Vec<Case> {
    let good = files.pipeline("good.ron", GOOD);
    let wav = files.wav.display().to_string();
    let run = |pipeline: &str, input: &str| -> Vec<String> {
        ["run", pipeline, "--input", input, "--output", out]
            .map(String::from)
            .to_vec()
    };
    let case = |name, args: Vec<String>, code, expected: &[&str]| Case {
        name,
        args,
        io: Io::Plain,
        code,
        expected: expected.iter().map(|e| e.to_string()).collect(),
    };
    let stage =
        |op: &str| format!(r#"(window: 4096, hop: 1024, sample_rate: 48000, stages: [{op}])"#);
    let mut cases = vec![
        case(
            "malformed RON, with line and column",
            run(
                &files.pipeline(
                    "malformed.ron",
                    "(window: 4096,\n  hop: 1024,\n  stages: [(name: \"a\",, ])",
                ),
                &wav,
            ),
            3,
            &["malformed.ron:3:"],
        ),
        case(
            "unknown op",
            run(
                &files.pipeline(
                    "op.ron",
                    &stage(r#"(name: "a", inputs: ["input"], op: Frobnicate)"#),
                ),
                &wav,
            ),
            3,
            &["op.ron:1:", "Unexpected variant named `Frobnicate`"],
        ),
        case(
            "unknown input",
            run(
                &files.pipeline(
                    "unknown.ron",
                    &stage(r#"(name: "a", inputs: ["nope"], op: Magnitude)"#),
                ),
                &wav,
            ),
            3,
            &["stage `a` reads `nope`, which is not a stage or \"input\""],
        ),
        case(
            "duplicate stage",
            run(
                &files.pipeline(
                    "dup.ron",
                    &stage(
                        r#"(name: "a", inputs: ["input"], op: WindowFft()),
                           (name: "a", inputs: ["input"], op: WindowFft())"#,
                    ),
                ),
                &wav,
            ),
            3,
            &["two stages are named `a`"],
        ),
        case(
            "cycle",
            run(
                &files.pipeline(
                    "cycle.ron",
                    &stage(
                        r#"(name: "a", inputs: ["b"], op: Magnitude),
                           (name: "b", inputs: ["a"], op: Magnitude)"#,
                    ),
                ),
                &wav,
            ),
            3,
            &["stages form a cycle: a -> b -> a"],
        ),
        case(
            "hop of zero",
            run(
                &files.pipeline("hop.ron", &GOOD.replace("hop: 1024", "hop: 0")),
                &wav,
            ),
            3,
            &["`hop` must be at least 1"],
        ),
        case(
            "window of zero",
            run(
                &files.pipeline("window.ron", &GOOD.replace("window: 4096", "window: 0")),
                &wav,
            ),
            3,
            &["`window` must be at least 1"],
        ),
        case(
            "missing pipeline",
            run(&files.dir.join("none.ron").display().to_string(), &wav),
            3,
            &["cannot read pipeline", "none.ron"],
        ),
        case(
            "missing plugin file",
            run(
                &plugin_pipeline(files, "p1.ron", "/nonexistent/nothing.wasm", ""),
                &wav,
            ),
            6,
            &["plugin /nonexistent/nothing.wasm not found"],
        ),
        case(
            "non-Wasm plugin file",
            run(
                &plugin_pipeline(
                    files,
                    "p2.ron",
                    &files.write("junk.wasm", b"#!/bin/sh\necho not wasm\n"),
                    "",
                ),
                &wav,
            ),
            6,
            &["junk.wasm", "not a Wasm file"],
        ),
        case(
            "plugin built against another WIT version",
            run(
                &plugin_pipeline(files, "p3.ron", artifacts::OLD_WIT, ""),
                &wav,
            ),
            6,
            &[
                "was built against sqrtspace:pipeline@0.0.1, but this host speaks sqrtspace:pipeline@0.2.0 (and the earlier 0.1.0)",
            ],
        ),
        case(
            "plugin that is not the pinned file",
            run(
                &plugin_pipeline(
                    files,
                    "p9.ron",
                    artifacts::IDENTITY,
                    &format!(", sha256: \"{}\"", "ab".repeat(32)),
                ),
                &wav,
            ),
            6,
            &[
                "plugin_identity.wasm has sha256",
                "but the pipeline pins abab",
                "sqrtspace plugin hash",
            ],
        ),
        case(
            "trapping plugin",
            run(
                &plugin_pipeline(files, "p4.ron", artifacts::PANIC, ""),
                &wav,
            ),
            6,
            &[
                "stage `hostile` failed on windows 0..",
                "process trapped (a Rust plugin that panics ends this way)",
            ],
        ),
        case(
            "looping plugin",
            run(
                &plugin_pipeline(files, "p5.ron", artifacts::SPIN, ", deadline_ms: 300"),
                &wav,
            ),
            6,
            &[
                "stage `hostile` failed on windows 0..",
                "hostile_spin.wasm: process ran past its deadline of 300 ms",
            ],
        ),
        case(
            "memory-hungry plugin",
            run(
                &plugin_pipeline(
                    files,
                    "p6.ron",
                    artifacts::HOG,
                    r#", memory_limit: "16 MiB""#,
                ),
                &wav,
            ),
            6,
            &[
                "stage `hostile`",
                "process exceeded the memory limit of 16.0 MiB",
            ],
        ),
        case(
            "plugin returning the wrong shape",
            run(
                &plugin_pipeline(
                    files,
                    "p7.ron",
                    artifacts::MALFORMED,
                    ", params: (returns: Shape)",
                ),
                &wav,
            ),
            6,
            &["returned rows of shape [32], but it declared [33]"],
        ),
        case(
            "plugin returning the wrong dtype",
            run(
                &plugin_pipeline(
                    files,
                    "p8.ron",
                    artifacts::MALFORMED,
                    ", params: (returns: Dtype)",
                ),
                &wav,
            ),
            6,
            &["returned f64 rows, but it declared f32"],
        ),
        case(
            "missing input",
            run(&good, &files.dir.join("none.wav").display().to_string()),
            4,
            &["cannot open input", "none.wav"],
        ),
        case(
            "WAV at another sample rate",
            run(&good, &{
                let path = files.dir.join("44k.wav");
                ok(&[
                    "gen",
                    "audio",
                    "--seconds",
                    "1",
                    "--sample-rate",
                    "44100",
                    "--out",
                    s(&path),
                ]);
                path.display().to_string()
            }),
            4,
            &[
                "44k.wav: is sampled at 44100 Hz, but",
                "says sample_rate: 48000",
            ],
        ),
        case(
            "WAV with a bad RIFF tag",
            run(
                &good,
                &files.wav_with("riff.wav", |b| b[0..4].copy_from_slice(b"RIFX")),
            ),
            4,
            &["riff.wav: not a WAV file we can read", "no RIFF tag"],
        ),
        case(
            "WAV cut inside its header",
            run(&good, &files.wav_with("header.wav", |b| b.truncate(30))),
            4,
            &["header.wav: not a WAV file we can read"],
        ),
        case(
            "WAV cut inside its samples",
            run(&good, &files.wav_with("cut.wav", |b| b.truncate(100_000))),
            4,
            &["cut.wav is truncated: the header promises 192000 bytes of samples, the file holds"],
        ),
        case(
            "WAV whose data chunk claims more than the file",
            run(
                &good,
                &files.wav_with("chunk.wav", |b| {
                    let at = chunk(b, b"data") + 4;
                    b[at..at + 4].copy_from_slice(&1_000_000_000u32.to_le_bytes());
                }),
            ),
            4,
            &["chunk.wav is truncated: the header promises 1000000000 bytes"],
        ),
        case(
            "WAV with a fmt chunk of the wrong size",
            run(
                &good,
                &files.wav_with("fmt.wav", |b| {
                    let at = chunk(b, b"fmt ") + 4;
                    b[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
                }),
            ),
            4,
            &[
                "fmt.wav: not a WAV file we can read",
                "invalid fmt chunk size",
            ],
        ),
        case(
            "WAV in an unsupported encoding (A-law)",
            run(
                &good,
                &files.wav_with("alaw.wav", |b| {
                    let at = chunk(b, b"fmt ") + 8;
                    b[at..at + 2].copy_from_slice(&6u16.to_le_bytes());
                }),
            ),
            4,
            &["alaw.wav: not a WAV file we can read", "not supported"],
        ),
        case(
            ".npy of integers",
            run(&good, &files.npy("ints.npy", &[100_000], 7i64)),
            4,
            &["ints.npy: holds '<i8', but input must be float32 or float64"],
        ),
        case(
            ".npy of rank 3",
            run(&good, &files.npy("cube.npy", &[40, 40, 40], 0.5f32)),
            4,
            &["cube.npy: has shape [40, 40, 40], but input must be a 1-D array of samples"],
        ),
        case(
            "empty input file",
            run(&good, &files.write("empty.f32", b"")),
            4,
            &["empty.f32: holds 0 samples, fewer than one window of 4096"],
        ),
        case(
            "empty WAV file",
            run(&good, &files.write("empty.wav", b"")),
            4,
            &["empty.wav: not a WAV file we can read"],
        ),
        case(
            "output directory missing",
            ["run", &good, "--input", &wav, "--output"]
                .map(String::from)
                .into_iter()
                .chain([files.dir.join("nowhere/y.npy").display().to_string()])
                .collect(),
            5,
            &[
                "cannot create output",
                "nowhere/y.npy: directory",
                "does not exist",
            ],
        ),
        case(
            "output directory not writable",
            ["run", &good, "--input", &wav, "--output", "/proc/y.npy"]
                .map(String::from)
                .to_vec(),
            5,
            &["cannot create output /proc/y.npy"],
        ),
        case(
            "output under a file",
            ["run", &good, "--input", &wav, "--output"]
                .map(String::from)
                .into_iter()
                .chain([format!("{}/y.npy", files.write("plain-file", b"x"))])
                .collect(),
            5,
            &["plain-file is not a directory"],
        ),
        case(
            "unknown output format",
            run(&good, &wav)
                .into_iter()
                .map(|a| if a == out { format!("{out}.bin") } else { a })
                .collect(),
            2,
            &["cannot tell the output format from", "--output-format"],
        ),
        case(
            "a WAV read as raw f32",
            [
                "run", &good, "--input", &wav, "--format", "raw-f32", "--output", out,
            ]
            .map(String::from)
            .to_vec(),
            4,
            &["starts with a WAV header (RIFF/WAVE), but --format says raw-f32"],
        ),
        case(
            "a headerless file whose name says nothing",
            run(&good, &files.write("samples.bin", &[0u8; 40_000])),
            4,
            &["cannot tell its format", "need --format raw-f32"],
        ),
        case(
            "the output is the input",
            ["run", &good, "--input", &wav, "--output", &wav]
                .map(String::from)
                .to_vec(),
            2,
            &["is the input file; write the output somewhere else"],
        ),
        case(
            "a kernel whose init-state fails",
            run(
                &plugin_pipeline(
                    files,
                    "k1.ron",
                    artifacts::KERNEL,
                    r#", params: (does: "init-fails")"#,
                ),
                &wav,
            ),
            6,
            &[
                "stage `hostile` failed",
                "init-state returned an error: bad state: no initial state today",
            ],
        ),
        case(
            "a kernel whose init-state traps",
            run(
                &plugin_pipeline(
                    files,
                    "k2.ron",
                    artifacts::KERNEL,
                    r#", params: (does: "init-traps")"#,
                ),
                &wav,
            ),
            6,
            &["stage `hostile` failed", "init-state trapped"],
        ),
        case(
            "a kernel whose init-state never returns",
            run(
                &plugin_pipeline(
                    files,
                    "k3.ron",
                    artifacts::KERNEL,
                    r#", params: (does: "init-loops"), deadline_ms: 300"#,
                ),
                &wav,
            ),
            6,
            &["init-state ran past its deadline of 300 ms"],
        ),
        case(
            "a kernel state past the limit",
            run(
                &plugin_pipeline(
                    files,
                    "k4.ron",
                    artifacts::KERNEL,
                    r#", params: (does: "big-state", n: 100000000)"#,
                ),
                &wav,
            ),
            6,
            &["init-state returned a state of 95.4 MiB, more than the limit of 16.0 MiB"],
        ),
        case(
            "a kernel state that grows on every call",
            run(
                &plugin_pipeline(
                    files,
                    "k5.ron",
                    artifacts::KERNEL,
                    r#", params: (does: "growing-state", n: 3000000), max_state: "8 MiB""#,
                ),
                &wav,
            ),
            6,
            &["step returned a state of", "more than the limit of 8.0 MiB"],
        ),
        case(
            "a row shape whose size overflows",
            run(
                &plugin_pipeline(
                    files,
                    "o1.ron",
                    artifacts::STAGE,
                    r#", params: (does: "overflow-shape")"#,
                ),
                &wav,
            ),
            6,
            &[
                "declares rows of [65536, 65536, 65536, 65536] f32 elements",
                "more bytes than this machine can count",
            ],
        ),
        case(
            "a context of u32::MAX rows",
            run(
                &plugin_pipeline(
                    files,
                    "o2.ron",
                    artifacts::STAGE,
                    r#", params: (does: "huge-context")"#,
                ),
                &wav,
            ),
            6,
            &["declares a context of 4294967295 rows, more than the limit of 65536"],
        ),
        case(
            "a hundred thousand workers",
            [
                "run",
                &good,
                "--input",
                &wav,
                "--output",
                out,
                "--workers",
                "100000",
            ]
            .map(String::from)
            .to_vec(),
            3,
            &["100000 workers is more than the limit of 1024"],
        ),
        case(
            "a chain of stages past the limit",
            run(&files.pipeline("deep.ron", &chain(1100, "")), &wav),
            3,
            &["the pipeline has 1102 stages, more than the limit of 1024"],
        ),
        case(
            "a plugin error with a newline and escape sequences",
            run(
                &plugin_pipeline(
                    files,
                    "e1.ron",
                    artifacts::STAGE,
                    r#", params: (does: "forged-error")"#,
                ),
                &wav,
            ),
            6,
            &["bad\\nerror: all your data is gone\\u{1b}[2J\\u{1b}[31mred\\u{7}"],
        ),
        case(
            "a plugin error of 50 MB",
            run(
                &plugin_pipeline(
                    files,
                    "e2.ron",
                    artifacts::STAGE,
                    r#", params: (does: "huge-error", n: 50000000), memory_limit: "512 MiB""#,
                ),
                &wav,
            ),
            6,
            &["more bytes cut]"],
        ),
        case(
            "plugin params of the wrong type, pointed at in the pipeline file",
            run(
                &plugin_pipeline(
                    files,
                    "p10.ron",
                    artifacts::IIR,
                    r#", params: (filter: Lowpass(cutoff_hz: "high", q: 0.7))"#,
                ),
                &wav,
            ),
            6,
            &[
                "rejected its configuration: bad parameters: ",
                if cfg!(windows) {
                    "\\p10.ron:4:"
                } else {
                    "/p10.ron:4:"
                },
                ": Expected float",
            ],
        ),
        case(
            "a pipeline file of 10 MB",
            run(
                &files.pipeline(
                    "huge.ron",
                    &GOOD.replace("stages: [", &format!("stages: [{}", " ".repeat(10 << 20))),
                ),
                &wav,
            ),
            3,
            &["more than the 4.0 MiB a pipeline file may hold"],
        ),
        case(
            "unknown flag",
            ["run", &good, "--input", &wav, "--frobnicate"]
                .map(String::from)
                .to_vec(),
            2,
            &["unexpected argument '--frobnicate'"],
        ),
    ];
    let stdin_run = |format: &str| -> Vec<String> {
        [
            "run", &good, "--input", "-", "--format", format, "--output", out,
        ]
        .map(String::from)
        .to_vec()
    };
    cases.push(Case {
        io: Io::Stdin(PathBuf::from(files.write("nothing", b""))),
        ..case(
            "stdin empty",
            stdin_run("raw-f32"),
            4,
            &["stdin: holds 0 samples"],
        )
    });
    cases.push(Case {
        io: Io::Stdin(PathBuf::from(
            files.wav_with("early.wav", |b| b.truncate(20)),
        )),
        ..case(
            "stdin closed inside a WAV header",
            stdin_run("wav"),
            4,
            &["stdin: not a WAV stream we can read"],
        )
    });
    cases.push(Case {
        io: Io::Stdin(files.wav.clone()),
        ..case(
            "a WAV on stdin said to be raw f32",
            stdin_run("raw-f32"),
            4,
            &["stdin: starts with a WAV header (RIFF/WAVE), but --format says raw-f32"],
        )
    });
    cases.push(Case {
        io: Io::Stdin(PathBuf::from(files.write("headerless", &[0u8; 40_000]))),
        ..case(
            "a headerless stream without --format",
            ["run", &good, "--input", "-", "--output", out]
                .map(String::from)
                .to_vec(),
            4,
            &["stdin: cannot tell its format", "need --format raw-f32"],
        )
    });
    cases.push(Case {
        io: Io::FullStdout,
        ..case(
            "a write failing mid-run (stdout on a full device)",
            ["run", &good, "--input", &wav, "--output", "-"]
                .map(String::from)
                .to_vec(),
            5,
            // The system's own words for ENOSPC and ERROR_DISK_FULL.
            &[if cfg!(windows) {
                "cannot write output stdout: Disk full"
            } else {
                "cannot write output stdout: No space left on device"
            }],
        )
    });
    cases
}

#[test]
fn every_bad_input_gets_one_clear_line_its_exit_code_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Files::new(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("creates");
    let out = out_dir.join("y.npy");
    let mut failures = Vec::new();
    for case in cases(&files, s(&out)) {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let mut cmd = command(&args);
        cmd.stdout(Stdio::null()).stdin(Stdio::null());
        match &case.io {
            Io::Plain => {}
            Io::Stdin(path) => {
                cmd.stdin(std::fs::File::open(path).expect("opens stdin"));
            }
            Io::FullStdout => {
                let full = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("/dev/full");
                cmd.stdout(full);
            }
        }
        let started = std::time::Instant::now();
        let run = cmd.run().expect("runs");
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let mut wrong = Vec::new();
        if run.status.code() != Some(case.code) {
            wrong.push(format!("exit {:?}, not {}", run.status.code(), case.code));
        }
        // clap follows a usage error with a tip and the usage; everything else is one line.
        if !stderr.starts_with("error: ") || (case.code != 2 && stderr.lines().count() != 1) {
            wrong.push("not one `error:` line".into());
        }
        if stderr.contains("panicked") {
            wrong.push("a panic".into());
        }
        for text in &case.expected {
            if !stderr.contains(text.as_str()) {
                wrong.push(format!("no {text:?}"));
            }
        }
        let left: Vec<String> = std::fs::read_dir(&out_dir)
            .expect("lists")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            wrong.push(format!("left {left:?}"));
            // Cleared, so that the cases after this one are judged on their own output.
            for name in &left {
                let _ = std::fs::remove_file(out_dir.join(name));
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            wrong.push(format!("took {:?}", started.elapsed()));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} -- stderr: {stderr}",
                case.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

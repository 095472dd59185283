//! Runs killed with a real SIGKILL and resumed from their checkpoint on disk (#8): the output
//! ends up byte for byte that of a run never interrupted, and a checkpoint that does not
//! belong to the run is refused.

use crate::cli::Start;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cli::{command, ok, s, sqrtspace};

/// A copy of the Wasm audio pipeline (a stateful IIR kernel and three Wasm stages) and its
/// plugins in `dir`, so a test can change either; and `seconds` of generated audio.
fn setup(dir: &Path, seconds: u32) -> (PathBuf, PathBuf) {
    let source = crate::common::root().join("pipelines/audio.ron");
    let mut text = std::fs::read_to_string(&source).expect("reads the pipeline");
    for plugin in ["features.wasm", "iir.wasm", "classify.wasm"] {
        let copy = dir.join(plugin);
        std::fs::copy(Path::new(sqrtspace_test_artifacts::DIR).join(plugin), &copy)
            .expect("copies a plugin");
        // By absolute path: the copy, not the one on SQRTSPACE_PLUGIN_PATH.
        text = text.replace(&format!("\"{plugin}\""), &format!("{:?}", s(&copy)));
    }
    let pipeline = dir.join("audio.ron");
    std::fs::write(&pipeline, text).expect("writes the pipeline");
    let wav = dir.join("audio.wav");
    ok(&[
        "gen",
        "audio",
        "--seconds",
        &seconds.to_string(),
        "--out",
        s(&wav),
    ]);
    (pipeline, wav)
}

fn run_args<'a>(pipeline: &'a Path, wav: &'a Path, out: &'a Path, ck: &'a Path) -> Vec<&'a str> {
    vec![
        "run",
        s(pipeline),
        "--input",
        s(wav),
        "--output",
        s(out),
        "--checkpoint-dir",
        s(ck),
        "--checkpoint-secs",
        "0",
        "--block",
        "16",
    ]
}

/// A small deterministic generator of kill times.
struct XorShift(u64);

impl XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn killed_twenty_times_then_resumed_equals_the_uninterrupted_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, wav) = setup(dir.path(), 60);
    let reference = dir.path().join("reference.npy");
    let ck_ref = dir.path().join("ck-ref");
    let started = Instant::now();
    ok(&run_args(&pipeline, &wav, &reference, &ck_ref));
    let whole = started.elapsed();
    assert!(
        !ck_ref.join("checkpoint").exists(),
        "a finished run removes its checkpoint"
    );

    let out = dir.path().join("y.npy");
    let ck = dir.path().join("ck");
    let mut args = run_args(&pipeline, &wav, &out, &ck);
    args.push("--resume");
    let mut rng = XorShift(0x5eed_cafe);
    let (mut killed, mut resumed_later) = (0, 0);
    for _ in 0..20 {
        let mut child = command(&args)
            .stderr(Stdio::piped())
            .start()
            .expect("starts");
        std::thread::sleep(whole.mul_f64(0.05 + 0.85 * rng.unit()));
        // SIGKILL: no chance to clean up or flush.
        let _ = child.kill();
        let done = child.wait_with_output().expect("ends");
        if crate::common::killed(done.status) {
            killed += 1;
        } else {
            assert!(
                done.status.success(),
                "{}",
                String::from_utf8_lossy(&done.stderr)
            );
        }
        let stderr = String::from_utf8_lossy(&done.stderr);
        if stderr.contains("resuming at window") && !stderr.contains("resuming at window 0 ") {
            resumed_later += 1;
        }
        if out.exists() {
            // The run committed its output before it ended: it finished before the kill, or
            // the kill landed after the rename, while it tidied up. Either way the output is
            // whole, never a part: start the next attempt from nothing again.
            assert_eq!(
                std::fs::read(&out).expect("output"),
                std::fs::read(&reference).expect("reference"),
                "a killed run (status {:?}) left a partial {}",
                done.status,
                out.display()
            );
            std::fs::remove_file(&out).expect("removes");
        } else {
            assert!(
                !done.status.success(),
                "a run that succeeded left no {}",
                out.display()
            );
        }
    }
    let last = ok(&args);
    assert!(
        String::from_utf8_lossy(&last.stderr).contains("resuming at window")
            || !ck.join("checkpoint").exists()
    );
    assert_eq!(
        std::fs::read(&out).expect("resumed output"),
        std::fs::read(&reference).expect("reference"),
        "resumed after {killed} kills"
    );
    assert!(killed >= 10, "only {killed} of 20 kills landed mid-run");
    assert!(resumed_later >= 1, "no run resumed from a later window");
    assert!(!ck.join("checkpoint").exists());
    assert!(!sqrtspace::io::FileSink::partial_path(&out).exists());
}

/// Starts a run and kills it once its first checkpoint is on disk.
fn kill_after_first_checkpoint(args: &[&str], ck: &Path) {
    let mut child = command(args).stderr(Stdio::null()).start().expect("starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ck.join("checkpoint").exists() {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().expect("polls").is_none(),
            "the run ended before its first checkpoint"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let status = child.wait().expect("ends");
    assert!(crate::common::killed(status), "killed mid-run");
}

/// Refused with exit code 7 and `needle` in the message, leaving the output in progress.
fn refused(args: &[&str], needle: &str, out: &Path) {
    let run = sqrtspace(args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(7), "expected {needle:?}: {stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!out.exists());
    assert!(
        sqrtspace::io::FileSink::partial_path(out).exists(),
        "the rows so far are kept"
    );
}

#[test]
fn resume_refuses_another_pipeline_plugin_input_or_a_damaged_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, wav) = setup(dir.path(), 300);
    let reference = dir.path().join("reference.npy");
    ok(&run_args(
        &pipeline,
        &wav,
        &reference,
        &dir.path().join("ck-ref"),
    ));

    let out = dir.path().join("y.npy");
    let ck = dir.path().join("ck");
    let fresh = run_args(&pipeline, &wav, &out, &ck);
    let mut resume = fresh.clone();
    resume.push("--resume");
    kill_after_first_checkpoint(&fresh, &ck);

    refused(&fresh, "pass --resume to continue it", &out);

    let original = std::fs::read(&pipeline).expect("pipeline");
    std::fs::write(&pipeline, [&original[..], b"\n// edited\n"].concat()).expect("edits");
    refused(&resume, "another pipeline", &out);
    std::fs::write(&pipeline, &original).expect("restores");

    // A custom section appended: the same code, another file.
    let iir = dir.path().join("iir.wasm");
    let plugin = std::fs::read(&iir).expect("plugin");
    std::fs::write(&iir, [&plugin[..], b"\x00\x05\x04note"].concat()).expect("edits");
    refused(&resume, "another plugin (smooth", &out);
    std::fs::write(&iir, &plugin).expect("restores");

    let audio = std::fs::read(&wav).expect("audio");
    let mut edited = audio.clone();
    let middle = edited.len() / 2;
    edited[middle] ^= 1;
    std::fs::write(&wav, &edited).expect("edits");
    refused(&resume, "another input", &out);
    std::fs::write(&wav, &audio).expect("restores");
    refused(&resume, "another input (modified at", &out);
    // Put the original modification time back, as a restore from backup would.
    let saved = sqrtspace::exec::read_checkpoint(&ck.join("checkpoint")).expect("readable");
    let when =
        std::time::UNIX_EPOCH + Duration::from_nanos(saved.identity.input.modified_ns as u64);
    std::fs::File::options()
        .write(true)
        .open(&wav)
        .and_then(|f| f.set_modified(when))
        .expect("sets the time");

    let checkpoint = ck.join("checkpoint");
    let good = std::fs::read(&checkpoint).expect("checkpoint");
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    std::fs::write(&checkpoint, &bad).expect("damages");
    refused(&resume, "is damaged (checksum mismatch)", &out);
    std::fs::write(&checkpoint, &good).expect("restores");

    let last = ok(&resume);
    assert!(String::from_utf8_lossy(&last.stderr).contains("resuming at window"));
    assert_eq!(
        std::fs::read(&out).expect("resumed output"),
        std::fs::read(&reference).expect("reference")
    );
}

#[test]
fn checkpoints_need_a_file_in_and_out_and_sqrt_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, wav) = setup(dir.path(), 2);
    let ck = dir.path().join("ck");
    let out = dir.path().join("y.npy");
    let mut classic = run_args(&pipeline, &wav, &out, &ck);
    classic.extend(["--mode", "classic"]);
    let without = |input: &str, output: Option<&str>| {
        let mut args = vec![
            "run",
            s(&pipeline),
            "--input",
            input,
            "--checkpoint-dir",
            s(&ck),
        ];
        if let Some(output) = output {
            args.extend(["--output", output]);
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let classic: Vec<String> = classic.into_iter().map(String::from).collect();
    for (args, needle) in [
        (classic, "runs in sqrt mode"),
        (without(s(&wav), None), "needs --output FILE"),
        (without(s(&wav), Some("-")), "needs --output FILE"),
        (without("-", Some(s(&out))), "needs an input file"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sqrtspace(&args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            !run.status.success() && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(!out.exists());
    }
}

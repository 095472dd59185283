//! `--device` and `device:`: the CPU by default; `cuda` refused with the reason where it cannot
//! run (no GPU, no driver, a build without GPU support), nothing written; `auto` runs on the CPU
//! here and says why, with the CPU's bytes.

use crate::cli::{ok, s, sqrtspace};
use crate::common::pipeline;

fn audio(dir: &std::path::Path) -> std::path::PathBuf {
    let input = dir.join("a.wav");
    ok(&["gen", "audio", "--seconds", "3", "--out", s(&input)]);
    input
}

#[test]
fn cuda_where_it_cannot_run_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = audio(dir.path());
    let out = dir.path().join("y.npy");
    let native = pipeline("audio-native.ron");
    let refused = sqrtspace(&[
        "run",
        &native,
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--device",
        "cuda",
    ]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(text.contains("cannot run here"), "{text}");
    // Why: a build without the feature, no driver, no cuFFT, no device, or no GPU front end.
    assert!(
        [
            "--features gpu",
            "CUDA driver",
            "cuFFT",
            "no GPU",
            "no GPU front end"
        ]
        .iter()
        .any(|why| text.contains(why)),
        "{text}"
    );
    assert!(!out.exists());

    // The same from the pipeline file.
    let text = std::fs::read_to_string(&native).expect("pipeline");
    let in_file = dir.path().join("cuda.ron");
    std::fs::write(
        &in_file,
        text.replacen("mode: Auto,", "mode: Auto,\n    device: Cuda,", 1),
    )
    .expect("write");
    let refused = sqrtspace(&[
        "run",
        s(&in_file),
        "--input",
        s(&input),
        "--output",
        s(&out),
    ]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot run here"));
    // ... which the command line overrides.
    ok(&[
        "run",
        s(&in_file),
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--device",
        "cpu",
    ]);

    // A device that does not exist is the pipeline's error, or the command line's.
    let bad = dir.path().join("bad.ron");
    std::fs::write(
        &bad,
        text.replacen("mode: Auto,", "mode: Auto,\n    device: Gpu,", 1),
    )
    .expect("write");
    let refused = sqrtspace(&["run", s(&bad), "--input", s(&input), "--output", s(&out)]);
    assert_eq!(refused.status.code(), Some(3));
    let refused = sqrtspace(&[
        "run",
        &native,
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--device",
        "gpu",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cpu, cuda or auto"));
}

#[test]
fn auto_says_where_it_ran_and_gives_the_cpus_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = audio(dir.path());
    let native = pipeline("audio-native.ron");
    let (cpu, auto) = (dir.path().join("cpu.npy"), dir.path().join("auto.npy"));
    ok(&["run", &native, "--input", s(&input), "--output", s(&cpu)]);
    let run = ok(&[
        "run",
        &native,
        "--input",
        s(&input),
        "--output",
        s(&auto),
        "--device",
        "auto",
    ]);
    let text = String::from_utf8_lossy(&run.stderr);
    assert!(text.contains("device: cpu (auto: cpu, as "), "{text}");
    assert_eq!(
        std::fs::read(&cpu).expect("cpu"),
        std::fs::read(&auto).expect("auto")
    );
    // `plan` gives the decision and its reason beside the others.
    let plan = ok(&["plan", &native]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("device") && text.contains("the default"),
        "{text}"
    );
}

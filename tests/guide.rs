//! The plugin author's guide (`sdk/README.md`), followed word for word from an empty
//! directory: its shell blocks run in order in one shell, and each block marked
//! `file=PATH` is written where the shell is at that point. Then a misspelt parameter is
//! reported with the field meant and its place in the pipeline file.

use crate::cli::Start;
use std::path::Path;
use std::process::Command;

use crate::cli::EXE;

/// The guide as one bash script.
fn script(guide: &str) -> String {
    let mut script = String::from("set -euo pipefail\n");
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or_default();
        let file = words.find_map(|w| w.strip_prefix("file="));
        match (lang, file) {
            (_, Some(file)) => {
                if let Some(dir) = Path::new(file)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    script.push_str(&format!("mkdir -p {}\n", dir.display()));
                }
                script.push_str(&format!("cat > {file} <<'GUIDE_EOF'\n"));
                for l in &body {
                    script.push_str(l);
                    script.push('\n');
                }
                script.push_str("GUIDE_EOF\n");
            }
            ("sh", None) => {
                for l in &body {
                    script.push_str(l);
                    script.push('\n');
                }
            }
            _ => {}
        }
    }
    script
}

#[test]
fn the_plugin_guide_works_from_an_empty_directory() {
    let root = crate::common::root();
    let guide = std::fs::read_to_string(root.join("sdk/README.md")).expect("the guide");
    let script = script(&guide);
    for step in [
        "cargo new --lib my-stage",
        "cat > Cargo.toml",
        "cat > src/lib.rs",
        "cmp classic.npy sqrt.npy",
    ] {
        assert!(
            script.contains(step),
            "the guide lost a step: {step}\n{script}"
        );
    }
    let work = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(
        root.canonicalize().expect("root"),
        work.path().join("sqrtspace"),
    )
    .expect("links the checkout");
    // `sqrtspace` on PATH is the binary under test.
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    std::os::unix::fs::symlink(EXE, bin.join("sqrtspace")).expect("links the binary");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The last section publishes to a registry: a real one on loopback, where it is
    // installed (`tests/registry.rs` says when it must be); without one the guide stops
    // before it.
    let registry = crate::registry::Registry::start(None);
    let script = match &registry {
        Some(_) => script,
        None => script
            .split("sqrtspace plugin push")
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("SQRTSPACE_CACHE_DIR", work.path().join("cache"))
        .env("SQRTSPACE_OCI_DIR", work.path().join("artifacts"))
        .env(
            "REGISTRY",
            registry
                .as_ref()
                .map_or_else(String::new, |r| format!("{}/you", r.addr)),
        );
    // The outer cargo's settings are for the host build.
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        bash.env_remove(var);
    }
    let out = bash.run().expect("runs bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the guide failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("name         scale 0.1.0"), "{stdout}");
    assert!(stdout.contains("ok       louder:"), "{stdout}");
    if let Some(registry) = &registry {
        // Pushed, and described back from the registry with its digest.
        assert!(
            stdout.contains(&format!(
                "reference    oci://{}/you/my-stage:0.1.0",
                registry.addr
            )) && stdout.contains("digest       sha256:"),
            "{stdout}"
        );
    }

    // A misspelt parameter: the field meant, and where it is in the pipeline file.
    let stage = work.path().join("my-stage");
    let pipeline = std::fs::read_to_string(stage.join("louder.ron")).expect("louder.ron");
    std::fs::write(
        stage.join("typo.ron"),
        pipeline.replace("gain: 2.0", "gian: 2.0"),
    )
    .expect("writes");
    let typo = Command::new(EXE)
        .args(["run", "typo.ron", "--input", "test.wav"])
        .current_dir(&stage)
        .env("SQRTSPACE_CACHE_DIR", work.path().join("cache"))
        .run()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert_eq!(typo.status.code(), Some(6), "{stderr}");
    let line = pipeline
        .lines()
        .position(|l| l.contains("gain: 2.0"))
        .expect("the params line")
        + 1;
    assert!(
        stderr.contains(&format!("typo.ron:{line}:"))
            && stderr.contains("unknown field `gian`, did you mean `gain`?"),
        "{stderr}"
    );
}

//! Builds every plugin the tests use for wasm32-unknown-unknown, in a target directory of its
//! own (the outer cargo holds the lock on the usual one), and writes their paths as constants.
//! This is how `cargo test` alone is enough once the Wasm target is installed.

use std::path::PathBuf;
use std::process::Command;

/// (constant, package, the file the package builds).
const PLUGINS: &[(&str, &str, &str)] = &[
    ("FEATURES", "sqrtspace-plugin-features", "features.wasm"),
    ("CLASSIFY", "sqrtspace-plugin-classify", "classify.wasm"),
    ("IIR", "sqrtspace-plugin-iir", "iir.wasm"),
    ("ZCR_RUST", "sqrtspace-plugin-zcr-rust", "zcr_rust.wasm"),
    (
        "STATS_RUST",
        "sqrtspace-plugin-stats-rust",
        "stats_rust.wasm",
    ),
    ("LOGMEL", "sqrtspace-plugin-logmel", "logmel.wasm"),
    ("AUGMENT", "sqrtspace-plugin-augment", "augment.wasm"),
    ("NORMALIZE", "sqrtspace-plugin-normalize", "normalize.wasm"),
    ("LOGPARSE", "sqrtspace-plugin-logparse", "logparse.wasm"),
    ("LOGSTATS", "sqrtspace-plugin-logstats", "logstats.wasm"),
    (
        "LOGROLLING",
        "sqrtspace-plugin-logrolling",
        "logrolling.wasm",
    ),
    ("LOGALERTS", "sqrtspace-plugin-logalerts", "logalerts.wasm"),
    ("SPIN", "hostile-spin", "hostile_spin.wasm"),
    ("HOG", "hostile-hog", "hostile_hog.wasm"),
    ("PANIC", "hostile-panic", "hostile_panic.wasm"),
    ("MALFORMED", "hostile-malformed", "hostile_malformed.wasm"),
    ("OLD_WIT", "hostile-old-wit", "hostile_old_wit.wasm"),
    ("IDENTITY", "plugin-identity", "plugin_identity.wasm"),
    ("ECHO", "plugin-echo", "plugin_echo.wasm"),
    ("ECHO_0_1", "plugin-echo-0-1", "plugin_echo_0_1.wasm"),
    ("KERNEL", "hostile-kernel", "hostile_kernel.wasm"),
    ("STAGE", "hostile-stage", "hostile_stage.wasm"),
    (
        "DESCRIBE_LOOP",
        "hostile-describe-loop",
        "hostile_describe_loop.wasm",
    ),
];

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace exists");
    let target_dir = workspace.join("target").join("test-plugins");
    for watched in ["wit", "sdk", "plugins", "tests/plugins"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args(["build", "--profile", "plugin"])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package, _) in PLUGINS {
        build.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for Wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .expect("cannot run cargo to build the test plugins");
    if !status.success() {
        panic!(
            "building the test plugins for wasm32-unknown-unknown failed; if the target is missing, \
             run `rustup target add wasm32-unknown-unknown`"
        );
    }
    let dir = target_dir.join("wasm32-unknown-unknown").join("plugin");
    let mut constants = format!(
        "/// Where the test plugins are.\npub const DIR: &str = {:?};\n",
        dir.display().to_string()
    );
    constants.push_str(&format!(
        "/// Where `plugins/build-polyglot` puts the C and JavaScript plugins.\npub const POLYGLOT_DIR: &str = {:?};\n",
        workspace.join("target").join("polyglot").display().to_string()
    ));
    for (name, package, file) in PLUGINS {
        let file = dir.join(file);
        assert!(file.is_file(), "{} was not built", file.display());
        constants.push_str(&format!(
            "/// `{package}`.\npub const {name}: &str = {:?};\n",
            file.display().to_string()
        ));
    }
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("plugins.rs");
    std::fs::write(out, constants).expect("cannot write plugins.rs");
}

//! Bundles the example pipelines and plugins into the Python package (`sqrtspace.EXAMPLES`), so
//! that a wheel built by `pip install ./host/python` runs the README's examples from any
//! directory: the plugins are built for wasm32 (the workspace's `cargo plugins`, into a target
//! directory of their own, so this build does not wait on its own lock) and copied with the
//! pipelines into python/sqrtspace/examples/, which maturin puts in the wheel.
//!
//! `SQRTSPACE_PYTHON_NO_EXAMPLES=1` builds the package without them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=SQRTSPACE_PYTHON_NO_EXAMPLES");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let examples = manifest.join("python/sqrtspace/examples");
    for dir in ["pipelines", "plugins", "host/kernels/src", "sdk/src", "wit"] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
    }
    if std::env::var_os("SQRTSPACE_PYTHON_NO_EXAMPLES").is_some_and(|v| v == "1") {
        return;
    }
    std::fs::create_dir_all(&examples)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", examples.display()));
    copy_matching(&root.join("pipelines"), "ron", &examples);
    // Its C and JavaScript plugins are built by plugins/build-polyglot, not bundled.
    let _ = std::fs::remove_file(examples.join("polyglot.ron"));

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("python-examples");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args(["plugins", "--locked", "--target-dir"])
        .arg(&target);
    // What this build script's own cargo set for the host build must not reach the wasm one.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the example plugins: {e}"));
    if !status.success() {
        panic!(
            "building the example plugins for the Python package failed ({status}); they need the \
             wasm32 target (`rustup target add wasm32-unknown-unknown`); \
             SQRTSPACE_PYTHON_NO_EXAMPLES=1 builds the package without them"
        );
    }
    copy_matching(
        &target.join("wasm32-unknown-unknown/plugin"),
        "wasm",
        &examples,
    );
}

/// Copies the files of `dir` whose extension is `ext` into `to`.
fn copy_matching(dir: &Path, ext: &str, to: &Path) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == ext) && path.is_file() {
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, to.join(name)).unwrap_or_else(|e| {
                panic!("cannot copy {} into {}: {e}", path.display(), to.display())
            });
        }
    }
}

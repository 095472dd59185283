//! Reads the contract the host speaks from `wit/` (the top-level folder, linked into this
//! package), so that the version the host checks plugins against is the one its bindings are
//! generated from, never a copy that could drift.

use std::path::Path;

fn main() {
    let wit = Path::new("wit/sqrtspace.wit");
    println!("cargo::rerun-if-changed={}", wit.display());
    let text = std::fs::read_to_string(wit)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", wit.display()));
    // `package sqrtspace:pipeline@0.1.0;`, outside comments.
    let declared = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("package ")?.strip_suffix(';'))
        .unwrap_or_else(|| panic!("{} declares no `package name@version;`", wit.display()));
    let (package, version) = declared.split_once('@').unwrap_or_else(|| {
        panic!(
            "{}: the package `{declared}` has no @version",
            wit.display()
        )
    });
    println!("cargo::rustc-env=SQRTSPACE_WIT_PACKAGE={package}");
    println!("cargo::rustc-env=SQRTSPACE_WIT_VERSION={version}");
}

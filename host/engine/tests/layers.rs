//! The engine's layers point one way: RON → `Spec` → `Plan` → executor → sink. This test reads
//! every `crate::` and `super::` path in the engine's sources (tests left out) and fails on an
//! import from a lower layer to a higher one, or on files that import each other in a circle.
//!
//! `cargo test -p sqrtspace --test layers -- --nocapture` prints the module graph it checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The engine's top-level modules, lowest layer first; a module may use only modules of its
/// own or a lower layer.
const LAYERS: &[&[&str]] = &[
    // Data types and process measurements, used everywhere.
    &["tensor", "metrics"],
    // The pipeline as written: the spec, its operators and limits.
    &["spec"],
    // Facts the planner reads: the machine; sources and sinks of samples and rows.
    &["machine", "io"],
    // What a stage is, and the native built-ins.
    &["stage"],
    // Stages in Wasm components.
    &["plugin"],
    // Stages the embedding program provides (a language binding's functions).
    &["extend"],
    // Graph, layouts, settings and predictions (from measured facts).
    &["plan"],
    // The executors, the probe that measures, checkpoints.
    &["exec"],
    // Entry points over everything.
    &["fuzz", "lib"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of LAYERS: add it"))
}

/// A source file's module path, `["exec", "sweep"]` for `src/exec/sweep.rs`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    parts
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and its tests (`#[cfg(test)]` to the end: the
/// tests of a module come last in this code base).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts with `prefix` (`crate::` or `super::`), brace groups expanded:
/// `crate::{a::b, c}` gives `a::b` and `c`.
fn paths(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(rest, String::new(), &mut out);
    }
    out
}

fn expand(text: &str, stem: String, out: &mut Vec<String>) {
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(item.trim(), stem.clone(), out);
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        expand(item.trim(), stem, out);
        return;
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let (path, after) = text.split_at(end);
    let path = format!("{stem}{path}");
    if path.ends_with("::") && after.starts_with('{') {
        expand(after, path, out);
    } else if !path.is_empty() {
        out.push(path.trim_end_matches("::").to_string());
    }
}

/// The file a path names: the longest prefix of it that is a module of `src`.
fn resolve(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains_key(p))
}

#[test]
fn layers_point_down_and_files_import_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_path(&src, f), f.clone()))
        .collect();

    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code(&std::fs::read_to_string(file).expect("read"));
        let mut targets = Vec::new();
        for path in paths(&code, "crate::") {
            let parts: Vec<String> = path.split("::").map(String::from).collect();
            targets.push(parts);
        }
        // `super::` from `a/b.rs` is `a`; from `a/b/mod.rs` it is `a` too.
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        for path in paths(&code, "super::") {
            let mut parts = parent.clone();
            parts.extend(path.split("::").map(String::from));
            targets.push(parts);
        }
        // A module's own children (`crate::exec::sweep` from `exec/mod.rs`) are part of it.
        for target in targets {
            if let Some(found) = resolve(&modules, &target)
                && &found != module
                && !found.starts_with(module)
            {
                edges.entry(module.clone()).or_default().insert(found);
            }
        }
    }

    let top = |m: &[String]| m.first().cloned().unwrap_or_else(|| "lib".into());
    let mut upward = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            let (a, b) = (top(from), top(to));
            if a != b && layer_of(&b) > layer_of(&a) {
                upward.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    let mut module_graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &edges {
        for to in tos {
            if top(from) != top(to) {
                module_graph.entry(top(from)).or_default().insert(top(to));
            }
        }
    }
    for (from, tos) in &module_graph {
        println!(
            "{from} -> {}",
            tos.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one:\n{}",
        upward.join("\n")
    );

    // Circles among files: a depth-first search for a back edge.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut circle: Vec<String> =
                        stack[at..].iter().map(|n| n.join("::")).collect();
                    circle.push(next.join("::"));
                    return Some(circle);
                }
                Some(_) => {}
                None => {
                    if let Some(circle) = visit(next, edges, state, stack) {
                        return Some(circle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for module in modules.keys() {
        if !state.contains_key(module)
            && let Some(circle) = visit(module, &edges, &mut state, &mut Vec::new())
        {
            panic!(
                "files import each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_checker_sees_imports() {
    let code = "use crate::{exec::forward_sweep::ForwardSweep, io::{Framer, Sink}};\nlet x = crate::plan::windows_in(1);\n// crate::comment::ignored\n";
    let got = paths(&self::code(code), "crate::");
    assert_eq!(
        got,
        [
            "exec::forward_sweep::ForwardSweep",
            "io::Framer",
            "io::Sink",
            "plan::windows_in"
        ]
    );
}

//! Text across the plugin boundary, in both contract versions the host speaks: the same
//! random lines (empty, long, past the line cap, not UTF-8, CRLF, with and without a final
//! newline) through `echo` (built with the SDK against the current contract, text as one
//! buffer and its ends) and through `echo-0.1.0` (built from source frozen at 0.1.0, text as a
//! string per line) come back equal to each other and to a naive reading of the file, in
//! classic and sqrt mode, windows overlapping or not.

use crate::cli::Start;
use std::path::Path;

use proptest::prelude::*;
use sqrtspace::io::{DEFAULT_MAX_LINE, windows_in};
use sqrtspace::{Mode, Tensor};
use sqrtspace_test_artifacts as artifacts;

use crate::common::spec;
use crate::logs::run_lines;

/// A pipeline of one plugin stage over lines.
fn echo_pipeline(plugin: &str, window: usize, hop: usize) -> sqrtspace::Spec {
    spec(&format!(
        r#"Pipeline(input: Lines, window: {window}, hop: {hop}, stages: [
            (name: "echo", inputs: ["input"], op: Plugin(path: "{plugin}")),
        ])"#
    ))
}

/// The lines of a file as the line reader documents them, read the obvious way: split at
/// `\n`, a `\r` before it dropped, a last line without one kept, a line past the cap cut
/// (with a character the cut goes through), bytes that are not UTF-8 replaced.
fn naive_lines(bytes: &[u8]) -> Vec<String> {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop(); // what follows the last `\n`, or an empty file
    }
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let ended = i + 1 < count || bytes.ends_with(b"\n");
            let cut = piece.len() > DEFAULT_MAX_LINE;
            let mut line = &piece[..piece.len().min(DEFAULT_MAX_LINE)];
            if ended && !cut && line.ends_with(b"\r") {
                line = &line[..line.len() - 1];
            }
            if cut
                && let Err(e) = std::str::from_utf8(line)
                && e.error_len().is_none()
            {
                line = &line[..e.valid_up_to()];
            }
            String::from_utf8_lossy(line).into_owned()
        })
        .collect()
}

fn rows_of(t: &Tensor) -> Vec<Vec<String>> {
    let view = t.view();
    let rows = view.text().expect("text rows");
    rows.iter()
        .map(|row| row.iter().map(str::to_string).collect())
        .collect()
}

/// One line of the file, without its end.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        6 => "[ -~]{1,120}".prop_map(String::into_bytes),
        4 => "\\PC{1,40}".prop_map(String::into_bytes),
        3 => prop::collection::vec(any::<u8>(), 1..60),
        1 => (0usize..3000).prop_map(|n| vec![b'x'; 20_000 + n]),
        1 => (0usize..40, "[a-zé]").prop_map(|(extra, tail)| {
            // Past the cap, ending in a character the cut may go through.
            let mut l = vec![b'y'; DEFAULT_MAX_LINE - 1 + extra];
            l.extend(tail.into_bytes());
            l
        }),
    ]
}

fn file() -> impl Strategy<Value = Vec<u8>> {
    let ended = (line(), prop::bool::weighted(0.3));
    (prop::collection::vec(ended, 0..90), any::<bool>()).prop_map(|(lines, final_newline)| {
        let mut bytes = Vec::new();
        let n = lines.len();
        for (i, (line, crlf)) in lines.into_iter().enumerate() {
            bytes.extend(line);
            if i + 1 < n || final_newline {
                bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn text_crosses_both_contracts_unchanged(
        bytes in file(), window in 1usize..9, hop_less in 0usize..8, sqrt in any::<bool>(),
    ) {
        let hop = window - hop_less % window;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lines.txt");
        std::fs::write(&path, &bytes).expect("writes");
        let lines = naive_lines(&bytes);
        let expected: Vec<Vec<String>> = (0..windows_in(lines.len() as u64, window, hop) as usize)
            .map(|t| lines[t * hop..t * hop + window].to_vec())
            .collect();
        let mode = if sqrt { Mode::Sqrt } else { Mode::Classic };
        for plugin in [artifacts::ECHO, artifacts::ECHO_0_1] {
            let got = run_lines(&echo_pipeline(plugin, window, hop), mode, &path);
            prop_assert_eq!(got.row_shape(), &[window][..]);
            let got = rows_of(&got);
            prop_assert!(got == expected, "{} differs from the lines of the file", Path::new(plugin).display());
        }
    }
}

#[test]
fn a_plugin_built_against_0_1_0_loads_runs_and_says_so() {
    let out = crate::cli::command(&["plugin", "inspect", artifacts::ECHO_0_1, "--json"])
        .run()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["wit_version"], "0.1.0");
    assert_eq!(json["compatible"], true);
    assert_eq!(json["name"], "echo-0.1.0");
    // Numbers as well as text: the frozen plugin echoes any element type, spectra here.
    let audio = |target: &str| {
        let mut s = spec(&format!(
            r#"Pipeline(window: 256, hop: 64, sample_rate: 8000, stages: [
                (name: "fft", inputs: ["input"], op: WindowFft(window: Hann)),
                (name: "magnitude", inputs: ["fft"], op: Magnitude),
                (name: "echo", inputs: ["magnitude"], op: Plugin(path: "{}")),
            ])"#,
            artifacts::ECHO_0_1
        ));
        s.target = Some(target.into());
        s
    };
    let samples = crate::common::chirp_noise(20_000, 3);
    let all = sqrtspace::WindowRange::all();
    let (direct, _) = crate::common::run(&audio("magnitude"), Mode::Sqrt, &samples, all);
    let (echoed, _) = crate::common::run(&audio("echo"), Mode::Sqrt, &samples, all);
    let bits = |t: &Tensor| {
        let view = t.view();
        let rows = view.typed::<f32>().expect("f32");
        rows.iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(echoed.rows(), direct.rows());
    assert!(
        bits(&echoed) == bits(&direct),
        "echo-0.1.0 changed the spectra"
    );
}

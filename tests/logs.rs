//! The logs pipeline (`pipelines/logs.ron`) over generated access logs: classic and sqrt give
//! the same bits at any block size with the rolling context crossing blocks; alerts fire on
//! the injected incidents and nowhere else; lines that do not parse or are not UTF-8 are
//! counted and reported, never fatal; window quantiles equal a sort of the latencies.

use crate::cli::Start;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqrtspace::io::{Framer, LineSource, MemorySink};
use sqrtspace::spec::OpSpec;
use sqrtspace::{Mode, Plan, Spec, Tensor, WindowRange};
use sqrtspace_kernels::logs::{self, Parser, field, stat};
use sqrtspace_test_artifacts as artifacts;
use sqrtspace_testdata::logs::{Incident, IncidentKind, write_logs};

use crate::cli::{command, ok};
use crate::common::spec;

const LOGS: &str = include_str!("../pipelines/logs.ron");
const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/logs.ron");

/// The shipped pipeline with the test build of its plugins, writing `target`.
fn logs_spec(target: &str) -> Spec {
    let mut s = spec(LOGS);
    for stage in &mut s.stages {
        if let OpSpec::Plugin(plugin) = &mut stage.op {
            plugin.path = plugin
                .path
                .as_ref()
                .map(|p| Path::new(artifacts::DIR).join(p));
        }
    }
    s.target = Some(target.into());
    s
}

/// A generated log of `lines` lines in a directory of its own, and its incidents.
fn generated(lines: u64, seed: u64) -> (tempfile::TempDir, PathBuf, Vec<Incident>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.log");
    let incidents =
        write_logs(&path, &dir.path().join("truth.jsonl"), lines, seed).expect("generates");
    (dir, path, incidents)
}

/// Runs `spec` in `mode` over the lines of `input`, returning the target's rows.
pub(crate) fn run_lines(spec: &Spec, mode: Mode, input: &Path) -> Tensor {
    let mut spec = spec.clone();
    spec.mode = mode;
    let plan = Plan::new(&spec, None).unwrap_or_else(|e| panic!("{e}"));
    let source = LineSource::open(input).expect("opens");
    let mut framer = Framer::lines(source, plan.window, plan.hop);
    let mut sink = MemorySink::new(&plan.target_node().port.layout);
    sqrtspace::run(&plan, &mut framer, WindowRange::all(), &mut sink)
        .unwrap_or_else(|e| panic!("{e}"));
    sink.tensor
}

/// The alert events of an `alerts` output, in order.
fn events(alerts: &Tensor) -> Vec<serde_json::Value> {
    let rows = alerts.view();
    let rows = rows.text().expect("alerts are text");
    rows.iter()
        .flat_map(|row| row.iter())
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e).unwrap_or_else(|err| panic!("{e}: {err}")))
        .collect()
}

fn range(event: &serde_json::Value, key: &str) -> (u64, u64) {
    let pair = event[key].as_array().expect("a [first, end) pair");
    let at = |i: usize| pair[i].as_u64().expect("a line number");
    (at(0), at(1))
}

#[test]
fn classic_and_sqrt_agree_at_any_block_with_rolling_context_across_blocks() {
    let (_dir, log, _) = generated(40_000, 7);
    for target in ["stats", "rolling", "alerts"] {
        let mut s = logs_spec(target);
        // 160 windows of 250 lines; the rolling span (10 windows) crosses every block.
        s.window = 250;
        s.hop = 250;
        let classic = run_lines(&s, Mode::Classic, &log);
        assert_eq!(classic.rows(), 160, "{target}");
        for block in [1, 3, 8] {
            for workers in [1, 3] {
                let mut s = s.clone();
                s.block = Some(block);
                s.max_workers = Some(workers);
                // A cache too small for a block: sqrt recomputes what it evicted.
                s.lru_bytes = Some(sqrtspace::spec::ByteSize(64 << 10));
                let sqrt = run_lines(&s, Mode::Sqrt, &log);
                assert!(
                    classic.bit_identical(&sqrt),
                    "{target}: classic and sqrt differ at block {block}, {workers} workers"
                );
            }
        }
    }
}

#[test]
fn alerts_fire_on_the_injected_incidents_and_nowhere_else() {
    let (dir, log, incidents) = generated(300_000, 11);
    assert_eq!(incidents.len(), 3);
    let alerts = run_lines(&logs_spec("alerts"), Mode::Sqrt, &log);
    let events = events(&alerts);
    let overlaps = |(a, b): (u64, u64), i: &Incident| a < i.end && i.first < b;
    for event in &events {
        let window = event["window"].as_u64().expect("window");
        assert_eq!(range(event, "lines"), (window * 1000, window * 1000 + 1000));
        let kind = match event["alert"].as_str() {
            Some("error-ratio") => IncidentKind::ErrorBurst,
            Some("latency-p95") => IncidentKind::LatencySpike,
            other => panic!("an alert with no incident behind it: {other:?} in {event}"),
        };
        let evidence = range(event, "evidence");
        assert!(
            incidents
                .iter()
                .any(|i| i.kind == kind && overlaps(evidence, i)),
            "{event} is not over an incident of its kind: {incidents:?}"
        );
    }
    for incident in &incidents {
        let kind = match incident.kind {
            IncidentKind::ErrorBurst => "error-ratio",
            IncidentKind::LatencySpike => "latency-p95",
        };
        let fired = events
            .iter()
            .filter(|e| e["alert"] == kind && overlaps(range(e, "evidence"), incident))
            .count();
        // Each incident spans three windows: the latency of each, and the rolling error
        // ratio of the windows whose span holds two of them, alert.
        assert!(fired >= 3, "{incident:?}: {fired} alerts");
    }

    // The CLI writes the same events, one JSON line each, from a file or from stdin.
    let out = dir.path().join("alerts.jsonl");
    let (log_arg, out_arg) = (log.display().to_string(), out.display().to_string());
    ok(&[
        "run", PIPELINE, "--input", &log_arg, "--output", &out_arg, "--mode", "classic",
    ]);
    let written: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .expect("alerts written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(written, events);
    let mut child = command(&["run", PIPELINE, "--input", "-", "--output", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .start()
        .expect("starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let bytes = std::fs::read(&log).expect("log");
    let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
    let streamed = child.wait_with_output().expect("runs");
    feeder.join().expect("feeds").expect("writes stdin");
    assert!(
        streamed.status.success(),
        "{}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    assert_eq!(
        String::from_utf8(streamed.stdout).expect("text"),
        std::fs::read_to_string(&out).expect("alerts")
    );
}

/// Hostile lines on top of the generator's own damage: binary junk, an empty line, a request
/// with no status, a line of 3 MiB (cut to the 1 MiB kept), a CRLF line.
fn append_hostile_lines(log: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(log).expect("log");
    for junk in [
        &b"\xff\xfe\x00binary\x80\n"[..],
        b"\n",
        b"GET / HTTP/1.1\r\n",
        &[b'x'; 3 << 20],
        b"\n",
    ] {
        bytes.extend_from_slice(junk);
    }
    std::fs::write(log, &bytes).expect("write");
    bytes
}

#[test]
fn the_native_parse_gives_the_bits_of_the_logparse_plugin() {
    // The shipped pipeline parses natively; its sandboxed twin runs the plugin the built-in
    // was made from. Over generated lines, hostile ones and a path filter, the same bits.
    let (_dir, log, _) = generated(19_996, 11);
    append_hostile_lines(&log);
    // As pipeline files are read: an optional field is written without `Some(..)`.
    let ron =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let plugin = |params: Option<&str>| {
        OpSpec::Plugin(
            ron.from_str(&format!(
                "(path: {:?}, params: {})",
                Path::new(artifacts::DIR).join("logparse.wasm"),
                params.unwrap_or("()")
            ))
            .expect("plugin spec"),
        )
    };
    for params in [None, Some(r#"(path: "^/api/")"#)] {
        let mut native = logs_spec("parse");
        native.window = 400;
        native.hop = 400;
        let parse = native
            .stages
            .iter_mut()
            .find(|s| s.name == "parse")
            .expect("a parse stage");
        assert!(matches!(parse.op, OpSpec::LogParse(_)), "{:?}", parse.op);
        if let Some(params) = params {
            parse.op = OpSpec::LogParse(ron.from_str(params).expect("params"));
        }
        let mut twin = native.clone();
        for stage in &mut twin.stages {
            if stage.name == "parse" {
                stage.op = plugin(params);
            }
        }
        let native = run_lines(&native, Mode::Sqrt, &log);
        let sandboxed = run_lines(&twin, Mode::Sqrt, &log);
        assert_eq!(native.rows(), 50);
        assert!(
            native.bit_identical(&sandboxed),
            "LogParse and logparse.wasm differ ({params:?})"
        );
        // Not a vacuous match: the lines were parsed, some kept, some not.
        let rows = native.view();
        let flags: Vec<f64> = rows
            .typed::<f64>()
            .expect("f64")
            .iter()
            .flat_map(|r| r.chunks_exact(field::COUNT).map(|f| f[field::FLAG]))
            .collect();
        assert!(flags.contains(&logs::KEPT) && flags.contains(&logs::UNPARSED));
        assert_eq!(params.is_some(), flags.contains(&logs::FILTERED));
    }
}

#[test]
fn unparsable_and_non_utf8_lines_are_counted_and_reported() {
    // 59,996 generated lines and 4 hostile ones: 120 windows of 500, every line in one.
    let (dir, log, _) = generated(59_996, 3);
    let bytes = append_hostile_lines(&log);
    let pieces: Vec<&[u8]> = bytes
        .strip_suffix(b"\n")
        .expect("ends a line")
        .split(|&b| b == b'\n')
        .collect();
    let total = pieces.len();
    let bad_utf8 = pieces
        .iter()
        .filter(|l| std::str::from_utf8(l).is_err())
        .count();
    let parser = Parser::new(&Default::default()).expect("parser");
    let unparsed = pieces
        .iter()
        .filter(|l| {
            let mut line = String::from_utf8_lossy(l).into_owned();
            line.truncate(1 << 20);
            parser.parse(line.trim_end_matches('\r'))[field::FLAG] == logs::UNPARSED
        })
        .count();
    assert!(
        bad_utf8 >= 1 && unparsed >= 4,
        "the file has both: {bad_utf8}, {unparsed}"
    );

    let mut s = logs_spec("stats");
    s.window = 500;
    s.hop = 500;
    let stats = run_lines(&s, Mode::Sqrt, &log);
    let rows = stats.view();
    let rows = rows.typed::<f64>().expect("f64");
    let sum = |c: usize| rows.iter().map(|r| r[c]).sum::<f64>() as usize;
    assert_eq!((total, sum(stat::LINES)), (60_000, 60_000));
    assert_eq!(
        sum(stat::UNPARSED),
        unparsed,
        "every unparsable line counted"
    );

    let out = dir.path().join("stats.csv");
    let (log_arg, out_arg) = (log.display().to_string(), out.display().to_string());
    let run = ok(&[
        "run", PIPELINE, "--input", &log_arg, "--target", "stats", "--output", &out_arg, "--report",
    ]);
    let report = String::from_utf8_lossy(&run.stderr);
    assert!(
        report.contains(&format!("Lines: {total} read"))
            && report.contains(&format!("{bad_utf8} not UTF-8"))
            && report.contains("1 cut to the longest line kept"),
        "{report}"
    );
}

#[test]
fn window_quantiles_equal_a_sort_of_the_parsed_latencies() {
    let (_dir, log, incidents) = generated(30_000, 5);
    assert!(
        incidents
            .iter()
            .any(|i| i.kind == IncidentKind::LatencySpike)
    );
    let mut s = logs_spec("stats");
    s.window = 700;
    s.hop = 300;
    let stats = run_lines(&s, Mode::Sqrt, &log);
    let parser = Parser::new(&Default::default()).expect("parser");
    let text = std::fs::read(&log).expect("log");
    let lines: Vec<String> = text
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let rows = stats.view();
    let rows = rows.typed::<f64>().expect("f64");
    assert_eq!(rows.len(), (30_000 - 700) / 300 + 1);
    for (t, row) in rows.iter().enumerate() {
        let mut latencies: Vec<f64> = lines[t * 300..t * 300 + 700]
            .iter()
            .map(|l| parser.parse(l))
            .filter(|f| f[field::FLAG] == logs::KEPT)
            .map(|f| f[field::LATENCY_MS])
            .collect();
        latencies.sort_by(f64::total_cmp);
        let n = latencies.len();
        for (column, q) in [
            (stat::P50_MS, 0.5),
            (stat::P95_MS, 0.95),
            (stat::P99_MS, 0.99),
        ] {
            let rank = q * (n - 1) as f64;
            let (lo, frac) = (rank.floor() as usize, rank - rank.floor());
            let expected = if frac == 0.0 {
                latencies[lo]
            } else {
                latencies[lo] + (latencies[lo + 1] - latencies[lo]) * frac
            };
            assert_eq!(
                row[column].to_bits(),
                expected.to_bits(),
                "window {t}, q {q}: {} vs {expected}",
                row[column]
            );
        }
        assert_eq!(row[stat::KEPT] as usize, n);
    }
}

/// Every row of a Parquet file: its `t` and its values as f64 bits.
fn parquet_rows(path: &Path) -> (Vec<String>, Vec<(i64, Vec<u64>)>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader =
        SerializedFileReader::new(std::fs::File::open(path).expect("opens")).expect("parquet");
    let names = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let rows = reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| {
            let fields: Vec<Field> = row
                .expect("row")
                .into_columns()
                .into_iter()
                .map(|(_, f)| f)
                .collect();
            let Field::Long(t) = fields[0] else {
                panic!("t is {:?}", fields[0])
            };
            let values = fields[1..]
                .iter()
                .map(|f| match f {
                    Field::Double(v) => v.to_bits(),
                    other => panic!("a stats value is {other:?}"),
                })
                .collect();
            (t, values)
        })
        .collect();
    (names, rows)
}

#[test]
fn stats_as_parquet_hold_the_bits_of_the_run_and_need_a_file() {
    let (dir, log, _) = generated(25_000, 11);
    let out = dir.path().join("stats.parquet");
    let (log_arg, out_arg) = (log.display().to_string(), out.display().to_string());
    ok(&[
        "run", PIPELINE, "--input", &log_arg, "--target", "stats", "--output", &out_arg,
    ]);
    let (names, rows) = parquet_rows(&out);
    let expected: Vec<String> = std::iter::once("t".to_string())
        .chain((0..stat::COUNT).map(|i| format!("v{i}")))
        .collect();
    assert_eq!(names, expected);
    let reference = run_lines(&logs_spec("stats"), Mode::Sqrt, &log);
    let reference = reference.view();
    let reference = reference.typed::<f64>().expect("f64");
    assert_eq!(rows.len(), reference.len());
    for (t, (row, values)) in reference.iter().zip(&rows).enumerate() {
        assert_eq!(values.0, t as i64);
        let bits: Vec<u64> = row.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, values.1, "window {t}");
    }
    // Parquet needs a file: stdout is refused with the reason.
    let piped = command(&[
        "run",
        PIPELINE,
        "--input",
        &log_arg,
        "--target",
        "stats",
        "--output",
        "-",
        "--output-format",
        "parquet",
    ])
    .run()
    .expect("runs");
    assert!(!piped.status.success());
    assert!(
        String::from_utf8_lossy(&piped.stderr).contains("Parquet needs a file"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}

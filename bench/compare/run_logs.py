#!/usr/bin/env python3
"""Runs the logs job (`pipelines/logs.ron`: parse, per-window stats, rolling span, alerts) on the
same generated access log in sqrtspace and in DuckDB, each run in its own process, the runs
interleaved round by round, and prints one table: median wall time with its spread, peak RSS,
and each against DuckDB. It checks that DuckDB computes sqrtspace's numbers: the same alerts
(window, rule, lines, evidence exactly; values to 1e-9 relative), the same per-window counts
exactly and sums and quantiles to 1e-9 relative, also as read back by DuckDB from sqrtspace's
Parquet output, and that classic, sqrt and auto mode write the same alert bytes.

    python bench/compare/run_logs.py --lines 5000000            # the issue's size
    python bench/compare/run_logs.py --lines 50000 --rounds 1   # CI: the check, quickly

It uses the virtualenv of run.py (bench/compare/.venv, requirements.txt) and the release build
of sqrtspace with `cargo plugins` (built if missing); `--sqrtspace` and SQRTSPACE_PLUGIN_PATH
pick others.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run import PYTHON, ROOT, ensure_venv, mib, sqrtspace_binary, timed

HERE = Path(__file__).resolve().parent
PIPELINE = ROOT / "pipelines" / "logs.ron"
RTOL = 1e-9
# logstats' columns, in the order of sqrtspace's stats CSV (v0..v9) and DuckDB's.
STATS = ["lines", "unparsed", "kept", "errors", "latency_sum_ms", "first_time", "last_time",
         "p50_ms", "p95_ms", "p99_ms"]
COUNTS = {"lines", "unparsed", "kept", "errors", "first_time", "last_time"}


def run_sqrtspace(exe, log, out, work, mode=None, target=None):
    metrics = work / "sqrtspace-metrics.json"
    cmd = [exe, "run", PIPELINE, "--input", log, "--output", out, "--metrics-json", metrics]
    if mode:
        cmd += ["--mode", mode]
    if target:
        cmd += ["--target", target]
    wall, _ = timed([str(c) for c in cmd])
    report = json.loads(metrics.read_text())
    return {"wall_secs": wall, "peak_rss_bytes": report["usage"]["max_rss_bytes"]}


def run_duckdb(log, work, threads, skip_bad_lines):
    cmd = [PYTHON, HERE / "duckdb_logs.py", log, work, "--threads", str(threads)]
    if skip_bad_lines:
        cmd.append("--skip-bad-lines")
    wall, stdout = timed([str(c) for c in cmd])
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_secs"] = wall  # the whole process, interpreter start-up included
    return result


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= RTOL * max(abs(a), abs(b), 1e-300)


def number(text):
    return float("nan") if text in ("", "nan", "NaN") else float(text)


def compare_stats(ours, theirs):
    """Differences between sqrtspace's stats CSV and DuckDB's, as readable lines."""
    with open(ours) as f:
        mine = list(csv.DictReader(f))
    with open(theirs) as f:
        duck = list(csv.DictReader(f))
    problems = []
    if len(mine) != len(duck):
        problems.append(f"{len(mine)} windows vs DuckDB's {len(duck)}")
    for a, b in zip(mine, duck):
        for i, name in enumerate(STATS):
            x, y = number(a[f"v{i}"]), number(b[name])
            same = (x == y or (math.isnan(x) and math.isnan(y))) if name in COUNTS else close(x, y)
            if not same:
                problems.append(f"window {a['t']} {name}: {x!r} vs DuckDB's {y!r}")
    return problems


def compare_alerts(ours, theirs):
    mine = [json.loads(l) for l in Path(ours).read_text().splitlines() if l.strip()]
    duck = [json.loads(l) for l in Path(theirs).read_text().splitlines() if l.strip()]
    problems = []
    if len(mine) != len(duck):
        problems.append(f"{len(mine)} alerts vs DuckDB's {len(duck)}")
    for a, b in zip(mine, duck):
        exact = all(a[k] == b[k] for k in ("window", "lines", "alert", "evidence"))
        if not exact or not close(a["value"], b["value"]) or a["threshold"] != b["threshold"]:
            problems.append(f"{a} vs DuckDB's {b}")
    return problems, len(mine)


# DuckDB reads sqrtspace's Parquet and writes it as CSV with sqrtspace's column names.
PARQUET_TO_CSV = r"""
import sys, duckdb
duckdb.sql(f"COPY (SELECT * FROM read_parquet('{sys.argv[1]}') ORDER BY t) TO '{sys.argv[2]}' (HEADER)")
"""


def spread(walls):
    return f"{statistics.median(walls):7.2f}s ({min(walls):.2f}–{max(walls):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5_000_000, help="log lines (default 5 M)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="DuckDB's threads (default: every CPU, as sqrtspace's workers)")
    parser.add_argument("--sqrtspace", help="the sqrtspace binary (default target/release/sqrtspace)")
    parser.add_argument("--keep", type=Path, help="keep the log and outputs in this directory")
    args = parser.parse_args()

    ensure_venv()
    version = subprocess.run([PYTHON, "-c", "import duckdb; print(duckdb.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    exe = sqrtspace_binary(args.sqrtspace)
    if not os.environ.get("SQRTSPACE_PLUGIN_PATH") and not (
            ROOT / "target" / "wasm32-unknown-unknown" / "plugin" / "logparse.wasm").exists():
        subprocess.run(["cargo", "plugins"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = work / "access.log"
        print(f"== generating {args.lines:,} lines", file=sys.stderr)
        subprocess.run([str(exe), "gen", "logs", "--lines", str(args.lines), "--out", str(log)],
                       check=True, stdout=subprocess.DEVNULL)
        runs = {"sqrtspace (auto)": [], "duckdb": [], "duckdb, skipping bad lines": []}
        for r in range(args.rounds):
            print(f"== round {r + 1} of {args.rounds}", file=sys.stderr)
            runs["sqrtspace (auto)"].append(run_sqrtspace(exe, log, work / "alerts.jsonl", work))
            runs["duckdb"].append(run_duckdb(log, work, args.threads, False))
            skipped = work / "skipping"
            skipped.mkdir(exist_ok=True)
            runs["duckdb, skipping bad lines"].append(run_duckdb(log, skipped, args.threads, True))

        print("== checking", file=sys.stderr)
        modes = {}
        for mode in ["classic", "sqrt", "auto"]:
            out = work / f"alerts-{mode}.jsonl"
            run_sqrtspace(exe, log, out, work, mode=mode)
            modes[mode] = out.read_bytes()
        modes_agree = len(set(modes.values())) == 1
        run_sqrtspace(exe, log, work / "stats.csv", work, target="stats")
        stat_problems = compare_stats(work / "stats.csv", work / "duckdb-stats.csv")
        # sqrtspace's Parquet, read back by DuckDB, holds the numbers of its CSV.
        run_sqrtspace(exe, log, work / "stats.parquet", work, target="stats")
        subprocess.run([PYTHON, "-c", PARQUET_TO_CSV, work / "stats.parquet", work / "parquet.csv"],
                       check=True)
        stat_problems += [f"parquet: {p}" for p in
                          compare_stats(work / "parquet.csv", work / "duckdb-stats.csv")]
        alert_problems, alerts = compare_alerts(work / "alerts.jsonl", work / "duckdb-alerts.jsonl")
        skip_problems = compare_stats(work / "stats.csv", skipped / "duckdb-stats.csv")

    duck = statistics.median(r["wall_secs"] for r in runs["duckdb"])
    duck_rss = statistics.median(r["peak_rss_bytes"] for r in runs["duckdb"])
    print(f"\nThe logs job on {args.lines:,} generated access-log lines (DuckDB {version}, "
          f"{args.threads} threads; {os.cpu_count()} CPUs; median of {args.rounds} interleaved "
          f"rounds, min–max)\n")
    header = (f"{'':28} {'wall':>20} {'peak RSS':>11} {'time vs duckdb':>15} "
              f"{'memory vs duckdb':>17}  numbers")
    print(header)
    print("-" * len(header))
    verdict = {
        "sqrtspace (auto)": "reference" + ("" if modes_agree else " (MODES DIFFER)"),
        "duckdb": "same" if not (stat_problems or alert_problems) else "DIFFERENT",
        "duckdb, skipping bad lines": "same" if not skip_problems
        else f"differ in {len({p.split()[1] for p in skip_problems if p.startswith('window')})} windows",
    }
    for name, rs in runs.items():
        wall = [r["wall_secs"] for r in rs]
        rss = statistics.median(r["peak_rss_bytes"] for r in rs)
        ratios = [w / d["wall_secs"] for w, d in zip(wall, runs["duckdb"])]
        print(f"{name:28} {spread(wall):>20} {mib(rss):>11} "
              f"{statistics.median(ratios):14.2f}x {rss / duck_rss:16.2f}x  {verdict[name]}")
    print(f"\n{alerts} alerts; classic, sqrt and auto write "
          f"{'the same bytes' if modes_agree else 'DIFFERENT bytes'}; "
          f"per-round time ratios against DuckDB's in the same round; DuckDB median {duck:.2f}s")
    problems = stat_problems + alert_problems
    for p in problems[:20]:
        print("  " + p, file=sys.stderr)
    if problems or not modes_agree:
        sys.exit("sqrtspace and DuckDB disagree (above), or sqrtspace's modes do")


if __name__ == "__main__":
    main()

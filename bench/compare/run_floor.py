#!/usr/bin/env python3
"""Measures each workload against its hand-written floor (`bench/src/bin/floor.rs`: the same
math as plain Rust loops, no framework) in one sitting: the audio pipeline natively
(`audio-native.ron`) and with its Wasm stages (`audio.ron`), and the logs pipeline (its parse
native, as shipped, and with every stage a Wasm plugin), each at 1 and 2 workers against the
floor at 1 and 2 threads, every run its own process, rounds interleaved. Prints median wall times (min–max), each against the floor, and the two-worker
scaling of each against the floor's two-thread scaling. It checks that the floor computes
sqrtspace's output: the classifier's rows bit for bit, the alert lines byte for byte.

    python bench/compare/run_floor.py --seconds 3600 --lines 5000000
    python bench/compare/run_floor.py --seconds 60 --lines 100000 --rounds 1   # quick check

It needs the release builds of sqrtspace and the floor and the plugins (built if missing);
`--sqrtspace`, `--floor` and SQRTSPACE_PLUGIN_PATH pick others (CI runs the check on debug builds).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run import PYTHON, ROOT, ensure_venv, sqrtspace_binary, timed

FLOOR = ROOT / "target" / "release" / "floor"


def floor_binary(path):
    if path:
        return Path(path)
    if not FLOOR.exists():
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "sqrtspace-bench",
                        "--bin", "floor"], cwd=ROOT, check=True)
    return FLOOR


def sqrtspace(exe, pipeline, input, output, workers):
    """Runs a pipeline of `pipelines/` (or the pipeline file at `pipeline`, a Path)."""
    pipeline = pipeline if isinstance(pipeline, Path) else ROOT / "pipelines" / pipeline
    cmd = [exe, "run", pipeline, "--input", input, "--output", output,
           "--workers", str(workers)]
    wall, _ = timed([str(c) for c in cmd])
    return wall


def floor(exe, what, input, output, threads):
    wall, _ = timed([str(exe), what, str(input), str(output), "--threads", str(threads)])
    return wall


SAME_BITS = r"""
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print("same" if a.shape == b.shape and (a.view(np.uint32) == b.view(np.uint32)).all() else "DIFFERENT")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="seconds of audio (1 h)")
    parser.add_argument("--lines", type=int, default=5_000_000, help="log lines (5 M)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this directory")
    parser.add_argument("--sqrtspace", help="the sqrtspace binary (default target/release/sqrtspace)")
    parser.add_argument("--floor", help="the floor binary (default target/release/floor)")
    args = parser.parse_args()

    ensure_venv()
    exe = sqrtspace_binary(args.sqrtspace)
    low = floor_binary(args.floor)
    if not os.environ.get("SQRTSPACE_PLUGIN_PATH") and not (ROOT / "target" / "wasm32-unknown-unknown" / "plugin" / "logparse.wasm").exists():
        subprocess.run(["cargo", "plugins"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        wav, log = work / "audio.wav", work / "access.log"
        print("== generating the inputs", file=sys.stderr)
        subprocess.run([str(exe), "gen", "audio", "--seconds", str(args.seconds), "--out", str(wav)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(exe), "gen", "logs", "--lines", str(args.lines), "--out", str(log)],
                       check=True, stdout=subprocess.DEVNULL)
        # logs.ron with its parse in the sandbox too: the `logparse` plugin for `LogParse`.
        shipped = (ROOT / "pipelines" / "logs.ron").read_text()
        assert "op: LogParse()" in shipped, "logs.ron no longer parses with LogParse()"
        sandboxed = work / "logs-sandboxed.ron"
        sandboxed.write_text(shipped.replace("op: LogParse()", 'op: Plugin(path: "logparse.wasm")'))
        # (name, workload, how to run it with n workers)
        runs = [
            ("audio floor", "audio", lambda n: floor(low, "audio", wav, work / f"floor-{n}.npy", n)),
            ("audio-native.ron", "audio",
             lambda n: sqrtspace(exe, "audio-native.ron", wav, work / f"native-{n}.npy", n)),
            ("audio.ron (Wasm)", "audio",
             lambda n: sqrtspace(exe, "audio.ron", wav, work / f"wasm-{n}.npy", n)),
            ("logs floor", "logs", lambda n: floor(low, "logs", log, work / f"floor-{n}.jsonl", n)),
            ("logs.ron", "logs",
             lambda n: sqrtspace(exe, "logs.ron", log, work / f"logs-{n}.jsonl", n)),
            ("logs, all Wasm", "logs",
             lambda n: sqrtspace(exe, sandboxed, log, work / f"sandboxed-{n}.jsonl", n)),
        ]
        walls = {(name, n): [] for name, _, _ in runs for n in (1, 2)}
        for r in range(args.rounds):
            print(f"== round {r + 1} of {args.rounds}", file=sys.stderr)
            for n in (1, 2):
                for name, _, go in runs:
                    walls[(name, n)].append(go(n))
        checks = {}
        for n in (1, 2):
            for other in ("native", "wasm"):
                checks[f"audio {other} {n}"] = subprocess.run(
                    [PYTHON, "-c", SAME_BITS, work / f"floor-{n}.npy", work / f"{other}-{n}.npy"],
                    capture_output=True, text=True, check=True).stdout.strip()
            for other in ("logs", "sandboxed"):
                same = ((work / f"floor-{n}.jsonl").read_bytes()
                        == (work / f"{other}-{n}.jsonl").read_bytes())
                checks[f"{other} {n}"] = "same" if same else "DIFFERENT"

    floor_of = {"audio": "audio floor", "logs": "logs floor"}
    print(f"\nAgainst the hand-written floor: {args.seconds:g} s of audio, {args.lines:,} log lines; "
          f"{os.cpu_count()} CPUs; median of {args.rounds} interleaved rounds (min–max)\n")
    header = (f"{'':18} {'1 worker':>20} {'x floor':>8} {'2 workers':>20} {'x floor':>8} "
              f"{'scaling':>8} {'floor scaling':>14}")
    print(header)
    print("-" * len(header))
    for name, workload, _ in runs:
        base = floor_of[workload]
        cells = []
        for n in (1, 2):
            w = walls[(name, n)]
            ratios = [a / b for a, b in zip(w, walls[(base, n)])]
            cells.append(f"{statistics.median(w):7.2f}s ({min(w):.2f}–{max(w):.2f})")
            cells.append(f"{statistics.median(ratios):7.2f}x")
        scaling = [a / b for a, b in zip(walls[(name, 1)], walls[(name, 2)])]
        floor_scaling = [a / b for a, b in zip(walls[(base, 1)], walls[(base, 2)])]
        print(f"{name:18} {cells[0]:>20} {cells[1]:>8} {cells[2]:>20} {cells[3]:>8} "
              f"{statistics.median(scaling):7.2f}x {statistics.median(floor_scaling):13.2f}x")
    print("\nx floor: per-round ratio to the floor's run in the same round; scaling: 1-worker time "
          "over 2-worker time")
    print("outputs equal to the floor's: " + ", ".join(f"{k}: {v}" for k, v in checks.items()))
    if any(v != "same" for v in checks.values()):
        sys.exit("an output differs from the floor's")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The Python package against the command line and against numpy, on the same generated hour
of audio, every run its own process, rounds interleaved:

- `sqrtspace run pipelines/audio.ron` vs `Pipeline.from_file(...).run(path)` from Python
  (the goal: within 5% of the command line's time), outputs checked byte for byte;
- the numpy mirror of audio.ron (numpy stages and a Python kernel, `host/python/tests/
  audio_mirror.py`) in sqrt mode vs the same numpy functions over the whole array (goal: at
  least 3x faster and 50x less memory);
- peak RSS of each process (its own rusage, from wait4).

    python bench/compare/run_python.py --minutes 60 --rounds 3 \\
        --sqrtspace target/release/sqrtspace --python .../venv/bin/python

`--python` is an interpreter with the sqrtspace package installed (`pip install ./host/python`
for a release build).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIRROR = ROOT / "host" / "python" / "tests"

PY_RUN = r"""
import sys, time, numpy as np, sqrtspace
started = time.perf_counter()
p = sqrtspace.Pipeline.from_file(sqrtspace.example("audio.ron"))
np.save(sys.argv[2], p.run(sys.argv[1]))
print(time.perf_counter() - started)
"""

PY_MIRROR = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from audio_mirror import mirror
np.save(sys.argv[2], mirror(mode="sqrt").run(sys.argv[1]))
"""

PY_WHOLE = r"""
import sys, wave, numpy as np
sys.path.insert(0, sys.argv[3])
from audio_mirror import whole_array
with wave.open(sys.argv[1]) as w:
    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
np.save(sys.argv[2], whole_array(pcm.astype(np.float32) / np.float32(32768)))
"""


def measured(cmd):
    """Wall seconds, peak RSS bytes and the standard output of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{cmd[:3]} failed: {err.read().decode(errors='replace')[-2000:]}")
        return wall, usage.ru_maxrss * 1024, out.read().decode()


def mib(n):
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.2f} GiB"


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqrtspace", default=str(ROOT / "target" / "release" / "sqrtspace"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--only-cli-pair", action="store_true",
                        help="time only the command line against Python's run(path), for more rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqrtspace-python-bench-") as work:
        work = Path(work)
        wav = work / "audio.wav"
        subprocess.run([args.sqrtspace, "gen", "audio", "--seconds", str(args.minutes * 60),
                        "--out", str(wav)], check=True, capture_output=True)
        env_note = {k: v for k, v in os.environ.items() if k.startswith("SQRTSPACE")}
        jobs = {
            "cli": [args.sqrtspace, "run", str(ROOT / "pipelines" / "audio.ron"), "--input", str(wav),
                    "--output", str(work / "cli.npy"), "--metrics-json", str(work / "cli.json")],
            "python run(path)": [args.python, "-c", PY_RUN, str(wav), str(work / "py.npy")],
            "numpy stages, sqrt": [args.python, "-c", PY_MIRROR, str(wav), str(work / "mirror.npy"),
                                   str(MIRROR)],
            "numpy whole array": [args.python, "-c", PY_WHOLE, str(wav), str(work / "whole.npy"),
                                  str(MIRROR)],
        }
        results = {name: [] for name in jobs}
        # Inside the process: the command's own wall time (its report), and Python's from
        # loading the pipeline to the saved output (interpreter and numpy start-up left out).
        inside = {"cli": [], "python run(path)": []}
        # The command line and Python first, interleaved; then numpy's pair: the whole-array run
        # takes most of the machine's memory and evicts the input from the page cache, which
        # would slow whatever ran next.
        pairs = [["cli", "python run(path)"], ["numpy stages, sqrt", "numpy whole array"]]
        if args.only_cli_pair:
            for name in pairs.pop():
                del results[name]
        for round, name in [(r, n) for pair in pairs for r in range(args.rounds) for n in pair]:
            wall, rss, out = measured(jobs[name])
            results[name].append((wall, rss))
            if name == "cli":
                inside[name].append(json.loads((work / "cli.json").read_text())["wall_secs"])
            elif name == "python run(path)":
                inside[name].append(float(out.split()[-1]))
            print(f"round {round + 1}: {name}: {wall:.2f} s, {mib(rss)}", file=sys.stderr)
        cli, py = (work / "cli.npy").read_bytes(), (work / "py.npy").read_bytes()
        assert cli == py, "Python's output differs from the command line's"
        if not args.only_cli_pair:
            import numpy as np  # the interpreter running this needs numpy only here

            mirror, whole = np.load(work / "mirror.npy"), np.load(work / "whole.npy")
            np.testing.assert_allclose(mirror, whole, rtol=1e-3, atol=1e-4)
        print(f"{args.minutes:g} min of audio, {args.rounds} rounds, medians (min-max); "
              f"outputs: Python == CLI byte for byte, numpy stages ~ whole array ({env_note or 'defaults'})")
        print(f"| run | wall | peak RSS |\n|---|---|---|")
        for name, runs in results.items():
            wall = summary([w for w, _ in runs])
            rss = summary([r for _, r in runs])
            print(f"| {name} | {wall[0]:.2f} s ({wall[1]:.2f}-{wall[2]:.2f}) | {mib(rss[0])} "
                  f"({mib(rss[1])}-{mib(rss[2])}) |")

        def ratios(a, b, index):
            return sorted(x[index] / y[index] for x, y in zip(results[a], results[b]))

        r = ratios("python run(path)", "cli", 0)
        print(f"python run(path) / cli, whole processes, paired by round: {statistics.median(r):.3f} "
              f"({r[0]:.3f}-{r[-1]:.3f})")
        r = sorted(p / c for p, c in zip(inside["python run(path)"], inside["cli"]))
        print(f"python run(path) / cli, inside the process (no interpreter or numpy start-up): "
              f"{statistics.median(r):.3f} ({r[0]:.3f}-{r[-1]:.3f}); cli "
              f"{statistics.median(inside['cli']):.3f} s, python "
              f"{statistics.median(inside['python run(path)']):.3f} s")
        if args.only_cli_pair:
            return
        r = ratios("numpy whole array", "numpy stages, sqrt", 0)
        print(f"whole array / numpy stages in sqrt mode, time: {statistics.median(r):.2f}x "
              f"({r[0]:.2f}-{r[-1]:.2f})")
        r = ratios("numpy whole array", "numpy stages, sqrt", 1)
        print(f"whole array / numpy stages in sqrt mode, peak RSS: {statistics.median(r):.1f}x "
              f"({r[0]:.1f}-{r[-1]:.1f})")


if __name__ == "__main__":
    main()

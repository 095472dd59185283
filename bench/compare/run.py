#!/usr/bin/env python3
"""Runs the audio pipeline up to its spectral features four ways on the same generated input,
each in its own process, and prints one table: sqrtspace (sqrt mode, streaming), numpy on the
whole array, a hand-written numpy block loop, and dask. It also checks that the numpy and dask
versions compute the same features as sqrtspace (within float tolerance: they use numpy's FFT).

    python bench/compare/run.py --seconds 600          # 10 minutes of audio
    python bench/compare/run.py --seconds 3600 --skip numpy_whole

It makes a virtualenv in bench/compare/.venv with requirements.txt the first time, and needs the
release build of sqrtspace (`cargo build --release`, which it runs if the binary is missing).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
PYTHON = VENV / "bin" / "python"
IMPLEMENTATIONS = ["numpy_whole", "numpy_blocks", "dask_pipeline"]
# Columns: peak Hz, centroid Hz, kurtosis, log energy. numpy's FFT is double precision,
# sqrtspace's single precision: the features agree to about 1e-7 relative.
RTOL, ATOL = 1e-4, 1e-6


def ensure_venv():
    if not PYTHON.exists():
        print(f"== creating {VENV}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    marker = VENV / ".installed"
    requirements = (HERE / "requirements.txt").read_text()
    if not marker.exists() or marker.read_text() != requirements:
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "-r", HERE / "requirements.txt"],
            check=True,
        )
        marker.write_text(requirements)


def sqrtspace_binary(path):
    exe = Path(path) if path else ROOT / "target" / "release" / "sqrtspace"
    if not exe.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    return exe


def timed(cmd):
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return wall, done.stdout


def run_sqrtspace(exe, wav, out, work, mode):
    metrics = work / f"sqrtspace-{mode}.json"
    cmd = [exe, "run", ROOT / "pipelines" / "audio-native.ron", "--input", wav, "--output", out,
           "--target", "features", "--mode", mode, "--metrics-json", metrics]
    wall, _ = timed([str(c) for c in cmd])
    report = json.loads(metrics.read_text())
    return {"wall_secs": wall, "peak_rss_bytes": report["usage"]["max_rss_bytes"]}


def run_python(name, wav, out):
    wall, stdout = timed([str(PYTHON), str(HERE / f"{name}.py"), str(wav), str(out)])
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_secs"] = wall  # the whole process, interpreter start-up included, like sqrtspace's
    return result


def mib(n):
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.2f} GiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="seconds of audio (default 600)")
    parser.add_argument("--skip", action="append", default=[], choices=IMPLEMENTATIONS,
                        help="leave an implementation out (numpy_whole needs ~30 GiB per hour of audio)")
    parser.add_argument("--sqrtspace", help="the sqrtspace binary (default target/release/sqrtspace)")
    parser.add_argument("--keep", type=Path, help="keep the input and outputs in this directory")
    args = parser.parse_args()

    ensure_venv()
    import_numpy = subprocess.run([PYTHON, "-c", "import numpy, dask; print(numpy.__version__, dask.__version__)"],
                                  capture_output=True, text=True, check=True).stdout.split()
    exe = sqrtspace_binary(args.sqrtspace)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        wav = work / "audio.wav"
        print(f"== generating {args.seconds:g} s of audio", file=sys.stderr)
        subprocess.run([str(exe), "gen", "audio", "--seconds", str(args.seconds), "--out", str(wav)],
                       check=True)
        results = {}
        print("== sqrtspace (sqrt mode)", file=sys.stderr)
        results["sqrtspace sqrt"] = run_sqrtspace(exe, wav, work / "sqrtspace.npy", work, "sqrt")
        for name in IMPLEMENTATIONS:
            if name in args.skip:
                continue
            print(f"== {name}", file=sys.stderr)
            results[name] = run_python(name, wav, work / f"{name}.npy")
        check = subprocess.run(
            [PYTHON, "-c", CHECK, str(work)] + [n for n in IMPLEMENTATIONS if n in results],
            capture_output=True, text=True)
        agreement = json.loads(check.stdout) if check.returncode == 0 else {}
        if check.returncode != 0:
            print(check.stderr, file=sys.stderr)

    base = results["sqrtspace sqrt"]
    print(f"\nSpectral features of {args.seconds:g} s of 48 kHz audio "
          f"(numpy {import_numpy[0]}, dask {import_numpy[1]}; {os.cpu_count()} CPUs)\n")
    header = f"{'':16} {'wall':>9} {'peak RSS':>12} {'time vs sqrtspace':>18} {'memory vs sqrtspace':>20}  features"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        same = "reference" if name == "sqrtspace sqrt" else agreement.get(name, "not checked")
        print(f"{name:16} {r['wall_secs']:8.2f}s {mib(r['peak_rss_bytes']):>12} "
              f"{r['wall_secs'] / base['wall_secs']:17.2f}x {r['peak_rss_bytes'] / base['peak_rss_bytes']:19.1f}x  {same}")
    bad = [n for n in results if n != "sqrtspace sqrt" and not str(agreement.get(n, "")).startswith("same")]
    if bad:
        sys.exit(f"features differ from sqrtspace's: {', '.join(bad)}")


# Compares each implementation's features with sqrtspace's; prints {name: verdict} as JSON.
CHECK = r"""
import json, sys
import numpy as np
work, names = sys.argv[1], sys.argv[2:]
ref = np.load(f"{work}/sqrtspace.npy")
out = {}
for name in names:
    got = np.load(f"{work}/{name}.npy")
    if got.shape != ref.shape:
        out[name] = f"shape {got.shape} vs {ref.shape}"
        continue
    rel = np.abs(got.astype(np.float64) - ref) / np.maximum(np.abs(ref), 1e-9)
    worst = float(rel.max())
    ok = np.allclose(got, ref, rtol=%g, atol=%g)
    out[name] = ("same (max rel. diff %%.1e)" if ok else "DIFFERENT (max rel. diff %%.1e)") %% worst
print(json.dumps(out))
""" % (RTOL, ATOL)

if __name__ == "__main__":
    main()

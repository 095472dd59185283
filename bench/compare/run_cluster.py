#!/usr/bin/env python3
"""Measures a corpus run on a timely cluster against the same run on one process, in one
sitting, rounds interleaved, every run its own process (or processes): `run` over a directory
with 1 and 2 workers, `cluster local -n 2` (two processes of one thread over loopback) and
`cluster local -n 1 --threads 2`. Checks that every output and the manifest of each are the
bytes of the one-process run. Then measures how long the surviving process of a two-process
cluster takes to notice that the other was killed and to exit.

    python bench/compare/run_cluster.py --inputs 60 --seconds 60 --rounds 5
    python bench/compare/run_cluster.py --stream-hours 4 --rounds 3   # one long stream instead

With `--stream-hours H`, one recording of H hours runs as one process (one and two workers) and
spread over `cluster local -n 2` (two processes, the pure prefix on both, the stateful rest on
process 0), outputs compared byte for byte, with the bytes that crossed to worker 0.

Only the standard library; the release build of sqrtspace and its plugins (built if missing,
`--sqrtspace` picks another).
"""

import argparse
import filecmp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import ROOT, sqrtspace_binary, timed


def corpus(exe, dir, inputs, seconds):
    dir.mkdir(parents=True, exist_ok=True)
    for i in range(inputs):
        subprocess.run([str(exe), "gen", "audio", "--seconds", str(seconds), "--seed", str(i),
                        "--out", str(dir / f"rec-{i:03}.wav")], check=True, capture_output=True)


def same_directories(a, b):
    names = sorted(os.listdir(a))
    if names != sorted(os.listdir(b)):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def notice_time(exe, pipeline, inputs, work):
    """Seconds from SIGKILL of process 1 to the exit of process 0 (status 9 expected)."""
    out = work / "killed"
    shutil.rmtree(out, ignore_errors=True)
    hosts = work / "hosts.txt"
    hosts.write_text("".join(f"127.0.0.1:{p}\n" for p in free_ports(2)))
    run = [str(exe), "cluster", "run", str(pipeline), "--input", str(inputs), "--output", str(out),
           "--hostfile", str(hosts), "--processes", "2"]
    survivor = subprocess.Popen(run + ["--process", "0"], stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(run + ["--process", "1"], stderr=subprocess.DEVNULL)
    manifest = out / "sqrtspace-manifest.json"
    while not manifest.exists() and survivor.poll() is None:
        time.sleep(0.005)
    victim.kill()
    killed = time.perf_counter()
    victim.wait()
    _, err = survivor.communicate(timeout=60)
    took = time.perf_counter() - killed
    if survivor.returncode != 9 or "lost process 1" not in err:
        raise RuntimeError(f"process 0 exited {survivor.returncode}: {err.strip()}")
    return took


def long_stream(exe, pipeline, work, hours, rounds, segment):
    """One recording of `hours` hours: one process (1 and 2 workers) against cluster local -n 2."""
    wav = work / "long.wav"
    subprocess.run([str(exe), "gen", "audio", "--seconds", str(hours * 3600), "--out", str(wav)],
                   check=True, capture_output=True)
    ways = {
        "run --workers 1": ["run"],
        "run --workers 2": ["run"],
        "cluster local -n 2": ["cluster", "local", "-n", "2", "--", "run"],
    }
    walls = {name: [] for name in ways}
    reference = work / "reference.npy"
    crossed = None
    for r in range(rounds):
        for name, head in ways.items():
            out = work / "out.npy"
            cmd = [str(exe), *head, str(pipeline), "--input", str(wav), "--output", str(out)]
            if head == ["run"]:
                cmd += ["--workers", name[-1]]
            else:
                cmd += ["--segment-windows", str(segment)]
            started = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            walls[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"{name} failed: {done.stderr.strip()[-2000:]}")
            if "crossed to worker 0" in done.stderr:
                crossed = [line for line in done.stderr.splitlines() if "crossed" in line][-1]
            if not reference.exists():
                out.rename(reference)
            elif not filecmp.cmp(reference, out, shallow=False):
                sys.exit(f"{name}: output differs from the one-process run")
        print(f"round {r + 1}: " + ", ".join(f"{w[-1]:.2f} s" for w in walls.values()),
              file=sys.stderr)
    base = walls["run --workers 1"]
    print(f"one recording of {hours:g} h through {pipeline.name}, {rounds} rounds "
          f"(median, min–max; ratio to one worker per round)")
    for name, w in walls.items():
        ratios = [a / b for a, b in zip(w, base)]
        print(f"  {name:24} {statistics.median(w):6.2f} s ({min(w):.2f}–{max(w):.2f})  "
              f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})")
    print("  every output identical to the one-process run's")
    if crossed:
        print(f"  cluster: {crossed.strip()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of audio per input")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pipeline", default="audio.ron")
    parser.add_argument("--sqrtspace", help="the sqrtspace binary (default target/release/sqrtspace)")
    parser.add_argument("--stream-hours", type=float, default=0.0,
                        help="measure one recording this long instead of a corpus")
    parser.add_argument("--segment-windows", type=int, default=4096)
    args = parser.parse_args()
    exe = sqrtspace_binary(args.sqrtspace)
    pipeline = ROOT / "pipelines" / args.pipeline
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.stream_hours > 0:
            long_stream(exe, pipeline, work, args.stream_hours, args.rounds, args.segment_windows)
            return
        inputs = work / "in"
        corpus(exe, inputs, args.inputs, args.seconds)
        ways = {
            "run --workers 1 (one process)": ["run"],
            "run --workers 2 (one process)": ["run"],
            "cluster local -n 2 (2 processes × 1 thread)": ["cluster", "local", "-n", "2", "--", "run"],
            "cluster local -n 1 --threads 2": ["cluster", "local", "-n", "1", "--threads", "2",
                                               "--", "run"],
        }
        walls = {name: [] for name in ways}
        reference = work / "reference"
        for r in range(args.rounds):
            for name, head in ways.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [str(exe), *head, str(pipeline), "--input", str(inputs), "--output", str(out)]
                if head == ["run"]:
                    cmd += ["--workers", name[len("run --workers ")]]
                wall, _ = timed(cmd)
                walls[name].append(wall)
                if not reference.exists():
                    out.rename(reference)
                elif not same_directories(reference, out):
                    sys.exit(f"{name}: outputs differ from the one-process run")
            print(f"round {r + 1}: " + ", ".join(f"{w[-1]:.2f} s" for w in walls.values()),
                  file=sys.stderr)
        base = walls["run --workers 2 (one process)"]
        print(f"{args.inputs} inputs of {args.seconds:g} s through {args.pipeline}, "
              f"{args.rounds} rounds (median, min–max; ratio to one process per round)")
        for name, w in walls.items():
            ratios = [a / b for a, b in zip(w, base)]
            print(f"  {name:48} {statistics.median(w):6.2f} s ({min(w):.2f}–{max(w):.2f})  "
                  f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})")
        print("  every output and manifest identical to the one-process run's")
        notices = [notice_time(exe, pipeline, inputs, work) for _ in range(args.rounds)]
        print(f"  process 0 exits after process 1 is killed: median {statistics.median(notices) * 1000:.0f} ms "
              f"({min(notices) * 1000:.0f}–{max(notices) * 1000:.0f}), status 9, 'lost process 1'")


if __name__ == "__main__":
    main()

"""Peak RSS of a whole Python process running audio.ron over hours of audio, one run per child
process, through `run(path)` and through `iter_blocks`: under 100 MiB (numpy itself is ~30),
and flat as the input grows. The lengths are SQRTSPACE_MEMORY_MINUTES (default 10 and 60 min;
the release benchmark in the README runs 10 min and 4 h)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import run_cli

CHILD = r"""
import resource, sys
import sqrtspace
p = sqrtspace.Pipeline.from_file(sqrtspace.example("audio.ron"))
if sys.argv[2] == "run":
    rows = len(p.run(sys.argv[1]))
else:
    rows = sum(len(block) for block in p.iter_blocks(sys.argv[1]))
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

MINUTES = [int(m) for m in os.environ.get("SQRTSPACE_MEMORY_MINUTES", "10,60").split(",")]
MiB = 1 << 20


@pytest.fixture(scope="module")
def recordings(cli, tmp_path_factory):
    out = {}
    for minutes in MINUTES:
        path = tmp_path_factory.mktemp("long") / f"{minutes}min.wav"
        run_cli(cli, "gen", "audio", "--seconds", str(minutes * 60), "--out", str(path))
        out[minutes] = path
    yield out
    for path in out.values():
        path.unlink()


def peak(path, how):
    env = dict(os.environ)
    env.pop("SQRTSPACE_PLUGIN_PATH", None)  # the bundled plugins, as a user has them
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), how], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    rows, rss = (int(v) for v in done.stdout.split())
    return rows, rss


@pytest.mark.parametrize("how", ["run", "blocks"])
def test_peak_rss_is_small_and_flat(recordings, how):
    seen = {}
    for minutes, path in recordings.items():
        rows, rss = peak(path, how)
        assert rows == (minutes * 60 * 48000 - 4096) // 1024 + 1
        assert rss < 100 * MiB, f"{minutes} min via {how}: {rss / MiB:.1f} MiB"
        seen[minutes] = rss
    shortest, longest = min(seen), max(seen)
    # `run` keeps its output (3 f32 a window, 2 MiB an hour, in a buffer that doubles): allow
    # that and allocator noise, nothing that grows with the input's length.
    growth = seen[longest] - seen[shortest]
    allowed = 8 * MiB + (longest - shortest) * 60 * 48000 // 1024 * 12 * 2
    assert growth <= allowed, {m: f"{r / MiB:.1f} MiB" for m, r in seen.items()}

"""Shared fixtures: the repository, the command line built beside this package (to compare
against), generated inputs, and the example plugins' directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PIPELINES = REPO / "pipelines"


def _first_existing(*candidates: Path) -> Path | None:
    for c in candidates:
        if c.is_file():
            return c
    return None


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `sqrtspace` binary (SQRTSPACE_CLI, or the workspace's debug or release build)."""
    given = os.environ.get("SQRTSPACE_CLI")
    path = Path(given) if given else _first_existing(
        REPO / "target/debug/sqrtspace", REPO / "target/release/sqrtspace"
    )
    if path is None or not path.is_file():
        pytest.fail("no sqrtspace binary: build it (cargo build) or set SQRTSPACE_CLI")
    return path


@pytest.fixture(scope="session", autouse=True)
def plugin_path():
    """The example plugins the package bundles, searched first (by the command line too, which
    the tests run on the repository's pipelines), unless SQRTSPACE_PLUGIN_PATH says otherwise."""
    import sqrtspace

    given = "SQRTSPACE_PLUGIN_PATH" in os.environ
    if not given:
        os.environ["SQRTSPACE_PLUGIN_PATH"] = str(sqrtspace.EXAMPLES)
    yield
    if not given:
        os.environ.pop("SQRTSPACE_PLUGIN_PATH", None)


def run_cli(cli: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(cli), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"sqrtspace {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def audio_wav(cli, tmp_path_factory) -> Path:
    """20 s of generated audio at 48 kHz."""
    out = tmp_path_factory.mktemp("audio") / "x.wav"
    run_cli(cli, "gen", "audio", "--seconds", "20", "--out", str(out))
    return out


@pytest.fixture(scope="session")
def access_log(cli, tmp_path_factory) -> Path:
    """30,000 generated access-log lines."""
    out = tmp_path_factory.mktemp("logs") / "access.log"
    run_cli(cli, "gen", "logs", "--lines", "30000", "--out", str(out))
    return out

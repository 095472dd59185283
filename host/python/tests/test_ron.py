"""RON pipelines run from Python give the command line's output, byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sqrtspace

from conftest import PIPELINES, run_cli


def cli_npy(cli, pipeline, input_path, tmp_path, *extra):
    out = tmp_path / "cli.npy"
    run_cli(cli, "run", str(pipeline), "--input", str(input_path), "--output", str(out), *extra)
    return np.load(out)


def same_bits(a: np.ndarray, b: np.ndarray):
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ["audio.ron", "zero-phase.ron", "audio-native.ron"])
def test_path_input_equals_the_cli(cli, audio_wav, tmp_path, name):
    pipeline = PIPELINES / name
    expected = cli_npy(cli, pipeline, audio_wav, tmp_path)
    p = sqrtspace.Pipeline.from_file(pipeline)
    got = p.run(audio_wav)
    same_bits(got, expected)
    assert got.shape[0] == (20 * 48000 - 4096) // 1024 + 1


@pytest.mark.parametrize("name", ["audio.ron", "zero-phase.ron"])
def test_array_input_equals_the_cli(cli, tmp_path, name):
    raw = tmp_path / "x.f32"
    run_cli(cli, "gen", "audio", "--seconds", "12", "--out", str(raw))
    samples = np.fromfile(raw, dtype="<f4")
    expected = cli_npy(cli, PIPELINES / name, raw, tmp_path)
    p = sqrtspace.Pipeline.from_file(str(PIPELINES / name))
    same_bits(p.run(samples), expected)
    # A strided view is read in place, element by element: the same bits.
    doubled = np.repeat(samples, 2)[::2]
    assert not doubled.flags["C_CONTIGUOUS"]
    same_bits(p.run(doubled), expected)


def test_modes_targets_and_ranges_match_the_cli(cli, audio_wav, tmp_path):
    pipeline = PIPELINES / "audio.ron"
    p = sqrtspace.Pipeline.from_file(pipeline)
    for mode in ["classic", "sqrt", "auto"]:
        expected = cli_npy(cli, pipeline, audio_wav, tmp_path, "--mode", mode, "--target", "features")
        same_bits(p.run(audio_wav, mode=mode, target="features"), expected)
    expected = cli_npy(cli, pipeline, audio_wav, tmp_path, "--range", "100:300", "--block", "7")
    same_bits(p.run(audio_wav, range=(100, 300), block=7), expected)


def test_logs_alerts_and_stats_equal_the_cli(cli, access_log, tmp_path):
    pipeline = PIPELINES / "logs.ron"
    p = sqrtspace.Pipeline.from_file(pipeline)
    alerts = p.run(access_log)
    # One list of str per window: its alert rules' texts, empty where a rule did not fire.
    assert isinstance(alerts, list) and len(alerts) == 30  # 30,000 lines, windows of 1,000
    assert all(isinstance(row, list) and all(isinstance(a, str) for a in row) for row in alerts)
    out = tmp_path / "alerts.jsonl"
    run_cli(cli, "run", str(pipeline), "--input", str(access_log), "--output", str(out))
    cli_lines = out.read_text().splitlines()
    ours = [a.strip() for row in alerts for a in row if a.strip()]
    assert ours == cli_lines
    assert len(ours) > 0, "the generated log has incidents, so some window alerts"
    for line in ours:
        json.loads(line)
    stats = p.run(access_log, target="stats")
    same_bits(stats, cli_npy(cli, pipeline, access_log, tmp_path, "--target", "stats"))
    # Lines from an iterable of str: the same rows.
    with open(access_log, encoding="utf-8") as f:
        lines = (line.rstrip("\n") for line in f)
        same_bits(p.run(lines, target="stats"), stats)


def test_iter_blocks_concatenates_to_the_run(audio_wav):
    p = sqrtspace.Pipeline.from_file(PIPELINES / "audio.ron")
    whole = p.run(audio_wav, mode="sqrt", block=32)
    blocks = list(p.iter_blocks(audio_wav, mode="sqrt", block=32))
    assert len(blocks) > 1
    same_bits(np.concatenate(blocks), whole)
    # Dropping the iterator early stops the run without an error.
    it = p.iter_blocks(audio_wav, block=8)
    next(it)
    del it


def test_plan_is_a_dict_with_reasons(audio_wav):
    p = sqrtspace.Pipeline.from_file(PIPELINES / "audio.ron")
    plan = p.plan(audio_wav)
    for key in ["mode", "block", "checkpoint_every", "lru_bytes", "workers", "why", "decisions", "stages"]:
        assert key in plan
    assert plan["mode"] in ("classic", "sqrt")
    assert plan["why"].startswith("auto")
    assert [s["name"] for s in plan["stages"]][-1] == "classify"
    assert all({"setting", "value", "reason"} <= d.keys() for d in plan["decisions"])
    p.run(audio_wav, workers=1)
    assert "classify" in p.report()
    stats = p.stats()
    assert stats["windows_out"] == plan["input_windows"]
    assert stats["peak_rss_bytes"] > 0


def test_ron_text_and_to_ron_round_trip(audio_wav):
    text = (PIPELINES / "audio-native.ron").read_text()
    a = sqrtspace.Pipeline.from_ron(text)
    b = sqrtspace.Pipeline.from_ron(a.to_ron())
    same_bits(a.run(audio_wav), b.run(audio_wav))


def test_bundled_examples_run_from_any_directory(cli, audio_wav, tmp_path, monkeypatch):
    expected = cli_npy(cli, PIPELINES / "audio.ron", audio_wav, tmp_path)
    monkeypatch.delenv("SQRTSPACE_PLUGIN_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    p = sqrtspace.Pipeline.from_file(sqrtspace.example("audio.ron"))
    same_bits(p.run(audio_wav), expected)
    assert sqrtspace.example("features.wasm").is_file()
    with pytest.raises(FileNotFoundError, match="audio.ron"):
        sqrtspace.example("nope.ron")


def test_output_file_is_the_cli_file(cli, audio_wav, tmp_path):
    pipeline = PIPELINES / "audio.ron"
    out = tmp_path / "cli.npy"
    run_cli(cli, "run", str(pipeline), "--input", str(audio_wav), "--output", str(out))
    p = sqrtspace.Pipeline.from_file(pipeline)
    ours = tmp_path / "py.npy"
    rows = p.run(audio_wav, output=ours)
    assert rows == (20 * 48000 - 4096) // 1024 + 1
    assert ours.read_bytes() == out.read_bytes()

"""Every exception class, raised by a case that triggers it, with a message that says what is
wrong; a Python stage's own exception is the cause of the StageError naming stage and windows."""

from __future__ import annotations

import re
import traceback

import numpy as np
import pytest

import sqrtspace

from conftest import PIPELINES


def tiny(**kw):
    pipe = sqrtspace.Pipeline(window=4, hop=4, sample_rate=4, mode="sqrt", block=2, **kw)
    return pipe


def test_hierarchy():
    for cls in [sqrtspace.PipelineError, sqrtspace.PluginError, sqrtspace.InputError,
                sqrtspace.StageError, sqrtspace.OutputError]:
        assert issubclass(cls, sqrtspace.Error)
    assert issubclass(sqrtspace.Error, Exception)


def test_ron_mistakes_have_line_and_column():
    with pytest.raises(sqrtspace.PipelineError) as e:
        sqrtspace.Pipeline.from_ron("Pipeline(\n  window: 4,\n  hop: x,\n  stages: [])", origin="bad.ron")
    # Line 3, where `hop: x` is (the parser places the value at or just before the `x`).
    assert e.value.line == 3 and e.value.column in (7, 8)
    assert f"bad.ron:3:{e.value.column}" in str(e.value)
    with pytest.raises(sqrtspace.PipelineError) as e:
        sqrtspace.Pipeline.from_ron("Pipeline(window: 4, hop: 4, sample_rate: 4, stages: [], colour: 1)")
    assert e.value.line == 1 and "colour" in str(e.value)


def test_graph_and_parameter_mistakes():
    pipe = tiny()
    pipe.add("fft", ["inptu"], op=sqrtspace.ops.WindowFft())
    with pytest.raises(sqrtspace.PipelineError, match="did you mean `input`"):
        pipe.run(np.zeros(16, np.float32))
    with pytest.raises(sqrtspace.PipelineError, match="already has a stage named `fft`"):
        pipe.add("fft", ["input"], op=sqrtspace.ops.Magnitude())
    with pytest.raises(sqrtspace.PipelineError, match="unknown dtype"):
        pipe.stage("x", inputs=["input"], output=("f16", [1]))
    with pytest.raises(sqrtspace.PipelineError, match="give op=... or plugin="):
        pipe.add("y", ["input"])
    with pytest.raises(sqrtspace.PipelineError):
        pipe.add("z", ["input"], op="NoSuchOp")


def test_plugin_errors():
    pipe = tiny()
    pipe.add("p", ["input"], plugin="no-such-plugin.wasm")
    with pytest.raises(sqrtspace.PluginError, match="no-such-plugin.wasm"):
        pipe.run(np.zeros(16, np.float32))


def test_input_errors(audio_wav, tmp_path):
    pipe = sqrtspace.Pipeline.from_file(PIPELINES / "audio-native.ron")
    with pytest.raises(sqrtspace.InputError, match="float32"):
        pipe.run(np.zeros(10000))
    with pytest.raises(sqrtspace.InputError, match="1-D"):
        pipe.run(np.zeros((10000, 2), np.float32))
    with pytest.raises(sqrtspace.InputError, match="fewer than one window"):
        pipe.run(np.zeros(100, np.float32))
    # A stream's length is known only once it ends: every way of running it says the same.
    short = [np.zeros(60, np.float32), np.zeros(40, np.float32)]
    message = "holds 100 samples, fewer than one window of 4096"
    with pytest.raises(sqrtspace.InputError, match=message):
        pipe.run(iter(short))
    with pytest.raises(sqrtspace.InputError, match=message):
        list(pipe.iter_blocks(iter(short)))
    with pytest.raises(sqrtspace.InputError, match="cannot open"):
        pipe.run(tmp_path / "missing.wav")
    slow = sqrtspace.Pipeline(window=256, hop=128, sample_rate=8000)
    slow.add("fft", ["input"], op=sqrtspace.ops.WindowFft())
    with pytest.raises(sqrtspace.InputError, match="48000 Hz"):
        slow.run(audio_wav)
    with pytest.raises(sqrtspace.InputError, match="not int"):
        pipe.run(5)
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(sqrtspace.InputError):
        pipe.run(bad)


def test_a_stage_that_raises_names_stage_and_windows_and_chains_the_cause():
    pipe = tiny()

    @pipe.stage("boom", inputs=["input"], output=("f32", [1]))
    def boom(rows, *, t0):
        if t0 >= 4:
            raise ValueError(f"bad row at {t0}")
        return rows[:, :1]

    with pytest.raises(sqrtspace.StageError) as e:
        pipe.run(np.zeros(40, np.float32))
    message = str(e.value)
    assert "stage `boom` failed on windows 4..6" in message
    assert "ValueError: bad row at 4" in message
    cause = e.value.__cause__
    assert isinstance(cause, ValueError) and str(cause) == "bad row at 4"
    frames = traceback.extract_tb(cause.__traceback__)
    assert frames[-1].name == "boom"


@pytest.mark.parametrize(
    "returned, expected",
    [
        (lambda r: r[:, :2], "shape (2, 2), but it declares an ndarray of float32 with shape (2, 1)"),
        (lambda r: r[:1, :1], "shape (1, 1), but it declares"),
        (lambda r: r[:, :1].astype(np.float64), "cast with .astype(np.float32)"),
        (lambda r: r[:, :1].tolist(), "returned list, but it must return an ndarray"),
    ],
)
def test_wrong_output_is_a_clear_error(returned, expected):
    pipe = tiny()
    pipe.stage("bad", inputs=["input"], output=("f32", [1]))(returned)
    with pytest.raises(sqrtspace.StageError, match=re.escape(expected)):
        pipe.run(np.zeros(16, np.float32))


def test_kernel_mistakes():
    class NoPair(sqrtspace.Kernel):
        def init_state(self, shape, dtype):
            return 0

        def step(self, x, state):
            return x

    pipe = tiny()
    pipe.kernel("k", NoPair(), inputs=["input"])
    with pytest.raises(sqrtspace.StageError, match="must return a pair"):
        pipe.run(np.zeros(16, np.float32))

    class Fails(sqrtspace.Kernel):
        def init_state(self, shape, dtype):
            raise RuntimeError("no state")

    pipe = tiny()
    pipe.kernel("k", Fails(), inputs=["input"])
    with pytest.raises(sqrtspace.StageError) as e:
        pipe.run(np.zeros(16, np.float32))
    assert isinstance(e.value.__cause__, RuntimeError)
    with pytest.raises(sqrtspace.PipelineError, match="no step method|has no"):
        tiny().kernel("k", object(), inputs=["input"])


def test_an_input_iterator_that_raises():
    pipe = tiny()
    pipe.add("fft", ["input"], op=sqrtspace.ops.WindowFft())

    def chunks():
        yield np.zeros(8, np.float32)
        raise OSError("socket closed")

    with pytest.raises(sqrtspace.InputError, match="socket closed") as e:
        pipe.run(chunks())
    assert isinstance(e.value.__cause__, OSError)
    with pytest.raises(sqrtspace.InputError, match="chunk 0"):
        pipe.run(iter([np.zeros(8)]))


def test_output_errors_and_no_half_written_file(tmp_path):
    pipe = tiny()
    pipe.add("fft", ["input"], op=sqrtspace.ops.WindowFft())
    pipe.add("mag", ["fft"], op=sqrtspace.ops.Magnitude())
    with pytest.raises(sqrtspace.OutputError, match="no-such-dir"):
        pipe.run(np.zeros(400, np.float32), output=tmp_path / "no-such-dir" / "y.npy")
    with pytest.raises(sqrtspace.OutputError, match="extension"):
        pipe.run(np.zeros(400, np.float32), output=tmp_path / "y.txt")

    @pipe.stage("late", inputs=["mag"], output=("f32", [1]))
    def late(m, *, t0):
        if t0 >= 50:
            raise ValueError("late failure")
        return m[:, :1]

    target = tmp_path / "y.npy"
    with pytest.raises(sqrtspace.StageError, match="late failure"):
        pipe.run(np.zeros(400, np.float32), output=target)
    assert list(tmp_path.iterdir()) == [], "a failed run leaves no file, temporary or not"


def test_a_dropped_block_iterator_stops_its_run_quietly():
    pipe = tiny()
    pipe.add("fft", ["input"], op=sqrtspace.ops.WindowFft())
    it = pipe.iter_blocks(np.zeros(4000, np.float32), block=1)
    assert next(it).shape == (1, 3)
    del it

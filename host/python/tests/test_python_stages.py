"""Pipelines built in Python, with numpy stages and a Python kernel: equal to a plain numpy
computation of the same functions over the whole array, and the same bits in every mode and
block size; the same pipeline built in Python and written in RON gives the same bits."""

from __future__ import annotations

import numpy as np
import pytest

import sqrtspace
from sqrtspace import ops

from audio_mirror import Smooth, classify_np, features_np, mirror, smooth_loop, whole_array
from conftest import PIPELINES


@pytest.fixture(scope="module")
def samples(audio_wav):
    import wave

    with wave.open(str(audio_wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / np.float32(32768)).copy()


@pytest.fixture(scope="module")
def oracle(samples):
    """The numpy functions over the whole array, from the native front end's spectra."""
    front = mirror(mode="classic")
    mag = front.run(samples, target="magnitude")
    # The bins' frequencies as the engine declares them (what `freqs` is).
    seen = {}

    @front.stage("grab", inputs=["magnitude"], output=("f32", [1]))
    def grab(m, *, freqs):
        seen["freqs"] = freqs
        return m[:, :1]

    front.run(samples[: 4096 * 2], target="grab")
    hz = seen["freqs"]
    assert hz.shape == (mag.shape[1],) and 80 <= hz[0] and hz[-1] <= 2000
    f = features_np(mag, hz)
    s = smooth_loop(f)
    return {"magnitude": mag, "features": f, "smooth": s, "classify": classify_np(f, s)}


def bits(a):
    return a.dtype, a.shape, a.tobytes()


def test_numpy_stages_equal_the_whole_array_computation(samples, oracle):
    pipe = mirror(mode="classic")
    for target in ["features", "smooth", "classify"]:
        got = pipe.run(samples, target=target)
        assert bits(got) == bits(oracle[target]), target


@pytest.mark.parametrize("block", [1, 7, 64])
@pytest.mark.parametrize("mode", ["classic", "sqrt", "auto"])
def test_every_mode_and_block_gives_the_same_bits(samples, oracle, mode, block):
    got = mirror(mode=mode, block=block).run(samples)
    assert bits(got) == bits(oracle["classify"])


def test_workers_give_the_same_bits(samples, oracle):
    got = mirror(mode="sqrt", block=16).run(samples, workers=2)
    assert bits(got) == bits(oracle["classify"])


@pytest.mark.parametrize("t_range", [(13, 15), (14, 28), (100, 101), (0, 300), (250, 260)])
def test_evaluate_around_checkpoints(samples, oracle, t_range):
    pipe = mirror(mode="sqrt", block=7, checkpoint_every=14)
    t0, t1 = t_range
    got = pipe.evaluate("smooth", t_range=t_range, input=samples)
    assert bits(got) == bits(oracle["smooth"][t0:t1])
    # The input is remembered; a second request reuses it.
    again = pipe.evaluate("classify", t_range=(t1 - 1, t1))
    assert bits(again) == bits(oracle["classify"][t1 - 1 : t1])


def test_whole_array_numpy_computes_the_same_features(samples, oracle):
    # numpy's FFT is not rustfft: the same numbers to float32 precision, not the same bits.
    np.testing.assert_allclose(whole_array(samples), oracle["classify"], rtol=1e-3, atol=1e-4)


def test_python_kernel_equals_a_sample_loop_on_random_rows():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(5000).astype(np.float32)
    pipe = sqrtspace.Pipeline(window=1, hop=1, sample_rate=1000, mode="sqrt", block=33)
    pipe.kernel("smooth", Smooth(0.75), inputs=["input"])
    got = pipe.run(x)
    assert bits(got) == bits(smooth_loop(x[:, None], np.float32(0.75)))


def test_built_in_python_equals_the_same_pipeline_in_ron(audio_wav):
    ron = (PIPELINES / "audio.ron").read_text()
    from_ron = sqrtspace.Pipeline.from_file(PIPELINES / "audio.ron")
    pipe = sqrtspace.Pipeline(window=4096, hop=1024, sample_rate=48000)
    pipe.add("fft", ["input"], op=ops.WindowFft("hann"))
    pipe.add("bandpass", ["fft"], op=ops.Bandpass(80.0, 2000.0))
    pipe.add("magnitude", ["bandpass"], op=ops.Magnitude())
    pipe.add("features", ["magnitude"], plugin="features.wasm")
    pipe.add(
        "smooth",
        ["features"],
        plugin="iir.wasm",
        params={"filter": ops.Lowpass(1.5, q=0.7071)},
    )
    assert "features.wasm" in ron
    expected = from_ron.run(audio_wav, target="smooth")
    assert bits(pipe.run(audio_wav)) == bits(expected)
    # Written out as RON and read back; and the parameters given as RON text.
    assert bits(sqrtspace.Pipeline.from_ron(pipe.to_ron()).run(audio_wav)) == bits(expected)
    text = sqrtspace.Pipeline(window=4096, hop=1024, sample_rate=48000)
    text.add("fft", ["input"], op="WindowFft(window: Hann)")
    text.add("bandpass", ["fft"], op="Bandpass(lo_hz: 80.0, hi_hz: 2000.0)")
    text.add("magnitude", ["bandpass"], op="Magnitude")
    text.add("features", ["magnitude"], plugin="features.wasm")
    text.add("smooth", ["features"], plugin="iir.wasm", params="(filter: Lowpass(cutoff_hz: 1.5, q: 0.7071))")
    assert bits(text.run(audio_wav)) == bits(expected)


def test_context_stage_sees_earlier_rows():
    x = np.arange(64 * 10, dtype=np.float32)
    pipe = sqrtspace.Pipeline(window=64, hop=64, sample_rate=64, mode="sqrt", block=3)

    @pipe.stage("diff", inputs=["input"], output=("f32", [1]), context=1)
    def diff(rows, *, context, t0):
        first = rows[:, :1]
        if context == 0:  # window 0 has no earlier row: difference with itself
            prev = np.concatenate([first[:1], first[:-1]])
        else:
            prev = first[:-1]
            first = first[1:]
        return (first - prev).astype(np.float32)

    got = pipe.run(x)
    assert got.shape == (10, 1)
    assert got[0, 0] == 0 and np.all(got[1:, 0] == 64)
    assert bits(got) == bits(pipe.run(x, mode="classic"))


def test_ron_pipeline_with_a_host_stage_registered_from_python():
    pipe = sqrtspace.Pipeline.from_ron(
        """Pipeline(window: 4, hop: 4, sample_rate: 4, mode: Sqrt, block: 2, stages: [
            (name: "peak", inputs: ["input"], op: Host(name: "peak")),
        ])"""
    )
    with pytest.raises(sqrtspace.PipelineError, match="no host stage is named `peak`"):
        pipe.run(np.zeros(16, np.float32))

    @pipe.stage("peak", output=("f32", [1]))
    def peak(rows):
        return rows.max(axis=1, keepdims=True)

    got = pipe.run(np.arange(16, dtype=np.float32))
    assert got.ravel().tolist() == [3, 7, 11, 15]


def test_a_python_kernel_runs_backward_in_time():
    """Forward then backward (`reverse=True`): a zero-phase smoother, every mode the same bits
    as the loops over the whole array, the backward one from the last row to the first."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(3000).astype(np.float32)
    expected = smooth_loop(smooth_loop(x[:, None])[::-1])[::-1]
    for mode, block in [("classic", None), ("sqrt", 7), ("sqrt", 64), ("auto", None)]:
        pipe = sqrtspace.Pipeline(window=1, hop=1, sample_rate=1000, mode=mode, block=block)
        pipe.kernel("forward", Smooth(), inputs=["input"])
        pipe.kernel("backward", Smooth(), inputs=["forward"], reverse=True)
        assert bits(pipe.run(x)) == bits(expected), (mode, block)


def test_the_package_version_is_the_crates():
    import importlib.metadata
    import re

    cargo = (PIPELINES.parent / "Cargo.toml").read_text()
    workspace = re.search(r'\[workspace\.package\][^\[]*?version = "([^"]+)"', cargo).group(1)
    assert sqrtspace.__version__ == workspace == importlib.metadata.version("sqrtspace")


def test_a_declared_frequency_axis_reaches_the_stages_after(samples):
    """A Python stage that keeps the bins it reads declares freq_axis="input", so a native
    stage after it that needs spectra (SpectralFeatures) can read it; without it, it cannot."""
    x = samples[: 48000 * 2]

    def front():
        pipe = sqrtspace.Pipeline(window=4096, hop=1024, sample_rate=48000, mode="sqrt", block=16)
        pipe.add("fft", ["input"], op=ops.WindowFft("hann"))
        pipe.add("bandpass", ["fft"], op=ops.Bandpass(80, 2000))
        pipe.add("magnitude", ["bandpass"], op=ops.Magnitude())
        return pipe

    native = front()
    bins = native.run(x).shape[1]
    native.add("features", ["magnitude"], op=ops.SpectralFeatures())

    def with_copy(freq_axis):
        pipe = front()
        pipe.stage("copy", inputs=["magnitude"], output=("f32", [bins]), freq_axis=freq_axis)(
            lambda m: m.copy()
        )
        pipe.add("features", ["copy"], op=ops.SpectralFeatures())
        return pipe

    assert bits(with_copy("input").run(x)) == bits(native.run(x))
    assert [s["name"] for s in with_copy("input").plan()["stages"]][-2:] == ["copy", "features"]
    with pytest.raises(sqrtspace.PipelineError, match="features"):
        with_copy(None).run(x)

"""`audio.ron` with its plugins replaced by numpy stages and a Python kernel, and the same
functions written for the whole array: the tests check one against the other, and
bench/compare/run_python.py times them."""

from __future__ import annotations

import numpy as np

import sqrtspace
from sqrtspace import ops

W = np.array(
    [[0.8, -0.3, 0.1], [-0.4, 0.9, -0.2], [0.1, 0.2, 0.9], [0.5, -0.5, 0.3]], dtype=np.float32
)
B = np.array([0.0, 0.1, -0.1], dtype=np.float32)


def features_np(m, freqs):
    """Spectral centroid and log energy of each row."""
    total = m.sum(axis=1, keepdims=True)
    centroid = (m * freqs.astype(np.float32)).sum(axis=1, keepdims=True) / (total + np.float32(1e-12))
    energy = np.log(np.square(m).sum(axis=1, keepdims=True) + np.float32(1e-12))
    return np.concatenate([centroid, energy], axis=1).astype(np.float32)


def classify_np(f, s):
    """A dense layer and softmax, as explicit sums (not BLAS, whose order depends on rows)."""
    x = np.concatenate([f, s], axis=1)
    z = (x[:, :, None] * W[None, :, :]).sum(axis=1) + B
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def smooth_loop(x, a=np.float32(0.9)):
    """A one-pole low-pass, sample by sample over the whole array."""
    z = np.zeros(x.shape[1:], x.dtype)
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        z = a * z + (np.float32(1) - a) * x[i]
        y[i] = z
    return y


class Smooth(sqrtspace.Kernel):
    """The same low-pass as a kernel: state is the last output row."""

    def __init__(self, a=0.9):
        self.a = np.float32(a)

    def init_state(self, shape, dtype, **kw):
        return {"z": np.zeros(shape[1:], dtype)}

    def step(self, x, state, **kw):
        z = state["z"]
        y = np.empty_like(x)
        for i in range(x.shape[0]):
            z = self.a * z + (np.float32(1) - self.a) * x[i]
            y[i] = z
        return y, {"z": z}


def mirror(mode="auto", block=None, checkpoint_every=None):
    """`audio.ron` with its plugins replaced by numpy stages and a Python kernel."""
    pipe = sqrtspace.Pipeline(
        window=4096, hop=1024, sample_rate=48000, mode=mode, block=block, checkpoint_every=checkpoint_every
    )
    pipe.add("fft", ["input"], op=ops.WindowFft("hann"))
    pipe.add("bandpass", ["fft"], op=ops.Bandpass(80, 2000))
    pipe.add("magnitude", ["bandpass"], op=ops.Magnitude())

    @pipe.stage("features", inputs=["magnitude"], output=("f32", [2]))
    def features(m, *, freqs):
        return features_np(m, freqs)

    pipe.kernel("smooth", Smooth(), inputs=["features"])

    @pipe.stage("classify", inputs=["features", "smooth"], output=("f32", [3]))
    def classify(f, s):
        return classify_np(f, s)

    return pipe


def whole_array(samples, window=4096, hop=1024, sample_rate=48000, lo_hz=80.0, hi_hz=2000.0):
    """The whole pipeline as a numpy user writes it: every stage over every window at once."""
    frames = np.lib.stride_tricks.sliding_window_view(samples, window)[::hop]
    n = np.arange(window)
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * n / window)).astype(np.float32)
    spectra = np.fft.rfft(frames * hann, axis=1)
    hz = np.fft.rfftfreq(window, 1 / sample_rate)
    keep = (hz >= lo_hz) & (hz <= hi_hz)
    magnitude = np.abs(spectra[:, keep]).astype(np.float32)
    f = features_np(magnitude, hz[keep])
    s = smooth_loop(f)
    return classify_np(f, s)

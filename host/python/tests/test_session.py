"""Push/pull sessions: any chunking equals one push; a full buffer refuses a push and changes
nothing; Python stages and kernels stream like native ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqrtspace

from audio_mirror import Smooth


def pipeline(buffer=8):
    pipe = sqrtspace.Pipeline(window=16, hop=4, sample_rate=16, input_buffer_blocks=buffer)
    pipe.add("fft", ["input"], op=sqrtspace.ops.WindowFft("hann"))
    pipe.add("mag", ["fft"], op=sqrtspace.ops.Magnitude())

    @pipe.stage("energy", inputs=["mag"], output=("f32", [1]))
    def energy(m):
        return np.square(m).sum(axis=1, keepdims=True)

    pipe.kernel("smooth", Smooth(0.5), inputs=["energy"])
    return pipe


SIGNAL = np.sin(np.arange(3000, dtype=np.float32) * np.float32(0.05))
EXPECTED = pipeline().run(SIGNAL, mode="classic")


def stream(session, signal, sizes):
    out, at, i = [], 0, 0
    while at < len(signal):
        # A chunk larger than the buffer is never taken: feed at most its capacity.
        n = min(sizes[i % len(sizes)], session.capacity)
        i += 1
        chunk = signal[at : at + n]
        while not session.push_samples(chunk):
            out.append(session.pull_until())
        at += len(chunk)
        if i % 3 == 0:
            out.append(session.pull_until())
    out.append(session.pull_until())
    return np.concatenate(out)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=12))
def test_any_chunking_equals_one_run(sizes):
    got = stream(pipeline().session(), SIGNAL, sizes)
    assert got.tobytes() == EXPECTED.tobytes()


def test_full_buffer_refuses_and_changes_nothing():
    session = pipeline(buffer=2).session()
    assert session.capacity == 2 * 4 + 16
    assert session.push_samples(SIGNAL[:20])
    before = (session.buffered, session.windows_available)
    assert not session.push_samples(SIGNAL[20:40])
    assert (session.buffered, session.windows_available) == before
    rows = session.pull_until(2)
    assert rows.shape == (2, 1) and session.windows_done == 2
    assert rows.tobytes() == EXPECTED[:2].tobytes()


def test_a_chunk_larger_than_the_buffer_is_refused_even_when_empty():
    session = pipeline(buffer=2).session()
    assert not session.push_samples(SIGNAL[: session.capacity + 1])
    assert session.buffered == 0
    assert session.push_samples(SIGNAL[: session.capacity])


def test_session_refuses_float64():
    with pytest.raises(sqrtspace.InputError, match="float32"):
        pipeline().session().push_samples(np.zeros(10))


def test_chunk_iterable_input_equals_the_array():
    chunks = (SIGNAL[i : i + 77] for i in range(0, len(SIGNAL), 77))
    assert pipeline().run(chunks).tobytes() == EXPECTED.tobytes()

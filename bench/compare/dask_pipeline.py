"""The dask way: a lazy array of windows, one chunk of windows read and computed per task."""

import dask
import dask.array as da
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import features as f

CHUNK = 2048  # windows per chunk


def chunk_features(wav, offset, first, n):
    start = offset + 2 * first * f.HOP
    count = (n - 1) * f.HOP + f.WINDOW
    samples = f.to_float(np.fromfile(wav, dtype="<i2", count=count, offset=start))
    return f.features(sliding_window_view(samples, f.WINDOW)[:: f.HOP][:n])


def compute(wav):
    offset, count = f.wav_data(wav)
    total = f.windows_in(count)
    parts = [
        da.from_delayed(
            dask.delayed(chunk_features)(wav, offset, first, min(CHUNK, total - first)),
            shape=(min(CHUNK, total - first), 4),
            dtype=np.float32,
        )
        for first in range(0, total, CHUNK)
    ]
    return da.concatenate(parts).compute(scheduler="threads")


if __name__ == "__main__":
    f.main(compute)

"""The whole-array way: read every sample, frame them all, one FFT over every window."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import features as f


def compute(wav):
    offset, count = f.wav_data(wav)
    samples = f.to_float(np.fromfile(wav, dtype="<i2", count=count, offset=offset))
    frames = sliding_window_view(samples, f.WINDOW)[:: f.HOP]
    return f.features(frames)


if __name__ == "__main__":
    f.main(compute)

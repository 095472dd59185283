"""The hand-written block loop: read a block of windows' samples at a time, keep the overlap."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import features as f

BLOCK = 256  # windows per block


def compute(wav):
    offset, count = f.wav_data(wav)
    total = f.windows_in(count)
    out = np.empty((total, 4), dtype=np.float32)
    with open(wav, "rb") as src:
        src.seek(offset)
        carry = np.empty(0, dtype=np.float32)
        done = 0
        while done < total:
            n = min(BLOCK, total - done)
            need = (n - 1) * f.HOP + f.WINDOW - carry.size
            fresh = f.to_float(np.frombuffer(src.read(2 * need), dtype="<i2"))
            samples = np.concatenate([carry, fresh])
            frames = sliding_window_view(samples, f.WINDOW)[:: f.HOP][:n]
            out[done : done + n] = f.features(frames)
            carry = samples[n * f.HOP :]
            done += n
    return out


if __name__ == "__main__":
    f.main(compute)

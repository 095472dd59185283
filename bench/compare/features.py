"""The audio pipeline of pipelines/audio-native.ron up to its spectral features, in numpy.

Window 4096 (periodic Hann), hop 1024, 48 kHz; the real FFT; the bins between 80 Hz and 2 kHz;
their magnitudes; then per window the peak frequency, the centroid, the kurtosis about the
centroid and the log energy, as sqrtspace's SpectralFeatures computes them (plugins/features).
"""

import json
import os
import resource
import sys
import time

import numpy as np

WINDOW, HOP, RATE = 4096, 1024, 48000
LO_HZ, HI_HZ = 80.0, 2000.0
STEP_HZ = RATE / WINDOW
_HZ = np.arange(WINDOW // 2 + 1) * STEP_HZ
_KEPT = np.nonzero((_HZ >= LO_HZ) & (_HZ <= HI_HZ))[0]
FIRST, LAST = int(_KEPT[0]), int(_KEPT[-1]) + 1
HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)


def features(frames):
    """Four features per row of `frames` (windows of float32 samples)."""
    spectrum = np.fft.rfft(frames * HANN, axis=1)[:, FIRST:LAST]
    magnitudes = np.abs(spectrum).astype(np.float32).astype(np.float64)
    hz = FIRST * STEP_HZ + np.arange(LAST - FIRST) * STEP_HZ
    total = magnitudes.sum(axis=1)
    safe = np.where(total == 0, 1.0, total)
    centroid = (magnitudes * hz).sum(axis=1) / safe
    d2 = (hz[None, :] - centroid[:, None]) ** 2
    variance = (d2 * magnitudes).sum(axis=1) / safe
    m4 = (d2 * d2 * magnitudes).sum(axis=1) / safe
    kurtosis = np.where(variance == 0, 0.0, m4 / np.where(variance == 0, 1.0, variance**2))
    silent = total == 0
    centroid[silent] = 0.0
    kurtosis[silent] = 0.0
    peak = hz[np.argmax(magnitudes, axis=1)]
    log_energy = np.log((magnitudes * magnitudes).sum(axis=1) + 1e-12)
    return np.stack([peak, centroid, kurtosis, log_energy], axis=1).astype(np.float32)


def wav_data(path):
    """(offset of the sample data, number of samples) of a mono 16-bit PCM WAV file."""
    with open(path, "rb") as f:
        header = f.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            sys.exit(f"{path}: not a WAV file")
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                sys.exit(f"{path}: no data chunk")
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"fmt ":
                fmt = f.read(size)
                channels, bits = int.from_bytes(fmt[2:4], "little"), int.from_bytes(fmt[14:16], "little")
                if (channels, bits) != (1, 16):
                    sys.exit(f"{path}: expected mono 16-bit PCM")
            elif chunk[:4] == b"data":
                return f.tell(), size // 2
            else:
                f.seek(size, 1)


def to_float(pcm):
    return pcm.astype(np.float32) / np.float32(32768.0)


def windows_in(samples):
    return 0 if samples < WINDOW else (samples - WINDOW) // HOP + 1


def main(compute):
    """Runs `compute(wav_path) -> rows`, saves the rows, prints wall time and peak RSS as JSON."""
    wav, out = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    rows = compute(wav)
    np.save(out, rows)
    wall = time.perf_counter() - started
    peak = None
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall_secs": wall, "peak_rss_bytes": peak, "rows": int(rows.shape[0])}))
    sys.stdout.flush()
    os._exit(0)

"""The engine's native built-in operators, for ``Pipeline.add(name, inputs, op=...)``.

Each is the operator a RON pipeline writes in its ``op:`` field, with the same parameters and
the same code behind it; ``str(op)`` (and ``op.ron``) is that RON text.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

__all__ = [
    "Op",
    "WindowFft",
    "Bandpass",
    "Magnitude",
    "SpectralFeatures",
    "Iir",
    "Filtfilt",
    "Lowpass",
    "Highpass",
    "Sos",
    "RollingMean",
    "Patches",
    "Concat",
    "LogParse",
]


def _ron(value) -> str:
    """A Python value as RON: numbers, strings, bools, None, lists, tuples."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a parameter cannot be {value}")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(_ron(v) for v in value) + ")"
    if isinstance(value, (list,)):
        return "[" + ", ".join(_ron(v) for v in value) + "]"
    if isinstance(value, Op):
        return value.ron
    raise TypeError(f"cannot write a {type(value).__name__} as RON")


class Op:
    """An operator and its parameters, as RON text."""

    def __init__(self, name: str, **params):
        self.name = name
        fields = ", ".join(f"{k}: {_ron(v)}" for k, v in params.items() if v is not None)
        self.ron = f"{name}({fields})" if fields else name

    def __str__(self) -> str:
        return self.ron

    def __repr__(self) -> str:
        return f"ops.{self.ron}"

    def __eq__(self, other) -> bool:
        return isinstance(other, Op) and self.ron == other.ron

    def __hash__(self) -> int:
        return hash(self.ron)


_WINDOWS = {"hann": "Hann", "hamming": "Hamming", "rectangular": "Rectangular", "boxcar": "Rectangular"}


class WindowFft(Op):
    """Window function and real FFT: rows of ``window // 2 + 1`` complex64 bins."""

    def __init__(self, window: str = "hann"):
        try:
            variant = _WINDOWS[window.lower()]
        except KeyError:
            raise ValueError(f"unknown window {window!r} (expected hann, hamming or rectangular)") from None
        Op.__init__(self, "WindowFft")
        self.ron = f"WindowFft(window: {variant})"


class Bandpass(Op):
    """Keeps the spectrum bins from ``lo_hz`` to ``hi_hz``."""

    def __init__(self, lo_hz: float, hi_hz: float):
        super().__init__("Bandpass", lo_hz=float(lo_hz), hi_hz=float(hi_hz))


class Magnitude(Op):
    """Absolute value of complex elements."""

    def __init__(self):
        super().__init__("Magnitude")


class SpectralFeatures(Op):
    """Peak frequency, centroid, kurtosis and log energy of a magnitude spectrum."""

    def __init__(self):
        super().__init__("SpectralFeatures")


class _Filter:
    def __init__(self, ron: str):
        self.ron = ron

    def __repr__(self) -> str:
        return f"ops.{self.ron}"


def Lowpass(cutoff_hz: float, q: float = 1 / math.sqrt(2)) -> _Filter:
    """An RBJ-cookbook low-pass biquad (cutoff in Hz of the frame rate)."""
    return _Filter(f"Lowpass(cutoff_hz: {_ron(float(cutoff_hz))}, q: {_ron(float(q))})")


def Highpass(cutoff_hz: float, q: float = 1 / math.sqrt(2)) -> _Filter:
    """An RBJ-cookbook high-pass biquad (cutoff in Hz of the frame rate)."""
    return _Filter(f"Highpass(cutoff_hz: {_ron(float(cutoff_hz))}, q: {_ron(float(q))})")


def Sos(sections: Sequence[Sequence[float]]) -> _Filter:
    """Second-order sections ``(b0, b1, b2, a0, a1, a2)``, as ``scipy.signal`` writes them."""
    rows = ", ".join("(" + ", ".join(_ron(float(v)) for v in s) + ")" for s in sections)
    return _Filter(f"Sos(sections: [{rows}])")


class Iir(Op):
    """A biquad cascade along time (a kernel); ``start`` is ``"zero"`` or ``"steady"``."""

    def __init__(self, filter: _Filter, start: str = "zero"):
        Op.__init__(self, "Iir")
        self.ron = f"Iir(filter: {filter.ron}, start: {start.capitalize()})"


class Filtfilt(Op):
    """Zero-phase IIR: the filter forward, then backward over its output."""

    def __init__(self, filter: _Filter):
        Op.__init__(self, "Filtfilt")
        self.ron = f"Filtfilt(filter: {filter.ron})"


class RollingMean(Op):
    """Mean over the last ``rows`` rows (declares context)."""

    def __init__(self, rows: int):
        super().__init__("RollingMean", rows=int(rows))


class Patches(Op):
    """The last ``rows`` rows stacked into one (declares context)."""

    def __init__(self, rows: int):
        super().__init__("Patches", rows=int(rows))


class Concat(Op):
    """The rows of several inputs joined."""

    def __init__(self):
        super().__init__("Concat")


class LogParse(Op):
    """Status, latency and time of each access-log line."""

    def __init__(self, pattern: Optional[str] = None, path: Optional[str] = None, latency_unit: Optional[str] = None):
        Op.__init__(self, "LogParse")
        fields = []
        if pattern is not None:
            fields.append(f"pattern: {_ron(pattern)}")
        if path is not None:
            fields.append(f"path: {_ron(path)}")
        if latency_unit is not None:
            fields.append(f"latency_unit: {latency_unit.capitalize()}")
        self.ron = f"LogParse({', '.join(fields)})"

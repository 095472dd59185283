"""sqrtspace: long window/hop pipelines over numpy arrays in bounded memory.

A pipeline is a graph of stages over the windows of a stream (audio samples, lines of a log):
native built-ins (``sqrtspace.ops``), sandboxed Wasm plugins, and Python functions and kernels.
The engine runs it in classic mode (each stage over the whole stream, the reference) or sqrt
mode (blocks of windows with checkpoints, flat memory however long the stream), or picks one
(auto); every mode gives the same bits.

>>> import numpy as np, sqrtspace
>>> pipe = sqrtspace.Pipeline(window=256, hop=128, sample_rate=8000)
>>> pipe.add("fft", ["input"], op=sqrtspace.ops.WindowFft("hann"))
>>> pipe.add("mag", ["fft"], op=sqrtspace.ops.Magnitude())
>>> @pipe.stage("loud", inputs=["mag"], output=("f32", [1]))
... def loud(m):
...     return m.max(axis=1, keepdims=True)
>>> y = pipe.run(np.zeros(8000, dtype=np.float32))
>>> y.shape
(61, 1)
"""

from __future__ import annotations

from pathlib import Path

from . import ops
from ._sqrtspace import (
    Blocks,
    Error,
    InputError,
    OutputError,
    Pipeline,
    PipelineError,
    PluginError,
    Session,
    StageError,
    __version__,
)

__all__ = [
    "EXAMPLES",
    "example",
    "Pipeline",
    "Kernel",
    "Session",
    "Blocks",
    "ops",
    "Error",
    "PipelineError",
    "PluginError",
    "InputError",
    "StageError",
    "OutputError",
    "__version__",
]


EXAMPLES = Path(__file__).resolve().parent / "examples"
"""The example pipelines and the plugins they run, bundled with the package: a pipeline from
here finds its plugins beside it, so ``Pipeline.from_file(sqrtspace.example("audio.ron"))``
runs from any directory."""


def example(name: str) -> Path:
    """The bundled example pipeline or plugin ``name`` (``"audio.ron"``, ``"features.wasm"``)."""
    path = EXAMPLES / name
    if not path.is_file():
        there = sorted(p.name for p in EXAMPLES.glob("*")) if EXAMPLES.is_dir() else []
        raise FileNotFoundError(
            f"no bundled example {name!r} in {EXAMPLES} (there are: {', '.join(there) or 'none'})"
        )
    return path


class Kernel:
    """A stage that carries state from block to block (the original specification's Kernel).

    ``init_state(shape, dtype, **kw)`` returns the state at window 0 (``shape`` is the first
    input's block shape with 0 rows, ``dtype`` its numpy dtype name); ``step(x_block, state,
    **kw)`` returns ``(rows, next_state)``, one output row per input row. The state may be any
    picklable object (a dict of arrays); the engine checkpoints it as ``pickle`` bytes. For
    every mode to give the same bits, stepping over windows ``[a, b)`` then ``[b, c)`` must give
    what one step over ``[a, c)`` gives — true of any filter written as a loop over rows.
    Keywords ``freqs``, ``t0``, ``context``, ``sample_rate``, ``hop``, ``window`` are passed
    when the method names them (or takes ``**kw``).
    """

    def init_state(self, shape, dtype, **kw):
        raise NotImplementedError(f"{type(self).__name__}.init_state")

    def step(self, x_block, state, **kw):
        raise NotImplementedError(f"{type(self).__name__}.step")

"""Type stubs of the extension module `sqrtspace._sqrtspace` (re-exported by `sqrtspace`)."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Input = Union[str, os.PathLike, npt.NDArray[np.float32], Iterable[Any]]
Rows = Union[np.ndarray, list]

class Error(Exception):
    """Every error sqrtspace raises (a Rust panic never reaches Python)."""

class PipelineError(Error):
    """The pipeline is wrong; `.line` and `.column` (1-based) place a RON mistake."""

    line: Optional[int]
    column: Optional[int]

class PluginError(Error):
    """A Wasm plugin could not be loaded, configured or run."""

class InputError(Error):
    """The input cannot be read or is not what the pipeline reads."""

class StageError(Error):
    """A stage failed on a block of windows (a Python stage's exception is `__cause__`)."""

class OutputError(Error):
    """The output could not be written."""

class Pipeline:
    """A pipeline: from RON (`from_file`, `from_ron`) or built in Python."""

    def __init__(
        self,
        window: int,
        hop: int,
        sample_rate: int = 0,
        *,
        input: str = "samples",
        mode: str = "auto",
        block: Optional[int] = None,
        checkpoint_every: Optional[int] = None,
        lru_bytes: Union[int, str, None] = None,
        workers: Optional[int] = None,
        input_buffer_blocks: Optional[int] = None,
        target: Optional[str] = None,
    ) -> None: ...
    @staticmethod
    def from_file(path: Union[str, os.PathLike]) -> Pipeline: ...
    @staticmethod
    def from_ron(
        text: str, base_dir: Union[str, os.PathLike, None] = None, origin: str = "<string>"
    ) -> Pipeline: ...
    def to_ron(self) -> str: ...
    @property
    def stages(self) -> list[str]: ...
    def add(
        self,
        name: str,
        inputs: Sequence[str],
        op: Any = None,
        *,
        plugin: Union[str, os.PathLike, None] = None,
        params: Any = None,
        deadline_ms: Optional[int] = None,
        memory_limit: Union[int, str, None] = None,
        sha256: Optional[str] = None,
        checkpoint: bool = False,
        reverse: bool = False,
    ) -> None: ...
    def stage(
        self,
        name: str,
        inputs: Optional[Sequence[str]] = None,
        output: Optional[Tuple[str, Sequence[int]]] = None,
        *,
        context: int = 0,
        freq_axis: Union[str, Tuple[float, float], None] = None,
        checkpoint: bool = False,
    ) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]: ...
    def kernel(
        self,
        name: str,
        kernel: Any,
        inputs: Optional[Sequence[str]] = None,
        *,
        output: Optional[Tuple[str, Sequence[int]]] = None,
        freq_axis: Union[str, Tuple[float, float], None] = None,
        checkpoint: bool = False,
        reverse: bool = False,
    ) -> None: ...
    def run(
        self,
        input: Input,
        *,
        target: Optional[str] = None,
        mode: Optional[str] = None,
        block: Optional[int] = None,
        workers: Optional[int] = None,
        range: Optional[Tuple[int, Optional[int]]] = None,
        format: Optional[str] = None,
        channel: Optional[int] = None,
        output: Union[str, os.PathLike, None] = None,
    ) -> Union[Rows, int]: ...
    def iter_blocks(
        self,
        input: Input,
        *,
        target: Optional[str] = None,
        mode: Optional[str] = None,
        block: Optional[int] = None,
        workers: Optional[int] = None,
        format: Optional[str] = None,
        channel: Optional[int] = None,
    ) -> Blocks: ...
    def evaluate(
        self,
        target: Optional[str] = None,
        t_range: Optional[Tuple[int, int]] = None,
        *,
        input: Optional[Input] = None,
    ) -> Rows: ...
    def session(self, *, target: Optional[str] = None, workers: Optional[int] = None) -> Session: ...
    def plan(
        self,
        input: Optional[Input] = None,
        *,
        target: Optional[str] = None,
        mode: Optional[str] = None,
        block: Optional[int] = None,
        workers: Optional[int] = None,
    ) -> dict[str, Any]: ...
    def report(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...

class Blocks(Iterator[Rows]):
    """The target's rows block by block, as the engine computes them."""

    def __iter__(self) -> Blocks: ...
    def __next__(self) -> Rows: ...

class Session:
    """A push/pull stream."""

    def push_samples(self, chunk: npt.NDArray[np.float32]) -> bool: ...
    def pull_until(self, t: int = ...) -> Rows: ...
    @property
    def capacity(self) -> int: ...
    @property
    def buffered(self) -> int: ...
    @property
    def windows_done(self) -> int: ...
    @property
    def windows_available(self) -> int: ...

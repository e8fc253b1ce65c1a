"""Run an artifact in its own runtime: float32 numpy arrays in, float32 numpy arrays out.

Runners import numpy and their runtime only (no torch, no training stack), so the runtime and
the benchmarks work from ``pip install "edgesdk[runtime]"`` on an edge board. Each takes the
inputs in the manifest's order and returns the outputs in the manifest's order. The runner of
each backend is in that backend's module (``edgesdk.targets``: the table says which); this
module holds what they share: the base class, the header check before a native loader sees
the file, and the check of an artifact's tensors against its manifest.

Example (the manifest beside the artifact lists the inputs and outputs)::

    runner = open_runner("exports/same-student-int8.onnx")
    outputs = runner.run([imu, mask, head, gru_h, prev])
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.targets import target, target_for_path

Shape = tuple[int | None, ...]  # None: a dimension the runtime does not fix
# an artifact's tensors in call order: (name, or None where the runtime does not keep the
# manifest's names; shape, or None where it does not tell)
TensorIO = list[tuple[str | None, Shape | None]]


class Runner(abc.ABC):
    """An artifact loaded in its runtime. ``run`` takes and returns float32 arrays."""

    backend = ""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads

    @abc.abstractmethod
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs for ``inputs``, both in the manifest's order."""

    def io(self) -> tuple[TensorIO, TensorIO]:
        """The artifact's own inputs and outputs (empty: the runtime does not tell)."""
        return [], []


def backend_of(path: Path | str) -> str:
    """The backend of an artifact, from its suffix (``edgesdk.targets.target_for_path``)."""
    return target_for_path(path).name


def open_runner(path: Path | str, threads: int = 1) -> Runner:
    """Load an artifact in the runtime its suffix names, after checking the file's header (a
    native loader given random bytes may abort the process instead of raising).

    Raises:
        EdgeSDKError: an unknown suffix, a missing file, a header that is not the format's,
            or any error of the runtime's loader, as one line.
    """
    path = Path(path)
    backend = backend_of(path)
    if not path.exists():
        raise EdgeSDKError(f"{path}: no such artifact")
    check_header(path, backend)
    try:
        runner: Runner = target(backend).runner(path, threads)
        return runner
    except EdgeSDKError:
        raise
    except Exception as exc:  # the runtimes' own errors (protobuf, flatbuffer, ...)
        lines = str(exc).strip().splitlines()
        first = lines[0][:200] if lines else type(exc).__name__
        raise EdgeSDKError(f"{path}: the {backend} runtime cannot load it ({first})") from None


def check_header(path: Path, backend: str) -> None:
    """The format's identifier and sizes, before any bytes reach a native loader.

    Example:
        >>> import tempfile
        >>> bad = Path(tempfile.mkdtemp()) / "x.pte"
        >>> _ = bad.write_bytes(bytes(64))
        >>> check_header(bad, "executorch")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: ...x.pte: not an ExecuTorch .pte file (identifier ...
    """
    t = target(backend)
    if t.folder:
        if not (path.is_dir() and (path / t.folder).is_file()):
            raise EdgeSDKError(f"{path}: not {t.label} folder (no {t.folder} inside)")
        return
    if not path.is_file():
        raise EdgeSDKError(f"{path}: not a file")
    size = path.stat().st_size
    if size < 16:
        raise EdgeSDKError(f"{path}: not {t.label} file ({size} bytes)")
    with path.open("rb") as f:
        head = f.read(40)
    if t.flatbuffer_id is not None:
        pattern, expected = t.flatbuffer_id
        if not re.fullmatch(pattern.encode(), head[4:8]):
            raise EdgeSDKError(
                f"{path}: not {t.label} file (identifier {head[4:8]!r} at byte 4, expected "
                f"{expected})"
            )
        root = int.from_bytes(head[:4], "little")
        if not 8 <= root < size:
            raise EdgeSDKError(
                f"{path}: corrupt (flatbuffer root offset {root} outside the file's {size} bytes)"
            )
    more = t.hook("check_file")  # the format's own checks (ExecuTorch: its extended header)
    if more is not None:
        more(path, head, size)


def check_io(runner: Any, io: dict[str, Any], where: Path | str) -> None:
    """The manifest's tensors (``io``) against the artifact's own, where its runtime tells:
    count, order, names (ONNX, Core ML) and shapes. One error line on a mismatch."""
    tell = getattr(runner, "io", None)  # a wrapped or stand-in runner may not tell
    if not callable(tell):
        return
    ins, outs = tell()
    for kind, mine in (("inputs", ins), ("outputs", outs)):
        if not mine:
            continue
        declared = io[kind]
        if len(declared) != len(mine):
            raise EdgeSDKError(
                f"{where}: the manifest lists {len(declared)} {kind}, the artifact has "
                f"{len(mine)} (a manifest of another model?)"
            )
        for d, (name, shape) in zip(declared, mine, strict=True):
            if name is not None and name != d["name"]:
                raise EdgeSDKError(
                    f"{where}: {kind} {d['name']!r} of the manifest is {name!r} in the "
                    "artifact (a manifest of another model?)"
                )
            if shape is not None and not _same_shape(tuple(d["shape"]), shape):
                raise EdgeSDKError(
                    f"{where}: {kind[:-1]} {d['name']!r} has shape {list(d['shape'])} in the "
                    f"manifest, {[s if s is not None else '?' for s in shape]} in the artifact"
                )


def _same_shape(declared: tuple[int, ...], actual: Shape) -> bool:
    return len(declared) == len(actual) and all(
        a is None or a == d for d, a in zip(declared, actual, strict=True)
    )

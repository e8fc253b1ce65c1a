"""Run an artifact in its own runtime: float32 numpy arrays in, float32 numpy arrays out.

Runners import numpy and their runtime only (no torch, no training stack), so the runtime and
the benchmarks work from ``pip install "edgesdk[runtime]"`` on an edge board. Each takes the
inputs in the manifest's order and returns the outputs in the manifest's order.

Example (the manifest beside the artifact lists the inputs and outputs)::

    runner = open_runner("exports/same-student-int8.onnx")
    outputs = runner.run([imu, mask, head, gru_h, prev])
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.io import cache_dir

INSTALL_HINTS = {
    "executorch": "pip install executorch==1.5.1",
    "onnxruntime": "pip install onnxruntime==1.32.0",
    "ai_edge_litert": "pip install ai-edge-litert==2.3.0 (or tflite-runtime)",
    "coremltools": "pip install coremltools==9.0",
}


def require(module: str, what: str) -> None:
    """A one-line error with an install hint when ``module`` is missing."""
    if importlib.util.find_spec(module) is None:
        hint = INSTALL_HINTS.get(module, f"pip install {module}")
        raise EdgeSDKError(
            f"{what} needs the Python module {module}, which is not installed: {hint}"
        )


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


class ExecuTorchRunner(Runner):
    backend = "executorch"

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        require("executorch", f"{path}: running a .pte")
        import torch  # executorch's Python runtime takes torch tensors
        from executorch.runtime import Runtime

        self._torch = torch
        torch.set_num_threads(threads)
        probe_pte(path)
        self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        args = [self._torch.from_numpy(np.ascontiguousarray(x, np.float32)) for x in inputs]
        return [np.asarray(o.numpy(), np.float32) for o in self.method.execute(args)]

    def io(self) -> tuple[TensorIO, TensorIO]:
        meta = self.method.metadata
        ins = [meta.input_tensor_meta(i).sizes() for i in range(meta.num_inputs())]
        outs = [meta.output_tensor_meta(i).sizes() for i in range(meta.num_outputs())]
        return [(None, tuple(s)) for s in ins], [(None, tuple(s)) for s in outs]


# Loads a .pte and runs it once on zeros; a crash shows as the child's signal.
_PTE_PROBE = """
import sys, torch
from executorch.runtime import Runtime
method = Runtime.get().load_program(sys.argv[1]).load_method("forward")
meta = method.metadata
args = [torch.zeros(tuple(meta.input_tensor_meta(i).sizes())) for i in range(meta.num_inputs())]
method.execute(args)
"""


def probe_pte(path: Path) -> None:
    """Load and run a .pte once in a child process before this process loads it.

    ExecuTorch's loader aborts the whole process (SIGABRT) on some corrupt programs (a flipped
    bit in an operator name is enough) instead of raising. A program that passed is
    remembered by its sha256 (an empty marker file under ``edgesdk.io.cache_dir()``), so the
    child runs once per program and machine; ``edgesdk export`` marks the programs it writes.

    Raises:
        EdgeSDKError: the child crashed or failed (one line, naming the file).
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    marker = cache_dir() / "pte-checked" / digest
    if marker.is_file():
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PTE_PROBE, str(path)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise EdgeSDKError(f"{path}: the executorch runtime did not load it within 300 s") from None
    if done.returncode < 0:
        raise EdgeSDKError(
            f"{path}: the executorch runtime crashes on it (signal {-done.returncode}): a "
            "corrupt program; export it again"
        )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        last = lines[-1][:200] if lines else f"exit status {done.returncode}"
        raise EdgeSDKError(f"{path}: the executorch runtime cannot load it ({last})")
    _mark_checked(digest)


def mark_pte_checked(path: Path) -> None:
    """Remember a .pte this process wrote itself (``edgesdk export``) as checked."""
    _mark_checked(hashlib.sha256(path.read_bytes()).hexdigest())


def _mark_checked(digest: str) -> None:
    marker = cache_dir() / "pte-checked" / digest
    with contextlib.suppress(OSError):  # no cache folder: checked again next time
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


class OnnxRunner(Runner):
    backend = "onnx"

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        require("onnxruntime", f"{path}: running an .onnx")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def io(self) -> tuple[TensorIO, TensorIO]:
        def shape(t: Any) -> Shape:
            return tuple(d if isinstance(d, int) else None for d in t.shape)

        return (
            [(t.name, shape(t)) for t in self.session.get_inputs()],
            [(t.name, shape(t)) for t in self.session.get_outputs()],
        )

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {
            n: np.ascontiguousarray(x, np.float32) for n, x in zip(self.names, inputs, strict=True)
        }
        return [np.asarray(o, np.float32) for o in self.session.run(None, feed)]


class LiteRTRunner(Runner):
    """The ``ai_edge_litert`` Interpreter (``tflite_runtime`` when only that is installed);
    int8 inputs or outputs, if a converter left any, are (de)quantized with their params.

    A call goes through the interpreter's signature runner, which resizes and re-allocates
    every input on every call; with fixed shapes that work is done once, and when the
    installed interpreter exposes the signature's tensor indices (ai-edge-litert 2.x) each
    call only sets the inputs, invokes and reads the outputs (about 29 us instead of 47 us a
    call for ego4o-student here; the outputs are copies either way)."""

    backend = "tflite"

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
            if importlib.util.find_spec(module.split(".")[0]) is not None:
                interpreter: Any = importlib.import_module(module).Interpreter
                break
        else:
            require("ai_edge_litert", f"{path}: running a .tflite")
        self.interpreter = interpreter(model_path=str(path), num_threads=threads)
        self.runner = self.interpreter.get_signature_runner()
        self.in_details = self.runner.get_input_details()
        self.out_details = self.runner.get_output_details()
        self.in_names = sorted(self.in_details, key=_arg_index)
        self.out_names = sorted(self.out_details, key=_arg_index)
        self._in = [self.in_details[n] for n in self.in_names]
        self._out = [self.out_details[n] for n in self.out_names]
        self._cache: dict[int, tuple[bytes, np.ndarray]] = {}
        self._shapes = [tuple(int(v) for v in d["shape"]) for d in self._in]
        self._fast = _signature_tensors(self.runner, self.in_names, self.out_names)
        self._integer_in = {k: d for k, d in enumerate(self._in) if d["dtype"] != np.float32}
        self._integer_out = any(d["dtype"] != np.float32 for d in self._out)

    def io(self) -> tuple[TensorIO, TensorIO]:
        def shape(d: dict[str, Any]) -> Shape:
            return tuple(int(v) for v in d["shape"])

        return [(None, shape(d)) for d in self._in], [(None, shape(d)) for d in self._out]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self._in):
            raise EdgeSDKError(f"{self.path}: {len(inputs)} inputs given, {len(self._in)} taken")
        if self._fast is None:
            pairs = enumerate(zip(inputs, self._in, strict=True))
            feed = [self._quantized(k, x, d) for k, (x, d) in pairs]
            out = self.runner(**dict(zip(self.in_names, feed, strict=True)))
            raw = [out[n] for n in self.out_names]
        else:  # the per-frame path of a session: as little Python as possible
            wrapper, subgraph, in_index, out_index = self._fast
            integer, shapes = self._integer_in, self._shapes
            for k, x in enumerate(inputs):
                if k in integer:
                    x = self._quantized(k, x, integer[k])
                elif type(x) is not np.ndarray or x.dtype != _F32 or not x.flags.c_contiguous:
                    x = np.ascontiguousarray(x, np.float32)
                if x.shape != shapes[k]:
                    raise EdgeSDKError(f"{self.path}: an input of shape {x.shape}, not {shapes[k]}")
                wrapper.SetTensor(in_index[k], x, subgraph)
            wrapper.Invoke(subgraph)
            raw = [wrapper.GetTensor(o, subgraph) for o in out_index]
            if not self._integer_out:
                return raw  # float32 copies
        return [_dequantize(x, d) for x, d in zip(raw, self._out, strict=True)]

    def _quantized(self, k: int, x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
        """An integer input quantized, remembering the last value of each input (a streaming
        caller sends the same text embedding, or zeros, frame after frame)."""
        if detail["dtype"] == np.float32:
            return _quantize(x, detail)
        key = np.ascontiguousarray(x, np.float32).tobytes()
        cached = self._cache.get(k)
        if cached is None or cached[0] != key:
            cached = self._cache[k] = (key, _quantize(x, detail))
        return cached[1]


def _signature_tensors(
    runner: Any, in_names: list[str], out_names: list[str]
) -> tuple[Any, int, list[int], list[int]] | None:
    """The signature runner's interpreter wrapper, subgraph and tensor indices, with the
    tensors allocated once, or None when this interpreter version does not expose them."""
    try:
        wrapper = runner._interpreter_wrapper
        subgraph = int(runner._subgraph_index)
        outputs = dict(runner._outputs)
        in_index = [int(runner._inputs[n]) for n in in_names]
        out_index = [int(outputs[n]) for n in out_names]
        for name in ("SetTensor", "Invoke", "GetTensor", "AllocateTensors"):
            if not callable(getattr(wrapper, name, None)):
                return None
        wrapper.AllocateTensors(subgraph)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return wrapper, subgraph, in_index, out_index


_F32 = np.dtype(np.float32)


def _arg_index(name: str) -> int:
    """``args_3`` / ``output_3`` -> 3 (LiteRT's signature names, in call order)."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] == np.float32:
        if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
            return x
        return np.ascontiguousarray(x, np.float32)
    x = np.asarray(x, np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def _dequantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x if x.dtype == np.float32 else np.asarray(x, np.float32)
    scale, zero = detail["quantization"]
    return ((x.astype(np.float32) - zero) * scale).astype(np.float32)


class CoreMLRunner(Runner):
    """Core ML prediction: macOS only (coremltools cannot run a model on Linux)."""

    backend = "coreml"

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        if not coreml_can_predict():
            raise EdgeSDKError(
                f"{path}: Core ML prediction needs macOS (this is "
                f"{platform.system()}); `edgesdk validate` checks the spec here"
            )
        require("coremltools", f"{path}: running an .mlpackage")
        import coremltools as ct

        self.model = ct.models.MLModel(str(path))
        spec = self.model.get_spec()
        self.in_names = [i.name for i in spec.description.input]
        self.out_names = [o.name for o in spec.description.output]
        self._spec = spec

    def io(self) -> tuple[TensorIO, TensorIO]:
        def shape(t: Any) -> Shape | None:
            return tuple(int(d) for d in t.type.multiArrayType.shape) or None

        d = self._spec.description
        return [(t.name, shape(t)) for t in d.input], [(t.name, None) for t in d.output]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = self.model.predict(
            {n: np.asarray(x, np.float32) for n, x in zip(self.in_names, inputs, strict=True)}
        )
        return [np.asarray(out[n], np.float32) for n in self.out_names]


def coreml_can_predict() -> bool:
    return platform.system() == "Darwin"


RUNNERS: dict[str, type[Runner]] = {
    "executorch": ExecuTorchRunner,
    "onnx": OnnxRunner,
    "tflite": LiteRTRunner,
    "coreml": CoreMLRunner,
}
SUFFIXES = {".pte": "executorch", ".onnx": "onnx", ".tflite": "tflite", ".mlpackage": "coreml"}


def backend_of(path: Path | str) -> str:
    """The backend of an artifact, from its suffix."""
    suffix = Path(path).suffix
    if suffix not in SUFFIXES:
        raise EdgeSDKError(
            f"{path}: unknown artifact type {suffix!r} (expected one of {', '.join(SUFFIXES)})"
        )
    return SUFFIXES[suffix]


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
        return RUNNERS[backend](path, threads)
    except EdgeSDKError:
        raise
    except Exception as exc:  # the runtimes' own errors (protobuf, flatbuffer, ...)
        lines = str(exc).strip().splitlines()
        first = lines[0][:200] if lines else type(exc).__name__
        raise EdgeSDKError(f"{path}: the {backend} runtime cannot load it ({first})") from None


# flatbuffer file identifiers (bytes 4-8): pattern and how to say it
_FLATBUFFER_IDS = {
    "executorch": (re.compile(rb"ET\d\d"), "'ET' and two digits"),
    "tflite": (re.compile(rb"TFL3"), "'TFL3'"),
}
_FORMAT_NAMES = {
    "executorch": "an ExecuTorch .pte",
    "tflite": "a LiteRT .tflite",
    "onnx": "an ONNX",
}


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
    if backend == "coreml":
        if not (path.is_dir() and (path / "Manifest.json").is_file()):
            raise EdgeSDKError(f"{path}: not an .mlpackage folder (no Manifest.json inside)")
        return
    if not path.is_file():
        raise EdgeSDKError(f"{path}: not a file")
    size = path.stat().st_size
    what = _FORMAT_NAMES[backend]
    if size < 16:
        raise EdgeSDKError(f"{path}: not {what} file ({size} bytes)")
    with path.open("rb") as f:
        head = f.read(40)
    if backend not in _FLATBUFFER_IDS:
        return  # ONNX is a protobuf without a magic number; its parser raises cleanly
    pattern, expected = _FLATBUFFER_IDS[backend]
    if not pattern.fullmatch(head[4:8]):
        raise EdgeSDKError(
            f"{path}: not {what} file (identifier {head[4:8]!r} at byte 4, expected {expected})"
        )
    root = int.from_bytes(head[:4], "little")
    if not 8 <= root < size:
        raise EdgeSDKError(
            f"{path}: corrupt (flatbuffer root offset {root} outside the file's {size} bytes)"
        )
    if backend == "executorch" and head[8:12] == b"eh00" and len(head) >= 32:
        needed = max(int.from_bytes(head[16:24], "little"), int.from_bytes(head[24:32], "little"))
        if needed > size:
            raise EdgeSDKError(
                f"{path}: truncated (its header says {needed} bytes or more, the file has {size})"
            )


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

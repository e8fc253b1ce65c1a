"""LiteRT (``.tflite``): the exporter (``litert_torch``) and the runner (``ai_edge_litert``'s
Interpreter, or ``tflite_runtime``'s when only that is installed).

The table entry is in ``edgesdk.targets``.

Example:
    >>> from edgesdk.targets import target
    >>> target("tflite").runner is LiteRTRunner
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.backends import NO_QUANT, Calibration, Quant, kept_note, scheme_name
from edgesdk.export.runners import Runner as BaseRunner
from edgesdk.export.runners import Shape, TensorIO
from edgesdk.targets import require

if TYPE_CHECKING:
    from edgesdk.models.signature import ExportSignature

NAME = "tflite"


def export(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = NO_QUANT
) -> str:
    """Convert ``sig`` with litert_torch and write the .tflite; int8 by the scheme's path
    (dynamic-range: ai_edge_quantizer on the fp32 file; static: PT2E)."""
    import litert_torch

    example = sig.example()
    name = scheme_name(NAME, sig, quant) if precision == "int8" else ""
    if name == "dynamic-range":
        from edgesdk.quantize import litert_dynamic

        if quant.keep_float:
            raise ValueError("the dynamic-range scheme cannot keep single layers fp32")
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = Path(tmp) / "model.tflite"
            litert_torch.convert(sig.module, example).export(str(fp32))
            litert_dynamic.quantize_dynamic_range(fp32, out)
        return f"{name}: {litert_dynamic.RECIPE}"
    if name == "static":
        from litert_torch.quantize.quant_config import QuantConfig

        from edgesdk.quantize import pt2e

        graph, quantizer = pt2e.quantize_pt2e(
            sig.module, example, calib, "litert", keep_float=quant.keep_float
        )
        edge = litert_torch.convert(
            graph, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)
        )
        recipe = f"{name}: {pt2e.RECIPE} (litert_torch PT2EQuantizer){kept_note(quant)}"
    else:
        edge = litert_torch.convert(sig.module, example)
        recipe = "fp32"
    edge.export(str(out))
    return recipe


class LiteRTRunner(BaseRunner):
    """The ``ai_edge_litert`` Interpreter (``tflite_runtime`` when only that is installed);
    int8 inputs or outputs, if a converter left any, are (de)quantized with their params.

    A call goes through the interpreter's signature runner, which resizes and re-allocates
    every input on every call; with fixed shapes that work is done once, and when the
    installed interpreter exposes the signature's tensor indices (ai-edge-litert 2.x) each
    call only sets the inputs, invokes and reads the outputs (about 29 us instead of 47 us a
    call for ego4o-student here; the outputs are copies either way)."""

    backend = NAME

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


Runner = LiteRTRunner

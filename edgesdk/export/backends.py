"""The backend table: one entry per backend (exporter, quantizer, runner, file suffix).

Adding a backend is one entry here and one runner in ``edgesdk.export.runners``. Exporters
take an ``ExportSignature``, a precision, the calibration calls (int8) and a path, write the
artifact there and return the quantization recipe.

    backend     artifact    precisions             int8 schemes                 runner
    executorch  .pte        fp32, int8             static, dynamic, dynamic-4w  executorch.runtime
    coreml      .mlpackage  fp16, fp32, int8, pal4 weights                      MLModel (macOS)
    tflite      .tflite     fp32, int8             static, dynamic-range        ai_edge_litert
    onnx        .onnx       fp32, int8             qdq, qoperator, dynamic,     onnxruntime
                                                   nncf, nncf-ac

The schemes are ``edgesdk.quantize.schemes``'s table. An int8 export names its scheme in
``Quant`` (the backend's chosen one when empty) and the
layers that stay fp32 (the accuracy fallback's, by torch weight name).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from edgesdk.export.runners import RUNNERS, Runner, coreml_can_predict, require
from edgesdk.models.signature import ExportSignature
from edgesdk.quantize import onnx_static, pt2e
from edgesdk.quantize.schemes import scheme as find_scheme

Calibration = Sequence[tuple[Tensor, ...]]


@dataclass(frozen=True)
class Quant:
    """How an int8 artifact is made: the scheme (empty: the backend's chosen one for the
    model), the layers kept fp32, and, for NNCF's accuracy control, the calibration windows
    it validates on (``edgesdk.quantize.nncf_onnx.Window``)."""

    scheme: str = ""
    keep_float: frozenset[str] = frozenset()
    validation: Sequence[Any] | None = field(default=None, compare=False)


# (signature, precision, calibration calls, out path[, Quant]) -> recipe; called with four
# arguments for the default scheme, so an exporter without schemes takes four.
Exporter = Callable[..., str]


@dataclass(frozen=True)
class Backend:
    name: str
    suffix: str
    precisions: tuple[str, ...]
    default_precision: str
    requires: tuple[str, ...]  # Python modules the exporter needs
    exporter: Exporter
    runner: type[Runner]
    runs_here: str = ""  # empty: runs on this machine; else why not

    def check_tools(self) -> None:
        for module in self.requires:
            require(module, f"the {self.name} exporter")


def _names(ts: Sequence[object]) -> list[str]:
    return [t.name for t in ts]  # type: ignore[attr-defined]


def _scheme(backend: str, sig: ExportSignature, quant: Quant) -> str:
    return find_scheme(backend, quant.scheme or None, sig.model.config.name).name


def _kept(quant: Quant) -> str:
    if not quant.keep_float:
        return ""
    return f"; kept fp32 (accuracy fallback): {', '.join(sorted(quant.keep_float))}"


def _torch_names(sig: ExportSignature) -> list[str]:
    return [n for n, _ in sig.module.named_parameters()]


# ----------------------------------------------------------------------------- ExecuTorch


def export_executorch(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = Quant()
) -> str:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = sig.example()
    module = sig.module
    recipe = "fp32, XNNPACK-delegated"
    if precision == "int8":
        name = _scheme("executorch", sig, quant)
        dynamic = name != "static"
        bits = 4 if name == "dynamic-4w" else 8
        module, _ = pt2e.quantize_pt2e(
            sig.module, example, calib, "xnnpack", dynamic, quant.keep_float, bits
        )
        base = pt2e.RECIPE if name == "static" else pt2e.DYNAMIC_RECIPE
        if bits == 4:
            base += "; weights 4-bit per-channel symmetric ([-8, 7])"
        recipe = f"{name}: {base} (XNNPACKQuantizer), XNNPACK-delegated{_kept(quant)}"
    program = torch.export.export(module, example)
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    out.write_bytes(lowered.to_executorch().buffer)
    return recipe


# ----------------------------------------------------------------------------- Core ML


def export_coreml(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = Quant()
) -> str:
    import coremltools as ct
    import coremltools.optimize.coreml as cto

    example = sig.example()
    inputs = [
        ct.TensorType(name=t.name, shape=x.shape, dtype=np.float32)
        for t, x in zip(sig.inputs, example, strict=True)
    ]
    outputs = [ct.TensorType(name=t.name, dtype=np.float32) for t in sig.outputs]
    compute = ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16
    kwargs = {
        "inputs": inputs,
        "outputs": outputs,
        "compute_precision": compute,
        "minimum_deployment_target": ct.target.iOS17,
        "convert_to": "mlprogram",
    }
    with torch.no_grad():
        try:  # torch.export first (transformers convert only this way) ...
            source: object = torch.export.export(sig.module, example).run_decompositions({})
            model = ct.convert(source, **kwargs)
        except Exception:  # ... TorchScript tracing second (recurrent layers, seen in 9.0)
            source = torch.jit.trace(sig.module, example, check_trace=False)
            model = ct.convert(source, **kwargs)
    recipe = f"{'fp32' if precision == 'fp32' else 'fp16'} compute, fp32 I/O, iOS17 mlprogram"
    if precision == "int8":
        cfg = cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel"
        )
        model = cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=cfg))
        recipe += "; weights int8 per-channel symmetric (coremltools.optimize linear_quantize)"
    elif precision == "pal4":
        cfg_p = cto.OpPalettizerConfig(mode="kmeans", nbits=4, granularity="per_tensor")
        model = cto.palettize_weights(model, cto.OptimizationConfig(global_config=cfg_p))
        recipe += "; weights 4-bit k-means palettized (coremltools.optimize palettize)"
    model.save(str(out))
    return recipe


# ----------------------------------------------------------------------------- LiteRT


def export_tflite(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = Quant()
) -> str:
    import litert_torch

    example = sig.example()
    name = _scheme("tflite", sig, quant) if precision == "int8" else ""
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

        graph, quantizer = pt2e.quantize_pt2e(
            sig.module, example, calib, "litert", keep_float=quant.keep_float
        )
        edge = litert_torch.convert(
            graph, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)
        )
        recipe = f"{name}: {pt2e.RECIPE} (litert_torch PT2EQuantizer){_kept(quant)}"
    else:
        edge = litert_torch.convert(sig.module, example)
        recipe = "fp32"
    edge.export(str(out))
    return recipe


# ----------------------------------------------------------------------------- ONNX


def export_onnx(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = Quant()
) -> str:
    example = sig.example()
    names_in, names_out = _names(sig.inputs), _names(sig.outputs)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        with torch.no_grad():
            program = torch.onnx.export(
                sig.module,
                example,
                input_names=names_in,
                output_names=names_out,
                dynamo=True,
                verbose=False,
            )
        if program is None:
            raise RuntimeError("torch.onnx.export returned no program")
        program.save(str(fp32))
        if precision == "int8":
            return _quantize_onnx(sig, fp32, out, calib, quant)
        shutil.copyfile(fp32, out)
    return "fp32 (torch.onnx.export, dynamo)"


def _quantize_onnx(
    sig: ExportSignature, fp32: Path, out: Path, calib: Calibration, quant: Quant
) -> str:
    names_in = _names(sig.inputs)
    name = _scheme("onnx", sig, quant)
    arrays = [[x.numpy() for x in call] for call in calib]
    torch_names = _torch_names(sig)
    if name in ("qdq", "qoperator"):
        onnx_static.quantize_onnx(fp32, out, names_in, arrays, name, quant.keep_float, torch_names)
        recipe = onnx_static.RECIPE if name == "qdq" else onnx_static.QOPERATOR_RECIPE
    elif name == "dynamic":
        from edgesdk.quantize import onnx_dynamic

        onnx_dynamic.quantize_onnx_dynamic(fp32, out, quant.keep_float, torch_names)
        recipe = onnx_dynamic.RECIPE
    else:
        from edgesdk.quantize import nncf_onnx

        validation = None
        if name == "nncf-ac":
            if not sig.streaming or not quant.validation:
                raise ValueError("nncf-ac needs a streaming model and calibration windows")
            validation = quant.validation
        outputs = _names(sig.outputs)
        stream = (outputs.index("pos_rel_m"), len(sig.state_pairs), len(outputs))
        nncf_onnx.quantize_nncf(
            fp32, out, names_in, arrays, validation, stream, quant.keep_float, torch_names
        )
        recipe = nncf_onnx.RECIPE if name == "nncf" else nncf_onnx.AC_RECIPE
    return f"{name}: {recipe}{_kept(quant)}"


BACKENDS: dict[str, Backend] = {
    "executorch": Backend(
        "executorch",
        ".pte",
        ("fp32", "int8"),
        "fp32",
        ("executorch",),
        export_executorch,
        RUNNERS["executorch"],
    ),
    "coreml": Backend(
        "coreml",
        ".mlpackage",
        ("fp16", "fp32", "int8", "pal4"),
        "fp16",
        ("coremltools",),
        export_coreml,
        RUNNERS["coreml"],
        runs_here="" if coreml_can_predict() else "Core ML prediction needs macOS",
    ),
    "tflite": Backend(
        "tflite",
        ".tflite",
        ("fp32", "int8"),
        "fp32",
        ("litert_torch",),
        export_tflite,
        RUNNERS["tflite"],
    ),
    "onnx": Backend(
        "onnx",
        ".onnx",
        ("fp32", "int8"),
        "fp32",
        ("onnxscript", "onnxruntime"),
        export_onnx,
        RUNNERS["onnx"],
    ),
}

"""The backend table: one entry per backend (exporter, quantizer, runner, file suffix).

Adding a backend is one entry here and one runner in ``edgesdk.export.runners``. Exporters
take an ``ExportSignature``, a precision, the calibration calls (int8) and a path, write the
artifact there and return the quantization recipe.

    backend     artifact    precisions             quantizer                  runner
    executorch  .pte        fp32, int8             PT2E XNNPACKQuantizer      executorch.runtime
    coreml      .mlpackage  fp16, fp32, int8, pal4 coremltools.optimize       MLModel (macOS)
    tflite      .tflite     fp32, int8             PT2E LiteRT quantizer      ai_edge_litert
    onnx        .onnx       fp32, int8             ONNX Runtime static QDQ    onnxruntime
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from edgesdk.export.runners import RUNNERS, Runner, coreml_can_predict, require
from edgesdk.models.signature import ExportSignature
from edgesdk.quantize import onnx_static, pt2e

Calibration = Sequence[tuple[Tensor, ...]]
Exporter = Callable[[ExportSignature, str, Calibration, Path], str]


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


# ----------------------------------------------------------------------------- ExecuTorch


def export_executorch(sig: ExportSignature, precision: str, calib: Calibration, out: Path) -> str:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = sig.example()
    module = sig.module
    recipe = "fp32, XNNPACK-delegated"
    if precision == "int8":
        module, _ = pt2e.quantize_pt2e(sig.module, example, calib, "xnnpack")
        recipe = pt2e.RECIPE + " (XNNPACKQuantizer), XNNPACK-delegated"
    program = torch.export.export(module, example)
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    out.write_bytes(lowered.to_executorch().buffer)
    return recipe


# ----------------------------------------------------------------------------- Core ML


def export_coreml(sig: ExportSignature, precision: str, calib: Calibration, out: Path) -> str:
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


def export_tflite(sig: ExportSignature, precision: str, calib: Calibration, out: Path) -> str:
    import litert_torch

    example = sig.example()
    if precision == "int8":
        from litert_torch.quantize.quant_config import QuantConfig

        graph, quantizer = pt2e.quantize_pt2e(sig.module, example, calib, "litert")
        edge = litert_torch.convert(
            graph, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)
        )
        recipe = pt2e.RECIPE + " (litert_torch PT2EQuantizer)"
    else:
        edge = litert_torch.convert(sig.module, example)
        recipe = "fp32"
    edge.export(str(out))
    return recipe


# ----------------------------------------------------------------------------- ONNX


def export_onnx(sig: ExportSignature, precision: str, calib: Calibration, out: Path) -> str:
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
            arrays = [[x.numpy() for x in call] for call in calib]
            onnx_static.quantize_onnx(fp32, out, names_in, arrays)
            return onnx_static.RECIPE
        shutil.copyfile(fp32, out)
    return "fp32 (torch.onnx.export, dynamo)"


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

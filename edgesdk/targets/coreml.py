"""Core ML (``.mlpackage`` folders, mlprogram for iOS 17): the exporter, the runner (macOS
only: coremltools cannot predict on Linux) and the spec check that ``edgesdk validate`` does
instead where it cannot predict.

The table entry is in ``edgesdk.targets`` (``predicts_on``: macOS).

Example:
    >>> from edgesdk.targets import target
    >>> target("coreml").runner is CoreMLRunner
    True
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.backends import NO_QUANT, Calibration, Quant
from edgesdk.export.runners import Runner as BaseRunner
from edgesdk.export.runners import Shape, TensorIO
from edgesdk.targets import require, target

if TYPE_CHECKING:
    from edgesdk.models.signature import ExportSignature

NAME = "coreml"


def export(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = NO_QUANT
) -> str:
    """Convert ``sig`` (fp16 or fp32 compute) and write the .mlpackage folder; int8 and pal4
    compress the weights only (no calibration data)."""
    import coremltools as ct
    import coremltools.optimize.coreml as cto
    import torch

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


class CoreMLRunner(BaseRunner):
    """Core ML prediction: macOS only (coremltools cannot run a model on Linux)."""

    backend = NAME

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        if not target(NAME).predicts_here():
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


def check_spec(artifact: Path, sig: ExportSignature) -> dict[str, Any]:
    """Names, shapes and dtypes of a converted Core ML model against the signature."""
    import coremltools as ct

    spec = ct.models.MLModel(str(artifact), skip_model_load=True).get_spec()
    fp32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    problems = []
    for kind, got, want in (
        ("input", spec.description.input, sig.inputs),
        ("output", spec.description.output, sig.outputs),
    ):
        if [g.name for g in got] != [w.name for w in want]:
            problems.append(f"{kind} names {[g.name for g in got]} != {[w.name for w in want]}")
            continue
        for g, w in zip(got, want, strict=True):
            arr = g.type.multiArrayType
            if kind == "input" and tuple(arr.shape) != tuple(w.shape):
                problems.append(f"{kind} {g.name} shape {tuple(arr.shape)} != {tuple(w.shape)}")
            if arr.dataType != fp32:
                problems.append(f"{kind} {g.name} dtype {arr.dataType} is not FLOAT32")
    return {"spec_version": spec.specificationVersion, "problems": problems}


Runner = CoreMLRunner

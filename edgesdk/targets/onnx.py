"""ONNX (``.onnx``): the exporter (``torch.onnx.export``, dynamo; int8 by onnxruntime's or
NNCF's quantizers) and the runner (onnxruntime, CPU).

The table entry is in ``edgesdk.targets``.

Example:
    >>> from edgesdk.targets import target
    >>> target("onnx").runner is OnnxRunner
    True
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesdk.export.backends import (
    NO_QUANT,
    Calibration,
    Quant,
    kept_note,
    scheme_name,
    tensor_names,
    torch_names,
)
from edgesdk.export.runners import Runner as BaseRunner
from edgesdk.export.runners import Shape, TensorIO
from edgesdk.targets import require

if TYPE_CHECKING:
    from edgesdk.models.signature import ExportSignature

NAME = "onnx"


def export(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = NO_QUANT
) -> str:
    """Export ``sig`` with ``torch.onnx.export`` (dynamo) and write the .onnx; int8 by the
    scheme's quantizer (``edgesdk.quantize``: onnx_static, onnx_dynamic, nncf_onnx)."""
    import torch

    example = sig.example()
    names_in, names_out = tensor_names(sig.inputs), tensor_names(sig.outputs)
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
    names_in = tensor_names(sig.inputs)
    name = scheme_name(NAME, sig, quant)
    arrays = [[x.numpy() for x in call] for call in calib]
    weight_names = torch_names(sig)
    if name in ("qdq", "qoperator"):
        from edgesdk.quantize import onnx_static

        onnx_static.quantize_onnx(fp32, out, names_in, arrays, name, quant.keep_float, weight_names)
        recipe = onnx_static.RECIPE if name == "qdq" else onnx_static.QOPERATOR_RECIPE
    elif name == "dynamic":
        from edgesdk.quantize import onnx_dynamic

        onnx_dynamic.quantize_onnx_dynamic(fp32, out, quant.keep_float, weight_names)
        recipe = onnx_dynamic.RECIPE
    else:
        from edgesdk.quantize import nncf_onnx

        validation = None
        if name == "nncf-ac":
            if not sig.streaming or not quant.validation:
                raise ValueError("nncf-ac needs a streaming model and calibration windows")
            validation = quant.validation
        outputs = tensor_names(sig.outputs)
        stream = (outputs.index("pos_rel_m"), len(sig.state_pairs), len(outputs))
        nncf_onnx.quantize_nncf(
            fp32, out, names_in, arrays, validation, stream, quant.keep_float, weight_names
        )
        recipe = nncf_onnx.RECIPE if name == "nncf" else nncf_onnx.AC_RECIPE
    return f"{name}: {recipe}{kept_note(quant)}"


class OnnxRunner(BaseRunner):
    backend = NAME

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


Runner = OnnxRunner

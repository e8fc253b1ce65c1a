"""What the exporters of the targets share (each target's exporter is in its own module,
``edgesdk.targets.<name>``; the table of targets is ``edgesdk.targets``).

An exporter takes an ``ExportSignature``, a precision, the calibration calls (the precisions
its target's table entry marks calibrated) and a path, writes the artifact there and returns
the quantization recipe; an int8 export names its scheme in ``Quant`` (the backend's chosen
one when empty) and the layers that stay fp32 (the accuracy fallback's, by torch weight name).

    backend     artifact    precisions             int8 schemes                 runner
    executorch  .pte        fp32, int8             static, dynamic, dynamic-4w  executorch.runtime
    coreml      .mlpackage  fp16, fp32, int8, pal4 weights                      MLModel (macOS)
    tflite      .tflite     fp32, int8             static, dynamic-range        ai_edge_litert
    onnx        .onnx       fp32, int8             qdq, qoperator, dynamic,     onnxruntime
                                                   nncf, nncf-ac

The schemes are ``edgesdk.quantize.schemes``'s table. Nothing here imports torch: the
targets' modules, which hold their runners too, import this on an edge board.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgesdk.quantize.schemes import scheme as find_scheme

if TYPE_CHECKING:
    from torch import Tensor

    from edgesdk.models.signature import ExportSignature

Calibration = Sequence[tuple["Tensor", ...]]


@dataclass(frozen=True)
class Quant:
    """How an int8 artifact is made: the scheme (empty: the backend's chosen one for the
    model), the layers kept fp32, and, for NNCF's accuracy control, the calibration windows
    it validates on (``edgesdk.quantize.nncf_onnx.Window``)."""

    scheme: str = ""
    keep_float: frozenset[str] = frozenset()
    validation: Sequence[Any] | None = field(default=None, compare=False)


NO_QUANT = Quant()  # the backend's chosen scheme, no layer kept fp32

# (signature, precision, calibration calls, out path[, Quant]) -> recipe; called with four
# arguments for the default scheme, so an exporter without schemes takes four.
Exporter = Callable[..., str]


def tensor_names(ts: Sequence[object]) -> list[str]:
    """The names of a signature's tensors, in call order."""
    return [t.name for t in ts]  # type: ignore[attr-defined]


def scheme_name(backend: str, sig: ExportSignature, quant: Quant) -> str:
    """The int8 scheme an export uses: ``quant``'s, else the backend's chosen one."""
    return find_scheme(backend, quant.scheme or None, sig.model.config.name).name


def kept_note(quant: Quant) -> str:
    """The recipe's note on the layers kept fp32 (empty: none)."""
    if not quant.keep_float:
        return ""
    return f"; kept fp32 (accuracy fallback): {', '.join(sorted(quant.keep_float))}"


def torch_names(sig: ExportSignature) -> list[str]:
    """The module's parameter names (how the fallback names the layers it keeps fp32)."""
    return [n for n, _ in sig.module.named_parameters()]

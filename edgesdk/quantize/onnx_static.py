"""ONNX Runtime static int8 quantization (QDQ or QOperator), calibrated on real calls.

QDQ (``qdq``, the first recipe): MatMul / Gemm nodes only (the linear layers and the recurrent
cells' matrix products), weights per-channel symmetric int8, input activations symmetric int8
observed with MinMax on the calibration calls, outputs fp32; the graph's inputs, outputs and
all other ops stay fp32 (the same split as ``edgesdk.quantize.pt2e``).

QOperator (``qoperator``): the layers only (MatMul with a weight; Gemm rewritten as MatMul +
Add first), each one QLinearMatMul with uint8 activations (ONNX Runtime's fast u8 x s8 path
on x86) and per-channel symmetric int8 weights, MinMax-calibrated.

``keep_float`` names layers (torch weights, see ``edgesdk.quantize.onnx_graph``) that stay
fp32: the accuracy fallback's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from edgesdk.quantize.onnx_graph import gemm_to_matmul, strip_metadata, weight_layers

RECIPE = (
    "ONNX Runtime static QDQ int8: MatMul/Gemm only (weights per-channel symmetric int8, "
    "input activations symmetric int8 MinMax-calibrated on the calibration calls, outputs "
    "fp32); other ops fp32"
)
QOPERATOR_RECIPE = (
    "ONNX Runtime static QOperator int8: QLinearMatMul on the layers (weights per-channel "
    "symmetric int8, activations uint8 MinMax-calibrated on the calibration calls); other ops "
    "fp32"
)


def _reader(names: Sequence[str], calibration: Sequence[Sequence[np.ndarray]]) -> object:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it: Iterator[dict[str, np.ndarray]] = iter(
                [dict(zip(names, call, strict=True)) for call in calibration]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    return Reader()


def quantize_onnx(
    src: Path,
    dst: Path,
    names: Sequence[str],
    calibration: Sequence[Sequence[np.ndarray]],
    fmt: str = "qdq",
    keep_float: frozenset[str] = frozenset(),
    torch_names: list[str] | None = None,
) -> None:
    """Write the static int8 version (``fmt``: ``qdq`` or ``qoperator``) of the fp32 model
    ``src`` to ``dst``, with the layers in ``keep_float`` left fp32."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("int8 needs calibration calls (none given)")
    if fmt not in ("qdq", "qoperator"):
        raise ValueError(f"unknown static ONNX format {fmt!r} (qdq or qoperator)")
    pre = dst.with_name(dst.name + ".pre.onnx")
    try:
        if fmt == "qdq":
            # Symbolic shape inference fails on the dynamo exporter's graphs; ONNX's is enough.
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            exclude = [n for n, layer in _layers(pre, torch_names).items() if layer in keep_float]
            quantize_static(
                str(pre),
                str(dst),
                _reader(names, calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                weight_type=QuantType.QInt8,
                activation_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                nodes_to_exclude=exclude or None,
                extra_options={
                    "ActivationSymmetric": True,
                    "WeightSymmetric": True,
                    "OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"],
                },
            )
            return
        model = gemm_to_matmul(onnx.shape_inference.infer_shapes(onnx.load(str(src))))
        layers = weight_layers(model, torch_names)
        onnx.save(strip_metadata(model), str(pre))
        quantize = [n for n, layer in layers.items() if layer not in keep_float]
        if not quantize:  # every layer kept fp32 (an empty list would mean "all" to ORT)
            onnx.save(model, str(dst))
            return
        quantize_static(
            str(pre),
            str(dst),
            _reader(names, calibration),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=quantize,
            extra_options={"WeightSymmetric": True},
        )
    finally:
        pre.unlink(missing_ok=True)


def _layers(path: Path, torch_names: list[str] | None) -> dict[str, str]:
    import onnx

    return weight_layers(onnx.load(str(path)), torch_names)

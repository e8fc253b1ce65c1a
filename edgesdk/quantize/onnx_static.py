"""ONNX Runtime static int8 quantization (QDQ), calibrated on real calls.

Recipe: MatMul / Gemm nodes only (the linear layers and the recurrent cells' matrix
products), weights per-channel symmetric int8, input activations symmetric int8 observed
with MinMax on the calibration calls, outputs fp32; the graph's inputs, outputs and all
other ops stay fp32 (the same split as ``edgesdk.quantize.pt2e``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

RECIPE = (
    "ONNX Runtime static QDQ int8: MatMul/Gemm only (weights per-channel symmetric int8, "
    "input activations symmetric int8 MinMax-calibrated on the calibration calls, outputs "
    "fp32); other ops fp32"
)


def quantize_onnx(
    src: Path, dst: Path, names: Sequence[str], calibration: Sequence[Sequence[np.ndarray]]
) -> None:
    """Write the int8 version of the fp32 model ``src`` to ``dst``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("int8 needs calibration calls (none given)")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it: Iterator[dict[str, np.ndarray]] = iter(
                [dict(zip(names, call, strict=True)) for call in calibration]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    pre = dst.with_name(dst.name + ".pre.onnx")
    try:
        # Symbolic shape inference fails on the dynamo exporter's graphs; ONNX's is enough.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
            extra_options={
                "ActivationSymmetric": True,
                "WeightSymmetric": True,
                "OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"],
            },
        )
    finally:
        pre.unlink(missing_ok=True)

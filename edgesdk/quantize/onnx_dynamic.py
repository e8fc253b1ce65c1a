"""ONNX Runtime dynamic int8 quantization: ONNX Runtime's own advice for recurrent and
transformer models (static for CNNs).

Recipe: every layer (MatMul with a weight; Gemm rewritten as MatMul + Add first, since the
dynamic quantizer takes MatMul only) becomes MatMulInteger with per-channel symmetric int8
weights, its input quantized per call (DynamicQuantizeLinear: uint8, the range of that
call); no calibration. The rotations and the yaw frame (matrix products of activations)
stay fp32, as do the layers in ``keep_float``.
"""

from __future__ import annotations

from pathlib import Path

from edgesdk.quantize.onnx_graph import gemm_to_matmul, strip_metadata, weight_layers

RECIPE = (
    "ONNX Runtime dynamic int8: MatMulInteger on the layers (weights per-channel symmetric "
    "int8, inputs quantized per call to uint8); other ops fp32; no calibration"
)


def quantize_onnx_dynamic(
    src: Path,
    dst: Path,
    keep_float: frozenset[str] = frozenset(),
    torch_names: list[str] | None = None,
) -> None:
    """Write the dynamic int8 version of the fp32 model ``src`` to ``dst``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = gemm_to_matmul(onnx.shape_inference.infer_shapes(onnx.load(str(src))))
    layers = weight_layers(model, torch_names)
    strip_metadata(model)
    quantize = [n for n, layer in layers.items() if layer not in keep_float]
    if not quantize:
        onnx.save(model, str(dst))  # every layer kept fp32 (the fallback's last step)
        return
    quantize_dynamic(
        model,
        str(dst),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=quantize,
    )

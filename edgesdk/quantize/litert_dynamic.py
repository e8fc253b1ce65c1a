"""LiteRT dynamic-range quantization of an fp32 .tflite (ai_edge_quantizer).

Recipe ``dynamic_wi8_afp32``: every op the quantizer supports (the fully connected layers)
gets per-channel int8 weights; activations stay fp32 in the file and the hybrid kernels
quantize them per call. No calibration. The graph's I/O stays fp32.
"""

from __future__ import annotations

from pathlib import Path

RECIPE = (
    "LiteRT dynamic range (ai_edge_quantizer dynamic_wi8_afp32): fully connected layers with "
    "per-channel int8 weights, activations quantized per call; I/O fp32; no calibration"
)


def quantize_dynamic_range(src: Path, dst: Path) -> None:
    """Write the dynamic-range version of the fp32 LiteRT model ``src`` to ``dst``."""
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(src), recipe.dynamic_wi8_afp32())
    q.quantize(enable_progress_bar=False, enable_progress_report=False).export_model(
        str(dst), overwrite=True
    )

"""The int8 schemes of each runtime, and the one an export uses when none is named.

A scheme is how a backend's int8 artifact is made: which quantizer, which ops, static
(calibrated) or dynamic activations, and whether it is meant to be faster than fp32
(``claims_speed``) or only smaller. ``edgesdk export --scheme``, ``export_model(scheme=...)``
and ``benchmarks/bench.py --schemes`` take one by name (the artifact is then
``MODEL-int8-SCHEME.ext``); without one, export uses the backend's chosen scheme (``chosen``),
picked per runtime from ``benchmarks/bench.py``'s scheme table: the fastest at p50 among
those within the 3 mm gate, measured on the GRU students in one run on this CPU.

Example:
    >>> chosen("onnx", "same-student")
    'dynamic'
    >>> sorted(SCHEMES["tflite"])
    ['dynamic-range', 'static']
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesdk.errors import EdgeSDKError


@dataclass(frozen=True)
class Scheme:
    name: str
    backend: str
    recipe: str
    calibrated: bool  # needs calibration calls (static activation ranges)
    claims_speed: bool  # meant to be at least as fast as fp32 (else: size only)
    weight_bits: int = 8
    keeps_layers_float: bool = True  # can leave single layers fp32 (the accuracy fallback)


def _table(*schemes: Scheme) -> dict[str, Scheme]:
    return {s.name: s for s in schemes}


SCHEMES: dict[str, dict[str, Scheme]] = {
    "onnx": _table(
        Scheme(
            "qdq",
            "onnx",
            "ONNX Runtime static QDQ int8: MatMul/Gemm (weights per-channel symmetric int8, "
            "input activations symmetric int8 MinMax-calibrated, outputs fp32)",
            calibrated=True,
            claims_speed=False,
        ),
        Scheme(
            "qoperator",
            "onnx",
            "ONNX Runtime static QOperator int8: QLinearMatMul on the layers (weights "
            "per-channel symmetric int8, activations uint8 MinMax-calibrated)",
            calibrated=True,
            claims_speed=True,
        ),
        Scheme(
            "dynamic",
            "onnx",
            "ONNX Runtime dynamic int8: MatMulInteger on the layers (weights per-channel "
            "symmetric int8, activations quantized per call)",
            calibrated=False,
            claims_speed=True,
        ),
        Scheme(
            "nncf",
            "onnx",
            "NNCF post-training quantization (nncf.quantize, MatMul/Gemm layers, "
            "calibrated on the calibration calls)",
            calibrated=True,
            claims_speed=True,
        ),
        Scheme(
            "nncf-ac",
            "onnx",
            "NNCF accuracy-controlled quantization (nncf.quantize_with_accuracy_control, "
            "MPJPE on the calibration windows, max drop 3 mm)",
            calibrated=True,
            claims_speed=True,
        ),
    ),
    "executorch": _table(
        Scheme(
            "static",
            "executorch",
            "PT2E static int8 (XNNPACKQuantizer): linear layers except the output layer",
            calibrated=True,
            claims_speed=True,
        ),
        Scheme(
            "dynamic",
            "executorch",
            "PT2E dynamic int8 (XNNPACKQuantizer, is_dynamic): weights per-channel int8, "
            "activations quantized per call; linear layers except the output layer",
            calibrated=False,
            claims_speed=True,
        ),
        Scheme(
            "dynamic-4w",
            "executorch",
            "PT2E dynamic int8 activations with 4-bit weights (XNNPACKQuantizer, weights "
            "per-channel symmetric in [-8, 7], packed two a byte by XNNPACK); linear layers "
            "except the output layer",
            calibrated=False,
            claims_speed=False,
            weight_bits=4,
        ),
    ),
    "tflite": _table(
        Scheme(
            "static",
            "tflite",
            "PT2E static int8 (litert_torch PT2EQuantizer): linear layers except the output layer",
            calibrated=True,
            claims_speed=True,
        ),
        Scheme(
            "dynamic-range",
            "tflite",
            "LiteRT dynamic range (ai_edge_quantizer dynamic_wi8_afp32): weights per-channel "
            "int8, activations quantized per call by the hybrid kernels",
            calibrated=False,
            claims_speed=True,
            keeps_layers_float=False,
        ),
    ),
    "coreml": _table(
        Scheme(
            "weights",
            "coreml",
            "coremltools.optimize linear_quantize: weights int8 per-channel symmetric",
            calibrated=False,
            claims_speed=False,
            keeps_layers_float=False,
        ),
    ),
}

# The chosen scheme per backend (measured: see the module docstring) and per student where
# one differs from its backend's.
CHOSEN: dict[str, str] = {
    "onnx": "dynamic",
    "executorch": "dynamic",
    "tflite": "dynamic-range",
    "coreml": "weights",
}
CHOSEN_FOR: dict[tuple[str, str], str] = {}


def chosen(backend: str, model: str = "") -> str:
    """The int8 scheme ``backend`` uses for ``model`` when none is named."""
    return CHOSEN_FOR.get((model, backend), CHOSEN[backend])


def scheme(backend: str, name: str | None, model: str = "") -> Scheme:
    """The scheme ``name`` of ``backend`` (its chosen one for ``model`` when None).

    Raises:
        EdgeSDKError: a name the backend does not have, as one line.
    """
    table = SCHEMES.get(backend, {})
    name = name or chosen(backend, model)
    if name not in table:
        raise EdgeSDKError(
            f"--scheme {name!r}: the {backend} backend's int8 schemes are "
            f"{', '.join(table) or 'none'}"
        )
    return table[name]

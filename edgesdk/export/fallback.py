"""Accuracy-aware fallback: an int8 artifact that misses the gate is exported again with its
most sensitive layers kept in float, one more layer each time, until it passes.

The order comes from ``edgesdk.quantize.sensitivity`` (each layer quantized alone, on the
calibration calls); each try is a real export validated in its runtime on the held-out
windows, the gate the manifest records. The first try keeps every layer float: when even
that misses the gate, the error is not the quantized layers' (a head2body-student's fp32
ExecuTorch artifact missed it too) and the fallback stops there instead of re-exporting
once per layer. The manifest's ``quantization.float_layers`` lists
the layers that stayed float with the reason, and ``quantization.fallback`` every try.

Example:
    >>> tries = iter([{"passed": True, "mpjpe_delta_mm": 0.0},  # every layer float
    ...               {"passed": False, "mpjpe_delta_mm": 4.0},
    ...               {"passed": True, "mpjpe_delta_mm": 1.0}])
    >>> r = fall_back([("head.weight", 2.5), ("gru.weight_hh_l0", 0.4)],
    ...               lambda keep: next(tries), gate_mm=3.0)
    >>> r.passed, [f["layer"] for f in r.float_layers], len(r.tries)
    (True, ['head.weight', 'gru.weight_hh_l0'], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# A try: the layers kept fp32 -> the validation report (``passed``, ``mpjpe_delta_mm``).
Attempt = Callable[[frozenset[str]], dict[str, Any]]


@dataclass
class Fallback:
    passed: bool
    float_layers: list[dict[str, Any]] = field(default_factory=list)
    tries: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    all_float: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_manifest(self, gate_mm: float) -> dict[str, Any]:
        out = {
            "gate_mm": gate_mm,
            "passed": self.passed,
            "order": "layers by their harm alone in int8 (pose error on the calibration "
            "calls), most harmful first; each try re-exported and validated",
            "all_float_try": self.all_float,
            "tries": self.tries,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def _mm(delta: float | None) -> str:
    return "not measured" if delta is None else f"{delta:+.2f} mm"


def fall_back(
    ranking: Sequence[tuple[str, float]],
    attempt: Attempt,
    gate_mm: float,
    first_delta_mm: float | None = None,
    max_float: int | None = None,
) -> Fallback:
    """Keep the first 1, 2, ... layers of ``ranking`` fp32 (``attempt(keep)`` exports and
    validates) until a try passes or ``max_float`` layers (all by default) are float;
    ``first_delta_mm``: the MPJPE delta of the export without fallback. Tried first: every
    layer float; when that misses the gate too, the artifact is exported again as it was
    (nothing float) and the fallback says why it stopped."""
    limit = len(ranking) if max_float is None else min(max_float, len(ranking))
    every = attempt(frozenset(layer for layer, _ in ranking))
    all_float = {
        "float_layers": len(ranking),
        "mpjpe_delta_mm": every.get("mpjpe_delta_mm"),
        "passed": bool(every.get("passed")),
    }
    if not every.get("passed"):
        reason = (
            f"with every layer fp32 the artifact still misses the {gate_mm:g} mm gate "
            f"({_mm(every.get('mpjpe_delta_mm'))}): the error is not the quantized layers' "
            "(see this runtime's fp32 artifact); no layer kept float for it"
        )
        return Fallback(False, [], [], attempt(frozenset()), all_float, reason)
    tries: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    for k in range(1, limit + 1):
        keep = frozenset(layer for layer, _ in ranking[:k])
        report = attempt(keep)
        tries.append(
            {
                "float_layers": [layer for layer, _ in ranking[:k]],
                "mpjpe_delta_mm": report.get("mpjpe_delta_mm"),
                "passed": bool(report.get("passed")),
            }
        )
        if report.get("passed"):
            break
    k = len(tries)
    passed = bool(report.get("passed"))
    deltas = [first_delta_mm, *(t["mpjpe_delta_mm"] for t in tries)]
    floats = [
        {
            "layer": layer,
            "sensitivity_mm": round(harm, 4),
            "why": f"rank {i + 1} of {len(ranking)} by pose error alone in int8 "
            f"({harm:.3f} mm on the calibration calls); kept fp32 because the artifact "
            f"with {i} float layer(s) missed the {gate_mm:g} mm gate ({_mm(deltas[i])})",
        }
        for i, (layer, harm) in enumerate(ranking[:k])
    ]
    return Fallback(passed, floats, tries, report, all_float)

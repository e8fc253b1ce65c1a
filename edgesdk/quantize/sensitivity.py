"""How much each layer alone loses in int8: the order in which the accuracy fallback keeps
layers in float.

Each linear layer of the exported graph is quantized alone, in PyTorch (weights per-channel
symmetric int8, its input per-tensor symmetric int8 over the range the calibration calls
show), every other op fp32; its harm is the mean joint distance (mm) between that graph's
poses and the float graph's on the calibration calls. A backend-independent estimate: the
artifact itself decides (``edgesdk.export.fallback`` re-exports and validates).
Layers are named by their weight (``edgesdk.quantize.pt2e.layer_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from edgesdk.models.signature import ExportSignature
from edgesdk.quantize.pt2e import layer_of

_LINEAR = torch.ops.aten.linear.default


def _fake_quant(x: Tensor, scale: Tensor) -> Tensor:
    scale = scale.clamp_min(1e-12)
    return torch.clamp(torch.round(x / scale), -127, 127) * scale


def _quantized_linear(amax: float) -> Callable[..., Tensor]:
    def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        xq = _fake_quant(x, torch.tensor(amax / 127.0))
        w_scale = w.detach().abs().amax(dim=1, keepdim=True) / 127.0
        return torch.nn.functional.linear(xq, _fake_quant(w, w_scale), b)

    return linear


def layer_sensitivity(
    sig: ExportSignature, calibration: Sequence[tuple[Tensor, ...]]
) -> list[tuple[str, float]]:
    """``[(layer, pose error mm)]`` most harmful first, over the calibration calls."""
    graph: Any = torch.export.export(sig.module, sig.example()).module()
    nodes = [n for n in graph.graph.nodes if n.target == _LINEAR]
    pose = [t.name for t in sig.outputs].index("pos_rel_m")
    amax: dict[str, float] = {n.name: 0.0 for n in nodes}

    def recorder(name: str) -> Callable[..., Tensor]:
        def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
            amax[name] = max(amax[name], float(x.detach().abs().max()))
            return torch.nn.functional.linear(x, w, b)

        return linear

    def run() -> list[Tensor]:
        graph.recompile()
        with torch.no_grad():
            return [graph(*args)[pose].reshape(-1, 22, 3) for args in calibration]

    for n in nodes:
        n.target = recorder(n.name)
    ref = run()
    out: dict[str, float] = {}
    for n in nodes:
        n.target = _LINEAR
    for n in nodes:
        n.target = _quantized_linear(amax[n.name])
        got = run()
        n.target = _LINEAR
        err = [torch.linalg.norm(g - r, dim=-1).mean() for g, r in zip(got, ref, strict=True)]
        layer = layer_of(n)
        out[layer] = max(out.get(layer, 0.0), 1000.0 * float(torch.stack(err).mean()))
    return sorted(out.items(), key=lambda kv: -kv[1])

"""PT2E post-training int8 quantization of an exported graph, calibrated on real calls.

Recipe (the same for ExecuTorch's XNNPACKQuantizer and LiteRT's PT2EQuantizer): every linear
layer, the recurrent cells' included, gets int8 weights (per-output-channel symmetric) and
int8 activations at its input and output (per-tensor, observed on the calibration calls),
except the output layers (the pose's, and an activity head's); everything else (the yaw
frame, rotations, normalization, the state update's gates) stays fp32. The graph's inputs
and outputs stay fp32, so a device app feeds floats either way.
Measured on same-student (12 held-out windows, fake-quant in PyTorch): with the output
layer in int8 too, +4.3 mm MPJPE (its one per-tensor scale spans 6D, metres and contact
logits); without it, +0.07 mm. (fp32 outputs on every layer, +0.02 mm, do not lower to
XNNPACK: its static int8 linear emits int8.) Every op quantized gave the yaw state an int8 range of
[0, 1], clipping negative cos/sin: geometry stays in float.

Example:
    >>> import torch
    >>> m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> calib = [(torch.randn(1, 4),) for _ in range(8)]
    >>> q, _ = quantize_pt2e(m, calib[0], calib, "xnnpack")
    >>> bool((q(*calib[0]) - m(*calib[0])).abs().max() < 0.1)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

RECIPE = (
    "PT2E static int8: linear layers (weights per-channel symmetric int8, activations "
    "per-tensor int8 observed on the calibration calls) except the output layer, which stays "
    "fp32 like every other op and the I/O"
)
DYNAMIC_RECIPE = (
    "PT2E dynamic int8: linear layers (weights per-channel symmetric int8, activations "
    "quantized per call) except the output layer, which stays fp32 like every other op and "
    "the I/O"
)
_LINEAR = (torch.ops.aten.linear.default, torch.ops.aten.addmm.default)


def layer_of(node: torch.fx.Node) -> str:
    """The layer a linear node computes, named by its weight (``student.head.2.weight``);
    the node's own name when the weight is not a module attribute."""
    weight = node.args[1] if node.target == torch.ops.aten.linear.default else node.args[2]
    if isinstance(weight, torch.fx.Node) and weight.op == "get_attr":
        return str(weight.target)
    return node.name


def layer_nodes(graph: torch.fx.GraphModule, layers: frozenset[str]) -> list[str]:
    """Names of the linear nodes of ``graph`` computing one of ``layers``."""
    return [n.name for n in graph.graph.nodes if n.target in _LINEAR and layer_of(n) in layers]


def output_layers(graph: torch.fx.GraphModule) -> list[str]:
    """Names of the linear nodes no other linear node reads from, directly or through other
    ops: the output projections (the pose's, and an activity head's beside it)."""
    linear = [n for n in graph.graph.nodes if n.target in _LINEAR]
    out = []
    for node in linear:
        seen, todo, terminal = set(), list(node.users), True
        while todo and terminal:
            user = todo.pop()
            if user in seen:
                continue
            seen.add(user)
            terminal = user.target not in _LINEAR
            todo.extend(user.users)
        if terminal:
            out.append(node.name)
    return out


def make_quantizer(
    kind: str, exclude: frozenset[str] = frozenset(), dynamic: bool = False, weight_bits: int = 8
) -> Any:
    """The PT2E quantizer of a backend, annotating linear layers only, except the nodes
    named in ``exclude``; ``dynamic``: activations quantized per call, ``weight_bits`` 4:
    weights in [-8, 7] (XNNPACK only, both)."""
    keep = lambda n: n.name not in exclude  # noqa: E731
    if kind == "xnnpack":
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        # By operator type, not a global config with a filter: XNNPACK's ``cat`` annotator
        # ignores the filter and quantized the state's concatenation (the yaw flag drifted).
        q = XNNPACKQuantizer()
        q.set_operator_type(
            torch.ops.aten.linear.default,
            get_symmetric_quantization_config(
                is_per_channel=True,
                is_dynamic=dynamic,
                weight_qmin=-127 if weight_bits == 8 else -8,
                weight_qmax=127 if weight_bits == 8 else 7,
            ),
        )
        q.set_filter_function(keep)
        return q
    if kind == "litert":
        if dynamic or weight_bits != 8:
            raise ValueError("dynamic or 4-bit PT2E: XNNPACK only (LiteRT: dynamic-range)")
        from litert_torch.quantize import pt2e_quantizer as lq

        class LinearOnly(lq.PT2EQuantizer):  # type: ignore[misc]
            STATIC_OPS = ["linear", "addmm"]  # noqa: RUF012 (the base class's table)

            def _annotate_all_static_patterns(
                self, model: Any, config: Any, filter_fn: Any = None
            ) -> Any:
                both = lambda n: keep(n) and (filter_fn is None or filter_fn(n))  # noqa: E731
                return super()._annotate_all_static_patterns(model, config, both)

        cfg = lq.get_symmetric_quantization_config(is_per_channel=True)
        return LinearOnly().set_global(cfg)
    raise ValueError(f"unknown PT2E quantizer {kind!r} (xnnpack or litert)")


def quantize_pt2e(
    module: nn.Module,
    example: tuple[Tensor, ...],
    calibration: Sequence[tuple[Tensor, ...]],
    kind: str,
    dynamic: bool = False,
    keep_float: frozenset[str] = frozenset(),
    weight_bits: int = 8,
) -> tuple[torch.fx.GraphModule, Any]:
    """``module`` exported, observed on every calibration call and converted to int8 ops
    (quantize / dequantize pairs around the linear layers); returns it and the quantizer.
    ``dynamic``: activation ranges per call (the calls only run the graph once);
    ``keep_float``: layers (by weight name, ``layer_of``) that stay fp32."""
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if not calibration and not dynamic:
        raise ValueError("int8 needs calibration calls (none given)")
    graph = torch.export.export(module, example).module()
    last = output_layers(graph)  # type: ignore[arg-type]
    kept = layer_nodes(graph, keep_float)  # type: ignore[arg-type]
    quantizer = make_quantizer(kind, frozenset(last + kept), dynamic, weight_bits)
    prepared = prepare_pt2e(graph, quantizer)  # type: ignore[arg-type]
    with torch.no_grad():
        for args in calibration or [example]:
            prepared(*args)
    # LiteRT's converter wants the quantize ops unfolded (it folds them itself).
    converted: torch.fx.GraphModule = convert_pt2e(prepared, fold_quantize=kind != "litert")
    # An exported graph reports training mode whatever the module's was (LiteRT then warns
    # "converted in training mode"): inference semantics for dropout / batch norm ops, and
    # the flag to match (``.eval()`` is refused on exported graphs).
    move_exported_model_to_eval(converted)
    converted.training = False
    return converted, quantizer

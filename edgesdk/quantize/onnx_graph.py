"""ONNX graph helpers for the quantizers: which MatMul / Gemm nodes are layers (a weight
initializer as their second input) and the layer (the torch weight's name) each one is,
and Gemm nodes rewritten as MatMul (+ Add) so that ONNX Runtime's dynamic quantizer, which
takes MatMul only, reaches every layer.

Layers are named by their torch weight, e.g. ``student.gru.weight_ih_l0`` or
``student.head.2.weight``: the one namespace the sensitivity ranking
(``edgesdk.quantize.sensitivity``), the PT2E quantizers and the ONNX ones share.

Example:
    >>> import onnx
    >>> from onnx import helper, numpy_helper, TensorProto
    >>> w = numpy_helper.from_array(np.ones((3, 2), np.float32), "fc.weight")
    >>> g = helper.make_graph(
    ...     [helper.make_node("Gemm", ["x", "fc.weight"], ["y"], name="node_linear", transB=1)],
    ...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
    >>> m = gemm_to_matmul(helper.make_model(g))
    >>> [(n.op_type, n.name) for n in m.graph.node], weight_layers(m)
    ([('MatMul', 'node_linear')], {'node_linear': 'fc.weight'})
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

# The dynamo exporter's record of the FX node an ONNX node came from; its second argument is
# the lifted weight (``%p_student_head_2_weight``).
_FX_WEIGHT = re.compile(r"args = \(%\w+, %p_(\w+?)[,)]")


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _normal(name: str) -> str:
    return name.replace(".", "_").removeprefix("p_")


def weight_layers(model: Any, torch_names: list[str] | None = None) -> dict[str, str]:
    """``{node name: layer}`` of every MatMul / Gemm whose second input is an initializer.

    The layer is the initializer's name when that is one of ``torch_names`` (the module's
    parameter names; any name when not given); otherwise (a weight the exporter transposed
    into ``val_N``) the weight named in the node's FX metadata, mapped back to
    ``torch_names``.
    """
    inits = {i.name for i in model.graph.initializer}
    known = set(torch_names or [])
    by_normal = {_normal(n): n for n in known}
    out: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            continue
        if node.input[1] not in inits:
            continue  # activation x activation (rotations, the yaw frame): not a layer
        layer = node.input[1].removesuffix("__t")
        if torch_names is not None and layer not in known:
            meta = {p.key: p.value for p in node.metadata_props}
            m = _FX_WEIGHT.search(meta.get("pkg.torch.onnx.fx_node", ""))
            if m:
                layer = by_normal.get(_normal(m.group(1)), m.group(1))
        out[node.name] = layer
    return out


def strip_metadata(model: Any) -> Any:
    """``model`` without the exporter's per-node metadata (FX node text, stack traces: about
    150 KB of a 500 KB int8 student), once the layers are known."""
    for node in model.graph.node:
        del node.metadata_props[:]
    return model


def gemm_to_matmul(model: Any) -> Any:
    """``model`` with every plain Gemm (alpha = beta = 1, A not transposed, constant B) as
    MatMul + Add (B transposed in the initializer when Gemm did); the MatMul keeps the
    Gemm's name and metadata, so exclusions by node name still apply."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        a = _attrs(node)
        plain = (
            node.op_type == "Gemm"
            and node.input[1] in inits
            and a.get("transA", 0) == 0
            and a.get("alpha", 1.0) == 1.0
            and a.get("beta", 1.0) == 1.0
        )
        if not plain:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        weight = node.input[1]
        if a.get("transB", 0):
            weight = f"{node.input[1]}__t"
            if weight not in inits:
                inits[weight] = numpy_helper.from_array(np.ascontiguousarray(w.T), weight)
                model.graph.initializer.append(inits[weight])
        bias = len(node.input) > 2 and node.input[2] != ""
        mm_out = f"{node.output[0]}__mm" if bias else node.output[0]
        mm = helper.make_node("MatMul", [node.input[0], weight], [mm_out], name=node.name)
        mm.metadata_props.extend(node.metadata_props)
        nodes.append(mm)
        if bias:
            nodes.append(
                helper.make_node(
                    "Add", [mm_out, node.input[2]], [node.output[0]], name=f"{node.name}__bias"
                )
            )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input} | {o.name for o in model.graph.output}
    unused = [i for i in model.graph.initializer if i.name not in used]
    for init in unused:  # the Gemm weights now stored transposed
        model.graph.initializer.remove(init)
    return model

"""NNCF post-training quantization of the ONNX path, plain and accuracy-controlled.

``nncf`` (``nncf.quantize``): NNCF's default ONNX recipe (symmetric int8 weights per channel
and activations per tensor, QDQ, fast bias correction) calibrated on the calibration calls,
on the layers only (MatMul / Gemm with a weight): every other op, the matrix products of
activations (rotations, the yaw frame) included, stays fp32 (ignored scope), as in every
other scheme.

``nncf-ac`` (``nncf.quantize_with_accuracy_control``): the same, then NNCF ranks the
quantized layers and reverts the worst to fp32 until the metric drops by at most
``MAX_DROP_MM``. The metric is MPJPE (root-aligned, mm, negated: NNCF wants higher is better)
of the artifact streaming through whole calibration windows (train split) with its own
state fed back, the way the export gate measures it on the test split.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.quantize.onnx_graph import strip_metadata, weight_layers

RECIPE = (
    "NNCF post-training quantization (nncf.quantize: int8 QDQ on the layers, weights "
    "per-channel, activations per-tensor, fast bias correction) calibrated on the calibration "
    "calls; every other op fp32"
)
AC_RECIPE = (
    "NNCF accuracy-controlled quantization (nncf.quantize_with_accuracy_control: the nncf "
    "recipe, then the most harmful layers reverted to fp32 until MPJPE on the calibration "
    "windows drops by at most 3 mm)"
)
MAX_DROP_MM = 3.0

# One validation item: the calls of one window (inputs in call order) and its ground-truth
# poses (frames x 22 x 3, root-relative).
Window = tuple[list[list[np.ndarray]], np.ndarray]


def _ignored(model: Any, keep_float: frozenset[str], torch_names: list[str] | None) -> Any:
    import nncf

    layers = weight_layers(model, torch_names)
    products = [
        n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and n.name not in layers
    ]
    kept = [n for n, layer in layers.items() if layer in keep_float]
    # Only the layers: NNCF's default also quantizes the inputs of Add / Mul / ... (the
    # geometry), which cost 12 mm on a dev ego4o-student.
    others = sorted({n.op_type for n in model.graph.node} - {"MatMul", "Gemm"})
    return nncf.IgnoredScope(names=products + kept, types=others, validate=False)


def stream_mpjpe_mm(
    session: Any, windows: Iterable[Window], pose_index: int, n_state: int, n_out: int
) -> float:
    """MPJPE (mm) of an ONNX Runtime session streamed through ``windows``, its own state fed
    back from call to call (the last ``n_state`` outputs are the next call's last inputs)."""
    names = [i.name for i in session.get_inputs()]
    err, frames = 0.0, 0
    for calls, gt in windows:
        state: list[np.ndarray] | None = None
        poses = []
        for feed in calls:
            feed = list(feed)
            if state is not None and n_state:
                feed[len(feed) - n_state :] = state
            out = session.run(None, dict(zip(names, feed, strict=True)))
            state = list(out[n_out - n_state :]) if n_state else None
            poses.append(np.asarray(out[pose_index]).reshape(-1, 22, 3))
        pred = np.concatenate(poses)[: len(gt)]
        err += float(np.linalg.norm(pred - gt[: len(pred)], axis=-1).mean(-1).sum())
        frames += len(pred)
    return 1000.0 * err / max(frames, 1)


def _session(model: Any) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def quantize_nncf(
    src: Path,
    dst: Path,
    names: Sequence[str],
    calibration: Sequence[Sequence[np.ndarray]],
    validation: Sequence[Window] | None = None,
    stream: tuple[int, int, int] = (0, 0, 0),
    keep_float: frozenset[str] = frozenset(),
    torch_names: list[str] | None = None,
) -> dict[str, Any]:
    """Write NNCF's int8 version of ``src`` to ``dst``: accuracy-controlled when
    ``validation`` windows are given (``stream``: pose output index, state count, output
    count). Returns what NNCF reported (MPJPE before / after on the validation windows)."""
    import nncf
    import onnx

    if not calibration:
        raise ValueError("int8 needs calibration calls (none given)")
    model = onnx.shape_inference.infer_shapes(onnx.load(str(src)))
    feeds = [dict(zip(names, call, strict=True)) for call in calibration]
    calib = nncf.Dataset(feeds)
    ignored = _ignored(model, keep_float, torch_names)
    strip_metadata(model)
    info: dict[str, Any] = {}
    if validation is None:
        q = nncf.quantize(model, calib, subset_size=len(feeds), ignored_scope=ignored)
    else:
        pose, n_state, n_out = stream

        def metric(m: Any, items: Iterable[Window]) -> float:
            mm = stream_mpjpe_mm(_session(m), items, pose, n_state, n_out)
            info.setdefault("mpjpe_mm", []).append(round(mm, 3))
            return -mm

        q = nncf.quantize_with_accuracy_control(
            model,
            calib,
            nncf.Dataset(list(validation)),
            metric,
            max_drop=MAX_DROP_MM,
            drop_type=nncf.DropType.ABSOLUTE,
            subset_size=len(feeds),
            ignored_scope=ignored,
        )
        info["validation_windows"] = len(validation)
    onnx.save(q, str(dst))
    return info

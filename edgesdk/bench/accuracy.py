"""Accuracy on held-out data per device combination: an artifact in its runtime, or eager.

The windows are those of ``edgesdk eval``: non-overlapping windows of the test split (files
training never saw), each evaluated once per device combination of the model
(``combinations_for``) with exactly those devices present in every frame. ``--windows N``
keeps N windows spread over the whole split (the same N for every combination). An artifact
is scored by ``edgesdk.export.validate.run_windows`` (streaming students called once per
frame, their own state fed back), which also scores eager PyTorch on the same calls; MPJPE is
root-aligned, in mm; the summary is the unweighted mean over combinations, as in ``eval``.
Inputs follow ``eval``'s realistic protocol (``PROTOCOL``): real devices through the runtime,
the SLAM head trajectory, no description text (a deployed model has none).

Example:
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> from edgesdk.models import create_model
    >>> from edgesdk.train.data import load_clips_cached
    >>> clips, _ = load_clips_cached(bundled_data_dir() / "cmu", limit=2, progress=False)
    >>> model = create_model("same-student", hidden=16, layers=1)
    >>> combos = combination_windows(model, clips, limit=1)
    >>> list(combos)[:2], len(combos["head"])
    (['head', 'head+left_wrist'], 1)
    >>> eager_accuracy(model, {"head": combos["head"]})["combinations"]
    1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from edgesdk.data.clip import Clip
from edgesdk.data.windows import WindowDataset
from edgesdk.export.validate import run_windows
from edgesdk.input_kinds import reads_text
from edgesdk.models.base import MotionModel, target_positions_rel
from edgesdk.models.signature import ExportSignature, emitted, signature_for
from edgesdk.quantize.calibration import eager_calls, model_inputs
from edgesdk.train.data import input_names, make_loader, window_config_for
from edgesdk.train.evaluate import REALISTIC, combinations_for, combo_name

Batches = dict[str, list[dict[str, Any]]]  # combination name -> windows (batch 1)
PROTOCOL = REALISTIC.to_json()


def combination_windows(
    model: MotionModel, clips: Sequence[Clip], limit: int | None = None, seed: int = 0
) -> Batches:
    """Held-out windows per device combination of ``model`` (``limit``: per combination)."""
    cfg = window_config_for(
        model, seed=seed, p_device_event=0.0, devices=REALISTIC.devices, head=REALISTIC.head
    )
    cfg = dataclasses.replace(cfg, stride=cfg.window)
    base = WindowDataset(list(clips), cfg, train=False)
    n = len(base) if limit is None else min(limit, len(base))
    picks = sorted({round(i * len(base) / n) for i in range(n)}) if n else []
    encoder = None
    if reads_text(input_names(model)):
        from edgesdk.models.text import default_text_encoder

        encoder = default_text_encoder()
    out: Batches = {}
    for combo in combinations_for(model):
        ds = base.with_config(dataclasses.replace(cfg, fixed_slots=combo))
        subset = torch.utils.data.Subset(ds, picks)
        loader = make_loader(subset, 1, False, text_encoder=encoder)  # type: ignore[arg-type]
        out[combo_name(combo)] = [_without_text(b) for b in loader]
    return out


def _without_text(batch: dict[str, Any]) -> dict[str, Any]:
    """The protocol's text, none: the description's embedding zeroed and marked absent."""
    for key in ("text_mask", "text_emb"):
        if key in batch:
            batch[key] = torch.zeros_like(batch[key])
    return batch


def _summary(per: dict[str, dict[str, Any]], windows: int) -> dict[str, Any]:
    names = list(per)
    mean: dict[str, float] = {
        k: float(np.mean([per[c][k] for c in names]))
        for k in ("mpjpe_mm", "mpjpe_eager_mm", "mpjpe_delta_mm")
        if names and k in per[names[0]]
    }
    out: dict[str, Any] = {
        "windows_per_combination": windows,
        "combinations": len(names),
        "frames": int(sum(per[c]["frames"] for c in names)),
        **mean,
    }
    if names and "mpjpe_delta_mm" in per[names[0]]:
        out["mpjpe_delta_worst_mm"] = float(max(per[c]["mpjpe_delta_mm"] for c in names))
    finite = all(math.isfinite(v) for v in mean.values())
    out["finite"] = bool(finite and all(per[c].get("finite", True) for c in names))
    out["per_combination"] = per
    return out


def artifact_accuracy(sig: ExportSignature, runner: Any, combos: Batches) -> dict[str, Any]:
    """MPJPE of an artifact (and of eager PyTorch on the same calls) per combination."""
    per: dict[str, dict[str, Any]] = {}
    for name, batches in combos.items():
        f = run_windows(sig, runner, batches)
        per[name] = {
            "mpjpe_mm": f["mpjpe_artifact_mm"],
            "mpjpe_eager_mm": f["mpjpe_eager_mm"],
            "mpjpe_delta_mm": f["mpjpe_delta_mm"],
            "frames": f["frames"],
            "finite": f["finite"],
        }
    return _summary(per, max((len(b) for b in combos.values()), default=0))


@torch.no_grad()
def eager_accuracy(model: MotionModel, combos: Batches) -> dict[str, Any]:
    """MPJPE of eager PyTorch (the export signature's module, on the CPU) per combination."""
    sig = signature_for(model)
    pos_i = [t.name for t in sig.outputs].index("pos_rel_m")
    per: dict[str, dict[str, Any]] = {}
    for name, batches in combos.items():
        err, frames = 0.0, 0
        for batch in batches:
            calls = eager_calls(sig, model_inputs(model, batch))
            pred = np.concatenate(
                [emitted(sig, ref[pos_i]).numpy().reshape(-1, 22, 3) for _, ref in calls]
            )
            gt = target_positions_rel(batch).numpy().reshape(-1, 22, 3)
            err += float(np.linalg.norm(pred - gt, axis=-1).mean(-1).sum())
            frames += len(gt)
        per[name] = {"mpjpe_mm": 1000.0 * err / max(frames, 1), "frames": frames}
    return _summary(per, max((len(b) for b in combos.values()), default=0))

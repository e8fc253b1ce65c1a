"""Evaluation of a checkpoint on held-out files, overall and per device combination.

Windows of the test split (files never seen in training) are cut without overlap; for each
combination of the model's slots (5 singles, 10 pairs, 10 triples for a 5-slot model) the same
windows are evaluated with exactly those devices present. MPJPE here is root-aligned (the
pelvis is subtracted from prediction and ground truth, world orientation kept), as in
TransPose / IMUPoser; PA-MPJPE adds Procrustes alignment; jitter is of the prediction.
``overall`` is the unweighted mean over combinations. A mean-pose baseline (the training
set's mean pose in the body's heading frame, turned to the ground-truth heading: an oracle
advantage) is scored on the same windows.

Example:
    $ edgesdk eval --model runs/ego4o --data ../shared/data/mocap --json
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.data.windows import WindowDataset, slot_subsets
from edgesdk.metrics import evaluate as pose_metrics
from edgesdk.models.base import MotionModel, target_positions_rel
from edgesdk.train import checkpoint
from edgesdk.train.data import (
    TrainData,
    input_names,
    load_train_data,
    make_loader,
    window_config_for,
)

MAIN_METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "mpjre_deg", "jitter_mps3")
_GLOBAL_ONLY = ("foot_skating_mm", "ground_penetration_mm", "root_aligned_mpjpe_mm", "num_frames")


def combinations_for(model: MotionModel) -> list[tuple[int, ...]]:
    """Slot index combinations a model is evaluated on (sizes 1-3 within its slots, each
    holding the slots it requires)."""
    allowed = sorted(SLOT_INDEX[s] for s in model.spec.slots)
    required = {SLOT_INDEX[s] for s in model.spec.required_slots}
    if len(allowed) <= 1:
        return [tuple(allowed)]
    combos = slot_subsets(1, min(3, len(allowed)))
    return [c for c in combos if required <= set(c) <= set(allowed)]


def combo_name(combo: tuple[int, ...]) -> str:
    return "+".join(SLOTS[i] for i in combo)


class MeanPose:
    """The training windows' mean pose in the heading frame, applied with the true heading."""

    def __init__(self, ds: WindowDataset, batch_size: int = 64) -> None:
        pos_sum = torch.zeros(22, 3)
        rot_sum = torch.zeros(22, 6)
        n = 0
        for batch in make_loader(ds, batch_size, shuffle=False):
            R = rot6d_to_matrix(batch["R_world_joint_6d"])
            H_T = heading_rotation(R[..., 0, :, :]).transpose(-1, -2)
            pos = (H_T[..., None, :, :] @ target_positions_rel(batch)[..., None])[..., 0]
            pos_sum += pos.flatten(0, 1).sum(0)
            rot_sum += matrix_to_6d(H_T[..., None, :, :] @ R).flatten(0, 1).sum(0)
            n += pos.shape[0] * pos.shape[1]
        self.pos_rel_m = pos_sum / max(n, 1)
        self.R_6d = rot_sum / max(n, 1)

    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        H = heading_rotation(rot6d_to_matrix(batch["R_world_joint_6d"][..., 0, :]))
        pos = (H[..., None, :, :] @ self.pos_rel_m[..., None])[..., 0]
        R = H[..., None, :, :] @ rot6d_to_matrix(self.R_6d)
        return {"pos_rel_m": pos, "R_world_joint_6d": matrix_to_6d(R)}


@torch.no_grad()
def score(
    predict: Any,
    ds: WindowDataset,
    batch_size: int,
    text_encoder: Any = None,
    drop_text: bool = False,
) -> dict[str, float]:
    """Metrics of ``predict(batch)`` over a dataset, frame-weighted."""
    totals: dict[str, float] = {}
    frames = 0
    for batch in make_loader(ds, batch_size, shuffle=False, text_encoder=text_encoder):
        if drop_text:
            batch["text_mask"] = torch.zeros_like(batch["text_mask"])
            if "text_emb" in batch:
                batch["text_emb"] = torch.zeros_like(batch["text_emb"])
        out = predict(batch)
        m = pose_metrics(
            out["pos_rel_m"],
            target_positions_rel(batch),
            rot6d_to_matrix(out["R_world_joint_6d"]),
            rot6d_to_matrix(batch["R_world_joint_6d"]),
            fps=ds.config.fps,
        )
        n = batch["pos_m"].shape[0] * batch["pos_m"].shape[1]
        # Positions are root-relative: floor contact and penetration have no meaning here.
        m = {k: v for k, v in m.items() if k not in _GLOBAL_ONLY and not k.startswith("gt_")}
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + float(v) * n
        frames += n
    return {k: v / frames for k, v in totals.items()} if frames else {}


def _mean(results: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(results.values())).keys() if results else []
    return {k: sum(r[k] for r in results.values()) / len(results) for k in keys}


def evaluate_checkpoint(
    ckpt_dir: Path | str,
    data_dir: Path | str,
    batch_size: int = 64,
    limit: int | None = None,
    progress: bool = True,
    data: TrainData | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """All figures of a checkpoint on the test split, as JSON-ready data (``overrides``: config
    fields changed for inference, see ``checkpoint.load``)."""
    model = checkpoint.load(ckpt_dir, **(overrides or {}))
    meta = checkpoint.read_meta(ckpt_dir)
    data = data or load_train_data(Path(data_dir), limit=limit, progress=progress)
    base_cfg = window_config_for(model, p_device_event=0.0)
    base_cfg = dataclasses.replace(base_cfg, stride=base_cfg.window)
    test_ds = WindowDataset(data.test, base_cfg, train=False)
    baseline = MeanPose(WindowDataset(data.train, base_cfg, train=False), batch_size)
    text_encoder = None
    uses_text = "text_emb" in input_names(model)
    if uses_text:
        from edgesdk.models.text import default_text_encoder

        text_encoder = default_text_encoder()

    per_combo: dict[str, dict[str, float]] = {}
    per_combo_no_text: dict[str, dict[str, float]] = {}
    per_combo_baseline: dict[str, dict[str, float]] = {}
    combos = combinations_for(model)
    for combo in tqdm(combos, desc="eval", disable=not progress, leave=False):
        ds = test_ds.with_config(dataclasses.replace(base_cfg, fixed_slots=combo))
        name = combo_name(combo)
        per_combo[name] = score(model.predict, ds, batch_size, text_encoder)
        if uses_text:
            per_combo_no_text[name] = score(model.predict, ds, batch_size, text_encoder, True)
        per_combo_baseline[name] = score(baseline.predict, ds, batch_size)

    result: dict[str, Any] = {
        "model": meta["model"],
        "checkpoint": str(ckpt_dir),
        "overrides": overrides or {},
        "data_fingerprint": data.fingerprint,
        "split": {
            "test_clips": len(data.test),
            "windows": len(test_ds),
            "frames": len(test_ds) * base_cfg.window,
        },
        "definitions": "mpjpe_mm root-aligned; pa_mpjpe_mm Procrustes-aligned; "
        "overall = mean over device combinations",
        "overall": _mean(per_combo),
        "per_combination": per_combo,
        "baseline_mean_pose": {
            "overall": _mean(per_combo_baseline),
            "per_combination": per_combo_baseline,
        },
    }
    if uses_text:
        result["without_text"] = {
            "overall": _mean(per_combo_no_text),
            "per_combination": per_combo_no_text,
        }
        with_text = result["overall"]["mpjpe_mm"]
        without = result["without_text"]["overall"]["mpjpe_mm"]
        result["text_effect_mpjpe_mm"] = with_text - without
    if not all(math.isfinite(v) for v in result["overall"].values()):
        result["warning"] = "non-finite metrics"
    return result

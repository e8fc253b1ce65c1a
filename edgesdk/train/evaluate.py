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

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.data.windows import WindowDataset, slot_subsets
from edgesdk.input_kinds import reads_text
from edgesdk.metrics import evaluate as pose_metrics
from edgesdk.metrics import mpjpe_mm
from edgesdk.models.base import MotionModel, target_positions_rel
from edgesdk.train import checkpoint
from edgesdk.train.data import (
    TrainData,
    input_names,
    load_train_data,
    make_loader,
    window_config_for,
)
from edgesdk.train.uncertainty import PerFile, paired_difference_ci95

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


TEXT_SOURCES = ("none", "label", "hint")


@torch.no_grad()
def score(
    predict: Any,
    ds: WindowDataset,
    batch_size: int,
    text_encoder: Any = None,
    drop_text: bool = False,
    per_file: dict[str, list[float]] | None = None,
    text_hint_error: float | None = None,
) -> dict[str, float]:
    """Metrics of ``predict(batch)`` over a dataset, frame-weighted. ``per_file``, when given,
    collects ``[sum of per-frame MPJPE (mm), frames]`` per source file. ``drop_text``: no
    description (a deployed model has none); ``text_hint_error``: an app-supplied activity
    hint that is another clip's description for that fraction of the windows (seeded)."""
    totals: dict[str, float] = {}
    frames = 0
    rng = np.random.default_rng(0)
    pool: list[str] = []
    for batch in make_loader(ds, batch_size, shuffle=False, text_encoder=text_encoder):
        if text_hint_error is not None and text_encoder is not None:
            texts = list(batch["text"])
            pool = pool or sorted({t for t in _all_texts(ds) if t})
            texts = [
                str(pool[rng.integers(len(pool))]) if pool and rng.random() < text_hint_error else t
                for t in texts
            ]
            batch["text_emb"] = text_encoder.encode(texts)
        if drop_text:
            batch["text_mask"] = torch.zeros_like(batch["text_mask"])
            if "text_emb" in batch:
                batch["text_emb"] = torch.zeros_like(batch["text_emb"])
        out = predict(batch)
        target = target_positions_rel(batch)
        m = pose_metrics(
            out["pos_rel_m"],
            target,
            rot6d_to_matrix(out["R_world_joint_6d"]),
            rot6d_to_matrix(batch["R_world_joint_6d"]),
            fps=ds.config.fps,
        )
        n = batch["pos_m"].shape[0] * batch["pos_m"].shape[1]
        if per_file is not None:
            per_frame = mpjpe_mm(out["pos_rel_m"].double(), target.double(), reduction="none")
            for clip, err in zip(batch["clip"], per_frame.sum(-1).tolist(), strict=True):
                entry = per_file.setdefault(clip, [0.0, 0.0])
                entry[0] += err
                entry[1] += per_frame.shape[-1]
        # Positions are root-relative: floor contact and penetration have no meaning here.
        m = {k: v for k, v in m.items() if k not in _GLOBAL_ONLY and not k.startswith("gt_")}
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + float(v) * n
        frames += n
    return {k: v / frames for k, v in totals.items()} if frames else {}


def _all_texts(ds: WindowDataset) -> list[str]:
    return [c.labels.text() for c in ds.clips]


def _mean(results: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(results.values())).keys() if results else []
    return {k: sum(r[k] for r in results.values()) / len(results) for k in keys}


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What a held-out figure is measured on: ``devices`` (``realistic``: real devices through
    the runtime, ``edgesdk.data.device_model``; ``clean``: ideal kinematics plus white noise),
    ``head`` (``slam`` or ``mocap``) and, for models that read text, ``text``: ``none`` (what a
    deployed system has), ``label`` (the held-out clip's true description: an upper bound, never
    a headline) or ``hint`` (an app-supplied activity hint wrong ``hint_error`` of the time)."""

    devices: str = "realistic"
    head: str = "slam"
    text: str = "none"
    hint_error: float = 0.2

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"devices": self.devices, "head": self.head, "text": self.text}
        if self.text == "hint":
            out["hint_error"] = self.hint_error
        return out


REALISTIC = Protocol()
CLEAN = Protocol(devices="clean", head="mocap")


def _run_protocol(
    model: MotionModel,
    test_ds: WindowDataset,
    base_cfg: Any,
    protocol: Protocol,
    batch_size: int,
    text_encoder: Any,
    combos: list[tuple[int, ...]],
    progress: bool,
    predict: Any = None,
) -> dict[str, Any]:
    """Every combination of one protocol: metrics, per-file sums and the 95 % interval."""
    cfg = dataclasses.replace(base_cfg, devices=protocol.devices, head=protocol.head)
    per_combo: dict[str, dict[str, float]] = {}
    sums: dict[str, dict[str, list[float]]] = {}
    for combo in tqdm(combos, desc=f"eval {protocol.devices}", disable=not progress, leave=False):
        ds = test_ds.with_config(dataclasses.replace(cfg, fixed_slots=combo))
        name = combo_name(combo)
        per_file: dict[str, list[float]] = {}
        per_combo[name] = score(
            predict or model.predict,
            ds,
            batch_size,
            text_encoder,
            drop_text=protocol.text == "none",
            per_file=per_file,
            text_hint_error=protocol.hint_error if protocol.text == "hint" else None,
        )
        sums[name] = per_file
    files = sorted(next(iter(sums.values()))) if sums else []
    table = PerFile(
        files,
        np.array([[sums[c][f][0] for c in per_combo] for f in files]),
        np.array([next(iter(sums.values()))[f][1] for f in files]),
    )
    lo, hi = table.ci95()
    return {
        "protocol": protocol.to_json(),
        "overall": _mean(per_combo),
        "ci95_mpjpe_mm": [round(lo, 2), round(hi, 2)],
        "per_combination": per_combo,
        "per_file": table.to_json(),
    }


def evaluate_predict(
    model: MotionModel,
    data: TrainData,
    predict: Any,
    protocol: Protocol = REALISTIC,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, Any]:
    """``evaluate_checkpoint``'s headline (every device combination of ``model`` under
    ``protocol``, per-file sums, 95 % interval) for any ``predict(batch)`` on the model's
    windows, e.g. a student streamed with its own description fed back as its text.

    Example:
        >>> evaluate_predict(model, data, model.predict)["overall"]["mpjpe_mm"]  # doctest: +SKIP
    """
    base_cfg = window_config_for(model, p_device_event=0.0)
    base_cfg = dataclasses.replace(base_cfg, stride=base_cfg.window)
    test_ds = WindowDataset(data.test, base_cfg, train=False)
    text_encoder = None
    if reads_text(input_names(model)):
        from edgesdk.models.text import default_text_encoder

        text_encoder = default_text_encoder()
    combos = combinations_for(model)
    return _run_protocol(
        model, test_ds, base_cfg, protocol, batch_size, text_encoder, combos, progress, predict
    )


def evaluate_checkpoint(
    ckpt_dir: Path | str,
    data_dir: Path | str,
    batch_size: int = 64,
    limit: int | None = None,
    progress: bool = True,
    data: TrainData | None = None,
    overrides: dict[str, Any] | None = None,
    protocol: Protocol = REALISTIC,
    clean: bool = True,
) -> dict[str, Any]:
    """All figures of a checkpoint on the test split, as JSON-ready data (``overrides``: config
    fields changed for inference, see ``checkpoint.load``). The headline is ``protocol``
    (default: realistic devices, SLAM head, no text); with ``clean`` the same windows under
    the clean protocol are scored too, with the cost of realism (a paired difference with its
    interval); a model that reads text is also scored with the true label (an upper bound)
    and with an activity hint that is wrong 20 % of the time."""
    model = checkpoint.load(ckpt_dir, **(overrides or {}))
    meta = checkpoint.read_meta(ckpt_dir)
    data = data or load_train_data(Path(data_dir), limit=limit, progress=progress)
    base_cfg = window_config_for(model, p_device_event=0.0)
    base_cfg = dataclasses.replace(base_cfg, stride=base_cfg.window)
    test_ds = WindowDataset(data.test, base_cfg, train=False)
    mean_cfg = dataclasses.replace(base_cfg, devices=protocol.devices, head=protocol.head)
    baseline = MeanPose(WindowDataset(data.train, mean_cfg, train=False), batch_size)
    text_encoder = None
    uses_text = reads_text(input_names(model))
    if uses_text:
        from edgesdk.models.text import default_text_encoder

        text_encoder = default_text_encoder()
    combos = combinations_for(model)
    run = dataclasses.replace(protocol, text=protocol.text if uses_text else "none")
    main = _run_protocol(model, test_ds, base_cfg, run, batch_size, text_encoder, combos, progress)
    mean_pose = _run_protocol(
        model, test_ds, base_cfg, run, batch_size, None, combos, progress, baseline.predict
    )
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
        "overall = mean over device combinations; ci95_mpjpe_mm: 95 % bootstrap interval "
        "over held-out files (edgesdk.train.uncertainty)",
        **main,
        "baseline_mean_pose": {
            k: mean_pose[k] for k in ("overall", "ci95_mpjpe_mm", "per_combination", "per_file")
        },
    }
    main_table = PerFile.from_json(main["per_file"])
    if clean:
        clean_run = dataclasses.replace(CLEAN, text=run.text)
        other = _run_protocol(
            model, test_ds, base_cfg, clean_run, batch_size, text_encoder, combos, progress
        )
        result["clean"] = other
        result["realism_cost_mpjpe_mm"] = paired_difference_ci95(
            main_table, PerFile.from_json(other["per_file"])
        )
    if uses_text:
        for key, variant in (
            ("text_oracle_label", dataclasses.replace(run, text="label")),
            ("text_hint", dataclasses.replace(run, text="hint")),
        ):
            other = _run_protocol(
                model, test_ds, base_cfg, variant, batch_size, text_encoder, combos, progress
            )
            other["effect_vs_no_text_mpjpe_mm"] = paired_difference_ci95(
                PerFile.from_json(other["per_file"]), main_table
            )
            result[key] = other
        result["text_oracle_label"]["note"] = (
            "reads the held-out clip's true description: an upper bound no deployed system has"
        )
    if not all(math.isfinite(v) for v in result["overall"].values()):
        result["warning"] = "non-finite metrics"
    return result

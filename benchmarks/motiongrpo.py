"""MotionGRPO before and after GRPO post-training, intra-group diversity, and inference cost.

Trains ``motiongrpo-small``'s diffusion pre-training, copies the checkpoint, continues it with
the ``grpo`` stage, and scores both on the held-out files (head device worn, windows without
overlap): root-aligned MPJPE, PA-MPJPE, jitter, and on absolute positions (the head's world
position plus the predicted joints relative to the head) foot skating and ground penetration.
Diversity is the mean pairwise MPJPE of G SDE samples sharing their initial noise, with and
without the Perlin perturbation of the head translation (the seed's Table 3). Cost: FLOPs and
CPU ms of deterministic inference per 1 s of motion and the number of diffusion steps, beside
the seed's 1.15 s and 0.65 GB of VRAM. Windows follow the realistic protocol (the SLAM head
trajectory with drift and mount error; the head IMU of real glasses). Everything is merged into
``benchmarks/results/teachers.json`` under ``motiongrpo_post_training``.

    python benchmarks/motiongrpo.py --data ../shared/data/mocap --out runs/teachers

The after-GRPO checkpoint is ``OUT/motiongrpo-small``, so ``benchmarks/teachers.py --reuse``
evaluates it beside the other teachers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from edgesdk.bench.cost import model_cost
from edgesdk.body.rotations import rot6d_to_matrix
from edgesdk.data.windows import WindowDataset
from edgesdk.io import write_json_atomic
from edgesdk.metrics import evaluate as pose_metrics
from edgesdk.models import create_model
from edgesdk.models.base import target_positions_rel
from edgesdk.models.motiongrpo import MotionGRPO
from edgesdk.models.motiongrpo_grpo import group_diversity_mm
from edgesdk.train import checkpoint
from edgesdk.train.data import TrainData, load_train_data, make_loader, window_config_for
from edgesdk.train.evaluate import REALISTIC
from edgesdk.train.results import data_block
from edgesdk.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results" / "teachers.json"
HEAD_JOINT = 15
SEED_PAPER = {"s_per_1s": 1.15, "vram_gb": 0.65, "note": "MotionGRPO paper, GPU inference"}
KEYS = (
    "mpjpe_mm",
    "pa_mpjpe_mm",
    "jitter_mps3",
    "foot_skating_mm",
    "ground_penetration_mm",
    "gt_foot_skating_mm",
    "gt_ground_penetration_mm",
)


def _test_windows(model: MotionGRPO, data: TrainData) -> WindowDataset:
    cfg = window_config_for(
        model, p_device_event=0.0, devices=REALISTIC.devices, head=REALISTIC.head
    )
    cfg = dataclasses.replace(cfg, stride=cfg.window, fixed_slots=(0,))
    return WindowDataset(data.test, cfg, train=False)


@torch.no_grad()
def score(model: MotionGRPO, ds: WindowDataset, batch_size: int = 64) -> dict[str, float]:
    """Frame-weighted metrics: root-aligned for MPJPE / PA / jitter, absolute for the floor."""
    totals: dict[str, float] = {}
    frames = 0
    for batch in make_loader(ds, batch_size, shuffle=False):
        out = model.predict(batch)
        pred_rel, gt_rel = out["pos_rel_m"], target_positions_rel(batch)
        rel = pose_metrics(
            pred_rel,
            gt_rel,
            rot6d_to_matrix(out["R_world_joint_6d"]),
            rot6d_to_matrix(batch["R_world_joint_6d"]),
            fps=ds.config.fps,
        )
        head_pos = batch["head"][..., None, :3]
        pred_abs = head_pos + pred_rel - pred_rel[..., HEAD_JOINT : HEAD_JOINT + 1, :]
        absolute = pose_metrics(pred_abs, batch["pos_m"], fps=ds.config.fps)
        m = {k: rel[k] for k in ("mpjpe_mm", "pa_mpjpe_mm", "jitter_mps3")}
        m.update({k: absolute[k] for k in KEYS[3:]})
        n = pred_rel.shape[0] * pred_rel.shape[1]
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + float(v) * n
        frames += n
    return {k: round(v / frames, 3) for k, v in totals.items()}


@torch.no_grad()
def diversity(model: MotionGRPO, ds: WindowDataset, windows: int, seeds: int) -> dict[str, Any]:
    heads = torch.stack([ds[i]["head"] for i in range(min(windows, len(ds)))])  # type: ignore[misc]
    out: dict[str, Any] = {"windows": heads.shape[0], "group_size": model.config.group_size}
    for label, perlin in (("with_perlin_mm", True), ("without_perlin_mm", False)):
        values = [
            group_diversity_mm(model, heads, perlin, generator=torch.Generator().manual_seed(s))
            for s in range(seeds)
        ]
        out[label] = round(sum(values) / len(values), 2)
    out["seeds"] = seeds
    return out


def _cost(name: str) -> dict[str, Any]:
    model = create_model(name)
    assert isinstance(model, MotionGRPO)
    cost = model_cost(model, time_runs=3)
    cost["ddim_steps"] = model.config.ddim_steps
    cost["sde_steps"] = model.config.sde_steps
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="runs/teachers")
    parser.add_argument("--pretrain-epochs", type=int, default=40)
    parser.add_argument("--grpo-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reuse", action="store_true", help="keep existing checkpoints")
    parser.add_argument("--diversity-windows", type=int, default=16)
    parser.add_argument("--diversity-seeds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON to merge into")
    args = parser.parse_args()
    started = time.perf_counter()
    command = "python " + " ".join(sys.argv)
    before = Path(args.out) / "motiongrpo-small-pretrained"
    after = Path(args.out) / "motiongrpo-small"
    stages = {"pretrain": args.pretrain_epochs, "grpo": 0}
    base = TrainConfig(
        model="motiongrpo-small",
        data=args.data,
        out=str(before),
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        stage_epochs=stages,
        progress=False,
    )
    if not (args.reuse and (before / "model.safetensors").is_file()):
        train(base)
    if not (args.reuse and (after / "model.safetensors").is_file()):
        if after.exists():
            shutil.rmtree(after)
        shutil.copytree(before, after)
        grpo = {**stages, "grpo": args.grpo_epochs}
        train(dataclasses.replace(base, out=str(after), resume=True, stage_epochs=grpo))
    data = load_train_data(Path(args.data), progress=False)
    section: dict[str, Any] = {
        "command": command,
        "protocol": REALISTIC.to_json(),
        "data": data_block(data),
        "checkpoints": {},
    }
    for label, ckpt in (("before_grpo", before), ("after_grpo", after)):
        model = checkpoint.load(ckpt)
        assert isinstance(model, MotionGRPO)
        ds = _test_windows(model, data)
        torch.manual_seed(0)
        section[label] = score(model, ds)
        section[label]["diversity"] = diversity(
            model, ds, args.diversity_windows, args.diversity_seeds
        )
        section["checkpoints"][label] = str(ckpt)
        section["test_windows"] = len(ds)
    section["grpo_effect"] = {
        k: round(section["after_grpo"][k] - section["before_grpo"][k], 3) for k in KEYS[:5]
    }
    state = checkpoint.load_train_state(after) or {"history": []}
    section["grpo_history"] = [h for h in state["history"] if h["stage"] == "grpo"]
    section["cost"] = {name: _cost(name) for name in ("motiongrpo-small", "motiongrpo")}
    section["paper"] = SEED_PAPER
    section["wall_s"] = round(time.perf_counter() - started, 1)
    report = json.loads(args.results.read_text()) if args.results.is_file() else {}
    report["motiongrpo_post_training"] = section
    write_json_atomic(args.results, report)
    print(json.dumps({k: section[k] for k in ("before_grpo", "after_grpo", "grpo_effect")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

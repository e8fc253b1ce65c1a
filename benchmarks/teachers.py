"""Teachers against the baselines on held-out files, and the cost table of every teacher.

Trains the CPU-sized teachers and the baselines on the same inputs with ``edgesdk train``'s
code path, evaluates them with ``edgesdk eval``'s, measures parameters / FLOPs / CPU time per
1 s of motion for full and small configs, and writes ``benchmarks/results/teachers.json``
with the command that produced it.

    python benchmarks/teachers.py --data ../shared/data/mocap --out runs/teachers

Baselines read exactly what their teacher reads: ``mlp-baseline`` the 5 IMU slots (against
Ego4o), ``mlp-baseline-head`` the 240 Hz head IMU (against Head2Body); the mean pose is
scored on the same windows with the true heading (an oracle advantage).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from edgesdk.bench.cost import model_cost
from edgesdk.io import write_json_atomic
from edgesdk.models import create_model
from edgesdk.train.checkpoint import read_meta
from edgesdk.train.data import load_train_data
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results" / "teachers.json"

# (model, epochs per stage, batch size, per-stage epochs): sized to train in minutes on 2 cores.
RUNS: dict[str, tuple[str, int, int, dict[str, int]]] = {
    "ego4o-small": ("ego4o-small", 12, 32, {"encoder": 36, "caption": 2}),
    "mlp-baseline": ("mlp-baseline", 30, 32, {}),
    "head2body-small": ("head2body-small", 8, 32, {"vqposer": 24, "tokens": 14}),
    "mlp-baseline-head": ("mlp-baseline-head", 30, 32, {}),
    "same-small": ("same-small", 15, 32, {}),
    # Trained by benchmarks/motiongrpo.py (pretrain, then GRPO); evaluate it with --reuse.
    "motiongrpo-small": ("motiongrpo-small", 40, 32, {"grpo": 2}),
}
# SAME also reads the head's 6DoF pose, which the IMU-only MLP does not: an advantage it has.
PAIRS = {
    "ego4o-small": "mlp-baseline",
    "head2body-small": "mlp-baseline-head",
    "same-small": "mlp-baseline",
    "motiongrpo-small": "mlp-baseline-head",
}
# Extra evaluations of a checkpoint with inference-time config changes.
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "ego4o-small": {"hard_code_selection": {"code_selection": "hard"}},
    "head2body-small": {"hard_token_selection": {"token_selection": "hard"}},
}
PAPER = {
    "head2body": {
        "vq_poser": {"gflops_per_1s": 9.15, "ms_per_1s": 96.4},
        "imu_encoder": {"gflops_per_1s": 2.48, "ms_per_1s": 1.54},
        "note": "Head2Body supplementary; 25 Hz output, their GPU timing",
    }
}
COST_MODELS = (
    "ego4o",
    "ego4o-small",
    "head2body",
    "head2body-small",
    "same",
    "same-small",
    "motiongrpo",
    "motiongrpo-small",
)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("mpjpe_mm", "pa_mpjpe_mm", "mpjre_deg", "jitter_mps3")
    out: dict[str, Any] = {
        "overall": {k: round(result["overall"][k], 2) for k in keep},
        "mean_pose_overall": {
            k: round(result["baseline_mean_pose"]["overall"][k], 2) for k in keep
        },
        "per_combination_mpjpe_mm": {
            k: round(v["mpjpe_mm"], 2) for k, v in result["per_combination"].items()
        },
    }
    if "without_text" in result:
        out["without_text_overall"] = {
            k: round(result["without_text"]["overall"][k], 2) for k in keep
        }
        out["text_effect_mpjpe_mm"] = round(result["text_effect_mpjpe_mm"], 2)
    return out


def _versus(teacher: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The teacher against its MLP baseline and the mean pose, over the teacher's own device
    combinations (the baseline's per-combination figures averaged over those)."""
    combos = teacher["per_combination_mpjpe_mm"]
    base = baseline["per_combination_mpjpe_mm"]
    missing = sorted(set(combos) - set(base))
    if missing:
        raise SystemExit(f"baseline lacks the combinations {missing}")
    t = teacher["overall"]["mpjpe_mm"]
    mlp = sum(base[c] for c in combos) / len(combos)
    mean_pose = teacher["mean_pose_overall"]["mpjpe_mm"]
    return {
        "combinations": len(combos),
        "mlp_mpjpe_mm": round(mlp, 2),
        "mean_pose_mpjpe_mm": mean_pose,
        "beats_mlp_by_pct": round(100 * (1 - t / mlp), 1),
        "beats_mean_pose_by_pct": round(100 * (1 - t / mean_pose), 1),
    }


def _train_command(ckpt: Path) -> str:
    """How the checkpoint was trained, from its own config.json (true also with --reuse)."""
    t = read_meta(ckpt)["train"]
    stages = "".join(f" --stage-epochs {k}={v}" for k, v in t.get("stage_epochs", {}).items())
    command = (
        f"edgesdk train --model {t['model']} --data {t['data']} --out {t['out']} "
        f"--epochs {t['epochs']} --batch-size {t['batch_size']}{stages}"
    )
    if t.get("resume"):
        command += (
            " --resume  (continuing an earlier run with fewer epochs in a stage: the "
            "checkpoint's train.history lists every epoch; the optimizer restarts at a stage)"
        )
    return command


def _cost_table(command: str) -> dict[str, Any]:
    table: dict[str, Any] = {"command": command, "cpu": platform.processor() or platform.machine()}
    for name in COST_MODELS:
        table[name] = model_cost(create_model(name), time_runs=5)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="runs/teachers")
    parser.add_argument("--models", nargs="*", default=list(RUNS))
    parser.add_argument(
        "--reuse", action="store_true", help="skip training where a checkpoint exists"
    )
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--stage-epochs", nargs="*", default=[], metavar="STAGE=N")
    parser.add_argument("--cost", choices=("yes", "no", "only"), default="yes")
    args = parser.parse_args()

    started = time.perf_counter()
    command = "python " + " ".join(sys.argv)
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.cost == "only":
        previous["cost"] = _cost_table(command)
        write_json_atomic(RESULTS, previous)
        print(f"updated the cost table in {RESULTS}")
        return 0
    stage_epochs = {k: int(v) for k, v in (item.split("=") for item in args.stage_epochs)}
    data = load_train_data(Path(args.data))
    report: dict[str, Any] = {
        **previous,
        "command": command,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "data": {
            "fingerprint": data.fingerprint,
            "clips": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "test_frames": sum(c.num_frames for c in data.test),
        },
        "mpjpe_definition": "root-aligned, mm; mean over device combinations of the model's slots",
        "flops_convention": "torch.utils.flop_counter, 2 FLOPs per multiply-add",
        "models": previous.get("models", {}),
    }
    for name in args.models:
        model_name, epochs, batch, run_stage_epochs = RUNS[name]
        ckpt = Path(args.out) / name
        t0 = time.perf_counter()
        if not (args.reuse and (ckpt / "model.safetensors").is_file()):
            epochs = max(1, round(epochs * args.epochs_scale))
            train(
                TrainConfig(
                    model=model_name,
                    data=args.data,
                    out=str(ckpt),
                    epochs=epochs,
                    batch_size=batch,
                    stage_epochs={**run_stage_epochs, **stage_epochs},
                )
            )
        train_s = time.perf_counter() - t0
        result = evaluate_checkpoint(ckpt, args.data, data=data)
        report["models"][name] = {
            "checkpoint": str(ckpt),
            "command": command,
            "train_command": _train_command(ckpt),
            "train_wall_s": read_meta(ckpt)["train"].get("wall_s", round(train_s, 1)),
            **_summary(result),
        }
        for variant, overrides in VARIANTS.get(name, {}).items():
            other = evaluate_checkpoint(ckpt, args.data, data=data, overrides=overrides)
            report["models"][name][variant] = {"overrides": overrides, **_summary(other)}
        write_json_atomic(RESULTS, report)  # partial results survive a later failure
    for teacher, baseline in PAIRS.items():
        if teacher in report["models"] and baseline in report["models"]:
            report["models"][teacher]["vs_baselines"] = _versus(
                report["models"][teacher], report["models"][baseline]
            )
    if args.cost == "yes":
        report["cost"] = _cost_table(command)
    report["paper"] = PAPER
    report["wall_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(RESULTS, report)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

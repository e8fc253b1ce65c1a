"""Teachers against the baselines on held-out files, and the cost table of every teacher.

Trains the CPU-sized teachers and the baselines on the same inputs with ``edgesdk train``'s
code path (realistic devices, the SLAM head: ``TrainConfig``'s defaults), evaluates them with
``edgesdk eval``'s under the realistic protocol (no text) with the clean protocol beside it
(``edgesdk.train.results``: cached beside each checkpoint), measures parameters / FLOPs / CPU
time per 1 s of motion for full and small configs, and writes
``benchmarks/results/teachers.json`` with the commands that produced it.

    python benchmarks/teachers.py --data ../shared/data/mocap --out runs/teachers
    python benchmarks/teachers.py --data ../shared/data/mocap --models ego4o-small --seeds 1 2

Baselines read exactly what their teacher reads (``PAIRS``): ``mlp-baseline`` the 5 IMU slots
(Ego4o), ``mlp-baseline-same`` the IMUs and the head's 6DoF pose (SAME),
``mlp-baseline-headpose`` the head trajectory (MotionGRPO), ``mlp-baseline-head`` the 240 Hz
head IMU (Head2Body); each teacher minus its baseline is a paired difference over held-out
files with its 95 % interval. The mean pose is scored on the same windows with the true
heading (an oracle advantage). Seed N > 0 trains into ``OUT/NAME-seedN``; every seed found
with a cached evaluation is in the results (mean and spread).
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
from edgesdk.models import create_model, list_models, teacher_student_pairs
from edgesdk.train.checkpoint import read_meta
from edgesdk.train.data import TrainData, load_train_data
from edgesdk.train.evaluate import CLEAN, REALISTIC
from edgesdk.train.results import data_block, evaluation, headline, paired, seeds_block
from edgesdk.train.trainer import TrainConfig, train
from edgesdk.train.uncertainty import seed_spread

RESULTS = Path(__file__).resolve().parent / "results" / "teachers.json"

# (model, epochs per stage, batch size, per-stage epochs): sized to train in minutes on 2 cores.
RUNS: dict[str, tuple[str, int, int, dict[str, int]]] = {
    "ego4o-small": ("ego4o-small", 12, 32, {"encoder": 36, "caption": 2}),
    "mlp-baseline": ("mlp-baseline", 30, 32, {}),
    "head2body-small": ("head2body-small", 8, 32, {"vqposer": 24, "tokens": 14}),
    "mlp-baseline-head": ("mlp-baseline-head", 30, 32, {}),
    "same-small": ("same-small", 15, 32, {}),
    "mlp-baseline-same": ("mlp-baseline-same", 30, 32, {}),
    # Seed 0 comes from benchmarks/motiongrpo.py (pretrain, then GRPO; run it first, then this
    # with --reuse); other seeds train both stages here in one run.
    "motiongrpo-small": ("motiongrpo-small", 40, 32, {"grpo": 2}),
    "mlp-baseline-headpose": ("mlp-baseline-headpose", 30, 32, {}),
}
# Each teacher and the MLP on exactly its inputs (the baseline registered with its family).
PAIRS = {p.teacher: p.baselines[0] for p in teacher_student_pairs() if p.baselines}
PAPER = {
    "head2body": {
        "vq_poser": {"gflops_per_1s": 9.15, "ms_per_1s": 96.4},
        "imu_encoder": {"gflops_per_1s": 2.48, "ms_per_1s": 1.54},
        "note": "Head2Body supplementary; 25 Hz output, their GPU timing",
    }
}
STALE = "previous data set (614 clips), clean protocol, oracle text: not re-measured"
COST_MODELS = tuple(list_models(role="teacher"))


def checkpoint_dir(out: Path | str, name: str, seed: int) -> Path:
    """Seed 0 trains into ``OUT/NAME`` (what bench.py and students.py read), seed N into
    ``OUT/NAME-seedN``."""
    return Path(out) / (name if seed == 0 else f"{name}-seed{seed}")


def _versus(entry: dict[str, Any], teacher: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """A teacher against the MLP on its inputs and the mean pose, paired by held-out file, on
    the teacher's device combinations (realistic protocol; the clean one beside it)."""
    t = entry["overall"]["mpjpe_mm"]
    mlp = paired(teacher, base)
    mlp_mpjpe = round(t - mlp["difference_mm"], 2)
    mean_pose = entry["mean_pose"]["overall"]["mpjpe_mm"]
    return {
        "baseline": base["model"],
        "mlp_mpjpe_mm": mlp_mpjpe,
        "teacher_minus_mlp_mpjpe_mm": mlp,
        "teacher_minus_mlp_clean_mpjpe_mm": paired(teacher, base, "clean", "clean"),
        "mean_pose_mpjpe_mm": mean_pose,
        "teacher_minus_mean_pose_mpjpe_mm": paired(teacher, teacher["baseline_mean_pose"]),
        "beats_mlp_by_pct": round(100 * (1 - t / mlp_mpjpe), 1),
        "beats_mean_pose_by_pct": round(100 * (1 - t / mean_pose), 1),
    }


def _train_command(ckpt: Path) -> str:
    """How the checkpoint was trained, from its own config.json (true also with --reuse)."""
    t = read_meta(ckpt)["train"]
    stages = "".join(f" --stage-epochs {k}={v}" for k, v in t.get("stage_epochs", {}).items())
    command = (
        f"edgesdk train --model {t['model']} --data {t['data']} --out {t['out']} "
        f"--epochs {t['epochs']} --batch-size {t['batch_size']}{stages} --seed {t['seed']}"
    )
    if t.get("resume"):
        command += (
            " --resume  (continued a checkpoint in the same folder: train.history lists every "
            "epoch; the optimizer restarts at a stage)"
        )
    return command


def _cost_table(command: str) -> dict[str, Any]:
    table: dict[str, Any] = {"command": command, "cpu": platform.processor() or platform.machine()}
    for name in COST_MODELS:
        table[name] = model_cost(create_model(name), time_runs=5)
    return table


def _train(name: str, ckpt: Path, seed: int, args: argparse.Namespace) -> None:
    model_name, epochs, batch, run_stage_epochs = RUNS[name]
    stage_epochs = {k: int(v) for k, v in (item.split("=") for item in args.stage_epochs)}
    train(
        TrainConfig(
            model=model_name,
            data=args.data,
            out=str(ckpt),
            epochs=max(1, round(epochs * args.epochs_scale)),
            batch_size=batch,
            stage_epochs={**run_stage_epochs, **stage_epochs},
            seed=seed,
            progress=False,
        )
    )


def _entry(name: str, out: Path, data: TrainData, args: argparse.Namespace) -> dict[str, Any]:
    """One model's figures: seed 0 in full, every seed with a cached evaluation in ``seeds``."""
    results = {}
    for seed in range(args.max_seed + 1):
        ckpt = checkpoint_dir(out, name, seed)
        if (ckpt / "model.safetensors").is_file():
            found = evaluation(ckpt, args.data, data, cached_only=True)
            if found is not None:
                results[seed] = found
    if 0 not in results:
        return {}
    ckpt = checkpoint_dir(out, name, 0)
    entry: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "train_command": _train_command(ckpt),
        "train_wall_s": read_meta(ckpt)["train"].get("wall_s"),
        **headline(results[0]),
    }
    if len(results) > 1:
        per_seed = {s: {**headline(r), "checkpoint": r["checkpoint"]} for s, r in results.items()}
        entry["seeds"] = seeds_block(per_seed)
        entry["seeds"]["train_commands"] = {
            str(s): _train_command(checkpoint_dir(out, name, s)) for s in results
        }
    return entry


def build(out: Path, data: TrainData, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every model's entry from the checkpoints and cached evaluations under ``out``, and each
    teacher against its baselines."""
    models: dict[str, dict[str, Any]] = {}
    for name in RUNS:
        entry = _entry(name, out, data, args)
        if entry:
            models[name] = entry
    for teacher, baseline in PAIRS.items():
        if teacher in models and baseline in models:
            t = evaluation(checkpoint_dir(out, teacher, 0), args.data, data, cached_only=True)
            b = evaluation(checkpoint_dir(out, baseline, 0), args.data, data, cached_only=True)
            assert t is not None and b is not None
            models[teacher]["vs_baselines"] = _versus(models[teacher], t, b)
            both = _seed_pairs(models[teacher], models[baseline])
            if len(both) > 1:  # seed i of the teacher against seed i of its MLP
                models[teacher]["vs_baselines"]["over_seeds"] = {
                    **seed_spread([d for _, d in both]),
                    "what": "teacher minus MLP MPJPE (realistic) per training seed",
                    "per_seed": {str(s): round(d, 2) for s, d in both},
                }
    return models


def _seed_pairs(teacher: dict[str, Any], baseline: dict[str, Any]) -> list[tuple[int, float]]:
    """(seed, teacher minus MLP MPJPE) for every seed both were trained and evaluated with."""
    t = teacher.get("seeds", {}).get("per_seed", {})
    b = baseline.get("seeds", {}).get("per_seed", {})
    return [(int(s), t[s]["mpjpe_mm"] - b[s]["mpjpe_mm"]) for s in sorted(t) if s in b]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="runs/teachers")
    parser.add_argument("--models", nargs="*", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--max-seed", type=int, default=2, help="seeds read into the results")
    parser.add_argument(
        "--reuse", action="store_true", help="skip training where a checkpoint exists"
    )
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--stage-epochs", nargs="*", default=[], metavar="STAGE=N")
    parser.add_argument("--cost", choices=("yes", "no", "only"), default="no")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    command = "python " + " ".join(sys.argv)
    previous = json.loads(args.results.read_text()) if args.results.is_file() else {}
    if args.cost == "only":
        previous["cost"] = _cost_table(command)
        write_json_atomic(args.results, previous)
        print(f"updated the cost table in {args.results}")
        return 0
    out = Path(args.out)
    data = load_train_data(Path(args.data), progress=False)
    commands = previous.get("commands", []) if "protocol" in previous else []
    report: dict[str, Any] = {
        "command": command,
        "commands": [*[c for c in commands if c != command], command],
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "data": data_block(data),
        "protocol": REALISTIC.to_json(),
        "clean_protocol": CLEAN.to_json(),
        "mpjpe_definition": "root-aligned, mm; mean over device combinations of the model's "
        "slots; ci95_mpjpe_mm: 95 % bootstrap interval over held-out files",
        "flops_convention": "torch.utils.flop_counter, 2 FLOPs per multiply-add",
        "models": {},
    }
    for key in ("cost", "paper", "motiongrpo_post_training"):
        if key in previous:
            report[key] = previous[key]

    def write() -> None:
        report["models"] = build(out, data, args)
        for name, old in previous.get("models", {}).items():
            if name in report["models"]:
                continue
            if "protocol" not in old:
                report["models"][name] = {**old, "stale": STALE}
            elif not (checkpoint_dir(out, name, 0) / "model.safetensors").is_file():
                report["models"][name] = old  # measured earlier; its checkpoint is not here
        write_json_atomic(args.results, report)  # partial results survive a later failure

    for seed in args.seeds:
        for name in args.models:
            ckpt = checkpoint_dir(out, name, seed)
            if not (args.reuse and (ckpt / "model.safetensors").is_file()):
                _train(name, ckpt, seed, args)
            evaluation(ckpt, args.data, data)
            write()
    if args.cost == "yes":
        report["cost"] = _cost_table(command)
    report["paper"] = PAPER
    report["wall_s"] = round(time.perf_counter() - started, 1)
    write()
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each streaming student against its teacher: ground truth only vs distilled from a
privileged teacher, under the realistic protocol.

For every (teacher checkpoint, student) pair, trains the student on ground truth only
(``alpha = 0``: the default recipe) and distills it from a *privileged* teacher (``alpha``;
the teacher reads each window's clean inputs and, for Ego4o, the clip's true description,
while the student reads realistic device streams and the SLAM head: ``edgesdk distill
--privileged``), on the same windows. Both are scored with ``edgesdk eval``'s code on the
held-out files (realistic protocol, no text; clean beside it; evaluations cached beside each
checkpoint) and compared file by file: distilled minus ground truth only, and each minus its
teacher, with 95 % bootstrap intervals. Seeds N > 0 train into ``OUT/STUDENT-ARM-seedN``;
every seed with a cached evaluation is in the results (mean and spread). Cost: params, GFLOPs
per 1 s of motion (2 x multiply-add) and its ratio to the paper-scale and the small teacher,
CPU ms per frame of ``step`` on 1 thread (kept from the previous run unless ``--recost``).
Entries are merged into ``benchmarks/results/students.json`` under a file lock.

    python benchmarks/students.py --data ../shared/data/mocap --teachers runs/teachers \\
        --out runs/students --pairs ego4o same --arms gt privileged
    python benchmarks/students.py --data ../shared/data/mocap --arms gt --seeds 1 2
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from edgesdk.bench.cost import model_cost, time_call_ms
from edgesdk.io import write_json_atomic
from edgesdk.models import create_model, list_models, teacher_student_pairs
from edgesdk.models.signature import frame_inputs, signature_for
from edgesdk.models.students_core import StreamingStudent
from edgesdk.train.checkpoint import read_meta
from edgesdk.train.data import TrainData, load_train_data
from edgesdk.train.distill import DistillConfig, distill
from edgesdk.train.evaluate import CLEAN, REALISTIC
from edgesdk.train.results import data_block, evaluation, headline, paired, seeds_block
from edgesdk.train.uncertainty import seed_spread

RESULTS = Path(__file__).resolve().parent / "results"
TEACHERS = RESULTS / "teachers.json"
# family -> (teacher checkpoint name, paper-scale teacher, student), from the registry
PAIRS = {p.family: (p.teacher, p.paper, p.student) for p in teacher_student_pairs()}
# arm -> (results key, privileged teacher); alpha 0 is ground truth only
ARMS = {"gt": ("ground_truth_only", False), "privileged": ("privileged_distilled", True)}
# MotionGRPO's teacher runs 8 diffusion samples per batch: fewer epochs for both its arms.
EPOCHS = {"motiongrpo": 4}
STALE = "previous data set (614 clips), clean protocol: not re-measured"


def checkpoint_dir(out: Path | str, student: str, arm: str, seed: int) -> Path:
    return Path(out) / (f"{student}-{arm}" + (f"-seed{seed}" if seed else ""))


def _distill_command(ckpt: Path) -> str:
    t = read_meta(ckpt)["train"]
    command = (
        f"edgesdk distill --teacher {t['teacher']} --student {t['student']} --data {t['data']} "
        f"--out {t['out']} --epochs {t['epochs']} --batch-size {t['batch_size']} "
        f"--alpha {t['alpha']} --seed {t['seed']}"
    )
    return command + (" --privileged" if t.get("privileged") else "")


def _step_ms(student: StreamingStudent, frames: int = 60) -> float:
    """Median ms of one ``step`` call on 1 thread, carrying the state frame to frame."""
    per_frame = frame_inputs(signature_for(student), student.example_inputs(batch_size=1), 0)
    state = None

    def one(*frame: torch.Tensor) -> None:
        nonlocal state
        _, state = student.step(*frame, state=state)

    return time_call_ms(one, tuple(per_frame), runs=frames, threads=1)["median_ms"]


def _cost(student_name: str, paper: str, small: str, teachers: dict[str, Any]) -> dict[str, Any]:
    student = create_model(student_name)
    assert isinstance(student, StreamingStudent)
    cost = model_cost(student, time_runs=5)
    out: dict[str, Any] = {
        "params": cost["params"],
        "gflops_per_s": round(cost["gflops_per_s"], 5),
        "step_cpu_ms_per_frame": round(_step_ms(student.eval()), 3),
    }
    for label, name in (("paper", paper), ("small", small)):
        teacher = teachers.get("cost", {}).get(name)
        if teacher:
            out[f"flops_ratio_to_{label}_teacher"] = round(
                cost["gflops_per_s"] / teacher["gflops_per_s"], 5
            )
    return out


def _arm(
    student: str, arm: str, teacher: dict[str, Any] | None, data: TrainData, args: Any
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """One arm's figures (seed 0 in full, every evaluated seed in ``seeds``) and its raw
    evaluations per seed."""
    results: dict[int, dict[str, Any]] = {}
    for seed in range(args.max_seed + 1):
        ckpt = checkpoint_dir(args.out, student, arm, seed)
        if (ckpt / "model.safetensors").is_file():
            found = evaluation(ckpt, args.data, data, cached_only=True)
            if found is not None:
                results[seed] = found
    if 0 not in results:
        return {}, results
    ckpt = checkpoint_dir(args.out, student, arm, 0)
    meta = read_meta(ckpt)["train"]
    entry: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "train_command": _distill_command(ckpt),
        "train_wall_s": meta.get("wall_s"),
        "alpha": meta["alpha"],
        "privileged_teacher": bool(meta.get("privileged")),
        **headline(results[0]),
    }
    if teacher is not None:
        entry["minus_teacher_mpjpe_mm"] = paired(results[0], teacher)
        entry["minus_teacher_clean_mpjpe_mm"] = paired(results[0], teacher, "clean", "clean")
    if len(results) > 1:
        per_seed = {s: {**headline(r), "checkpoint": r["checkpoint"]} for s, r in results.items()}
        entry["seeds"] = seeds_block(per_seed)
        entry["seeds"]["train_commands"] = {
            str(s): _distill_command(checkpoint_dir(args.out, student, arm, s)) for s in results
        }
    return entry, results


def _verdict(diff: dict[str, Any]) -> str:
    lo, hi = diff["ci95_mm"]
    if hi < 0:
        return "distilling helps (interval below 0)"
    if lo > 0:
        return "distilling hurts (interval above 0)"
    return "no clear difference (interval holds 0)"


def build_entry(
    family: str, student: str, data: TrainData, args: Any, previous: dict[str, Any]
) -> dict[str, Any]:
    """A student's entry from its checkpoints' cached evaluations and its teacher's."""
    teacher_ckpt = Path(args.teachers) / PAIRS[family][0]
    teacher = None
    if (teacher_ckpt / "model.safetensors").is_file():
        teacher = evaluation(teacher_ckpt, args.data, data, cached_only=True)
    entry: dict[str, Any] = {"teacher": str(teacher_ckpt)}
    if teacher is not None:
        entry["teacher_model"] = teacher["model"]
    raw: dict[str, dict[int, dict[str, Any]]] = {}
    for arm, (label, _) in ARMS.items():
        figures, raw[arm] = _arm(student, arm, teacher, data, args)
        if figures:
            entry[label] = figures
    first = entry.get("ground_truth_only") or entry.get("privileged_distilled")
    if teacher is not None and first is not None:
        diff = first["minus_teacher_mpjpe_mm"]["difference_mm"]
        clean = first["minus_teacher_clean_mpjpe_mm"]["difference_mm"]
        entry["teacher_mpjpe_mm"] = round(first["overall"]["mpjpe_mm"] - diff, 2)
        entry["teacher_clean_mpjpe_mm"] = round(first["clean"]["overall"]["mpjpe_mm"] - clean, 2)
    if 0 in raw["gt"] and 0 in raw["privileged"]:
        effect = paired(raw["privileged"][0], raw["gt"][0])
        entry["distillation_effect_mpjpe_mm"] = {
            "what": "privileged-distilled minus ground truth only, realistic protocol, seed 0, "
            "paired by held-out file (negative: distilling helps)",
            **effect,
            "verdict": _verdict(effect),
            "clean": paired(raw["privileged"][0], raw["gt"][0], "clean", "clean"),
        }
        both = sorted(set(raw["gt"]) & set(raw["privileged"]))
        if len(both) > 1:
            per_seed = [
                raw["privileged"][s]["overall"]["mpjpe_mm"] - raw["gt"][s]["overall"]["mpjpe_mm"]
                for s in both
            ]
            entry["distillation_effect_mpjpe_mm"]["over_seeds"] = seed_spread(per_seed)
    entry["cost"] = previous.get("cost") or {}
    return entry


def _merge(path: Path, name: str, entry: dict[str, Any], head: dict[str, Any]) -> None:
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = json.loads(path.read_text()) if path.is_file() else {}
        if "protocol" not in report:  # the previous layout: keep its entries, marked stale
            old = report.get("students", {})
            report = {"students": {k: {**v, "stale": STALE} for k, v in old.items()}}
        commands = report.get("commands", [])
        command = head["command"]
        report.update({k: v for k, v in head.items() if k != "command"})
        report["commands"] = [*[c for c in commands if c != command], command]
        report["flops_convention"] = "torch.utils.flop_counter, 2 FLOPs per multiply-add"
        report["mpjpe_definition"] = (
            "root-aligned, mm; mean over the student's device combinations; ci95_mpjpe_mm: "
            "95 % bootstrap interval over held-out files"
        )
        report.setdefault("students", {})[name] = entry
        write_json_atomic(path, report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--recost", action="store_true", help="re-measure params, FLOPs, step")
    parser.add_argument("--teachers", default="runs/teachers")
    parser.add_argument("--out", default="runs/students")
    parser.add_argument("--pairs", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--max-seed", type=int, default=2, help="seeds read into the results")
    parser.add_argument("--epochs", type=int, default=8, help="motiongrpo: half of this")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--reuse", action="store_true", help="keep existing checkpoints")
    parser.add_argument(
        "--variant", default="", choices=("", "tiny"), help="tiny: the GRU 1 x 32 students"
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "students.json")
    args = parser.parse_args()
    command = "python " + " ".join(sys.argv)
    teachers = json.loads(TEACHERS.read_text()) if TEACHERS.is_file() else {}
    data = load_train_data(Path(args.data), progress=False)
    head = {
        "command": command,
        "data": data_block(data),
        "protocol": REALISTIC.to_json(),
        "clean_protocol": CLEAN.to_json(),
    }
    previous = json.loads(args.results.read_text()) if args.results.is_file() else {}
    for seed in args.seeds:
        for family in args.pairs:
            teacher_name, paper, student = PAIRS[family]
            if args.variant:
                student = list_models(role="student", teacher=family, scale=args.variant)[0]
            for arm in args.arms:
                ckpt = checkpoint_dir(args.out, student, arm, seed)
                if not (args.reuse and (ckpt / "model.safetensors").is_file()):
                    epochs = args.epochs // 2 if family == "motiongrpo" else args.epochs
                    distill(
                        DistillConfig(
                            teacher=str(Path(args.teachers) / teacher_name),
                            student=student,
                            data=args.data,
                            out=str(ckpt),
                            epochs=epochs,
                            alpha=args.alpha if ARMS[arm][1] else 0.0,
                            privileged=ARMS[arm][1],
                            seed=seed,
                            progress=False,
                        )
                    )
                t0 = time.perf_counter()
                evaluation(ckpt, args.data, data)
                print(f"{ckpt}: evaluated in {time.perf_counter() - t0:.0f} s", flush=True)
                old = previous.get("students", {}).get(student, {})
                entry = build_entry(family, student, data, args, old)
                if args.recost or not entry["cost"]:
                    entry["cost"] = _cost(student, paper, teacher_name, teachers)
                    entry["cost"]["command"] = command
                _merge(args.results, student, entry, head)
                previous = json.loads(args.results.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

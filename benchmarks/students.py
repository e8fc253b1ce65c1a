"""Each streaming student against its teacher: distilled vs trained on ground truth only.

For every (teacher checkpoint, student) pair, distills with ``alpha`` (teacher targets mixed
with ground truth) and trains the control with ``alpha = 0`` (ground truth only, the same
windows), scores both with ``edgesdk eval``'s code on the held-out files, and puts them beside
the teacher's figures on the same device combinations (from ``teachers.json``). Cost: params,
GFLOPs per 1 s of motion (2 x multiply-add) and its ratio to the paper-scale and the small
teacher, and CPU ms per frame of ``step`` on 1 thread. Results are merged into
``benchmarks/results/students.json`` (one entry per student, under a file lock, so that two
runs over different pairs can share the file).

    python benchmarks/students.py --data ../shared/data/mocap --teachers runs/teachers \\
        --out runs/students --pairs ego4o same
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
from edgesdk.models import create_model
from edgesdk.models.signature import frame_inputs, signature_for
from edgesdk.models.students_core import StreamingStudent
from edgesdk.train.checkpoint import read_meta
from edgesdk.train.data import load_train_data
from edgesdk.train.distill import DistillConfig, distill
from edgesdk.train.evaluate import evaluate_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
TEACHERS = RESULTS / "teachers.json"
# family -> (teacher checkpoint name, paper-scale teacher, student)
PAIRS = {
    "ego4o": ("ego4o-small", "ego4o", "ego4o-student"),
    "head2body": ("head2body-small", "head2body", "head2body-student"),
    "same": ("same-small", "same", "same-student"),
    "motiongrpo": ("motiongrpo-small", "motiongrpo", "motiongrpo-student"),
}
KEYS = ("mpjpe_mm", "pa_mpjpe_mm", "mpjre_deg", "jitter_mps3")


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "overall": {k: round(result["overall"][k], 2) for k in KEYS},
        "per_combination_mpjpe_mm": {
            k: round(v["mpjpe_mm"], 2) for k, v in result["per_combination"].items()
        },
    }


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


def _merge(path: Path, name: str, entry: dict[str, Any], command: str) -> None:
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = json.loads(path.read_text()) if path.is_file() else {}
        report.setdefault("students", {})[name] = entry
        report["flops_convention"] = "torch.utils.flop_counter, 2 FLOPs per multiply-add"
        report["mpjpe_definition"] = "root-aligned, mm; mean over the student's combinations"
        report["last_command"] = command
        write_json_atomic(path, report)


def table(path: Path) -> str:
    """students.json as the README's Markdown table."""
    rows = [
        "| student | teacher MPJPE | distilled (vs teacher) | ground truth only (vs teacher) "
        "| params | GFLOPs per 1 s (/ paper teacher, / small teacher) | `step` ms per frame |",
        "|" + " --- |" * 7,
    ]
    for name, e in json.loads(path.read_text())["students"].items():
        c, d, g = e["cost"], e["distilled"], e["ground_truth_only"]
        teacher_name, paper_name, _ = PAIRS[name.split("-")[0]]
        cost = json.loads(TEACHERS.read_text())["cost"]
        paper = cost[paper_name]["gflops_per_s"] / c["gflops_per_s"]
        small = cost[teacher_name]["gflops_per_s"] / c["gflops_per_s"]
        ratio = f"1/{paper:.0f}, "
        rows.append(
            f"| {name} | {e['teacher_mpjpe_mm']:.1f} | {d['overall']['mpjpe_mm']:.1f} "
            f"({d['vs_teacher_pct']:+.1f} %) | {g['overall']['mpjpe_mm']:.1f} "
            f"({g['vs_teacher_pct']:+.1f} %) | {c['params'] / 1e6:.3f} M | "
            f"{c['gflops_per_s']:.5f} ({ratio}1/{small:.0f}) | {c['step_cpu_ms_per_frame']:.2f} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--table", action="store_true", help="print students.json as Markdown")
    parser.add_argument("--recost", action="store_true", help="re-measure cost only")
    parser.add_argument("--teachers", default="runs/teachers")
    parser.add_argument("--out", default="runs/students")
    parser.add_argument("--pairs", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument(
        "--variant", default="", choices=("", "tiny"), help="tiny: the GRU 1 x 32 students"
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "students.json")
    args = parser.parse_args()
    command = "python " + " ".join(sys.argv)
    if args.table:
        print(table(args.results))
        return 0
    if args.recost:  # params, FLOPs and step time again (e.g. on a quiet machine), no training
        teachers = json.loads(TEACHERS.read_text())
        for family in args.pairs:
            teacher_name, paper, student = PAIRS[family]
            student += f"-{args.variant}" if args.variant else ""
            entry = json.loads(args.results.read_text())["students"][student]
            entry["cost"] = _cost(student, paper, teacher_name, teachers)
            entry["cost_command"] = command
            _merge(args.results, student, entry, command)
        return 0
    if not args.data:
        parser.error("--data is required (unless --table)")
    teachers = json.loads(TEACHERS.read_text())
    data = load_train_data(Path(args.data))
    for family in args.pairs:
        teacher_name, paper, student = PAIRS[family]
        student += f"-{args.variant}" if args.variant else ""
        teacher_ckpt = Path(args.teachers) / teacher_name
        entry: dict[str, Any] = {"command": command, "teacher": str(teacher_ckpt)}
        for label, alpha in (("distilled", args.alpha), ("ground_truth_only", 0.0)):
            out = Path(args.out) / f"{student}-{label}"
            t0 = time.perf_counter()
            distill(
                DistillConfig(
                    teacher=str(teacher_ckpt),
                    student=student,
                    data=args.data,
                    out=str(out),
                    epochs=args.epochs,
                    alpha=alpha,
                    progress=False,
                )
            )
            result = evaluate_checkpoint(out, args.data, data=data, progress=False)
            entry[label] = {**_summary(result), "alpha": alpha, "checkpoint": str(out)}
            entry[label]["train_wall_s"] = round(time.perf_counter() - t0, 1)
        combos = entry["distilled"]["per_combination_mpjpe_mm"]
        t_combos = teachers["models"][teacher_name]["per_combination_mpjpe_mm"]
        teacher_mpjpe = sum(t_combos[c] for c in combos) / len(combos)
        entry["teacher_mpjpe_mm"] = round(teacher_mpjpe, 2)
        entry["teacher_model"] = read_meta(teacher_ckpt)["model"]
        for label in ("distilled", "ground_truth_only"):
            mpjpe = entry[label]["overall"]["mpjpe_mm"]
            entry[label]["vs_teacher_pct"] = round(100 * (mpjpe / teacher_mpjpe - 1), 1)
        entry["distillation_gain_mm"] = round(
            entry["ground_truth_only"]["overall"]["mpjpe_mm"]
            - entry["distilled"]["overall"]["mpjpe_mm"],
            2,
        )
        entry["cost"] = _cost(student, paper, teacher_name, teachers)
        _merge(args.results, student, entry, command)
        print(json.dumps({student: {k: entry[k] for k in ("teacher_mpjpe_mm", "cost")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

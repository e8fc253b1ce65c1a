"""The main job, end to end: what ``make demo`` runs.

Stages, each writing into ``out_dir`` and reporting into ``summary.json``:

1. data: import every clip of the data folder (``../shared/data/mocap`` when present, else
   the bundled CMU clips), retarget to the 22-joint body, split by file, and summarize;
2. sensors: simulate a glasses + watch + phone session for a few held-out clips and write
   them in the recording format the runtime replays; render one clip as a GIF;
3. windows: cut the 30 Hz training windows and report their count and device mix;
4. baselines: train the 2-layer MLP baseline briefly and evaluate it against the mean pose
   on held-out files, per device combination;
5. teachers: train each family's ``-small`` teacher briefly (every training stage);
6. students: distill each family's streaming student from its teacher;
7. export: quantize and export every student to ExecuTorch, LiteRT and ONNX (fp32, int8,
   calibrated on the train split) and Core ML (fp16), and validate every artifact in its
   runtime on held-out windows;
8. bench: latency, size, peak RSS and accuracy per device combination of every artifact in
   its runtime, beside its teacher in eager PyTorch; budgets from ``benchmarks/budgets.yaml``
   when the checkout has it;
9. report: ``report/report.md`` with the Pareto, per-combination and FLOPs plots.

The training here is brief (20 optimizer steps per teacher stage, 40 per distillation, so the
job fits in 15 minutes on 2 cores): its figures show that every stage works, not what the
models reach (the brief teachers are worse than their students); ``benchmarks/results/``
holds the figures of full training runs.

Example:
    $ edgesdk pipeline --out runs/demo
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import write_take
from edgesdk.data.render import render_gif
from edgesdk.data.simulate import simulate_take
from edgesdk.data.sources import default_data_dir
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.errors import EdgeSDKError
from edgesdk.io import write_json_atomic
from edgesdk.models import teacher_student_pairs
from edgesdk.targets import TARGETS, target
from edgesdk.train.data import load_train_data
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.results import provenance
from edgesdk.train.trainer import TrainConfig, train

_BATCH = 32
# The family whose student gets every export (``every_export()``); the others get
# ``other_exports``.
DEMO_FAMILY = "same"
# The other families' students: int8 on the two runtimes that convert in seconds (ExecuTorch
# lowering takes ~30 s per artifact here), so the job stays within 15 minutes.
QUICK_EXPORTS = (("tflite", "int8"), ("onnx", "int8"))
DEMO_DEVICES = (
    DeviceSpec.glasses(),
    DeviceSpec.watch("left_wrist"),
    DeviceSpec.phone("right_pocket"),
)
BUDGETS = Path(__file__).resolve().parents[1] / "benchmarks" / "budgets.yaml"


def every_export() -> tuple[tuple[str, str], ...]:
    """(backend, precision) of every target: its default precision and the ones it calibrates
    (``edgesdk.targets``), the targets that predict on this OS first.

    Example:
        >>> every_export()[:3]
        (('executorch', 'fp32'), ('executorch', 'int8'), ('tflite', 'fp32'))
    """
    table = sorted(TARGETS.values(), key=lambda t: not t.predicts_here())
    return tuple(
        (t.name, p) for t in table for p in dict.fromkeys((t.default_precision, *t.calibrated))
    )


def default_families() -> list[str]:
    """Every teacher family with a small teacher and a default student (the registry's
    ``teacher_student_pairs()``), ``DEMO_FAMILY`` first.

    Example:
        >>> default_families()
        ['same', 'ego4o', 'head2body', 'motiongrpo']
    """
    families = [p.family for p in teacher_student_pairs()]
    return sorted(families, key=lambda f: f != DEMO_FAMILY)


def run_pipeline(
    out_dir: Path,
    data_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    baseline_steps: int = 150,
    progress: bool = True,
    exports: tuple[tuple[str, str], ...] | None = None,
    families: Sequence[str] | None = None,
    teacher_steps: int = 20,
    student_steps: int = 40,
    bench_windows: int = 2,
    other_exports: tuple[tuple[str, str], ...] = QUICK_EXPORTS,
) -> dict[str, Any]:
    """Run every stage; returns (and writes) the summary. ``families``: teacher families
    (default: ``default_families()``); the first family's student goes to ``exports``
    (default: ``every_export()``), the others' to ``other_exports``. ``*_steps``: optimizer
    steps per training stage; ``bench_windows``: held-out windows per device combination."""
    started = time.perf_counter()
    pairs = {p.family: p for p in teacher_student_pairs()}
    families = default_families() if families is None else families
    unknown = [f for f in families if f not in pairs]
    if unknown:
        raise EdgeSDKError(f"families {unknown}: not in the registry's pairs {list(pairs)}")
    data_dir = data_dir or default_data_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"data_dir": str(data_dir), "stages": {}}
    stages = summary["stages"]

    def stage(name: str) -> None:
        if progress:
            wall = time.perf_counter() - started
            print(f"[{wall:6.0f} s] edgesdk pipeline: {name}", file=sys.stderr, flush=True)

    stage("data")
    data = load_train_data(data_dir, limit=limit, progress=progress)
    clips = data.train + data.val + data.test
    rigs = Counter(c.rig for c in clips)
    heights = [float(np.percentile(c.global_pos_m[:, 15, 1], 90)) for c in clips]
    stages["data"] = {
        "clips": len(clips),
        "minutes": round(sum(c.duration_s for c in clips) / 60.0, 1),
        "rigs": dict(rigs),
        "split_clips": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "head_height_m_p90": {"min": round(min(heights), 3), "max": round(max(heights), 3)},
        "fingerprint": data.fingerprint,
    }
    # Every figure of the summary is measured on this set under the realistic protocol.
    summary.update(provenance(data))

    stage("sensors")
    takes_dir = out_dir / "takes"
    takes_dir.mkdir(exist_ok=True)
    held_out = data.test[:3] or clips[:3]
    takes = [
        str(
            write_take(
                simulate_take(c, DEMO_DEVICES, seed=seed + i), takes_dir / c.name, overwrite=True
            )
        )
        for i, c in enumerate(held_out)
    ]
    gif = render_gif(
        held_out[0], out_dir / f"{held_out[0].name}.gif", title=held_out[0].labels.text()
    )
    stages["sensors"] = {"takes": takes, "gif": str(gif)}

    stage("windows")
    ds = WindowDataset(data.train, WindowConfig(seed=seed), train=True)
    active = Counter(int(ds.presence_mask(ds.rng(i)).any(0).sum()) for i in range(len(ds)))
    stages["windows"] = {
        "train_windows": len(ds),
        "window_frames": ds.config.window,
        "devices_per_window": {str(k): v for k, v in sorted(active.items())},
        "skipped_short_clips": len(ds.skipped),
    }
    run = _Brief(data_dir, limit, seed, len(ds), progress)

    stage("baselines")
    ckpt, _ = run.train("mlp-baseline", out_dir / "mlp-baseline", baseline_steps)
    # The realistic protocol only (no clean pass): the demo shows the stage works.
    result = evaluate_checkpoint(ckpt, data_dir, data=data, progress=progress, clean=False)
    stages["baselines"] = {
        "protocol": result["protocol"],
        "mlp_baseline_mpjpe_mm": round(result["overall"]["mpjpe_mm"], 1),
        "ci95_mpjpe_mm": result["ci95_mpjpe_mm"],
        "mean_pose_mpjpe_mm": round(result["baseline_mean_pose"]["overall"]["mpjpe_mm"], 1),
        "checkpoint": str(ckpt),
        "steps": baseline_steps,
    }

    stage("teachers")
    teachers = {
        f: run.train(pairs[f].teacher, out_dir / "teachers" / pairs[f].teacher, teacher_steps)[0]
        for f in families
    }
    stages["teachers"] = {f: _trained(t) for f, t in teachers.items()}

    stage("students")
    students = {
        f: run.distill(t, pairs[f].student, out_dir / "students" / pairs[f].student, student_steps)
        for f, t in teachers.items()
    }
    stages["students"] = {f: _trained(s) for f, s in students.items()}

    stage("export")
    first = every_export() if exports is None else exports
    plan = {f: first if i == 0 else other_exports for i, f in enumerate(students)}
    stages["export"] = {
        f: _exports(s, out_dir / "exports" / s.name, data_dir, plan[f], progress)
        for f, s in students.items()
    }

    stage("bench")
    bench_json = out_dir / "bench.json"
    stages["bench"] = _bench(
        [(students[f], plan[f]) for f in students],
        out_dir,
        data_dir,
        bench_windows,
        bench_json,
        progress,
    )

    stage("report")
    from edgesdk.bench.report import report

    files = report(bench_json, out_dir / "report")
    stages["report"] = {"files": [str(p) for p in files]}
    summary["table"] = summary_table(bench_json)
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


class _Brief:
    """Brief training runs of about ``steps`` optimizer steps per stage, whatever the data
    size (the bundled set has ~20 windows, the shared one ~1,700)."""

    def __init__(
        self, data_dir: Path, limit: int | None, seed: int, num_windows: int, progress: bool
    ) -> None:
        self.data_dir, self.limit, self.seed, self.progress = data_dir, limit, seed, progress
        self.batches = max(1, math.ceil(num_windows / _BATCH))

    def epochs(self, steps: int) -> tuple[int, int]:
        """``(epochs, batches per epoch)`` that make about ``steps`` steps."""
        epochs = min(200, max(1, math.ceil(steps / self.batches)))
        return epochs, max(1, min(self.batches, math.ceil(steps / epochs)))

    def config_fields(self, out: Path, steps: int) -> dict[str, Any]:
        """The ``RunConfig`` fields of a brief run into ``out`` of about ``steps`` steps."""
        epochs, per_epoch = self.epochs(steps)
        return {
            "data": str(self.data_dir),
            "out": str(out),
            "epochs": epochs,
            "batch_size": _BATCH,
            "limit": self.limit,
            "seed": self.seed,
            "max_batches": per_epoch,
            "progress": self.progress,
        }

    def train(self, model: str, out: Path, steps: int) -> tuple[Path, int]:
        run = self.config_fields(out, steps)
        return train(TrainConfig(model=model, **run)), run["epochs"]

    def distill(self, teacher: Path, student: str, out: Path, steps: int) -> Path:
        from edgesdk.train.distill import DistillConfig, distill

        return distill(
            DistillConfig(teacher=str(teacher), student=student, **self.config_fields(out, steps))
        )


def _trained(ckpt: Path) -> dict[str, Any]:
    """A checkpoint's model, steps per stage, last validation loss and training time."""
    from edgesdk.train import checkpoint

    meta = checkpoint.read_meta(ckpt)
    train_meta = meta.get("train", {})
    history = train_meta.get("history", [])
    return {
        "checkpoint": str(ckpt),
        "model": meta["model"],
        "stages": list(dict.fromkeys(h["stage"] for h in history)),
        "epochs": len(history),
        "val_loss": round(history[-1]["val_loss"], 4) if history else None,
        "wall_s": train_meta.get("wall_s"),
    }


def _exports(
    ckpt: Path,
    out_dir: Path,
    data_dir: Path,
    exports: tuple[tuple[str, str], ...],
    progress: bool,
) -> dict[str, Any]:
    """Export one student to every backend and precision and validate every artifact."""
    from edgesdk.export.export import export_model
    from edgesdk.export.manifest import read_manifest

    artifacts: dict[str, Any] = {}
    for backend, precision in exports:
        path = export_model(
            ckpt,
            backend,
            precision,
            out_dir,
            calib_dir=data_dir,
            validate_windows=8,
            progress=progress,
            command="edgesdk pipeline",
        )
        manifest = read_manifest(path)
        numerics = manifest["numerics"]
        artifacts[f"{backend}-{precision}"] = {
            "artifact": str(path),
            "kb": round(manifest["file_size_bytes"] / 1024),
            "passed": numerics["passed"],
            "mpjpe_delta_mm": round(numerics["mpjpe_delta_mm"], 2) if numerics["ran"] else None,
            "ran": numerics["ran"] or numerics.get("reason"),
        }
    return {"student": str(ckpt), "artifacts": artifacts}


def _bench(
    students: list[tuple[Path, tuple[tuple[str, str], ...]]],
    out_dir: Path,
    data_dir: Path,
    windows: int,
    path: Path,
    progress: bool,
) -> dict[str, Any]:
    """Benchmark each student's exported artifacts (reused from the export stage) beside its
    teacher; one harness run per student, so each measures only what was exported."""
    from edgesdk.bench.budgets import check, load_budgets
    from edgesdk.bench.harness import BenchConfig, run_bench, write_results

    results: dict[str, Any] = {}
    for ckpt, exports in students:
        runnable = [(b, p) for b, p in exports if target(b).predicts_here()]
        cfg = BenchConfig(
            models=[ckpt],
            backends=sorted({b for b, _ in runnable}),
            precisions=sorted({p for _, p in runnable}),
            data=data_dir,
            windows=windows,
            threads=(1,),
            artifacts_dir=out_dir / "exports",
            command="edgesdk pipeline",
            progress=progress,
            log=(lambda m: print(f"bench: {m}", file=sys.stderr)) if progress else (lambda _: None),
        )
        one = run_bench(cfg)
        if results:
            results["models"].update(one["models"])
        else:
            results = one
    violations: list[str] = []
    if BUDGETS.is_file():
        budgets = load_budgets(BUDGETS)
        found = check(results, budgets)
        violations = [str(v) for v in found]
        results["budgets"] = {
            "file": str(BUDGETS),
            "budgets": budgets,
            "violations": [v.to_dict() for v in found],
        }
    write_results(path, results)
    return {"results": str(path), "budget_violations": violations}


def summary_table(bench_json: Path) -> list[dict[str, Any]]:
    """One row per student: its teacher's and its own MPJPE and latency, the fastest int8
    artifact's latency and MPJPE, the FLOPs ratio. Latency p50 at 1 thread."""
    import json

    from edgesdk.bench.harness import EAGER

    results = json.loads(bench_json.read_text())
    models = results["models"]
    rows = []
    for name, m in models.items():
        if m.get("kind") != "student":
            continue
        teacher = models.get(m.get("teacher") or "", {})
        t_fig: dict[str, Any] = next(iter(teacher.get("fp32", {}).get(EAGER, {}).values()), {})
        figs = [
            (backend, fig)
            for backend, devices in m.get("int8", {}).items()
            for fig in devices.values()
            if "latency_ms" in fig
        ]
        best = min(figs, key=lambda bf: bf[1]["latency_ms"]["1"]["p50_ms"], default=None)
        t_cost, s_cost = teacher.get("cost", {}), m.get("cost", {})
        rows.append(
            {
                "student": name,
                "teacher": m.get("teacher"),
                "teacher_mpjpe_mm": _get(t_fig, "accuracy", "mpjpe_mm"),
                "teacher_ms_per_window": _get(t_fig, "latency_ms", "1", "p50_ms"),
                "int8_backend": best[0] if best else None,
                "int8_mpjpe_mm": _get(best[1], "accuracy", "mpjpe_mm") if best else None,
                "int8_delta_mm": _get(best[1], "accuracy", "mpjpe_delta_mm") if best else None,
                "int8_ms_per_frame": _get(best[1], "latency_ms", "1", "p50_ms") if best else None,
                "int8_kb": round(best[1]["bytes"] / 1024) if best else None,
                "flops_ratio": (
                    s_cost["gflops_per_s"] / t_cost["gflops_per_s"]
                    if s_cost.get("gflops_per_s") and t_cost.get("gflops_per_s")
                    else None
                ),
            }
        )
    return rows


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table."""

    def f(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    lines = [
        "| student | teacher | teacher MPJPE | teacher ms/window | int8 runtime | int8 MPJPE "
        "(delta) | int8 ms/frame | KB | FLOPs vs teacher |",
        "|" + " --- |" * 9,
    ]
    for r in rows:
        lines.append(
            f"| {r['student']} | {r['teacher']} | {f(r['teacher_mpjpe_mm'], '.1f')} | "
            f"{f(r['teacher_ms_per_window'], '.1f')} | {r['int8_backend'] or '-'} | "
            f"{f(r['int8_mpjpe_mm'], '.1f')} ({f(r['int8_delta_mm'], '+.2f')}) | "
            f"{f(r['int8_ms_per_frame'], '.3f')} | {f(r['int8_kb'], 'd')} | "
            f"1/{f(1 / r['flops_ratio'] if r['flops_ratio'] else None, '.0f')} |"
        )
    return "\n".join(lines)

"""The main job, end to end: what ``make demo`` runs.

Stages, each writing into ``out_dir`` and reporting into ``summary.json``:

1. data: import every clip of the data folder (``../shared/data/mocap`` when present, else
   the bundled CMU clips), retarget to the 22-joint body, split by file, and summarize;
2. sensors: simulate a glasses + watch + phone session for a few held-out clips and write
   them in the recording format the runtime replays; render one clip as a GIF;
3. windows: cut the 30 Hz training windows and report their count and device mix;
4. baselines: train the 2-layer MLP baseline briefly and evaluate it against the mean pose
   on held-out files, per device combination;
5. student and export: train the streaming ``same-student`` briefly on ground truth, export it
   to ExecuTorch, LiteRT and ONNX (fp32 and int8, calibrated on the train split) and Core ML
   (fp16), and validate every artifact in its runtime on held-out windows.

Teachers, distillation, the runtime and benchmarks join this job as their issues land.

Example:
    $ edgesdk pipeline --out runs/demo
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.recording import write_take
from edgesdk.data.render import render_gif
from edgesdk.data.sensors import DeviceSpec, simulate_take
from edgesdk.data.sources import default_data_dir
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.io import write_json_atomic
from edgesdk.train.data import load_train_data
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.trainer import TrainConfig, train

_BATCH = 32
EXPORTS = (
    ("executorch", "fp32"),
    ("executorch", "int8"),
    ("tflite", "fp32"),
    ("tflite", "int8"),
    ("onnx", "fp32"),
    ("onnx", "int8"),
    ("coreml", "fp16"),
)
DEMO_DEVICES = (
    DeviceSpec.glasses(),
    DeviceSpec.watch("left_wrist"),
    DeviceSpec.phone("right_pocket"),
)


def run_pipeline(
    out_dir: Path,
    data_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    baseline_steps: int = 400,
    progress: bool = True,
    exports: tuple[tuple[str, str], ...] = EXPORTS,
) -> dict[str, Any]:
    """Run every stage that exists; returns (and writes) the summary."""
    started = time.perf_counter()
    data_dir = data_dir or default_data_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"data_dir": str(data_dir), "stages": {}}

    data = load_train_data(data_dir, limit=limit, progress=progress)
    clips = data.train + data.val + data.test
    rigs = Counter(c.rig for c in clips)
    heights = [float(np.percentile(c.global_pos_m[:, 15, 1], 90)) for c in clips]
    summary["stages"]["data"] = {
        "clips": len(clips),
        "minutes": round(sum(c.duration_s for c in clips) / 60.0, 1),
        "rigs": dict(rigs),
        "split_clips": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "head_height_m_p90": {"min": round(min(heights), 3), "max": round(max(heights), 3)},
        "fingerprint": data.fingerprint,
    }

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
    summary["stages"]["sensors"] = {"takes": takes, "gif": str(gif)}

    ds = WindowDataset(data.train, WindowConfig(seed=seed), train=True)
    active = Counter(int(ds.presence_mask(ds.rng(i)).any(0).sum()) for i in range(len(ds)))
    summary["stages"]["windows"] = {
        "train_windows": len(ds),
        "window_frames": ds.config.window,
        "devices_per_window": {str(k): v for k, v in sorted(active.items())},
        "skipped_short_clips": len(ds.skipped),
    }

    ckpt, epochs = _train_briefly(
        "mlp-baseline", out_dir, data_dir, limit, seed, baseline_steps, len(ds), progress
    )
    result = evaluate_checkpoint(ckpt, data_dir, data=data, progress=progress)
    summary["stages"]["baselines"] = {
        "mlp_baseline_mpjpe_mm": round(result["overall"]["mpjpe_mm"], 1),
        "mean_pose_mpjpe_mm": round(result["baseline_mean_pose"]["overall"]["mpjpe_mm"], 1),
        "checkpoint": str(ckpt),
        "epochs": epochs,
    }
    summary["stages"]["export"] = _student_and_exports(
        out_dir, data_dir, limit, seed, baseline_steps, len(ds), exports, progress
    )
    summary["not_built_yet"] = ["teachers and distillation", "runtime", "benchmarks"]
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def _student_and_exports(
    out_dir: Path,
    data_dir: Path,
    limit: int | None,
    seed: int,
    steps: int,
    num_windows: int,
    exports: tuple[tuple[str, str], ...],
    progress: bool,
) -> dict[str, Any]:
    """Train same-student on ground truth, export it and validate every artifact."""
    from edgesdk.export.export import export_model
    from edgesdk.export.manifest import read_manifest

    ckpt, epochs = _train_briefly(
        "same-student", out_dir, data_dir, limit, seed, steps, num_windows, progress
    )
    artifacts: dict[str, Any] = {}
    for backend, precision in exports:
        path = export_model(
            ckpt,
            backend,
            precision,
            out_dir / "exports",
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
    return {"student": str(ckpt), "epochs": epochs, "artifacts": artifacts}


def _train_briefly(
    model: str,
    out_dir: Path,
    data_dir: Path,
    limit: int | None,
    seed: int,
    steps: int,
    num_windows: int,
    progress: bool,
) -> tuple[Path, int]:
    """Train ``model`` into ``out_dir / model`` for about ``steps`` optimizer steps, whatever
    the data size (the bundled set has ~20 windows); returns the checkpoint and the epochs."""
    epochs = min(200, max(2, math.ceil(steps / math.ceil(num_windows / _BATCH))))
    ckpt = out_dir / model
    train(
        TrainConfig(
            model=model,
            data=str(data_dir),
            out=str(ckpt),
            epochs=epochs,
            batch_size=_BATCH,
            limit=limit,
            seed=seed,
            progress=progress,
        )
    )
    return ckpt, epochs

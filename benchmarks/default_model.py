"""Package the pretrained default model: a trained streaming student exported to int8 LiteRT
and int8 ONNX (each validated in its runtime against the float model), its held-out figures,
and a model card, into ``edgesdk/assets/models/default/``.

The student is trained first, as the model card records, e.g.:

    edgesdk train --model ego4o-student --data ../shared/data/mocap \\
        --out runs/default/ego4o-student --epochs 8 --oversample hdm05=4

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/default_model.py \\
        --checkpoint runs/default/ego4o-student --data ../shared/data/mocap
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgesdk.export.export import export_model
from edgesdk.export.manifest import manifest_path
from edgesdk.io import write_json_atomic, write_text_atomic
from edgesdk.runtime.pretrained import DEFAULT_DIR, MODEL_CARD
from edgesdk.train import checkpoint
from edgesdk.train.data import load_train_data
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.results import data_block

RESULTS = Path(__file__).resolve().parent / "results"
MAX_BYTES = 1_000_000
COMBOS = (
    "right_pocket",
    "left_wrist",
    "left_wrist+right_pocket",
    "head",
    "head+left_wrist+right_pocket",
)


def _train_command(meta: dict[str, Any]) -> str:
    t = meta["train"]
    parts = [
        "edgesdk train",
        f"--model {t['model']}",
        f"--data {t['data']}",
        f"--out {t['out']}",
        f"--epochs {t['epochs']}",
        f"--seed {t['seed']}",
        f"--devices {t.get('devices', 'clean')}",
        f"--head {t.get('head', 'mocap')}",
    ]
    parts += [f"--oversample {k}={v}" for k, v in sorted(t.get("oversample", {}).items())]
    return " ".join(parts)


def _card(meta: dict[str, Any], summary: dict[str, Any]) -> str:
    artifacts = summary["artifacts"]
    lo, hi = summary["ci95_mpjpe_mm"]
    clo, chi = summary["clean_ci95_mpjpe_mm"]
    per = summary["per_combination"]
    rows = "\n".join(
        f"| {name} | {per[name]['realistic']:.1f} | {per[name]['clean']:.1f} | "
        f"{per[name]['mean_pose']:.1f} |"
        for name in COMBOS
        if name in per
    )
    layers, hidden = meta["config"].get("layers"), meta["config"].get("hidden")
    fps = meta["spec"]["fps"]
    clips = meta["data"].get("clips", {})
    n_clips = sum(clips.values()) if isinstance(clips, dict) else clips
    files = "\n".join(
        f"| `{a['file']}` | {a['backend']} | {a['precision']} | {a['bytes'] / 1000:.0f} KB | "
        f"{a['mpjpe_delta_mm']:+.2f} mm |"
        for a in artifacts
    )
    real = RESULTS / "real_devices.json"
    real_text = (
        "Real phones and watches (`benchmarks/results/real_devices.json`, when regenerated with "
        "this model) score what the recordings' activity labels imply; see README."
        if not real.is_file()
        else _real_summary(json.loads(real.read_text()))
    )
    t = meta["train"]
    return f"""# Pretrained default model: {meta["model"]}

**For non-commercial use only.** The weights are trained on motion capture that includes the
Bandai-Namco Research Motion datasets, released under CC BY-NC 4.0; the weights inherit that
restriction. Attribution of every source is below.

## What it is

A streaming student (GRU {layers} x {hidden}, called once per frame at {fps:g} Hz with its
state fed back) that turns any one to three of five device slots (head: glasses or earbuds;
left and right wrist: a watch; left and right trouser pocket: a phone) into 22 joint rotations
and pelvis-relative positions. It reads each device's acceleration and orientation in the body's
world, as `edgesdk.runtime.Session` builds them after calibrating the devices from ordinary
activity (no calibration pose). It reads no text at run time.

| file | runtime | precision | size | MPJPE vs float (held-out windows) |
| --- | --- | --- | --- | --- |
{files}

`edgesdk run --replay TAKE --out poses.jsonl` uses the LiteRT file when `ai-edge-litert` is
installed, else the ONNX one.

## Training

- Command: `{_train_command(meta)}` ({t.get("wall_s", 0) / 60:.1f} min on one CPU thread).
- Data: {n_clips} motion-capture clips, 85.4 minutes, split by file
  (held-out files are never trained on): Bandai-Namco Research Motion datasets 1 and 2
  (CC BY-NC 4.0, (c) 2022 Bandai Namco Research Inc.), CMU Graphics Lab Motion Capture
  Database subjects 2, 3, 5, 7 ("The data used in this project was obtained from
  mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217."), HDM05
  (CC BY-SA 3.0; "The data used in this project was obtained from HDM05", Mueller et al.,
  Universitaet Bonn, 2007), HDM05's windows four times per epoch (its squats, bending and lying
  down are the only poses near sitting).
- Inputs during training: simulated phones, watches and glasses with the errors of real
  devices through the runtime (noise, biases, orientation-filter tilt, calibration's mount and
  heading residuals, dropped samples: `edgesdk.data.device_model`), 1-3 devices per window,
  devices joining and leaving.

## Held-out figures

Realistic protocol (`{json.dumps(summary["protocol"])}`): MPJPE **{summary["mpjpe_mm"]:.1f}
mm** (95 % interval over held-out files {lo:.1f}-{hi:.1f}), PA-MPJPE
{summary["pa_mpjpe_mm"]:.1f} mm; clean devices: {summary["clean_mpjpe_mm"]:.1f} mm
({clo:.1f}-{chi:.1f}); the training set's mean pose, given the true heading (an advantage no
model has): {summary["mean_pose_mpjpe_mm"]:.1f} mm. Averaged over all 25 combinations of 1-3
slots; some that a user is likely to wear:

| devices | MPJPE realistic (mm) | clean (mm) | mean pose (mm) |
| --- | --- | --- | --- |
{rows}

{real_text}

## Limits

- Chair sitting is not in the training motion: seated on real recordings, the thighs lie
  level but the knees bend less than a seated person's (README, real devices).
- One device on one thigh cannot see the other leg: its motion is the model's guess.
- A watch alone says little about the body: on held-out motion it scores worse than the
  mean pose given the true heading (table above).
- A watch alone says little about the body: on held-out motion it scores worse than the
  mean pose given the true heading (table above).
- The figures come from simulated devices on held-out motion capture, except the real-device
  section.
"""


def _real_summary(data: dict[str, Any]) -> str:
    o = data["overall"]["phone+watch"]
    passed = {k: v["fraction"] for k, v in o["passed"].items()}
    return (
        "Real phones and watches (sp-sw-har, 95 executions, phone in a pocket + watch, "
        f"`benchmarks/results/real_devices.json`): both devices used in "
        f"{o['used_min'] * 100:.0f} % of the frames after the first 3 s; knee flexion seated "
        f"{o['knee_flexion_deg']['SEATED']:.0f} vs walking "
        f"{o['knee_flexion_deg']['WALKING']:.0f} degrees (gap "
        f"{o['seated_minus_walking_knee_deg']:.0f}; aim 40); legs alternating while walking "
        f"(left-right thigh pitch correlation {o['legs_alternate']:.2f}); share of executions "
        f"meeting each aim: {json.dumps(passed)}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="the trained student")
    parser.add_argument("--data", required=True, help="mocap folder (calibration, held-out)")
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="where the files go")
    parser.add_argument(
        "--card-only",
        action="store_true",
        help="rewrite the model card from default_model.json (after real_devices.py ran)",
    )
    args = parser.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    meta = checkpoint.read_meta(args.checkpoint)
    if args.card_only:
        summary = json.loads((RESULTS / "default_model.json").read_text())
        write_text_atomic(Path(args.out) / MODEL_CARD.name, _card(meta, summary))
        return 0
    data = load_train_data(Path(args.data), progress=False)
    result = evaluate_checkpoint(args.checkpoint, args.data, data=data, progress=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    artifacts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".default-") as tmp:
        for backend in ("tflite", "onnx"):
            path = export_model(
                args.checkpoint, backend, "int8", tmp, calib_dir=args.data, command=command
            )
            manifest = json.loads(manifest_path(path).read_text())
            numerics = manifest.get("numerics", {})
            if not numerics.get("passed", False):
                raise SystemExit(f"{path.name}: failed validation: {numerics}")
            artifacts.append(
                {
                    "file": path.name,
                    "backend": backend,
                    "precision": "int8",
                    "bytes": path.stat().st_size,
                    "mpjpe_delta_mm": numerics.get("mpjpe_delta_mm", float("nan")),
                }
            )
        total = sum(a["bytes"] for a in artifacts)
        if total > MAX_BYTES:
            raise SystemExit(f"the default artifacts take {total} bytes, over {MAX_BYTES}")
        for old in out.iterdir():
            if old.is_file() and old.name != MODEL_CARD.name:
                old.unlink()
        for f in Path(tmp).iterdir():
            if f.is_file():
                shutil.move(str(f), out / f.name)
    summary = {
        "command": command,
        "checkpoint": str(args.checkpoint),
        "train_command": _train_command(meta),
        "protocol": result["protocol"],
        "mpjpe_mm": round(result["overall"]["mpjpe_mm"], 2),
        "ci95_mpjpe_mm": result["ci95_mpjpe_mm"],
        "clean_mpjpe_mm": round(result["clean"]["overall"]["mpjpe_mm"], 2),
        "clean_ci95_mpjpe_mm": result["clean"]["ci95_mpjpe_mm"],
        "mean_pose_mpjpe_mm": round(result["baseline_mean_pose"]["overall"]["mpjpe_mm"], 2),
        "pa_mpjpe_mm": round(result["overall"]["pa_mpjpe_mm"], 2),
        "per_combination": {
            k: {
                "realistic": round(v["mpjpe_mm"], 2),
                "clean": round(result["clean"]["per_combination"][k]["mpjpe_mm"], 2),
                "mean_pose": round(
                    result["baseline_mean_pose"]["per_combination"][k]["mpjpe_mm"], 2
                ),
            }
            for k, v in result["per_combination"].items()
        },
        "artifacts": artifacts,
        "bytes_total": total,
        "data": {**data_block(data), "training": meta.get("data", {})},
    }
    write_json_atomic(RESULTS / "default_model.json", summary)
    write_text_atomic(out / MODEL_CARD.name, _card(meta, summary))
    print(json.dumps({k: summary[k] for k in ("mpjpe_mm", "ci95_mpjpe_mm", "bytes_total")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Motion understanding on held-out mocap and on real phones and watches:
``benchmarks/results/understanding.json``.

Sections (each run on its own with ``--sections``, each recording its command; a run replaces
only its sections in the file):

- ``coverage``: the frames of each activity class in the train and test splits, and what the
  real recordings' labels map to (and which the mocap set does not have).
- ``teacher``: the Ego4o teacher's generated descriptions (``edgesdk.bench.understanding``):
  Bandai-Namco content accuracy, activity class accuracy, retrieval top-1 of the description
  among the held-out ones (MiniLM embeddings), beside a majority baseline and an IMU
  classifier trained on the same windows; two device setups: 1-3 random devices per window,
  and watch + phone (left wrist + right pocket, what the real recordings have).
- ``students``: students with an activity head, streamed as on a device (the runtime's
  smoothing), on the same windows and scores, plus per-frame accuracy (raw and smoothed) and
  the window confusion; the pose MPJPE of each beside the same student trained without the
  head (``evaluate_checkpoint``, realistic protocol, paired difference over files); for a
  student that reads text, MPJPE without text, in closed loop (its own description fed back)
  and with the true description (an upper bound).
- ``devices``: an exported student streamed through a ``Session`` over every execution of
  ``sp-sw-har`` (phone in a pocket and watch on a wrist; both, and each alone): per real
  label the frames of each predicted class after the first 3 s (calibration), the share of
  TURNING segments in which a turn is reported and the delay from the segment's start.
- ``exports``: the student with the head in every backend and precision, validated
  (MPJPE delta and class agreement with the float model), and the added cost per frame:
  FLOPs of ``step`` and the p50 latency of the int8 artifacts with and without the head.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/understanding.py --data ../shared/data/mocap \\
        --sections teacher --teacher runs/teachers/ego4o-small
    ... --sections students --students runs/und/ego4o-student-act \\
        --without-head runs/und/ego4o-student
    ... --sections devices --devices-data ../shared/data/devices/sp-sw-har \\
        --artifact runs/und/exports/ego4o-student-int8.tflite
    ... --sections exports --students runs/und/ego4o-student-act \\
        --without-head runs/und/ego4o-student --exports-dir runs/und/exports
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.activity import ACTIVITIES, REAL_LABELS, STILL_MPS, TURN_DPS
from edgesdk.errors import EdgeSDKError
from edgesdk.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "understanding.json"
SETUPS: dict[str, tuple[int, ...] | None] = {"1-3 random devices": None, "watch+phone": (1, 4)}
SETTLE_NS = 3_000_000_000  # the devices' first seconds are spent calibrating them
COMBOS = {"phone+watch": ("phone", "watch"), "phone": ("phone",), "watch": ("watch",)}
BACKENDS = (
    ("executorch", "fp32"),
    ("executorch", "int8"),
    ("tflite", "fp32"),
    ("tflite", "int8"),
    ("onnx", "fp32"),
    ("onnx", "int8"),
    ("coreml", "fp16"),
    ("coreml", "int8"),
    ("coreml", "pal4"),
)


def _command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def _setups(model: Any, data: Any) -> dict[str, Any]:
    from edgesdk.bench.understanding import held_out_config
    from edgesdk.data.windows import WindowDataset
    from edgesdk.train.data import window_config_for

    base = window_config_for(model)
    return {
        name: WindowDataset(data.test, held_out_config(base, slots), train=False)
        for name, slots in SETUPS.items()
    }


def _candidates(ds: Any, encoder: Any) -> tuple[list[str], np.ndarray]:
    from edgesdk.bench.understanding import targets

    texts = sorted(set(targets(ds).texts))
    return texts, encoder.encode(texts).numpy()


def teacher_section(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    from edgesdk.bench import understanding as u
    from edgesdk.data.windows import WindowDataset
    from edgesdk.models.text import default_text_encoder
    from edgesdk.train import checkpoint
    from edgesdk.train.data import window_config_for

    encoder = default_text_encoder()
    teacher = checkpoint.load(args.teacher)
    meta = checkpoint.read_meta(args.teacher)
    contents = u.bandai_contents(data.train + data.test)
    train_cfg = window_config_for(teacher, devices="realistic", head="slam")
    train_ds = WindowDataset(data.train, train_cfg, train=True)
    train_truth = u.targets(WindowDataset(data.train, u.held_out_config(train_cfg, None), False))
    descriptions = sorted(set(train_truth.texts))
    started = time.perf_counter()
    classifier, history = u.train_imu_classifier(train_ds, descriptions, epochs=args.epochs)
    classifier_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "command": _command(),
        "teacher": {
            "checkpoint": str(args.teacher),
            "model": meta["model"],
            "train": {k: meta["train"].get(k) for k in ("epochs", "stage_epochs", "wall_s")},
        },
        "imu_classifier": {
            "what": "ImuClassifier (edgesdk.bench.understanding): 3 conv1d layers of 96 over "
            "the window, mean+max pooled, heads for the 15 classes and the "
            f"{len(descriptions)} training descriptions",
            "epochs": args.epochs,
            "train_wall_s": round(classifier_s, 1),
            "history": history,
        },
        "setups": {},
    }
    for setup, ds in _setups(teacher, data).items():
        truth = u.targets(ds)
        candidates, cand_emb = _candidates(ds, encoder)
        captions = u.teacher_captions(teacher, ds)
        cap_class = np.array([ACTIVITIES.index(u.activity_of_text(c)) for c in captions])
        rows = [
            u.score(
                "ego4o-small",
                cap_class,
                captions,
                encoder.encode(captions).numpy(),
                truth,
                contents,
                candidates,
                cand_emb,
            )
        ]
        major_class, major_text = u.majority(train_truth, len(truth.texts))
        rows.append(
            u.score(
                "majority",
                major_class,
                major_text,
                encoder.encode(major_text).numpy(),
                truth,
                contents,
                candidates,
                cand_emb,
            )
        )
        cls, texts = u.classifier_predictions(classifier, ds, descriptions)
        rows.append(
            u.score(
                "imu-classifier",
                cls,
                texts,
                encoder.encode(texts).numpy(),
                truth,
                contents,
                candidates,
                cand_emb,
            )
        )
        pick = sorted(set(np.linspace(0, len(captions) - 1, 12).astype(int).tolist()))
        out["setups"][setup] = {
            "windows": len(truth.texts),
            "rows": rows,
            "teacher_confusion": u.confusion(truth.window_class, cap_class),
            "examples": [{"true": truth.texts[i], "generated": captions[i]} for i in pick],
        }
        print(setup, [(r["method"], r["content_accuracy"], r["retrieval_top1"]) for r in rows])
    return out


def students_section(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    from edgesdk.bench import understanding as u
    from edgesdk.models.students_core import StreamingStudent
    from edgesdk.models.text import default_text_encoder
    from edgesdk.runtime.model_backend import EagerBackend
    from edgesdk.train import checkpoint
    from edgesdk.train.evaluate import REALISTIC, evaluate_checkpoint, evaluate_predict
    from edgesdk.train.uncertainty import PerFile, paired_difference_ci95

    encoder = default_text_encoder()
    contents = u.bandai_contents(data.train + data.test)
    out: dict[str, Any] = {"command": _command(), "students": {}}
    without = dict(zip(args.students, args.without_head or [], strict=False))
    for ckpt in args.students:
        model = checkpoint.load(ckpt)
        meta = checkpoint.read_meta(ckpt)
        table = EagerBackend(Path(ckpt)).activity
        if not isinstance(model, StreamingStudent):
            raise EdgeSDKError(f"{ckpt}: not a streaming student")
        if table is None:
            raise EdgeSDKError(f"{ckpt}: no activity head (train it with --set activity=true)")
        entry: dict[str, Any] = {"checkpoint": str(ckpt), "train": _train_command(meta)}
        for setup, ds in _setups(model, data).items():
            truth = u.targets(ds)
            candidates, cand_emb = _candidates(ds, encoder)
            pred = u.student_predictions(model, ds, table)
            row = u.score(
                meta["model"],
                pred["window_class"],
                pred["descriptions"],
                pred["embeddings"],
                truth,
                contents,
                candidates,
                cand_emb,
            )
            row["frame_accuracy_raw"] = round(float((pred["raw"] == truth.frames).mean()), 4)
            row["frame_accuracy_smoothed"] = round(
                float((pred["smoothed"] == truth.frames).mean()), 4
            )
            row["confusion"] = u.confusion(truth.window_class, pred["window_class"])
            entry.setdefault("setups", {})[setup] = row
            print(meta["model"], setup, row["activity_accuracy"], row["retrieval_top1"])
        with_head = evaluate_checkpoint(ckpt, args.data, data=data, clean=False, progress=False)
        entry["pose"] = {"with_head": _pose(with_head)}
        if ckpt in without:
            base = evaluate_checkpoint(
                without[ckpt], args.data, data=data, clean=False, progress=False
            )
            entry["pose"]["without_head"] = {"checkpoint": without[ckpt], **_pose(base)}
            entry["pose"]["head_minus_without_mm"] = paired_difference_ci95(
                PerFile.from_json(with_head["per_file"]), PerFile.from_json(base["per_file"])
            )
        if "text_emb" in {t.name for t in model.spec.inputs}:
            loop = evaluate_predict(model, data, u.closed_loop_predict(model, table), REALISTIC)
            entry["pose"]["closed_loop"] = {
                "overall": _round(loop["overall"]),
                "ci95_mpjpe_mm": loop["ci95_mpjpe_mm"],
                "minus_no_text_mm": paired_difference_ci95(
                    PerFile.from_json(loop["per_file"]), PerFile.from_json(with_head["per_file"])
                ),
                "what": "streamed frame by frame, the runtime's smoothing, the nearest "
                "training description fed back as text once its class is >= 0.5 likely",
            }
        out["students"][Path(ckpt).name] = {"model": meta["model"], **entry}
    return out


def _pose(result: dict[str, Any]) -> dict[str, Any]:
    pose = {
        "overall": _round(result["overall"]),
        "ci95_mpjpe_mm": result["ci95_mpjpe_mm"],
        "protocol": result["protocol"],
    }
    if "text_oracle_label" in result:
        pose["true_description_mpjpe_mm"] = round(
            result["text_oracle_label"]["overall"]["mpjpe_mm"], 2
        )
    return pose


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in d.items() if k in ("mpjpe_mm", "pa_mpjpe_mm", "mpjre_deg")}


def _train_command(meta: dict[str, Any]) -> str:
    t = meta["train"]
    sets = "".join(
        f" --set {k}={json.dumps(v)}" for k, v in t.get("overrides", {}).items() if v is not None
    )
    over = "".join(f" --oversample {k}={v}" for k, v in t.get("oversample", {}).items())
    return (
        f"edgesdk train --model {t['model']} --data {t['data']} --out {t['out']} "
        f"--epochs {t['epochs']} --seed {t['seed']}{over}{sets}"
    )


def devices_section(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses
    import tempfile

    from edgesdk.data.importers import import_recordings
    from edgesdk.data.recording import read_take
    from edgesdk.runtime.replay import replay_take
    from edgesdk.runtime.session import Session

    if not args.artifact:
        raise EdgeSDKError("--sections devices needs --artifact (a student with an activity head)")
    table: dict[str, dict[str, dict[str, int]]] = {c: {} for c in COMBOS}
    turns: dict[str, list[dict[str, Any]]] = {c: [] for c in COMBOS}
    covered: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        takes_dir = Path(tmp) / "takes"
        import_recordings(Path(args.devices_data), "sp-sw-har", takes_dir)
        names = sorted(p.name for p in takes_dir.iterdir() if (p / "meta.json").is_file())
        for name in names[: args.limit] if args.limit else names:
            take = read_take(takes_dir / name)
            for combo_name, combo in COMBOS.items():
                sub = dataclasses.replace(take, streams={d: take.streams[d] for d in combo})
                session = Session(args.artifact, clock="virtual")
                frames = replay_take(session, sub)
                if not frames or frames[0].activity is None:
                    continue
                t = np.array([f.t_ns for f in frames])
                labels = np.array([f.activity["label"] if f.activity else "" for f in frames])
                clock = session.devices[combo[0]].clock
                segments = take.meta.get("activity_labels", {}).get(combo[0], [])
                for label, t0, t1 in segments:
                    s0, s1 = clock.to_session(int(t0)), clock.to_session(int(t1))
                    sel = (t >= max(s0, SETTLE_NS)) & (t <= s1)
                    row = table[combo_name].setdefault(str(label), {})
                    for p in labels[sel].tolist():
                        row[p] = row.get(p, 0) + 1
                    if combo_name == "phone+watch":
                        covered[str(label)] = covered.get(str(label), 0.0) + (s1 - s0) / 1e9
                    if label == "TURNING" and sel.sum() > 0:
                        hit = np.flatnonzero(labels[sel] == "turn")
                        start = t[sel][0]
                        turns[combo_name].append(
                            {
                                "detected": bool(len(hit)),
                                "delay_s": round((t[sel][hit[0]] - s0) / 1e9, 3)
                                if len(hit)
                                else None,
                                "segment_s": round((s1 - s0) / 1e9, 3),
                                "cut_s": round((start - s0) / 1e9, 3),
                            }
                        )
            print(name, flush=True)
    summary: dict[str, Any] = {}
    for combo_name, rows in table.items():
        acc = {}
        for label, row in rows.items():
            mapped = REAL_LABELS.get(label)
            total = sum(row.values())
            if mapped is not None and total:
                acc[f"{label} -> {mapped}"] = round(row.get(mapped, 0) / total, 4)
        found = turns[combo_name]
        delays = [x["delay_s"] for x in found if x["delay_s"] is not None]
        summary[combo_name] = {
            "accuracy_of_mapped_labels": acc,
            "turning_segments": len(found),
            "turning_segments_with_a_turn": round(float(np.mean([x["detected"] for x in found])), 4)
            if found
            else None,
            "turn_delay_s_median": round(float(np.median(delays)), 3) if delays else None,
        }
    return {
        "command": _command(),
        "artifact": str(args.artifact),
        "label_map": {k: v for k, v in REAL_LABELS.items()},
        "seconds_per_label": {k: round(v, 1) for k, v in sorted(covered.items())},
        "confusion_frames": table,
        "summary": summary,
        "turns": turns,
        "definitions": "frames after the first 3 s of each execution, by the recording's "
        "label (mapped through the session's fitted clock of the first device), against the "
        f"activity the session emits (smoothed). Mocap labels: a frame is idle when every "
        f"joint is slower than {STILL_MPS} m/s over 1 s, a walking frame is a turn when the "
        f"pelvis turns faster than {TURN_DPS} deg/s over 1 s.",
    }


def exports_section(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    from edgesdk.bench.cost import count_flops
    from edgesdk.bench.latency import artifact_latency
    from edgesdk.export.export import export_model
    from edgesdk.models.signature import signature_for
    from edgesdk.train import checkpoint

    out: dict[str, Any] = {"command": _command(), "artifacts": {}, "cost": {}}
    ckpt = args.students[0]
    exports = Path(args.exports_dir)
    for backend, precision in BACKENDS:
        try:
            path = export_model(
                ckpt,
                backend,
                precision,
                exports,
                calib_dir=args.data,
                validate_windows=None,
                progress=False,
                command=_command(),
            )
        except EdgeSDKError as exc:
            out["artifacts"][f"{backend}-{precision}"] = {"error": str(exc)}
            continue
        numerics = json.loads(Path(str(path) + ".json").read_text())["numerics"]
        keep = (
            "passed",
            "ran",
            "windows",
            "mpjpe_eager_mm",
            "mpjpe_delta_mm",
            "activity_agreement",
            "activity_accuracy_eager",
            "activity_accuracy_artifact",
        )
        out["artifacts"][path.name] = {
            "bytes": path.stat().st_size if path.is_file() else None,
            **{k: numerics[k] for k in keep if k in numerics},
        }
        print(path.name, out["artifacts"][path.name], flush=True)
    flops = {}
    for name, folder in (("with_head", ckpt), ("without_head", args.without_head[0])):
        sig = signature_for(checkpoint.load(folder))
        flops[name] = count_flops(sig.module, sig.example())
    out["cost"]["step_flops"] = flops
    out["cost"]["added_flops_per_frame"] = flops["with_head"] - flops["without_head"]
    plain = exports / "without-head"
    for backend in ("tflite", "onnx"):
        path = export_model(
            args.without_head[0],
            backend,
            "int8",
            plain,
            calib_dir=args.data,
            validate_windows=4,
            progress=False,
            command=_command(),
        )
        head = exports / path.name
        lat = {
            "with_head": artifact_latency(head, threads=(1,), calls=300)["1"],
            "without_head": artifact_latency(path, threads=(1,), calls=300)["1"],
        }
        out["cost"][f"{backend}_int8_latency_ms"] = {
            k: {m: round(v[m], 4) for m in ("p50_ms", "p90_ms")} for k, v in lat.items()
        }
        out["cost"][f"{backend}_int8_added_p50_ms"] = round(
            lat["with_head"]["p50_ms"] - lat["without_head"]["p50_ms"], 4
        )
        out["cost"][f"{backend}_int8_bytes"] = {
            "with_head": head.stat().st_size,
            "without_head": path.stat().st_size,
        }
    return out


def coverage_section(data: Any) -> dict[str, Any]:
    """Frames of each class in the train and test splits (labels refined per frame), and
    what the real recordings' labels map to."""
    from edgesdk.data.activity import frame_activities

    out: dict[str, Any] = {"command": _command()}
    for split in ("train", "test"):
        counts = np.zeros(len(ACTIVITIES), np.int64)
        for c in getattr(data, split):
            labels = frame_activities(c.labels.text(), c.global_pos_m, c.R_world_joint, c.fps)
            counts += np.bincount(labels, minlength=len(ACTIVITIES))
        out[f"{split}_frames"] = {a: int(n) for a, n in zip(ACTIVITIES, counts, strict=True)}
    out["real_labels"] = {
        "SEATED": "idle: still (no mocap clip sits on a chair; a seated thigh is horizontal, "
        "which the mocap set shows only in squats and lying down)",
        "STANDING_UP": "not covered: no mocap clip stands up from a chair",
        "WALKING": "walk",
        "TURNING": "turn: Bandai-Namco walk-turn-left/right (90 degree turns while walking); "
        "the recordings turn about 180 degrees on the spot",
        "SITTING_DOWN": "not covered: no mocap clip sits down on a chair",
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mocap")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=("coverage", "teacher", "students", "devices", "exports"),
    )
    parser.add_argument("--teacher", default=None, help="Ego4o checkpoint folder")
    parser.add_argument("--students", nargs="*", default=[], help="students with the head")
    parser.add_argument("--without-head", nargs="*", default=[], help="the same, without")
    parser.add_argument("--devices-data", default="../shared/data/devices/sp-sw-har")
    parser.add_argument("--artifact", default=None, help="exported student, for devices")
    parser.add_argument("--exports-dir", default="runs/und/exports")
    parser.add_argument("--epochs", type=int, default=8, help="IMU classifier epochs")
    parser.add_argument("--limit", type=int, default=None, help="at most this many takes")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args(argv)
    path = Path(args.json)
    results: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    data = None
    if set(args.sections) & {"coverage", "teacher", "students", "exports"}:
        from edgesdk.train.data import load_train_data
        from edgesdk.train.results import provenance

        data = load_train_data(Path(args.data), progress=False)
        results.update(provenance(data))
    for section in args.sections:
        started = time.perf_counter()
        if section == "teacher":
            if not args.teacher:
                raise EdgeSDKError("--sections teacher needs --teacher")
            out = teacher_section(args, data)
        elif section == "students":
            out = students_section(args, data)
        elif section == "devices":
            out = devices_section(args)
        elif section == "coverage":
            out = coverage_section(data)
        else:
            out = exports_section(args, data)
        out["wall_s"] = round(time.perf_counter() - started, 1)
        if data is not None and section != "devices":
            out["data_fingerprint"] = data.fingerprint
        results[section] = out
        results["classes"] = list(ACTIVITIES)
        write_json_atomic(path, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

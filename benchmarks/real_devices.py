"""Poses from real phones and watches: do they follow what the people were doing?

Every execution of ``sp-sw-har`` (a phone in a trouser pocket and a watch on a wrist, recorded
together: seated, standing up, walking about 3 m, turning, walking back, turning, sitting
down) is imported as ``edgesdk data import`` does and replayed through a ``Session`` with the
model (default: the bundled one), once with both devices and once with each alone. The
recordings have activity labels but no body ground truth, so this scores what the labels
imply (``edgesdk.bench.gait`` has the definitions):

- ``used``: per device, the fraction of frames after the first 3 s in which the model read it;
- ``knee_flexion_deg`` / ``hip_flexion_deg``: mean over both legs in ``SEATED`` and in
  ``WALKING`` frames, and ``seated_minus_walking_knee_deg`` (aim: at least 40);
- ``legs_alternate``: the correlation of left and right thigh pitch over ``WALKING`` frames
  (negative: the legs swing in opposition; aim: below -0.3);
- ``step_rate_hz``: steps per second in the model's legs (how often left minus right thigh
  pitch changes sign: once per step, ``edgesdk.bench.gait.alternations``) beside the step
  rate in the phone's own acceleration (the spectral peak of its magnitude between 1.2 and
  2.5 Hz: one heel strike per step, what a phone's step counter reads), over the ``WALKING``
  segments of an execution together (each holds only a few strides), and their ratio (aim:
  within 15 %);
- ``turn_deg``: the pelvis' yaw change over each ``TURNING`` segment (the people turned
  round: aim at least 90 degrees in magnitude).

Every figure reads the frames after the first 3 s (the devices' first seconds are spent
calibrating them). Label times are in each device's clock; the session's fitted clock maps
them onto frames.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_devices.py \\
        --data ../shared/data/devices/sp-sw-har [--artifact FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.bench.gait import (
    alternations,
    hip_flexion_deg,
    knee_flexion_deg,
    pelvis_yaw,
    stride_frequency_hz,
    thigh_pitch_deg,
    unwrapped_turn_deg,
)
from edgesdk.body.rotations_numpy import from_6d
from edgesdk.data.importers import import_recordings
from edgesdk.data.recording import read_take
from edgesdk.data.sources import provenance_not_mocap
from edgesdk.data.takes import Take
from edgesdk.io import write_json_atomic
from edgesdk.runtime.pretrained import default_model
from edgesdk.runtime.replay import replay_take
from edgesdk.runtime.session import Session

RESULTS = Path(__file__).resolve().parent / "results" / "real_devices.json"
# What the results file was measured on (top-level "data" and "protocol").
PROVENANCE = provenance_not_mocap(
    "real phone-in-pocket + watch recordings of 10 people (devices/sp-sw-har)",
    "real recordings carry no true pose: plausibility aims (gait, knee and hip angles, turns) "
    "instead of MPJPE",
)
SETTLE_NS = 3_000_000_000  # the first 3 s: devices are being calibrated
COMBOS = {"phone+watch": ("phone", "watch"), "phone": ("phone",), "watch": ("watch",)}
AIMS = {
    "used_min": 0.9,
    "seated_minus_walking_knee_deg": 40.0,
    "legs_alternate_max": -0.3,
    "step_rate_ratio_tol": 0.15,
    "turn_min_deg": 90.0,
}


def _segments(take: Take, device: str) -> list[tuple[str, int, int]]:
    labels = take.meta.get("activity_labels", {}).get(device, [])
    return [(str(lab), int(t0), int(t1)) for lab, t0, t1 in labels]


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return round(float(np.mean(vals)), 3) if vals else None


def score_take(take: Take, artifact: str | None, combo: tuple[str, ...]) -> dict[str, Any]:
    """Replay ``combo``'s devices of ``take`` and score the poses (module docstring)."""
    sub = dataclasses.replace(take, streams={d: take.streams[d] for d in combo})
    session = Session(artifact or default_model(), clock="virtual")
    frames = replay_take(session, sub)
    if not frames:
        return {"frames": 0}
    t = np.array([f.t_ns for f in frames])
    pos = np.stack([f.pos_rel_m for f in frames]).astype(np.float64)
    R_pelvis = from_6d(np.stack([f.R_world_joint_6d[0] for f in frames]).astype(np.float64))
    after = [f for f in frames if f.t_ns >= SETTLE_NS]
    out: dict[str, Any] = {
        "frames": len(frames),
        "used": {d: round(float(np.mean([f.devices[d]["used"] for f in after])), 3) for d in combo},
        "placement": {d: session.devices[d].slot for d in combo},
        "calibration": {d: session.devices[d].calibration_state[0] for d in combo},
    }
    ref = combo[0]
    clock = session.devices[ref].clock
    knee, hip = knee_flexion_deg(pos), hip_flexion_deg(pos)
    pitch = thigh_pitch_deg(pos, R_pelvis)
    yaw = pelvis_yaw(R_pelvis)
    per_label: dict[str, dict[str, list[float]]] = {}
    steps: list[dict[str, float | None]] = []
    turns: list[float] = []
    corr: list[float] = []
    phone = take.streams.get("phone")
    phone_walks = [(a, b) for lab, a, b in _segments(take, "phone") if lab == "WALKING"]
    walk_index = 0
    model_walk: list[tuple[int, float]] = []
    phone_walk: list[np.ndarray] = []
    phone_hz: list[float] = []
    for label, t0, t1 in _segments(take, ref):
        s0, s1 = clock.to_session(t0), clock.to_session(t1)
        sel = (t >= max(s0, SETTLE_NS)) & (t <= s1)
        if label == "WALKING":
            walk_index += 1
        if sel.sum() < 3:
            continue
        d = per_label.setdefault(label, {"knee": [], "hip": []})
        d["knee"].extend(knee[sel].mean(1).tolist())
        d["hip"].extend(hip[sel].mean(1).tolist())
        if label == "TURNING":
            turns.append(round(unwrapped_turn_deg(yaw[sel]), 1))
        if label == "WALKING" and sel.sum() >= 45:
            left, right = pitch[sel, 0], pitch[sel, 1]
            if left.std() > 1e-6 and right.std() > 1e-6:
                corr.append(float(np.corrcoef(left, right)[0, 1]))
            model_walk.append(alternations(left - right, 30.0))
            if phone is not None and walk_index <= len(phone_walks):
                a, b = phone_walks[walk_index - 1]  # the same segment in the phone's clock,
                a += max(s0, SETTLE_NS) - s0  # cut where the frames are cut
                m = (phone.t_ns >= a) & (phone.t_ns <= b)
                if m.sum() > 50:
                    span_s = (phone.t_ns[m][-1] - phone.t_ns[m][0]) / 1e9
                    phone_hz.append(float((m.sum() - 1) / span_s))
                    phone_walk.append(_detrended(np.linalg.norm(phone.acc_mps2[m], axis=1)))
    # one estimate per execution over its walking segments together (each a few strides)
    if model_walk:
        crossings = sum(c for c, _ in model_walk)
        seconds = sum(d for _, d in model_walk)
        model_rate = crossings / seconds if seconds > 0 else math.nan
        phone_rate = math.nan
        if phone_walk:
            fs = float(np.mean(phone_hz))
            # one acceleration peak per step (heel strikes), as a phone's step counter counts
            phone_rate = stride_frequency_hz(np.concatenate(phone_walk), fs, 1.2, 2.5)
        steps.append(
            {
                "model_hz": None if math.isnan(model_rate) else round(model_rate, 3),
                "phone_hz": None if math.isnan(phone_rate) else round(phone_rate, 3),
            }
        )
    for label, d in per_label.items():
        out.setdefault("knee_flexion_deg", {})[label] = _mean(d["knee"])
        out.setdefault("hip_flexion_deg", {})[label] = _mean(d["hip"])
    seated = out.get("knee_flexion_deg", {}).get("SEATED")
    walking = out.get("knee_flexion_deg", {}).get("WALKING")
    out["seated_minus_walking_knee_deg"] = (
        round(seated - walking, 2) if seated is not None and walking is not None else None
    )
    out["legs_alternate"] = _mean(corr)
    out["step_rate_hz"] = steps
    ratios = [s["model_hz"] / s["phone_hz"] for s in steps if s["model_hz"] and s["phone_hz"]]
    out["step_rate_ratio"] = _mean(ratios)
    out["turn_deg"] = turns
    return out


def _detrended(x: np.ndarray) -> np.ndarray:
    n = np.arange(len(x))
    return np.asarray(x - np.polyval(np.polyfit(n, x, 1), n))


def passes(row: dict[str, Any], combo: tuple[str, ...]) -> dict[str, bool | None]:
    """Which aims an execution meets (module docstring); None where the recording has no
    segment to judge by after the first 3 s (it ends before the person is seated again)."""
    used = row.get("used", {})
    gap = row.get("seated_minus_walking_knee_deg")
    alt = row.get("legs_alternate")
    ratio = row.get("step_rate_ratio")
    turns = row.get("turn_deg", [])
    return {
        "used": bool(used) and min(used.values()) >= AIMS["used_min"],
        "sitting": None if gap is None else gap >= AIMS["seated_minus_walking_knee_deg"],
        "legs_alternate": alt is not None and alt <= AIMS["legs_alternate_max"],
        "step_rate": ratio is not None and abs(ratio - 1.0) <= AIMS["step_rate_ratio_tol"],
        "turns": bool(turns) and min(abs(x) for x in turns) >= AIMS["turn_min_deg"],
    }


def _pass_rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per aim: the fraction of the executions it could be judged on that meet it, and how
    many those were."""
    out: dict[str, Any] = {}
    for key in rows[0]["passes"] if rows else []:
        judged = [r["passes"][key] for r in rows if r["passes"][key] is not None]
        out[key] = {
            "fraction": round(float(np.mean(judged)), 3) if judged else None,
            "judged": len(judged),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the sp-sw-har folder")
    parser.add_argument("--takes", default=None, help="already imported takes (default: import)")
    parser.add_argument("--artifact", default=None, help="model artifact (default: the bundled)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many executions")
    parser.add_argument("--json", default=str(RESULTS), help="output JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        takes_dir = Path(args.takes) if args.takes else Path(tmp) / "takes"
        if not args.takes:
            import_recordings(Path(args.data), "sp-sw-har", takes_dir)
        names = sorted(p.name for p in takes_dir.iterdir() if (p / "meta.json").is_file())
        names = names[: args.limit] if args.limit else names
        rows: dict[str, dict[str, Any]] = {c: {} for c in COMBOS}
        for name in names:
            take = read_take(takes_dir / name)
            for combo_name, combo in COMBOS.items():
                row = score_take(take, args.artifact, combo)
                row["passes"] = passes(row, combo)
                rows[combo_name][name] = row
            print(name, {c: rows[c][name]["passes"] for c in COMBOS}, flush=True)
    overall: dict[str, Any] = {}
    for combo_name, per in rows.items():
        vals = list(per.values())
        overall[combo_name] = {
            "executions": len(vals),
            "passed": _pass_rates(vals),
            "used_min": _mean([min(v["used"].values()) for v in vals if v.get("used")]),
            "knee_flexion_deg": {
                lab: _mean([v.get("knee_flexion_deg", {}).get(lab) for v in vals])
                for lab in ("SEATED", "WALKING")
            },
            "hip_flexion_deg": {
                lab: _mean([v.get("hip_flexion_deg", {}).get(lab) for v in vals])
                for lab in ("SEATED", "WALKING")
            },
            "seated_minus_walking_knee_deg": _mean(
                [v.get("seated_minus_walking_knee_deg") for v in vals]
            ),
            "legs_alternate": _mean([v.get("legs_alternate") for v in vals]),
            "step_rate_ratio": _mean([v.get("step_rate_ratio") for v in vals]),
            "turn_deg_abs": _mean([abs(x) for v in vals for x in v.get("turn_deg", [])]),
        }
    write_json_atomic(
        args.json,
        {
            "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
            "artifact": args.artifact or "bundled default",
            **PROVENANCE,
            "definitions": __doc__.split("\n\n")[1].replace("\n", " "),
            "aims": AIMS,
            "overall": overall,
            "executions": rows,
            "wall_s": round(time.perf_counter() - started, 1),
        },
    )
    print({c: overall[c]["passed"] for c in overall})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

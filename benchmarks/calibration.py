"""How well the runtime calibrates devices without a calibration pose, on simulated sessions
with ground truth, and what error it leaves for the models to live with.

Each scenario is a held-out mocap clip (test split) repeated for ``--seconds`` with no N-pose
at the start, worn with a typical phone (random pocket, upright or upside down, any roll about
its long axis: screen out, in, or sideways) and a typical watch (random wrist, crown towards
the elbow one time in five), simulated with ``DeviceSpec.phone() / .watch()`` (noise, bias
walk, heading drift, 10 / 5 degrees of mount jitter, clock jitter, drops) and replayed
through a ``Session``. At the end, per device: the calibration's state, when it first became
usable and ``calibrated``, its mount error (the angle between the estimated and the true
``R_bone_sensor``) and its heading error relative to the other device (the yaw of
``A Q C (R_world_bone R_nominal)^T`` averaged over the stream, minus the other device's).
With ``--slots given`` the slots are set by the caller; with ``detected`` placement finds
them (its accuracy is reported).

Writes ``benchmarks/results/calibration.json`` with the command. The medians and 90th
percentiles are what ``edgesdk.data.device_model.ERRORS`` assumes for realistic training.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calibration.py --data ../shared/data/mocap
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.body.rotations_numpy import matrix_to_quat, quat_to_matrix, wrap
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.mounts import SLOT_BONE, nominal_mount
from edgesdk.data.simulate import simulate_take
from edgesdk.data.sources import data_summary
from edgesdk.data.windows import split_by_file
from edgesdk.io import write_json_atomic
from edgesdk.runtime.autocal import TURNS, ActivityCalibration
from edgesdk.runtime.replay import arrival_order
from edgesdk.runtime.scenario import session_clip, true_time_s
from edgesdk.runtime.session import Session, SessionConfig
from edgesdk.train.data import load_clips_cached

RESULTS = Path(__file__).resolve().parent / "results" / "calibration.json"
MIN_CLIP_S = 3.0  # the shortest held-out clip a scenario repeats
PROTOCOL = (
    "not applicable: calibration of simulated phone + watch sessions (the realistic device "
    "model), no pose model"
)


def _backend() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.runtime.common import RecordingBackend  # a real ModelBackend that records

    return RecordingBackend()


def _specs(rng: np.random.Generator) -> tuple[list[DeviceSpec], dict[str, str]]:
    pocket = ("left_pocket", "right_pocket")[int(rng.integers(2))]
    wrist = ("left_wrist", "right_wrist")[int(rng.integers(2))]
    turns = TURNS["phone"]
    name, K = turns[int(rng.integers(len(turns)))]
    phone_mount = nominal_mount("phone", pocket) @ K
    watch_K = TURNS["watch"][1 if rng.random() < 0.2 else 0]
    watch_mount = nominal_mount("watch", wrist) @ watch_K[1]
    phone = DeviceSpec.phone(pocket, mount_quat_wxyz=tuple(matrix_to_quat(phone_mount).tolist()))
    watch = DeviceSpec.watch(wrist, mount_quat_wxyz=tuple(matrix_to_quat(watch_mount).tolist()))
    return [phone, watch], {phone.device_id: name, watch.device_id: watch_K[0]}


def _errors(cal: Any, kind: str, slot: str, stream: Any, clip: Any) -> tuple[float, float]:
    """(mount error deg, mean heading offset rad) of a device's final calibration."""
    A, C = cal.frames(kind, slot)
    true_mount = quat_to_matrix(np.asarray(stream.mount_quat_wxyz))
    mount_err = math.degrees(
        math.acos(max(-1.0, min(1.0, (np.trace(cal.mount(kind, slot).T @ true_mount) - 1) / 2)))
    )
    frames = np.clip(np.round(true_time_s(stream) * clip.fps).astype(int), 0, clip.num_frames - 1)
    R_bone = clip.R_world_joint[frames, SLOT_BONE[slot]].astype(np.float64)
    R_true = R_bone @ nominal_mount(kind, slot)
    Q = np.stack([quat_to_matrix(q) for q in stream.quat_wxyz])
    E = A @ Q @ C @ np.swapaxes(R_true, 1, 2)
    yaw = np.arctan2(E[:, 0, 2] - E[:, 2, 0], E[:, 0, 0] + E[:, 2, 2])  # yaw about +Y
    return mount_err, math.atan2(float(np.sin(yaw).mean()), float(np.cos(yaw).mean()))


def run_scenario(clip: Any, seed: int, seconds: float, given: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    specs, turn_names = _specs(rng)
    scene = session_clip(clip, seconds, still_s=0.0, blend_s=0.0)
    take = simulate_take(scene, specs, seed=seed)
    session = Session(_backend(), SessionConfig(), clock="virtual")
    for spec in specs:
        session.add_device(spec.device_id, kind=spec.kind, slot=spec.slot if given else None)
    first_used: dict[str, float] = {}
    first_calibrated: dict[str, float] = {}
    for recv, _, device_id, i in arrival_order(take, False):
        s = take.streams[device_id]
        session.push(
            device_id, int(s.t_ns[i]), s.acc_mps2[i], s.gyro_rads[i], s.quat_wxyz[i], recv_ns=recv
        )
        for frame in session.poses():
            for d, rep in frame.devices.items():
                if rep["used"]:
                    first_used.setdefault(d, frame.t_ns / 1e9)
                if rep["calibration"] == "calibrated":
                    first_calibrated.setdefault(d, frame.t_ns / 1e9)
    session.flush()
    out: dict[str, Any] = {"clip": clip.name, "seed": seed, "devices": {}}
    offsets = {}
    for spec in specs:
        dev = session.devices[spec.device_id]
        cal = dev.calibration
        row: dict[str, Any] = {
            "true_slot": spec.slot,
            "slot": dev.slot,
            "true_turn": turn_names[spec.device_id],
            "state": dev.calibration_state[0],
            "first_used_s": first_used.get(spec.device_id),
            "first_calibrated_s": first_calibrated.get(spec.device_id),
        }
        if cal is not None:
            row["calibration"] = "activity" if isinstance(cal, ActivityCalibration) else "n-pose"
        if isinstance(cal, ActivityCalibration) and dev.slot is not None:
            row["turn"] = cal.turn_name(dev.slot)
        if cal is not None and dev.slot == spec.slot:
            mount_err, offset = _errors(
                cal, spec.kind, spec.slot, take.streams[spec.device_id], scene
            )
            row["mount_error_deg"] = round(mount_err, 2)
            offsets[spec.device_id] = offset
        out["devices"][spec.device_id] = row
    if len(offsets) == 2:
        a, b = offsets.values()
        out["relative_heading_error_deg"] = round(math.degrees(abs(wrap(a - b))), 2)
    return out


def _fraction(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 3) if flags else None


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        v = np.asarray(values)
        return {
            "median": round(float(np.median(v)), 2),
            "p90": round(float(np.percentile(v, 90)), 2),
            "n": len(v),
        }

    out: dict[str, Any] = {}
    for kind in ("phone", "watch"):
        devs = [d for r in rows for k, d in r["devices"].items() if k.startswith(kind)]
        out[kind] = {
            "placement_correct": round(
                float(np.mean([d["slot"] == d["true_slot"] for d in devs])), 3
            ),
            "calibrated_from_activity": round(
                float(np.mean([d.get("calibration") == "activity" for d in devs])), 3
            ),
            "turn_correct_of_activity": _fraction(
                [
                    d["turn"].split("_roll")[0] == d["true_turn"].split("_roll")[0]
                    for d in devs
                    if "turn" in d
                ]
            ),
            "calibrated_at_end": round(
                float(np.mean([d["state"] == "calibrated" for d in devs])), 3
            ),
            "first_used_s": stats(
                [d["first_used_s"] for d in devs if d["first_used_s"] is not None]
            ),
            "first_calibrated_s": stats(
                [d["first_calibrated_s"] for d in devs if d["first_calibrated_s"] is not None]
            ),
            "mount_error_deg": stats(
                [d["mount_error_deg"] for d in devs if "mount_error_deg" in d]
            ),
            "mount_error_deg_activity": stats(
                [
                    d["mount_error_deg"]
                    for d in devs
                    if "mount_error_deg" in d and d.get("calibration") == "activity"
                ]
            ),
            "mount_error_deg_npose": stats(
                [
                    d["mount_error_deg"]
                    for d in devs
                    if "mount_error_deg" in d and d.get("calibration") == "n-pose"
                ]
            ),
        }
    out["relative_heading_error_deg"] = stats(
        [r["relative_heading_error_deg"] for r in rows if "relative_heading_error_deg" in r]
    )
    return out


def held_out(data_dir: Path, min_clip_s: float = MIN_CLIP_S) -> tuple[list[Any], dict[str, Any]]:
    """The test split's clips of at least ``min_clip_s`` (the scenarios' pool) and the results
    file's ``data`` block: the whole set's summary, its fingerprint and the pool's size."""
    clips, fingerprint = load_clips_cached(data_dir, progress=False)
    _, _, test = split_by_file(clips)
    pool = [c for c in test if c.duration_s >= min_clip_s]
    data = {
        **data_summary(clips, data_dir),
        "fingerprint": fingerprint,
        "test_clips_used": len(pool),
    }
    return pool, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="mocap folder")
    parser.add_argument("--scenarios", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--min-clip-s", type=float, default=MIN_CLIP_S)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    pool, data = held_out(Path(args.data), args.min_clip_s)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "data": data,
        "protocol": PROTOCOL,
        "scenarios": args.scenarios,
        "seconds": args.seconds,
        "definitions": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    for mode in ("given", "detected"):
        rows = [
            run_scenario(pool[i % len(pool)], i, args.seconds, mode == "given")
            for i in range(args.scenarios)
        ]
        results[f"slots_{mode}"] = {"summary": _summary(rows), "scenarios": rows}
        print(mode, _summary(rows), flush=True)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

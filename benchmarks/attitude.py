"""Orientation from raw accelerometer + gyroscope (``edgesdk.data.orientation.ImuFilter``)
against motion capture, beside CoreMotion's own fused attitude, on the attitude set
(Michel et al. 2017/2018; ``../shared/data/devices/attitude``: an iPhone 5 carried five ways,
about 2 minutes each, with the phone's orientation from a Qualisys system).

    python benchmarks/attitude.py --data ../shared/data/devices/attitude \\
        --json benchmarks/results/attitude.json

Per trial, the phone's files are imported as ``edgesdk data import --format coremotion-txt``
reads them (one row per accelerometer sample, gyro interpolated, CoreMotion's attitude
slerped). ``edgesdk`` is ``ImuFilter`` run over the raw accelerometer and gyroscope
(``--orientation filter``); ``coremotion`` is the phone's ``attitude.txt``. Both are scored at
the accelerometer's sample times against the mocap orientation there.

Conventions (read from the upstream MATLAB in ``attitude/reference-matlab`` and checked on
the data): a Qualisys frame's 9 ``Rotations`` are a 3x3 matrix in column-major order,
``R_world_phone`` with world Z up (``loadQualisysDataset.m`` takes ``dcm2quat(R')``, i.e. the
quaternion of ``R``); the phone rigid body's axes are the phone's sensor axes (the measured
specific force lies along ``R^T z``); ``attitude.txt`` is ``q_world_sensor`` (``R(q) acc`` is
``+g`` on Z). Mocap time starts at 0; phone time is seconds since boot, minus
``description.txt``'s ``BootTime``, plus a clock offset found as upstream does, by matching
two signals over a +-5 s search in 10 ms steps, here the angular speed (the gyro's norm
against the mocap's, which is independent of frames and biases; upstream's
``findTimeDiffBetweenQualisysAndSmartphone.m`` matches acceleration norms, and its results are
in ``timeAlignment.txt``: both are reported and agree within 0.03 s). As upstream, only mocap
times in [0, 120] s count, and not next to frames where tracking was lost.

Metrics:

- **tilt error**: the angle between the true and the estimated gravity direction in the
  sensor frame, ``acos(<R_true^T z, R_est^T z>)``: what a heading-free filter can get right.
  ``tilt_median_deg`` and ``tilt_p95_deg`` over the scored samples.
- **heading drift**: the heading error is the rotation about the vertical of
  ``R_est R_true^T`` (unwrapped); without a magnetometer the heading is arbitrary, so the
  constant offset is removed by fitting ``a + b t`` (least squares over the trial) and the
  drift is ``|b|`` in degrees per minute.

``overall``: tilt median and p95 over all trials' samples pooled; heading drift the mean of
the trials' drifts.

What the baseline has that the filter has not: ``coremotion_initial_heading_deg`` (per trial,
CoreMotion's heading error against the mocap in the first second, before any drift) is within
a few degrees of one value in four trials of five, where an arbitrary heading would land
anywhere: CoreMotion's heading is referenced to magnetic north (the upstream loader turns it
by 90 degrees into ENU), so its drift is a magnetometer's, not a gyroscope's.
``gyroscope.txt`` is the raw gyroscope, biased by about (0.10, -0.016, 0.012) rad/s in every
trial (subtracted from the gyro, that constant leaves ``ImuFilter`` 2 deg/min of heading
drift overall, 7 at most in a trial), and the trials hold no stand-still: without a
magnetometer, only the part of the bias across gravity can be learnt (from the tilt it
causes), and a pocket phone stays within about 10 degrees of one attitude, so the part along
gravity, which turns the heading, stays unknown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import loadmat
from scipy.spatial.transform import Rotation, Slerp

from edgesdk.data.importers.mobile import read_coremotion_txt
from edgesdk.data.orientation import filter_orientation
from edgesdk.data.sources import provenance_not_mocap
from edgesdk.errors import EdgeSDKError
from edgesdk.io import write_json_atomic

SEARCH_S = 5.0
STEP_S = 0.01
SCORED_S = (0.0, 120.0)

# What the results file was measured on (top-level "data" and "protocol").
PROVENANCE = provenance_not_mocap(
    "real iPhone recordings with their motion-capture orientation (devices/attitude)",
    "orientation filters against the recordings' true orientation, no pose model",
)


def load_mocap(path: Path) -> dict[str, Any]:
    """``t_s [N]``, ``R [N, 3, 3]`` (identity where lost) and ``ok [N]`` of a Qualisys .mat."""
    mat = loadmat(path)
    names = [k for k in mat if not k.startswith("__")]
    if not names:
        raise EdgeSDKError(f"{path}: no Qualisys export in the file")
    d = mat[names[0]][0, 0]
    body = d["RigidBodies"][0, 0]
    n, rate = int(d["Frames"][0, 0]), float(d["FrameRate"][0, 0])
    R = body["Rotations"][0].T.reshape(n, 3, 3).transpose(0, 2, 1)  # column-major 3x3
    ok = np.isfinite(R).all((1, 2))
    R = np.where(ok[:, None, None], np.nan_to_num(R), np.eye(3))
    return {"t_s": np.arange(n) / rate, "R": R, "ok": ok, "rate": rate}


def align_clock(mocap: dict[str, Any], t_s: np.ndarray, gyro: np.ndarray) -> float:
    """The offset (s) to add to phone time: best match of the angular speeds."""
    rot = Rotation.from_matrix(mocap["R"])
    speed = np.r_[(rot[:-1].inv() * rot[1:]).magnitude() * mocap["rate"], np.nan]
    ok = mocap["ok"]
    speed[~(ok & np.r_[ok[1:], False])] = np.nan
    gyro_speed = np.linalg.norm(gyro, axis=1)
    best, best_err = 0.0, np.inf
    for offset in np.arange(-SEARCH_S, SEARCH_S + STEP_S / 2, STEP_S):
        w = np.interp(mocap["t_s"], t_s + offset, gyro_speed, left=np.nan, right=np.nan)
        sel = np.isfinite(w) & np.isfinite(speed)
        err = float(np.mean((w[sel] - speed[sel]) ** 2)) if sel.any() else np.inf
        if err < best_err:
            best, best_err = float(offset), err
    return round(best, 3)


def errors(mocap: dict[str, Any], t_s: np.ndarray, quat: np.ndarray) -> dict[str, np.ndarray]:
    """Tilt error (deg) and heading error (deg, unwrapped) at the scored times ``t``."""
    tq, ok = mocap["t_s"], mocap["ok"]
    sel = (t_s >= max(SCORED_S[0], tq[0])) & (t_s <= min(SCORED_S[1], tq[-1]))
    t = t_s[sel]
    i = np.clip(np.searchsorted(tq, t, side="right") - 1, 0, len(tq) - 2)
    good = ok[i] & ok[i + 1]
    R_true = Slerp(tq, Rotation.from_matrix(mocap["R"]))(t).as_matrix()
    R_est = Rotation.from_quat(quat[sel], scalar_first=True).as_matrix()
    up_true, up_est = R_true[:, 2, :], R_est[:, 2, :]
    tilt = np.degrees(np.arccos(np.clip(np.sum(up_true * up_est, 1), -1.0, 1.0)))
    E = R_est @ R_true.transpose(0, 2, 1)
    heading = np.degrees(np.unwrap(np.arctan2(E[:, 1, 0] - E[:, 0, 1], E[:, 0, 0] + E[:, 1, 1])))
    return {"t_s": t[good], "tilt_deg": tilt[good], "heading_deg": heading[good]}


def summary(errs: list[dict[str, np.ndarray]]) -> dict[str, float]:
    tilt = np.concatenate([e["tilt_deg"] for e in errs])
    drifts = [abs(float(np.polyfit(e["t_s"] / 60.0, e["heading_deg"], 1)[0])) for e in errs]
    return {
        "tilt_median_deg": round(float(np.median(tilt)), 2),
        "tilt_p95_deg": round(float(np.percentile(tilt, 95)), 2),
        "heading_drift_deg_per_min": round(float(np.mean(drifts)), 2),
    }


def run(data: Path) -> dict[str, Any]:
    ios, qualisys = data / "ios", data / "qualisys"
    trials = sorted(p.name for p in ios.iterdir() if (qualisys / f"{p.name}.mat").is_file())
    if not trials:
        raise EdgeSDKError(f"{data}: no ios/<trial> with a qualisys/<trial>.mat")
    out: dict[str, Any] = {"trials": {}}
    pooled: dict[str, list[dict[str, np.ndarray]]] = {"edgesdk": [], "coremotion": []}
    filter_s, samples = 0.0, 0
    for trial in trials:
        (rec,) = read_coremotion_txt(ios / trial)
        (dev,) = rec.devices
        mocap = load_mocap(qualisys / f"{trial}.mat")
        t_phone = (dev.t_ns - round(rec.source["boot_time_s"] * 1e9)) * 1e-9
        offset = align_clock(mocap, t_phone, dev.gyro_rads)
        started = time.perf_counter()
        ours = filter_orientation(dev.t_ns, dev.acc_mps2, dev.gyro_rads)
        filter_s += time.perf_counter() - started
        samples += len(dev.t_ns)
        assert dev.quat_wxyz is not None
        entry: dict[str, Any] = {
            "samples": len(dev.t_ns),
            "clock_offset_s": offset,
            "upstream_clock_offset_s": rec.source.get("mocap_time_offset_s"),
        }
        for name, quat in (("edgesdk", ours), ("coremotion", dev.quat_wxyz)):
            e = errors(mocap, t_phone + offset, quat)
            pooled[name].append(e)
            entry[name] = summary([e])
            if name == "coremotion":
                first = e["t_s"] < e["t_s"][0] + 1.0
                heading = float(np.median(e["heading_deg"][first]))
                entry["coremotion_initial_heading_deg"] = round(
                    (heading + 180.0) % 360.0 - 180.0, 1
                )
        out["trials"][trial] = entry
    out["overall"] = {name: summary(errs) for name, errs in pooled.items()}
    out["filter_us_per_sample"] = round(filter_s / samples * 1e6, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/devices/attitude")
    parser.add_argument("--json", default=None, help="write the figures here (atomically)")
    args = parser.parse_args(argv)
    try:
        result = {"command": " ".join(["python", "benchmarks/attitude.py", *sys.argv[1:]])}
        result.update(PROVENANCE)
        result.update(run(Path(args.data)))
    except EdgeSDKError as exc:
        print(f"attitude.py: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        write_json_atomic(args.json, result)
    print(json.dumps({"overall": result["overall"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

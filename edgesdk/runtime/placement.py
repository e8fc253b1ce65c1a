"""Which slot each device is in, from its own signals, with a confidence.

The classifier is three explained rules on the last seconds of resampled frames, read in the
device's mount-corrected frame (``Q C``: calibration straightens the mount, so the nominal
axes of docs/sensors.md hold):

1. **Family** from gravity at the stand-still (N-pose): world up along the sensor's -X (a
   watch's crown points at the hand, which hangs down) is a *wrist*; up along +Y (glasses, a
   phone upright in a pocket) is *head or pocket*. A known device kind decides it instead.
2. **Head or pocket**: a head is held level and turns slowly; a thigh swings. In walking
   simulations the head's tilt varies by 1-4 degrees (standard deviation) with an RMS
   angular rate of 0.4-0.9 rad/s, a thigh's by 7-12 degrees and 1.7-3.4 rad/s, so
   ``z = (5.5 - tilt_std_deg) / 1 + (1.3 - gyro_rms) / 0.25`` gives ``P(head) = sigmoid(z)``.
3. **Left or right**: the two sides are mirror images, so the sign of a mirror-odd statistic
   decides. Wrist: the elbow bends only forwards, so the forearm spends more time pitched
   forwards than backwards; a left watch's +Y (towards the little finger) then points down,
   a right watch's (towards the thumb) up: ``P(left) = sigmoid(-mean(up_y) / 0.08)``; once a
   watch has a few seconds of data, the bone prior decides instead (which forearm its gravity
   readings fit, ``wrist_log_odds``). Pocket: the pelvis turns with the stride, so a thigh's
   pitch and yaw rates are correlated, with opposite signs left and right:
   ``P(left) = sigmoid(corr(gyro_x, gyro_y) / 0.15)``.

Before there is motion to judge from, priors: a watch on the left wrist (60 %), a phone in the
right pocket (55 %). Devices are then assigned to distinct slots by the most likely joint
assignment; a slot set by the caller is kept and taken out of the others' choices. The
confidence is the probability of the chosen slot under these rules, not a calibrated one.
It fails for unusual mounts (a watch worn crown towards the elbow reads as the other wrist)
and in motions other than walking or running (dance: the head is not level).

Example:
    >>> import numpy as np
    >>> probs = slot_probabilities("wrist", None, None)      # no motion yet: the prior
    >>> {k: round(v, 2) for k, v in probs.items()}
    {'left_wrist': 0.6, 'right_wrist': 0.4}
    >>> assign({"a": probs, "b": probs}, {})["b"][0]
    'right_wrist'
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

MIN_MOVING_FRAMES = 45  # 1.5 s at 30 Hz
_MOVING_RADS = 0.3


@dataclass(frozen=True)
class Features:
    """Statistics of a device's moving frames in its corrected frame."""

    frames: int
    tilt_std_deg: float
    gyro_rms: float
    mean_up_y: float
    mean_up_z: float
    corr_xy: float


def family_of(kind: str | None, up_sensor: np.ndarray | None) -> str | None:
    """``wrist``, ``head`` / ``pocket`` (a known kind), ``upright`` (head or pocket) or None."""
    if kind == "watch":
        return "wrist"
    if kind in ("glasses", "earbuds"):
        return "head"
    if kind == "phone":
        return "pocket"
    if up_sensor is None:
        return None
    if up_sensor[0] < -0.6:
        return "wrist"
    if up_sensor[1] > 0.6:
        return "upright"
    return None


def features(values: np.ndarray, valid: np.ndarray, C: np.ndarray) -> Features | None:
    """Features of the moving frames among ``values [N, 10]`` (acc, gyro, quat) in the frame
    corrected by ``C``; None when fewer than ``MIN_MOVING_FRAMES`` are moving."""
    v = values[valid]
    if len(v) < MIN_MOVING_FRAMES:
        return None
    gyro = v[:, 3:6] @ C  # C^T gyro per row
    moving = np.einsum("ij,ij->i", gyro, gyro) > _MOVING_RADS * _MOVING_RADS
    n = int(np.count_nonzero(moving))
    if n < MIN_MOVING_FRAMES:
        return None
    gyro = gyro[moving]
    w, x, y, z = v[moving, 6:10].T
    s = 2.0 / (w * w + x * x + y * y + z * z)  # normalizes the quaternion
    # The third row of R(q) (world up in the sensor frame), corrected by C: (Q C)^T z per row
    up = np.stack([s * (x * z - w * y), s * (y * z + w * x), 1.0 - s * (x * x + y * y)], 1) @ C
    mean = up.mean(0)
    mean /= max(float(np.linalg.norm(mean)), 1e-9)
    tilt = np.degrees(np.arccos(np.clip(up @ mean, -1.0, 1.0)))
    g = gyro[:, :2] - gyro[:, :2].mean(0)
    gx, gy = g[:, 0], g[:, 1]
    denom = math.sqrt(float(gx @ gx) * float(gy @ gy))
    return Features(
        frames=n,
        tilt_std_deg=float(tilt.std()),
        gyro_rms=math.sqrt(float(np.einsum("ij,ij->", gyro, gyro)) / n),
        mean_up_y=float(up[:, 1].mean()),
        mean_up_z=float(up[:, 2].mean()),
        corr_xy=float(gx @ gy) / denom if denom > 0 else 0.0,
    )


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def slot_probabilities(
    family: str | None,
    kind: str | None,
    f: Features | None,
    wrist_log_odds: float | None = None,
) -> dict[str, float]:
    """Probability of each slot for one device (only slots its family allows).
    ``wrist_log_odds``: log P(data | left wrist) - log P(data | right wrist) from the bone
    prior (``autocal``): how the watch's gravity readings fit a left or a right forearm's
    usual carriage (a hanging hand's palm faces the thigh, not away from it); it replaces
    rule 3 for wrists when given (measured on simulated sessions of held-out motion: 85 %
    right against 45 % for rule 3, ``benchmarks/calibration.py``)."""
    if family == "wrist":
        if wrist_log_odds is not None:
            p_left = _sigmoid(wrist_log_odds)
        else:
            p_left = 0.6 if f is None else _sigmoid(-f.mean_up_y / 0.08)
        return {"left_wrist": p_left, "right_wrist": 1.0 - p_left}
    p_left_pocket = 0.45 if f is None else _sigmoid(f.corr_xy / 0.15)
    pockets = {"left_pocket": p_left_pocket, "right_pocket": 1.0 - p_left_pocket}
    if family == "pocket":
        return pockets
    if family == "head":
        return {"head": 1.0}
    if family == "upright":
        z = 0.0 if f is None else (5.5 - f.tilt_std_deg) + (1.3 - f.gyro_rms) / 0.25
        p_head = _sigmoid(z)
        return {"head": p_head, **{k: (1.0 - p_head) * p for k, p in pockets.items()}}
    return {
        "head": 0.2,
        "left_wrist": 0.2,
        "right_wrist": 0.2,
        "left_pocket": 0.2,
        "right_pocket": 0.2,
    }


def assign(
    probs: dict[str, dict[str, float]], fixed: dict[str, str]
) -> dict[str, tuple[str | None, float]]:
    """The most likely assignment of devices to distinct slots: device -> (slot or None,
    probability of that slot). ``fixed`` devices keep their slot (confidence 1)."""
    out: dict[str, tuple[str | None, float]] = {d: (s, 1.0) for d, s in fixed.items()}
    taken = set(fixed.values())
    devices = [d for d in probs if d not in fixed]
    choices = {d: [s for s, p in probs[d].items() if s not in taken and p > 0] for d in devices}
    best: tuple[float, tuple[str | None, ...]] = (-math.inf, tuple(None for _ in devices))
    if len(devices) <= 5:
        options = [[*choices[d], None] for d in devices]
        logp = [{s: math.log(max(probs[d][s], 1e-9)) for s in choices[d]} for d in devices]
        unplaced = math.log(1e-6)
        for combo in itertools.product(*options):
            used = [s for s in combo if s is not None]
            if len(used) != len(set(used)):
                continue
            score = sum(lp[s] if s else unplaced for lp, s in zip(logp, combo, strict=True))
            if score > best[0]:
                best = (score, combo)
        for d, s in zip(devices, best[1], strict=True):
            out[d] = (s, probs[d][s] if s else 0.0)
        return out
    ranked = sorted(((p, d, s) for d in devices for s, p in probs[d].items()), reverse=True)
    for p, d, s in ranked:  # many devices: greedy, most confident first
        if d not in out and s not in taken:
            out[d] = (s, p)
            taken.add(s)
    for d in devices:
        out.setdefault(d, (None, 0.0))
    return out

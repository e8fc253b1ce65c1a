"""What a pose stream says about posture and gait, for recordings without full-body ground
truth: joint flexion, leg alternation, step rate, turning (numpy only).

Angles come from joint positions ``pos_rel_m [T, 22, 3]`` (SMPL order: 1/2 hips, 4/5 knees,
7/8 ankles, 0 pelvis, 9 spine3) and the pelvis' global rotation (yaw):

- knee flexion: the angle between thigh (hip -> knee) and shank (knee -> ankle), 0 straight;
- hip flexion: the angle between the thigh and the trunk's downward direction (spine3 ->
  pelvis), 0 standing, about 90 degrees seated;
- thigh pitch: the thigh's angle forward of the trunk's downward direction in the body's
  sagittal plane (positive: knee in front), per leg;
- step rate: twice the dominant stride frequency, found from the autocorrelation of a signal
  that oscillates once per stride (left minus right thigh pitch for a pose stream, the thigh's
  angular rate about its main axis for a pocket phone), between 0.5 and 1.6 strides per second.

Example:
    >>> import numpy as np
    >>> t = np.arange(90) / 30.0
    >>> round(stride_frequency_hz(np.sin(2 * np.pi * 0.9 * t), 30.0), 2)
    0.9
"""

from __future__ import annotations

import math

import numpy as np

HIPS, KNEES, ANKLES = (1, 2), (4, 5), (7, 8)
PELVIS, SPINE3 = 0, 9


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.einsum("...i,...i->...", a, b) / np.maximum(
        np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9
    )
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def knee_flexion_deg(pos: np.ndarray) -> np.ndarray:
    """``[T, 2]`` left and right knee flexion."""
    thigh = pos[:, KNEES] - pos[:, HIPS]
    shank = pos[:, ANKLES] - pos[:, KNEES]
    return _angle_deg(thigh, shank)


def trunk_down(pos: np.ndarray) -> np.ndarray:
    """``[T, 3]`` unit vector from spine3 down to the pelvis."""
    v = pos[:, PELVIS] - pos[:, SPINE3]
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def hip_flexion_deg(pos: np.ndarray) -> np.ndarray:
    """``[T, 2]`` left and right hip flexion."""
    thigh = pos[:, KNEES] - pos[:, HIPS]
    return _angle_deg(thigh, trunk_down(pos)[:, None])


def pelvis_yaw(R_pelvis: np.ndarray) -> np.ndarray:
    """``[T]`` yaw (rad, about +Y, 0 facing +Z) of the pelvis rotations ``[T, 3, 3]``."""
    fwd = R_pelvis[:, :, 2]
    return np.arctan2(fwd[:, 0], fwd[:, 2])


def thigh_pitch_deg(pos: np.ndarray, R_pelvis: np.ndarray) -> np.ndarray:
    """``[T, 2]`` thigh pitch (positive: knee forward) in the pelvis' sagittal plane."""
    yaw = pelvis_yaw(R_pelvis)
    fwd = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)
    down = trunk_down(pos)
    thigh = pos[:, KNEES] - pos[:, HIPS]
    f = np.einsum("tli,ti->tl", thigh, fwd)
    d = np.einsum("tli,ti->tl", thigh, down)
    return np.degrees(np.arctan2(f, d))


def stride_frequency_hz(
    signal: np.ndarray, fps: float, lo_hz: float = 0.5, hi_hz: float = 1.6
) -> float:
    """Dominant frequency of a signal that cycles once per stride, from the first
    autocorrelation peak with a lag in ``[1 / hi_hz, 1 / lo_hz]`` (parabolic refinement);
    NaN when there is none."""
    x = np.asarray(signal, np.float64)
    x = x - x.mean()
    n = len(x)
    lo, hi = max(1, int(fps / hi_hz)), min(n - 2, math.ceil(fps / lo_hz))
    if hi <= lo + 1 or not np.any(x):
        return math.nan
    ac = np.array([float(x[: n - k] @ x[k:]) / (n - k) for k in range(hi + 2)])
    ac /= ac[0]
    lags = range(lo, hi + 1)
    peaks = [k for k in lags if ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1] and ac[k] > 0.1]
    if not peaks:
        return math.nan
    k = max(peaks, key=lambda j: ac[j])
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
    return float(fps / (k + shift))


def main_axis_rate(gyro_rads: np.ndarray) -> np.ndarray:
    """Angular rate about a device's main rotation axis (its gyroscope's first principal
    component): a thigh's swing."""
    g = np.asarray(gyro_rads, np.float64)
    g = g - g.mean(0)
    _, vecs = np.linalg.eigh(g.T @ g)
    return g @ vecs[:, 2]


def unwrapped_turn_deg(yaw: np.ndarray) -> float:
    """Total yaw change (degrees) over a segment, unwrapped."""
    if len(yaw) < 2:
        return 0.0
    return float(np.degrees(np.unwrap(yaw)[-1] - np.unwrap(yaw)[0]))

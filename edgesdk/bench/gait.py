"""What a pose stream says about posture and gait, for recordings without full-body ground
truth: joint flexion, leg alternation, step rate, turning (numpy only).

Angles come from joint positions ``pos_rel_m [T, 22, 3]`` (SMPL order: 1/2 hips, 4/5 knees,
7/8 ankles, 0 pelvis, 9 spine3) and the pelvis' global rotation (yaw):

- knee flexion: the angle between thigh (hip -> knee) and shank (knee -> ankle), 0 straight;
- hip flexion: the angle between the thigh and the trunk's downward direction (spine3 ->
  pelvis), 0 standing, about 90 degrees seated;
- thigh pitch: the thigh's angle forward of the trunk's downward direction in the body's
  sagittal plane (positive: knee in front), per leg;
- step rate: twice the dominant stride frequency (the spectral peak between 0.6 and 1.25
  strides per second, after removing a linear trend) of a signal that oscillates once per
  stride, such as left minus right thigh pitch.

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
    signal: np.ndarray, fps: float, lo_hz: float = 0.6, hi_hz: float = 1.25
) -> float:
    """Dominant frequency in ``[lo_hz, hi_hz]`` of a signal that cycles once per stride: the
    peak of its Hann-windowed, zero-padded spectrum (a walking segment of a few seconds holds
    only two or three strides, too few for an autocorrelation peak); NaN when the signal is
    flat or shorter than one stride."""
    x = np.asarray(signal, np.float64)
    n = len(x)
    if n < fps / hi_hz or not np.any(x - x.mean()):
        return math.nan
    x = x - np.polyval(np.polyfit(np.arange(n), x, 1), np.arange(n))  # drift of a turn
    x = x * np.hanning(n)
    size = 1 << max(14, (8 * n - 1).bit_length())
    power = np.abs(np.fft.rfft(x, size)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / fps)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    if not band.any():
        return math.nan
    k = int(np.flatnonzero(band)[np.argmax(power[band])])
    return float(freqs[k])


def alternations(signal: np.ndarray, fps: float, smooth_hz: float = 3.0) -> tuple[int, float]:
    """``(intervals, seconds)``: a signal that swings once per stride (left minus right thigh
    pitch crosses zero once per step) has its linear trend and everything above
    ``smooth_hz`` removed; its sign changes are found with a hysteresis of a quarter of its
    standard deviation (noise does not count), and the result is the number of intervals
    between the first and the last change and the time they span (a step rate is
    ``intervals / seconds``; ends of the segment, mid-step, do not bias it)."""
    x = np.asarray(signal, np.float64)
    n = len(x)
    if n < 3:
        return 0, 0.0
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(n, 1.0 / fps) > smooth_hz] = 0.0
    x = np.fft.irfft(spectrum, n)
    band = 0.25 * float(x.std())
    times: list[int] = []
    state = 0
    for i, v in enumerate(x):
        side = 1 if v > band else -1 if v < -band else 0
        if side and side != state:
            if state:
                times.append(i)
            state = side
    if len(times) < 2:
        return 0, 0.0
    return len(times) - 1, (times[-1] - times[0]) / fps


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

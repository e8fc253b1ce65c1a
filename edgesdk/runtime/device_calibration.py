"""Calibration without a button: mount and heading of each device from a stand-still.

**Method.** The wearer stands still in the N-pose (``edgesdk.runtime.npose``) for about a
second; the runtime notices it on its own (every device's angular rate and acceleration
quiet for ``still_s``). At rest a device's fused orientation ``Q = R_devworld_sensor`` obeys

    A Q C = T,    T = Ry(phi) R_world_bone(N-pose) R_bone_sensor(nominal)

where ``A = Ry(alpha) R_YUP_ZUP`` takes the device's Z-up world into the model's Y-up world
(``alpha``: the unknown heading, no magnetometer), ``C = R_bone_sensor(actual)^T
R_bone_sensor(nominal)`` corrects the mount, and ``phi`` is the body's yaw (0 at the first
calibration: the model world faces where the wearer faced; later ones take ``phi`` from the
devices already calibrated). One still pose gives three equations for four unknowns: a mount
turned about the axis that is vertical at the stand-still looks exactly like a heading
change. Of all solutions the runtime takes the one with the **smallest mount correction**
(closed form below), so a mount error about any horizontal axis and the heading are both
recovered exactly, and a mount error about the vertical axis is counted as heading. The
correction is measured from the nearest of the ways the device is commonly worn
(``body.WORN_TURNS``: a phone upside down, a watch crown towards the elbow), so those are
recovered too. One case stays open after the stand-still: a phone in a pocket with its screen
towards the thigh is the same still reading as one facing out with the heading turned by
180 degrees. Walking settles it: the hip flexes further than it extends, so the thigh's up
axis leans forwards on average; when it leans backwards in the calibrated frame, the
solution is flipped (``Calibration.flipped``).

Afterwards the model sees, per frame, ``R_world_sensor = A Q(t) C`` and
``acc_world = A (Q(t) acc(t) - g z)`` (raw accelerometer) or ``A Q(t) uacc(t)`` (user
acceleration).

**Drift.** Fused headings drift. At every later N-pose stand-still the body yaw implied by
each calibrated device, ``yaw(A Q C T0^T)``, should agree; when two devices disagree by more
than ``drift_deg`` (or a device's tilt no longer matches the N-pose while the others do: a
phone that moved in its pocket) all devices are re-calibrated there to their median body yaw,
so the world stays with the devices that agree.

Example:
    >>> import numpy as np
    >>> from edgesdk.runtime.npose import npose_target
    >>> from edgesdk.body.rotations_numpy import R_ZUP_YUP, rot_z
    >>> Q = rot_z(0.8) @ R_ZUP_YUP @ npose_target("watch", "left_wrist")   # heading 0.8 rad
    >>> A, C = solve(Q, npose_target("watch", "left_wrist"))
    >>> bool(np.allclose(A @ Q @ C, npose_target("watch", "left_wrist"))), bool(np.allclose(C, np.eye(3)))
    (True, True)
"""  # noqa: E501

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgesdk.body.rotations_numpy import (
    R_YUP_ZUP,
    Quat,
    angle_between,
    quat_tuple,
    rot_y,
    wrap,
    yaw_of,
)
from edgesdk.data.mounts import WORN_TURNS, slot_kind
from edgesdk.runtime.npose import npose_target, sensor_up_in_npose


def solve(Q: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, C)`` with ``A Q C = target``, ``A = Ry(alpha) R_YUP_ZUP`` and the smallest
    rotation angle of ``C``.

    With ``G = R_YUP_ZUP Q`` the solutions are ``C(b) = G^T Ry(b) T`` (``b = -alpha``); the
    angle of ``C`` is smallest where ``trace(Ry(b) P)``, ``P = T G^T``, is largest:
    ``b = atan2(P20 - P02, P00 + P22)``.
    """
    G = R_YUP_ZUP @ Q
    P = target @ G.T
    b = math.atan2(P[2, 0] - P[0, 2], P[0, 0] + P[2, 2])
    return rot_y(-b) @ R_YUP_ZUP, G.T @ rot_y(b) @ target


@dataclass
class Calibration:
    """One device's stand-still: its mean fused orientation there (device world), the body
    yaw the model world gives that moment, and when it was (session ns)."""

    Q_still: np.ndarray
    body_yaw: float
    t_ns: int

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str | None, str], tuple[np.ndarray, np.ndarray]] = {}
        self._quats: dict[tuple[str | None, str], tuple[Quat, Quat]] = {}

    def quats(self, kind: str | None, slot: str) -> tuple[Quat, Quat]:
        """``(A, C)`` of ``frames`` as quaternion tuples (for the per-frame hot path)."""
        return cached_quats(self, self._quats, kind, slot)

    flipped: bool = False
    flip_decided: bool = False

    def frames(self, kind: str | None, slot: str) -> tuple[np.ndarray, np.ndarray]:
        """``(A, C)`` for the device worn as ``kind`` in ``slot``: the smallest correction
        from any of the kind's usual mounts (``WORN_TURNS``), the nominal one on ties."""
        key = (kind, slot)
        if key not in self._cache:
            T = npose_target(kind, slot, self.body_yaw)
            best: tuple[float, np.ndarray, np.ndarray] | None = None
            for turn in WORN_TURNS[slot_kind(kind, slot)]:
                A, C = solve(self.Q_still, T @ turn)
                angle = angle_between(C, np.eye(3))
                if best is None or angle < best[0] - 1e-3:
                    best = (angle, A, C @ turn.T)
            assert best is not None
            A, C = best[1], best[2]
            if self.flipped:  # the other solution with the same still reading
                half = rot_y(math.pi)
                A, C = half @ A, C @ T.T @ half @ T
            self._cache[key] = (A, C)
        return self._cache[key]

    def flip(self) -> None:
        """Take the solution turned by 180 degrees about the vertical (see the module doc)."""
        self.flipped = not self.flipped
        self._cache.clear()
        self._quats.clear()

    def mount(self, kind: str | None, slot: str) -> np.ndarray:
        """The estimated actual ``R_bone_sensor``: ``R_nominal C^T``."""
        from edgesdk.data.mounts import nominal_mount

        return nominal_mount(kind, slot) @ self.frames(kind, slot)[1].T


def npose_tilt_error(Q: np.ndarray, kind: str | None, slot: str) -> float:
    """Angle (rad) between world up seen by the device (``Q^T z``) and where a nominally
    worn device in the N-pose sees it: is this stand-still an N-pose, before calibration."""
    up = Q.T @ np.array([0.0, 0.0, 1.0])
    c = float(np.dot(up, sensor_up_in_npose(kind, slot)))
    return math.acos(max(-1.0, min(1.0, c)))


class MountFrames(Protocol):
    """Anything that gives ``(A, C)`` for a device worn as ``kind`` in ``slot``: an N-pose
    ``Calibration`` or an ``autocal.ActivityCalibration``."""

    def frames(self, kind: str | None, slot: str) -> tuple[np.ndarray, np.ndarray]: ...


def cached_quats(
    cal: MountFrames,
    cache: dict[tuple[str | None, str], tuple[Quat, Quat]],
    kind: str | None,
    slot: str,
) -> tuple[Quat, Quat]:
    """``cal.frames(kind, slot)`` as quaternion tuples, kept in ``cache`` (the per-frame path
    of every calibration, N-pose or activity)."""
    key = (kind, slot)
    if key not in cache:
        A, C = cal.frames(kind, slot)
        cache[key] = (quat_tuple(A), quat_tuple(C))
    return cache[key]


def implied_body_yaw(cal: MountFrames, Q: np.ndarray, kind: str | None, slot: str) -> float:
    """The body yaw a calibrated device implies at a new stand-still in the N-pose."""
    A, C = cal.frames(kind, slot)
    return yaw_of(A @ Q @ C @ npose_target(kind, slot).T)


def calibrated_tilt_error(cal: MountFrames, Q: np.ndarray, kind: str | None, slot: str) -> float:
    """Angle (rad) between a calibrated device's orientation now and the N-pose (any yaw)."""
    A, C = cal.frames(kind, slot)
    R = A @ Q @ C
    target = npose_target(kind, slot, yaw_of(R @ npose_target(kind, slot).T))
    return angle_between(R, target)


def circular_mean(angles: list[float]) -> float:
    if not angles:
        return 0.0
    return math.atan2(sum(math.sin(a) for a in angles), sum(math.cos(a) for a in angles))


def circular_median(angles: list[float]) -> float:
    """The angle among ``angles`` closest to all others (sum of wrapped distances): a robust
    centre, so one drifted device does not move the others' world."""
    if not angles:
        return 0.0
    return min(angles, key=lambda a: sum(abs(wrap(b - a)) for b in angles))


def yaw_spread(angles: list[float]) -> float:
    """Largest distance (rad) of an angle from their circular mean."""
    mean = circular_mean(angles)
    return max((abs(wrap(a - mean)) for a in angles), default=0.0)


def is_still(gyro: np.ndarray, acc: np.ndarray, gyro_max: float, acc_std_max: float) -> bool:
    """Quiet enough for calibration: every angular rate below ``gyro_max`` (rad/s) and the
    acceleration's standard deviation per axis below ``acc_std_max`` (m/s^2)."""
    if len(gyro) < 2:
        return False
    peak = float(np.sqrt(np.max(np.sum(gyro * gyro, -1))))
    return peak < gyro_max and float(np.max(np.std(acc, 0))) < acc_std_max

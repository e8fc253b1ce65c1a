"""Numpy rotation helpers (no torch, no scipy): quaternions ``(w, x, y, z)``, matrices, 6D,
rotation vectors, slerp and yaw about +Y, with the conventions of ``edgesdk.body.rotations``
(its torch twin). The runtime, the device simulator and the training-time device model use
these, so an edge board needs numpy only.

Example:
    >>> q = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    >>> (quat_to_matrix(q) @ np.array([1.0, 0.0, 0.0])).round(6).tolist()
    [0.0, 1.0, 0.0]
    >>> slerp(np.array([1.0, 0, 0, 0]), q, 0.5).round(4).tolist()
    [0.9239, 0.0, 0.0, 0.3827]
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

# (x, y, z) in a Y-up world -> (x, -z, y) in a Z-up world (docs/sensors.md, section 3).
R_ZUP_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
R_YUP_ZUP = R_ZUP_YUP.T.copy()


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """``[..., 4] (w, x, y, z) -> [..., 3, 3]``; ``q`` is normalized first."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    R = np.empty((*q.shape[:-1], 3, 3))
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    R[..., 0, 0] = 1 - 2 * (yy + zz)
    R[..., 0, 1] = 2 * (xy - wz)
    R[..., 0, 2] = 2 * (xz + wy)
    R[..., 1, 0] = 2 * (xy + wz)
    R[..., 1, 1] = 1 - 2 * (xx + zz)
    R[..., 1, 2] = 2 * (yz - wx)
    R[..., 2, 0] = 2 * (xz - wy)
    R[..., 2, 1] = 2 * (yz + wx)
    R[..., 2, 2] = 1 - 2 * (xx + yy)
    return R


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """``[..., 3, 3] -> [..., 4]`` with ``w >= 0`` (Shepperd's method, the stablest branch)."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cands = np.stack(
        [
            np.stack(
                [1 + tr, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]],
                -1,
            ),
            np.stack(
                [
                    m[:, 2, 1] - m[:, 1, 2],
                    1 + 2 * m[:, 0, 0] - tr,
                    m[:, 0, 1] + m[:, 1, 0],
                    m[:, 0, 2] + m[:, 2, 0],
                ],
                -1,
            ),
            np.stack(
                [
                    m[:, 0, 2] - m[:, 2, 0],
                    m[:, 0, 1] + m[:, 1, 0],
                    1 + 2 * m[:, 1, 1] - tr,
                    m[:, 1, 2] + m[:, 2, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    m[:, 1, 0] - m[:, 0, 1],
                    m[:, 0, 2] + m[:, 2, 0],
                    m[:, 1, 2] + m[:, 2, 1],
                    1 + 2 * m[:, 2, 2] - tr,
                ],
                -1,
            ),
        ],
        1,
    )
    diag = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1)
    best = cands[np.arange(len(m)), np.argmax(diag, -1)]
    q = best / np.linalg.norm(best, axis=-1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(*R.shape[:-2], 4)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of ``[..., 4]`` quaternions."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1,
    )


def quat_conj(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, dtype=np.float64) * np.array([1.0, -1.0, -1.0, -1.0])


def quat_from_axis_angle(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[math.cos(angle_rad / 2)], math.sin(angle_rad / 2) * axis])


def slerp(q0: np.ndarray, q1: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``q0`` (t = 0) to ``q1`` (t = 1) on the shorter arc;
    ``[..., 4]`` quaternions, ``t`` broadcast against their leading shape."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, -1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def slerp_scalar(q0: tuple[float, ...], q1: tuple[float, ...], t: float) -> tuple[float, ...]:
    """``slerp`` of two quaternions given as tuples, in plain Python (the per-frame hot path).

    Example:
        >>> [round(v, 4) for v in slerp_scalar((1.0, 0, 0, 0), (0.0, 0, 0, 1.0), 0.5)]
        [0.7071, 0.0, 0.0, 0.7071]
    """
    w0, x0, y0, z0 = q0
    w1, x1, y1, z1 = q1
    dot = w0 * w1 + x0 * x1 + y0 * y1 + z0 * z1
    if dot < 0.0:
        w1, x1, y1, z1, dot = -w1, -x1, -y1, -z1, -dot
    if dot > 0.9995:
        a, b = 1.0 - t, t
    else:
        theta = math.acos(min(dot, 1.0))
        s = math.sin(theta)
        a, b = math.sin((1.0 - t) * theta) / s, math.sin(t * theta) / s
    w, x, y, z = a * w0 + b * w1, a * x0 + b * x1, a * y0 + b * y1, a * z0 + b * z1
    n = math.sqrt(w * w + x * x + y * y + z * z)
    return (w / n, x / n, y / n, z / n)


Quat = tuple[float, float, float, float]


def quat_tuple(R: np.ndarray) -> Quat:
    """One rotation matrix as a ``(w, x, y, z)`` tuple with ``w >= 0`` (for plain-Python math)."""
    return cast(Quat, tuple(matrix_to_quat(R).tolist()))


def qmul(a: Quat | tuple[float, ...], b: Quat | tuple[float, ...]) -> Quat:
    """Hamilton product of two quaternion tuples in plain Python (the per-frame hot path)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def qrotate(q: Quat | tuple[float, ...], v: tuple[float, ...]) -> tuple[float, float, float]:
    """``R(q) v`` for a unit quaternion tuple, in plain Python.

    Example:
        >>> [round(c, 6) + 0.0 for c in qrotate((0.7071067811865476, 0, 0, 0.7071067811865476),
        ...                                        (1.0, 0.0, 0.0))]
        [0.0, 1.0, 0.0]
    """
    w, x, y, z = q
    vx, vy, vz = v
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return (
        vx + w * tx + y * tz - z * ty,
        vy + w * ty + z * tx - x * tz,
        vz + w * tz + x * ty - y * tx,
    )


def quat_6d(q: Quat | tuple[float, ...]) -> tuple[float, ...]:
    """The 6D (first two columns of ``R(q)``) of a unit quaternion tuple, in plain Python."""
    w, x, y, z = q
    return (
        1.0 - 2.0 * (y * y + z * z),
        2.0 * (x * y + w * z),
        2.0 * (x * z - w * y),
        2.0 * (x * y - w * z),
        1.0 - 2.0 * (x * x + z * z),
        2.0 * (y * z + w * x),
    )


def to_6d(R: np.ndarray) -> np.ndarray:
    """``[..., 3, 3] -> [..., 6]``: the first two columns."""
    return np.concatenate([R[..., :, 0], R[..., :, 1]], -1)


def from_6d(d6: np.ndarray) -> np.ndarray:
    """``[..., 6] -> [..., 3, 3]`` by Gram-Schmidt."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-8)
    a2 = a2 - np.sum(b1 * a2, -1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), 1e-8)
    return np.stack([b1, b2, np.cross(b1, b2)], -1)


def rot_y(angle_rad: np.ndarray | float) -> np.ndarray:
    """Rotation(s) about +Y (up in the model world) taking +Z towards +X, ``[..., 3, 3]``."""
    a = np.asarray(angle_rad, np.float64)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack(
        [np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1), np.stack([-s, zero, c], -1)],
        -2,
    )


def rot_z(angle_rad: np.ndarray | float) -> np.ndarray:
    """Rotation(s) about +Z (up in a device's world), ``[..., 3, 3]``."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """``[..., 3] -> [..., 3, 3]`` (Rodrigues), float64."""
    v = np.asarray(rotvec, np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    axis = v / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    K = np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)],
        -2,
    )
    a = angle[..., None]
    eye = np.eye(3)
    return eye + np.sin(a) * K + (1.0 - np.cos(a)) * (K @ K)


def yaw_of(R: np.ndarray) -> float:
    """Heading (rad) about +Y of a Y-up orientation, as ``edgesdk.body.heading``: the yaw that
    turns +Z to the frame's forward direction (0 for an undefined heading)."""
    c = float(R[0, 0] + R[2, 2])
    s = float(R[0, 2] - R[2, 0])
    return math.atan2(s, c) if abs(c) + abs(s) > 1e-9 else 0.0


def wrap(angle_rad: float) -> float:
    """``angle`` wrapped into (-pi, pi]."""
    return math.atan2(math.sin(angle_rad), math.cos(angle_rad))


def angle_between(Ra: np.ndarray, Rb: np.ndarray) -> float:
    """Geodesic angle (rad) between two rotation matrices."""
    c = (float(np.trace(Ra.T @ Rb)) - 1.0) / 2.0
    return math.acos(max(-1.0, min(1.0, c)))


def mean_quat(q: np.ndarray) -> np.ndarray:
    """Chordal mean of ``[N, 4]`` quaternions (sign-aligned to the first)."""
    q = np.asarray(q, dtype=np.float64)
    q = np.where(np.sum(q * q[:1], -1, keepdims=True) < 0, -q, q)
    m = q.mean(0)
    return m / np.linalg.norm(m)

"""The self-check of docs/sensors.md section 4, on a recorded device stream.

A device whose quaternion is in x, y, z, w order, or ``q_sensor_world`` instead of
``q_world_sensor``, or whose gyro is in the wrong units, is not rejected sample by sample (each
sample looks fine), but a session never calibrates or places it: it is silently never used.
This check says so up front. Over a recording of a few seconds the world-frame specific force
``R(q) @ acc`` averages to about ``(0, 0, +9.81)`` (the body's accelerations average out);
when it does not, the quaternion order and convention are tried to name the likely mistake.

Example:
    >>> import numpy as np
    >>> t_ns = np.arange(300) * 10_000_000               # 3 s at 100 Hz
    >>> acc = np.tile([0.0, 9.81, 0.0], (300, 1))          # upright in portrait, still
    >>> quat = np.tile([0.7071, 0.7071, 0.0, 0.0], (300, 1))  # w, x, y, z: 90 deg about x
    >>> check_stream(t_ns, acc, np.zeros((300, 3)), quat)
    []
    >>> check_stream(t_ns, acc, np.zeros((300, 3)), quat[:, [1, 2, 3, 0]])[0][:46]
    'the quaternion looks like x, y, z, w: edgesdk '
"""

from __future__ import annotations

import numpy as np

from edgesdk.body.rotations_numpy import quat_to_matrix
from edgesdk.data.mounts import GRAVITY_MPS2

MAX_GYRO_RADS = 100.0  # consumer IMUs saturate near 35 rad/s (2000 deg/s)
MIN_DURATION_S = 2.0  # shorter recordings are not averaged
_UP_TOLERANCE = 0.2  # of g, on each axis of the mean world-frame specific force


def check_stream(
    t_ns: np.ndarray,
    acc_mps2: np.ndarray,
    gyro_rads: np.ndarray,
    quat_wxyz: np.ndarray | None,
) -> list[str]:
    """The problems found (empty when the stream passes or is too short to tell); a stream
    without quaternions (raw sensors: the session fuses its own) has only its gyro checked."""
    problems: list[str] = []
    if len(t_ns) == 0:
        return problems
    gyro_peak = float(np.abs(gyro_rads).max())
    if not gyro_peak <= MAX_GYRO_RADS:
        problems.append(
            f"the gyro reads up to {gyro_peak:.3g} rad/s, beyond any IMU (consumer ones "
            f"saturate near 35 rad/s): degrees, or another unit? (docs/sensors.md section 1)"
        )
    if quat_wxyz is None or (int(t_ns.max()) - int(t_ns.min())) / 1e9 < MIN_DURATION_S:
        return problems
    up = _mean_up(quat_wxyz, acc_mps2)
    if _is_up(up):
        return problems
    shown = ", ".join(f"{v:+.2f}" for v in up)
    if _is_up(_mean_up(quat_wxyz[:, [3, 0, 1, 2]], acc_mps2)):
        problems.append(
            "the quaternion looks like x, y, z, w: edgesdk reads w, x, y, z "
            f"(R(quat) @ acc averages ({shown}) m/s^2, not (0, 0, +9.81); docs/sensors.md "
            "section 4)"
        )
    elif _is_up(_mean_up(quat_wxyz * np.array([1.0, -1.0, -1.0, -1.0]), acc_mps2)):
        problems.append(
            "the quaternion looks like q_sensor_world: conjugate it (R(quat) @ acc averages "
            f"({shown}) m/s^2, not (0, 0, +9.81); docs/sensors.md section 4)"
        )
    else:
        problems.append(
            f"R(quat) @ acc averages ({shown}) m/s^2, not about (0, 0, +9.81): wrong sign, g "
            "units or quaternion order? (docs/sensors.md section 4)"
        )
    return problems


def _mean_up(quat_wxyz: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray:
    q = quat_wxyz / np.maximum(np.linalg.norm(quat_wxyz, axis=1, keepdims=True), 1e-12)
    world = np.einsum("nij,nj->ni", quat_to_matrix(q), acc_mps2)
    return np.asarray(world.mean(axis=0))


def _is_up(up: np.ndarray) -> bool:
    target = np.array([0.0, 0.0, GRAVITY_MPS2])
    return bool(np.all(np.abs(up - target) < _UP_TOLERANCE * GRAVITY_MPS2))

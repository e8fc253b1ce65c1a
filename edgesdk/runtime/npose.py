"""The runtime's calibration pose, in numpy: where each slot's bone points in the N-pose and
what a nominally worn device reads there. The mounts come from ``edgesdk.data.mounts``, the
table the simulator uses too.

The calibration pose is the **N-pose**: standing upright, facing ahead, arms hanging at the
sides with the palms towards the thighs. In the model's Y-up world (facing +Z, the subject's
left on +X) the head and thighs are in their rest orientation and each forearm is its rest
orientation turned 90 degrees about the forward axis, hand down.

Example:
    >>> up = sensor_up_in_npose("watch", "left_wrist")   # the crown points at the hand: down
    >>> up.round(6).tolist()
    [-1.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from edgesdk.body.rotations_numpy import rot_y, rot_z
from edgesdk.data.mounts import nominal_mount

# R_world_bone of each slot's bone in the N-pose, facing +Z.
NPOSE_BONE: dict[str, np.ndarray] = {
    "head": np.eye(3),
    "left_wrist": rot_z(-np.pi / 2),
    "right_wrist": rot_z(np.pi / 2),
    "left_pocket": np.eye(3),
    "right_pocket": np.eye(3),
}
# Global rotations of the left / right arm joints in the N-pose (shoulder, elbow, wrist).
NPOSE_ARM_JOINTS: dict[int, np.ndarray] = {
    **{j: rot_z(-np.pi / 2) for j in (16, 18, 20)},
    **{j: rot_z(np.pi / 2) for j in (17, 19, 21)},
}


def npose_target(kind: str | None, slot: str, body_yaw_rad: float = 0.0) -> np.ndarray:
    """``R_world_sensor`` (model world, nominal mount) of a device in the N-pose, with the
    body turned by ``body_yaw_rad`` about +Y."""
    return rot_y(body_yaw_rad) @ NPOSE_BONE[slot] @ nominal_mount(kind, slot)


def sensor_up_in_npose(kind: str | None, slot: str) -> np.ndarray:
    """World up (+Y) in the sensor frame of a nominally worn device in the N-pose: the
    direction an accelerometer at rest reads +g along."""
    return npose_target(kind, slot).T @ np.array([0.0, 1.0, 0.0])

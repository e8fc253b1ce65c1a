"""What the runtime knows about the body and the devices, in numpy: slots, nominal mounts,
the calibration pose, gravity.

The calibration pose is the **N-pose**: standing upright, facing ahead, arms hanging at the
sides with the palms towards the thighs. In the model's Y-up world (facing +Z, the subject's
left on +X) the head and thighs are in their rest orientation and each forearm is its rest
orientation turned 90 degrees about the forward axis, hand down.

The nominal mounts repeat ``edgesdk.data.sensors.SLOT_MOUNTS`` (tests check they agree)
because that module imports scipy and torch, which an edge board running the runtime lacks.

Example:
    >>> up = sensor_up_in_npose("watch", "left_wrist")   # the crown points at the hand: down
    >>> up.round(6).tolist()
    [-1.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.runtime.rotations import rot_y

GRAVITY_MPS2 = 9.80665
KINDS: tuple[str, ...] = ("phone", "watch", "glasses", "earbuds")
# The bone (SMPL joint) each slot's device rides on.
SLOT_BONE: dict[str, int] = {
    "head": 15,
    "left_wrist": 18,
    "right_wrist": 19,
    "left_pocket": 1,
    "right_pocket": 2,
}
# Device kinds each slot takes, and the kind a slot's training data assumes.
SLOT_KINDS: dict[str, tuple[str, ...]] = {
    "head": ("glasses", "earbuds"),
    "left_wrist": ("watch",),
    "right_wrist": ("watch",),
    "left_pocket": ("phone",),
    "right_pocket": ("phone",),
}
DEFAULT_KIND: dict[str, str] = {s: k[0] for s, k in SLOT_KINDS.items()}

_RIGHT_UP_BACK = np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
_LEFT_WATCH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
_RIGHT_WATCH = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
# R_bone_sensor of each (kind, slot) as worn nominally (docs/sensors.md, section 2).
NOMINAL_MOUNT: dict[tuple[str, str], np.ndarray] = {
    ("glasses", "head"): _RIGHT_UP_BACK,
    ("earbuds", "head"): _RIGHT_UP_BACK,
    ("watch", "left_wrist"): _LEFT_WATCH,
    ("watch", "right_wrist"): _RIGHT_WATCH,
    ("phone", "left_pocket"): np.eye(3),
    ("phone", "right_pocket"): np.eye(3),
}
# The sensor point in the bone frame for the head devices (the head pose input needs it).
HEAD_LEVER_M: dict[str, np.ndarray] = {
    "glasses": np.array([0.0, 0.065, 0.095]),
    "earbuds": np.array([0.075, 0.03, 0.0]),
}


def _rot_z(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# R_world_bone of each slot's bone in the N-pose, facing +Z.
NPOSE_BONE: dict[str, np.ndarray] = {
    "head": np.eye(3),
    "left_wrist": _rot_z(-np.pi / 2),
    "right_wrist": _rot_z(np.pi / 2),
    "left_pocket": np.eye(3),
    "right_pocket": np.eye(3),
}
# Global rotations of the left / right arm joints in the N-pose (shoulder, elbow, wrist).
NPOSE_ARM_JOINTS: dict[int, np.ndarray] = {
    **{j: _rot_z(-np.pi / 2) for j in (16, 18, 20)},
    **{j: _rot_z(np.pi / 2) for j in (17, 19, 21)},
}


# Ways a device is commonly worn besides its nominal mount, as turns of the sensor frame: a
# phone upside down in the pocket, a watch with its crown towards the elbow.
_HALF_TURN_Z = np.diag([-1.0, -1.0, 1.0])
WORN_TURNS: dict[str, tuple[np.ndarray, ...]] = {
    "phone": (np.eye(3), _HALF_TURN_Z),
    "watch": (np.eye(3), _HALF_TURN_Z),
    "glasses": (np.eye(3),),
    "earbuds": (np.eye(3),),
}


def slot_kind(kind: str | None, slot: str) -> str:
    """The kind to assume for a device in ``slot``: its own when it fits, else the slot's."""
    return kind if kind in SLOT_KINDS[slot] else DEFAULT_KIND[slot]


def nominal_mount(kind: str | None, slot: str) -> np.ndarray:
    """``R_bone_sensor`` of a ``kind`` device worn nominally in ``slot``."""
    return NOMINAL_MOUNT[(slot_kind(kind, slot), slot)]


def npose_target(kind: str | None, slot: str, body_yaw_rad: float = 0.0) -> np.ndarray:
    """``R_world_sensor`` (model world, nominal mount) of a device in the N-pose, with the
    body turned by ``body_yaw_rad`` about +Y."""
    return rot_y(body_yaw_rad) @ NPOSE_BONE[slot] @ nominal_mount(kind, slot)


def sensor_up_in_npose(kind: str | None, slot: str) -> np.ndarray:
    """World up (+Y) in the sensor frame of a nominally worn device in the N-pose: the
    direction an accelerometer at rest reads +g along."""
    return npose_target(kind, slot).T @ np.array([0.0, 1.0, 0.0])


def check_slot(slot: str) -> str:
    """``slot`` when it is one of ``SLOTS``; else ``ValueError`` naming the choices."""
    if slot not in SLOT_INDEX:
        raise ValueError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    return slot

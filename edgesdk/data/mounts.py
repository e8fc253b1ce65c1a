"""Where each kind of device sits on the body: the one mount table of the simulator and the
runtime (numpy only, no torch or scipy, so an edge board can read it).

Each device rides rigidly on one bone (docs/sensors.md, section 2): ``SLOT_MOUNTS`` gives, per
``(kind, slot)``, the bone, the sensor point on it and the nominal ``R_bone_sensor``; the
views below it (``SLOT_BONE``, ``NOMINAL_MOUNT``, ``HEAD_LEVER_M``, ``SLOT_KINDS``) are read
off it. A device's world is Z up with its own heading; the clip's and the model's world is
Y up (``R_devworld_yup``).

Example:
    >>> slot_mount("watch", "left_wrist").bone_name, SLOT_BONE["left_wrist"]
    ('left_elbow', 18)
    >>> nominal_mount("earbuds", "left_pocket").tolist()   # a pocket takes a phone
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesdk.body.rotations_numpy import R_ZUP_YUP, rot_z
from edgesdk.body.skeleton import JOINT_NAMES
from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.errors import EdgeSDKError

GRAVITY_MPS2 = 9.80665
KINDS: tuple[str, ...] = ("phone", "watch", "glasses", "earbuds")
DEFAULT_RATE_HZ: dict[str, float] = {
    "phone": 100.0,
    "watch": 50.0,
    "glasses": 200.0,
    "earbuds": 100.0,
}
# The device a slot's training data (``virtual_imu``) assumes.
DEFAULT_KIND: dict[str, str] = {
    "head": "glasses",
    "left_wrist": "watch",
    "right_wrist": "watch",
    "left_pocket": "phone",
    "right_pocket": "phone",
}

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class SlotMount:
    """Where a device sits on the body and how its axes sit on the bone.

    Attributes:
        bone_joint: the joint whose global rotation orients the bone the device rides on
            (``R_world_bone = clip.R_world_joint[:, bone_joint]``) and whose position is the
            lever arm's origin.
        end_joint: the joint at the bone's far end, or None (the head has none).
        along: the sensor sits this fraction of the way from ``bone_joint`` to ``end_joint``.
        offset_m: plus this offset off the bone's axis, in the bone's rest frame (T-pose axes:
            +X the subject's left, +Y up, +Z forward; palms face down).
        R_bone_sensor: the nominal mount, rows of a rotation matrix (columns are the sensor's
            axes in the bone's rest frame).
    """

    bone_joint: int
    end_joint: int | None
    along: float
    offset_m: Vec3
    R_bone_sensor: tuple[Vec3, Vec3, Vec3]

    @property
    def bone_name(self) -> str:
        """The bone's joint name, e.g. ``left_elbow`` for the left forearm."""
        return JOINT_NAMES[self.bone_joint]

    def lever_arm_m(self, offsets_m: np.ndarray) -> np.ndarray:
        """Sensor point relative to ``bone_joint`` in the bone frame, for a body's offsets."""
        lever = np.asarray(self.offset_m, dtype=np.float64)
        if self.end_joint is not None:
            lever = lever + self.along * np.asarray(offsets_m[self.end_joint], dtype=np.float64)
        return lever


_RIGHT_UP_BACK = ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0))
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
# Watch screen up on the back of the wrist, crown (device +X) towards the hand.
_LEFT_WATCH = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))
_RIGHT_WATCH = ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0))

SLOT_MOUNTS: dict[tuple[str, str], SlotMount] = {
    # Glasses' IMU above and in front of the head joint (bridge of the nose); X right, Y up,
    # Z towards the back of the head.
    ("glasses", "head"): SlotMount(15, None, 0.0, (0.0, 0.065, 0.095), _RIGHT_UP_BACK),
    # The left earbud, at the left ear; same axes as the glasses.
    ("earbuds", "head"): SlotMount(15, None, 0.0, (0.075, 0.03, 0.0), _RIGHT_UP_BACK),
    # Forearm (elbow's frame), 88 % of the way to the wrist joint, 2.5 cm out on the back.
    ("watch", "left_wrist"): SlotMount(18, 20, 0.88, (0.0, 0.025, 0.0), _LEFT_WATCH),
    ("watch", "right_wrist"): SlotMount(19, 21, 0.88, (0.0, 0.025, 0.0), _RIGHT_WATCH),
    # Thigh (hip's frame), 30 % down to the knee, 5 cm to the side and 7 cm to the front;
    # phone upright, top towards the hip, screen facing forward (away from the thigh).
    ("phone", "left_pocket"): SlotMount(1, 4, 0.3, (0.05, 0.0, 0.07), _IDENTITY),
    ("phone", "right_pocket"): SlotMount(2, 5, 0.3, (-0.05, 0.0, 0.07), _IDENTITY),
}

# Views of the table for the runtime. The bone (SMPL joint) each slot's device rides on:
SLOT_BONE: dict[str, int] = {slot: m.bone_joint for (_, slot), m in SLOT_MOUNTS.items()}
# Device kinds each slot takes, in table order (the slot's ``DEFAULT_KIND`` first):
SLOT_KINDS: dict[str, tuple[str, ...]] = {
    slot: tuple(k for k, s in SLOT_MOUNTS if s == slot) for slot in SLOTS
}
# R_bone_sensor of each (kind, slot) as worn nominally, as arrays:
NOMINAL_MOUNT: dict[tuple[str, str], np.ndarray] = {
    key: np.array(m.R_bone_sensor) for key, m in SLOT_MOUNTS.items()
}
# The sensor point in the bone frame for the head devices (the head pose input needs it):
HEAD_LEVER_M: dict[str, np.ndarray] = {
    kind: np.array(m.offset_m) for (kind, slot), m in SLOT_MOUNTS.items() if slot == "head"
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


def slot_mount(kind: str, slot: str) -> SlotMount:
    """The mount of a device kind in a slot; ``EdgeSDKError`` for an unsupported pair.

    Example:
        >>> slot_mount("watch", "left_wrist").bone_name
        'left_elbow'
    """
    if slot not in SLOT_INDEX:
        raise EdgeSDKError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    if kind not in KINDS:
        raise EdgeSDKError(f"unknown device kind {kind!r}; kinds are {', '.join(KINDS)}")
    mount = SLOT_MOUNTS.get((kind, slot))
    if mount is None:
        ok = ", ".join(s for k, s in SLOT_MOUNTS if k == kind)
        raise EdgeSDKError(f"a {kind} cannot sit in slot {slot!r} (it can sit in: {ok})")
    return mount


def slot_kind(kind: str | None, slot: str) -> str:
    """The kind to assume for a device in ``slot``: its own when it fits, else the slot's."""
    return kind if kind in SLOT_KINDS[slot] else DEFAULT_KIND[slot]


def nominal_mount(kind: str | None, slot: str) -> np.ndarray:
    """``R_bone_sensor`` of a ``kind`` device worn nominally in ``slot``."""
    return NOMINAL_MOUNT[(slot_kind(kind, slot), slot)]


def R_devworld_yup(heading_deg: float) -> np.ndarray:
    """``[3, 3]`` map from the clip's Y-up world into a device's Z-up world of that heading.

    Example:
        >>> (R_devworld_yup(0.0) @ np.array([0.0, 1.0, 0.0])).tolist()   # up stays up
        [0.0, 0.0, 1.0]
    """
    return rot_z(np.radians(heading_deg)) @ R_ZUP_YUP

"""The 22-joint body layout shared by every model: SMPL joint order, names and parents.

The rest pose is SMPL's: a T-pose, Y up, facing +Z, the subject's left on +X. A joint's
global rotation ``R_world_joint`` is the identity when that joint is in its rest orientation,
so rotations mean the same thing whatever the motion source.

Example:
    >>> from edgesdk.body.skeleton import JOINT_NAMES, PARENTS, template_offsets
    >>> JOINT_NAMES[15], JOINT_NAMES[PARENTS[15]]
    ('head', 'neck')
    >>> round(float(template_offsets(1.75)[:, 1].sum()), 3) != 0.0
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names and parents need no torch (the runtime on an edge board)
    from torch import Tensor

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)
PARENTS: tuple[int, ...] = (
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Kinematic chains from the pelvis outwards (used for interpolating missing joints and plots).
CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 3, 6, 9, 12, 15),
    (0, 1, 4, 7, 10),
    (0, 2, 5, 8, 11),
    (9, 13, 16, 18, 20),
    (9, 14, 17, 19, 21),
)

# The six body parts of Ego4o's part-aware VQ-VAE.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (12, 15),
    "left_arm": (13, 16, 18, 20),
    "right_arm": (14, 17, 19, 21),
    "torso": (0, 3, 6, 9),
    "left_leg": (1, 4, 7, 10),
    "right_leg": (2, 5, 8, 11),
}

FOOT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)  # ankles and feet, for contact and the floor

# Rest-pose joint positions (metres) of SMPL's neutral mean shape, left/right symmetrized and
# rounded to millimetres; the origin is SMPL's, the floor lies at about y = -1.19.
_SMPL_REST_POS_M = (
    (0.000, -0.223, 0.028),
    (0.069, -0.314, 0.023),
    (-0.069, -0.314, 0.023),
    (-0.002, -0.109, 0.002),
    (0.105, -0.678, 0.016),
    (-0.105, -0.678, 0.016),
    (0.005, 0.020, 0.027),
    (0.090, -1.087, -0.028),
    (-0.090, -1.087, -0.028),
    (0.002, 0.072, 0.029),
    (0.116, -1.139, 0.100),
    (-0.116, -1.139, 0.100),
    (-0.001, 0.294, -0.016),
    (0.080, 0.202, -0.011),
    (-0.080, 0.202, -0.011),
    (0.005, 0.381, 0.035),
    (0.172, 0.243, -0.018),
    (-0.172, 0.243, -0.018),
    (0.434, 0.229, -0.041),
    (-0.434, 0.229, -0.041),
    (0.694, 0.237, -0.042),
    (-0.694, 0.237, -0.042),
)
_SMPL_FLOOR_Y_M = -1.19
_SMPL_STATURE_M = 1.70  # floor to top of head of the neutral mean shape


def rest_positions(height_m: float = _SMPL_STATURE_M) -> Tensor:
    """Rest-pose joint positions ``[22, 3]`` in metres, feet on the floor (y = 0), scaled so the
    body's stature (floor to top of head) is ``height_m``."""
    if not 0.5 <= height_m <= 2.6:
        raise ValueError(f"height_m={height_m} is outside a human range (0.5 to 2.6 m)")
    import torch

    pos = torch.tensor(_SMPL_REST_POS_M, dtype=torch.float64)
    pos[:, 1] -= _SMPL_FLOOR_Y_M
    return (pos * (height_m / _SMPL_STATURE_M)).float()


def template_offsets(height_m: float = _SMPL_STATURE_M) -> Tensor:
    """Bone offsets ``[22, 3]`` (metres): joint minus parent in the rest pose; row 0 is the
    pelvis position above the floor. Scaled by stature ``height_m``."""
    return offsets_from_positions(rest_positions(height_m))


def offsets_from_positions(pos: Tensor) -> Tensor:
    """Rest-pose positions ``[..., 22, 3]`` to bone offsets (row 0 keeps the root position)."""
    import torch

    parents = torch.tensor([0, *PARENTS[1:]])
    off = pos - pos[..., parents, :]
    return torch.cat([pos[..., :1, :], off[..., 1:, :]], dim=-2)


def primary_child(joint: int) -> int | None:
    """The child that continues a joint's chain (spine over hips, neck over collars)."""
    for chain in CHAINS:
        if joint in chain[:-1]:
            return chain[chain.index(joint) + 1]
    return None


def children(joint: int) -> tuple[int, ...]:
    """All direct children of a joint."""
    return tuple(j for j, p in enumerate(PARENTS) if p == joint)

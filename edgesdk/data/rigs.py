"""Joint-name tables of the motion-capture rigs edgesdk reads (BVH and ASF/AMC), one per rig:
SMPL joint name -> the rig's joint name, with the rig's calibrated T-pose where its zero pose
is none. ``edgesdk.data.retarget`` detects the rig from the names and retargets with them.

Example:
    >>> RIGS["mixamo"].joints["left_wrist"]
    'LeftHand'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edgesdk.body.skeleton import JOINT_NAMES


@dataclass(frozen=True)
class RigTable:
    """A rig's joint-name table and, optionally, its calibrated T-pose.

    Attributes:
        name: the rig's name ("bandai-namco", ...).
        joints: SMPL joint name -> the rig's joint name (without any ``namespace:`` prefix).
        rest_deg: SMPL joint name -> that rig joint's rotation in the rig's T-pose relative to
            its mapped parent, intrinsic XYZ Euler degrees (see ``calibrate_rest_deg``);
            joints not listed keep their zero-pose relation. ``{}``: the zero pose is the
            T-pose. None: estimated from each clip. An entry for ``"pelvis"`` is the root's
            T-pose frame relative to the file's axes (used by calibration too), in place of
            the fit to its children.
    """

    name: str
    joints: Mapping[str, str]
    rest_deg: Mapping[str, tuple[float, float, float]] | None = None


def _sided(left: dict[str, str], right_from_left: tuple[str, str]) -> dict[str, str]:
    """A table's left-side entries plus the right side made by a name substitution."""
    a, b = right_from_left
    right = {k.replace("left_", "right_"): v.replace(a, b) for k, v in left.items()}
    return {**left, **right}


BANDAI_NAMCO = RigTable(
    "bandai-namco",
    {
        "pelvis": "Hips",
        "spine1": "Spine",
        "spine3": "Chest",
        "neck": "Neck",
        "head": "Head",
        **_sided(
            {
                "left_hip": "UpperLeg_L",
                "left_knee": "LowerLeg_L",
                "left_ankle": "Foot_L",
                "left_foot": "Toes_L",
                "left_collar": "Shoulder_L",
                "left_shoulder": "UpperArm_L",
                "left_elbow": "LowerArm_L",
                "left_wrist": "Hand_L",
            },
            ("_L", "_R"),
        ),
    },
    # calibrate_rest_deg over the 567 clips of Bandai-Namco 1 and 2 (subsets agree within 2 deg).
    rest_deg={
        "left_hip": (2.6, -8.3, -174.3),
        "right_hip": (175.9, 8.2, 6.6),
        "spine1": (90.2, -1.6, 18.5),
        "neck": (0.8, -4.6, 44.6),
        "left_collar": (-90.8, -3.0, -66.4),
        "right_collar": (91.1, 2.1, 114.9),
        "left_shoulder": (11.1, 1.4, -27.0),
        "right_shoulder": (12.0, 1.4, -27.0),
    },
)
CMU_ICLONE = RigTable(
    "cmu-iclone",
    {
        "pelvis": "CC_Base_Hip",
        "spine1": "CC_Base_Waist",
        "spine2": "CC_Base_Spine01",
        "spine3": "CC_Base_Spine02",
        "neck": "CC_Base_NeckTwist01",
        "head": "CC_Base_Head",
        **_sided(
            {
                "left_hip": "CC_Base_L_Thigh",
                "left_knee": "CC_Base_L_Calf",
                "left_ankle": "CC_Base_L_Foot",
                "left_foot": "CC_Base_L_ToeBase",
                "left_collar": "CC_Base_L_Clavicle",
                "left_shoulder": "CC_Base_L_Upperarm",
                "left_elbow": "CC_Base_L_Forearm",
                "left_wrist": "CC_Base_L_Hand",
            },
            ("_L_", "_R_"),
        ),
    },
    # calibrate_rest_deg over the 47 CMU clips (subsets agree within 1 deg).
    rest_deg={
        "left_hip": (15.8, -0.6, -175.0),
        "right_hip": (15.8, 0.4, 174.2),
        "spine1": (6.4, 1.4, -3.2),
        "neck": (40.5, -3.4, -4.2),
        "left_collar": (11.0, 6.1, -64.7),
        "right_collar": (11.0, -6.5, 63.3),
        "left_shoulder": (19.9, 29.3, -35.7),
        "right_shoulder": (20.1, -29.3, 35.8),
    },
)
MIXAMO = RigTable(
    "mixamo",
    {
        "pelvis": "Hips",
        "spine1": "Spine",
        "spine2": "Spine1",
        "spine3": "Spine2",
        "neck": "Neck",
        "head": "Head",
        **_sided(
            {
                "left_hip": "LeftUpLeg",
                "left_knee": "LeftLeg",
                "left_ankle": "LeftFoot",
                "left_foot": "LeftToeBase",
                "left_collar": "LeftShoulder",
                "left_shoulder": "LeftArm",
                "left_elbow": "LeftForeArm",
                "left_wrist": "LeftHand",
            },
            ("Left", "Right"),
        ),
    },
    rest_deg={},  # Mixamo's zero pose is its T-pose
)
# The CMU / HDM05 ASF skeleton (31 bones) as ``edgesdk.data.asf_amc`` exposes it: joint ``b`` at
# the start of bone ``b``. The lower back starts at the root, so spine1 sits on the pelvis (a
# zero-length bone, rigid like the ASF's). The clavicles start on the midline at the neck's base
# (where the neck starts), so mapping them would put neck and both collars on one point and
# leave the chest's facing undetermined: the collars are interpolated between the chest and
# the shoulders instead (HDM05's clavicle dofs are always zero). The ASF's two neck bones
# share SMPL's one: the neck is the lower neck, the head the head bone (its own rotation).
CMU_ASF = RigTable(
    "cmu-asf",
    {
        "pelvis": "root",
        "spine1": "lowerback",
        "spine2": "upperback",
        "spine3": "thorax",
        "neck": "lowerneck",
        "head": "head",
        **{
            side + name: prefix + bone
            for side, prefix in (("left_", "l"), ("right_", "r"))
            for name, bone in (
                ("hip", "femur"),
                ("knee", "tibia"),
                ("ankle", "foot"),
                ("foot", "toes"),
                ("shoulder", "humerus"),
                ("elbow", "radius"),
                ("wrist", "wrist"),
            )
        },
    },
    # The pelvis: the ASF's zero pose is the upright T-pose facing +Z (a fit to the hip joints,
    # which sit in front of the root, would pitch it by 13-22 degrees). The rest:
    # calibrate_rest_deg over the 188 HDM05 clips (halves agree within 1 deg; each actor has
    # its own skeleton, and the three actors' own calibrations differ from it by up to 11 deg).
    rest_deg={
        "pelvis": (0.0, 0.0, 0.0),
        "left_hip": (1.1, 0.1, -14.4),
        "right_hip": (1.1, 0.3, 14.4),
        "spine1": (14.6, -0.4, -2.5),
        "neck": (43.3, -5.2, -3.6),
        "left_shoulder": (31.2, 5.6, -6.0),
        "right_shoulder": (31.4, -1.5, 3.4),
    },
)
# edgesdk's own layout, as written by ``edgesdk.data.bvh.write_bvh``: the zero pose is the T-pose.
SMPL = RigTable("smpl", {name: name for name in JOINT_NAMES}, rest_deg={})
RIGS: dict[str, RigTable] = {t.name: t for t in (BANDAI_NAMCO, CMU_ICLONE, MIXAMO, CMU_ASF, SMPL)}

# Chain-interior joints a rig may lack (interpolated); every other joint is required.
OPTIONAL_JOINTS: frozenset[str] = frozenset(
    {"spine1", "spine2", "neck", "left_collar", "right_collar"}
)

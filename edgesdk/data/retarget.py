"""Retargeting a BVH or ASF/AMC skeleton onto the 22-joint SMPL layout, by joint-name tables.

One table per rig maps SMPL joint names to the rig's joint names (never indices); the rig is
detected from the names. Joints a rig lacks are interpolated along their chain and marked
unmapped. Output is metres, Y up, right-handed, floor at y = 0.

Rotations follow the SMPL convention whatever the rig's own joint frames: a joint's global
rotation is the identity when its body segment is in SMPL's T-pose orientation (Y up, facing
+Z, left on +X, palms down). With ``G_j`` the rig joint's frame in a T-pose of the rig
(source frame -> world, Y up), ``C_j = G_j^T`` and per frame

    R_world_joint = Swing_t @ R_src @ C_j

where ``Swing_t`` is the minimal rotation that lays the joint's bone on the observed direction
to its child, so forward kinematics reproduces the chain exactly and the twist comes from the
source bone. The T-pose frames ``G_j``:

- branching joints (pelvis, spine3): the Procrustes fit of the directions to their children
  (the joint's own frame, zero pose) onto the template's, which fixes facing and left/right;
  a table may give the pelvis frame instead (``rest_deg["pelvis"]``: the ASF's zero pose is
  upright and faces +Z by definition, while its hip joints sit in front of the root);
- the head: spine3's frame (the head continues the chest, not the tilted neck bone);
- every other joint: its mapped parent's frame times the rig's T-pose rotation for it
  (``RigTable.rest_deg``, ``edgesdk.data.rigs``; identity where the zero pose already has the
  T-pose relation), then the minimal swing that lays its bone along the template direction.
  Leaves (wrists, feet) keep their parent's frame.

A rig's zero pose is often no T-pose (Bandai-Namco lays every bone along its local X and
turns its right side by 180 degrees; CMU's iClone rig folds the legs onto the spine), and
the zero pose cannot show a joint's twist. ``rest_deg`` holds the rotations it cannot give,
calibrated from the rig's clips by ``calibrate_rest_deg``: the clip's mean pose swung onto the
template bone, and the thigh and upper-arm twist that puts the knee and elbow hinges on
SMPL's axes. A table without ``rest_deg`` is calibrated from each clip as it loads.

Example:
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> from edgesdk.data.bvh import read_bvh
    >>> out = retarget(read_bvh(bundled_data_dir() / "cmu" / "002_03.bvh"))
    >>> out.rig, out.unit_scale, out.pos_m.shape[1:]
    ('cmu-iclone', 0.01, (22, 3))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from edgesdk.body.rotations import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_quat,
    procrustes_rotation,
    quat_slerp,
    quat_to_matrix,
    rotation_between,
)
from edgesdk.body.skeleton import (
    CHAINS,
    FOOT_JOINTS,
    JOINT_INDEX,
    JOINT_NAMES,
    NUM_JOINTS,
    PARENTS,
    rest_positions,
)
from edgesdk.data.clip import Clip
from edgesdk.data.labels import load_labels
from edgesdk.data.rigs import OPTIONAL_JOINTS, RIGS, RigTable
from edgesdk.errors import EdgeSDKError


class SourceMotion(Protocol):
    """What retargeting reads from a parsed motion file (``BvhMotion``, ``AsfAmcMotion``):
    its joint names and their forward kinematics in the file's own axes and units."""

    @property
    def path(self) -> str: ...

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def num_frames(self) -> int: ...

    def fk(
        self, joints: list[int] | None = None, zero_pose: bool = False
    ) -> tuple[Tensor, Tensor]: ...


UP_AXES = ("y", "z")
# Up axis -> the rotation from the file's axes to Y up: Z-up (x, y, z) maps to (x, z, -y).
TO_Y_UP: dict[str, Tensor] = {
    "y": torch.eye(3, dtype=torch.float64),
    "z": torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=torch.float64),
}
_FLOOR_PERCENTILE = 2.0
_PELVIS, _SPINE3, _HEAD = JOINT_INDEX["pelvis"], JOINT_INDEX["spine3"], JOINT_INDEX["head"]
# Proximal joint -> (hinge joint, its child, SMPL's flexion axis in the proximal frame): knees
# flex about +X; elbows, with the T-pose's palms down, about -Y (left) and +Y (right).
_HINGES: dict[int, tuple[int, int, tuple[float, float, float]]] = {
    JOINT_INDEX[prox]: (JOINT_INDEX[hinge], JOINT_INDEX[end], axis)
    for prox, hinge, end, axis in (
        ("left_hip", "left_knee", "left_ankle", (1.0, 0.0, 0.0)),
        ("right_hip", "right_knee", "right_ankle", (1.0, 0.0, 0.0)),
        ("left_shoulder", "left_elbow", "left_wrist", (0.0, -1.0, 0.0)),
        ("right_shoulder", "right_elbow", "right_wrist", (0.0, 1.0, 0.0)),
    )
}
_HINGE_MIN_DEG = 25.0
# Head -> pelvis -> left ankle: about 1.4 m in an adult, for telling the length unit.
_BODY_PATH = tuple(
    JOINT_INDEX[name]
    for name in (
        "head",
        "neck",
        "spine3",
        "spine2",
        "spine1",
        "pelvis",
        "left_hip",
        "left_knee",
        "left_ankle",
    )
)
# Joints whose T-pose twist a rig's zero pose cannot give: the first joint of each chain that
# leaves a branching joint (a rig may fold a leg onto the spine, or turn its right side by 180
# degrees, without it showing in the zero pose), and the thighs and upper arms, whose twist
# the knee and elbow hinges fix.
CALIBRATED_JOINTS = (
    "left_hip",
    "right_hip",
    "spine1",
    "neck",
    "left_collar",
    "right_collar",
    "left_shoulder",
    "right_shoulder",
)
_CALIBRATED = frozenset(JOINT_INDEX[name] for name in CALIBRATED_JOINTS)
_HINGE_MIN_FRAMES = 5


@dataclass(frozen=True, eq=False)
class Retargeted:
    """A BVH motion on the 22-joint layout (metres, Y up, floor at y = 0).

    Attributes:
        rig: the detected rig table's name.
        R_world_joint: ``[T, 22, 3, 3]`` SMPL-convention global rotations (float64).
        pos_m: ``[T, 22, 3]`` joint positions (the source's own, interpolated where unmapped).
        offsets_m: ``[22, 3]`` bone offsets; row 0 is the pelvis height in the rest pose.
        mapped: per joint, True where the source had it.
        source_joints: SMPL name -> source joint name, or ``"interpolated"``.
        up_axis: the source's up axis ("y" or "z").
        unit_scale: metres per source unit.
    """

    rig: str
    R_world_joint: np.ndarray
    pos_m: np.ndarray
    offsets_m: np.ndarray
    mapped: tuple[bool, ...]
    source_joints: dict[str, str]
    up_axis: str
    unit_scale: float

    def to_clip(self, path: str | Path, fps: float) -> Clip:
        """This motion as a float32 ``Clip`` named after its file, with the file's labels
        (``edgesdk.data.labels``): what the BVH and ASF/AMC loaders return."""
        return Clip(
            name=Path(path).stem,
            fps=fps,
            R_world_joint=self.R_world_joint.astype(np.float32),
            global_pos_m=self.pos_m.astype(np.float32),
            offsets_m=self.offsets_m.astype(np.float32),
            labels=load_labels(path),
            source=str(path),
            rig=self.rig,
            mapped=self.mapped,
        )


def detect_rig(
    names: tuple[str, ...] | list[str], where: str = ""
) -> tuple[RigTable, dict[int, int]]:
    """The rig table matching these joint names and the map SMPL index -> source index.

    Names match with or without a ``namespace:`` prefix (``mixamorig:Hips``).

    Example:
        >>> rig, index = detect_rig(["mixamorig:Hips", "mixamorig:Spine"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: unknown skeleton: ...
    """
    plain = {name.rsplit(":", 1)[-1]: i for i, name in enumerate(names)}
    best: tuple[int, RigTable, list[str]] | None = None
    for table in RIGS.values():
        missing = [
            src
            for tgt, src in table.joints.items()
            if src not in plain and tgt not in OPTIONAL_JOINTS
        ]
        if not missing:
            index = {JOINT_INDEX[t]: plain[s] for t, s in table.joints.items() if s in plain}
            return table, index
        found = sum(src in plain for src in table.joints.values())
        if best is None or found > best[0]:
            best = (found, table, missing)
    prefix = f"{where}: " if where else ""
    hint = ""
    if best is not None and best[0] > 0:
        hint = f" (closest: {best[1].name}, missing {', '.join(best[2][:4])})"
    raise EdgeSDKError(
        f"{prefix}unknown skeleton: no retargeting table matches its joint names{hint}"
    )


def detect_up_axis(head_minus_pelvis: Tensor) -> str:
    """ "y" or "z": the axis along which the head is on average furthest above the pelvis.

    Example:
        >>> detect_up_axis(torch.tensor([[0.0, 0.1, 0.6], [0.0, -0.1, 0.5]]))
        'z'
    """
    mean = head_minus_pelvis.reshape(-1, 3).mean(0)
    return "z" if float(mean[2]) > float(mean[1]) else "y"


def detect_unit_scale(body_size: float, where: str = "") -> float:
    """Metres per unit from a body size (head to pelvis to ankle, about 1.4 m in a human).

    Example:
        >>> detect_unit_scale(142.0), detect_unit_scale(1.4)
        (0.01, 1.0)
    """
    if 0.5 <= body_size <= 5.0:
        return 1.0
    if 20.0 <= body_size <= 500.0:
        return 0.01
    if 500.0 < body_size <= 5000.0:
        return 0.001
    prefix = f"{where}: " if where else ""
    raise EdgeSDKError(
        f"{prefix}cannot tell the length unit from a body size of {body_size:.3g} units; "
        "pass unit_scale (metres per unit)"
    )


def retarget(
    bvh: SourceMotion, up_axis: str | None = None, unit_scale: float | None = None
) -> Retargeted:
    """Map a parsed BVH onto the 22-joint layout (see the module docstring for the method).

    Args:
        bvh: the parsed file.
        up_axis: "y" or "z" to override the detected up axis.
        unit_scale: metres per file unit to override the detected unit (0.0254 for inches).

    Example:
        >>> from edgesdk.data.bvh import read_bvh
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> out = retarget(read_bvh(bundled_data_dir() / "cmu" / "007_12.bvh"), unit_scale=0.01)
        >>> out.source_joints["left_wrist"], out.R_world_joint.shape
        ('CC_Base_L_Hand', (132, 22, 3, 3))
    """
    where = bvh.path
    table, src_of = detect_rig(bvh.names, where)
    if up_axis is not None and up_axis.lower() not in UP_AXES:
        raise EdgeSDKError(f"{where}: up_axis must be one of {UP_AXES}, got {up_axis!r}")
    if unit_scale is not None and not unit_scale > 0:
        raise EdgeSDKError(f"{where}: unit_scale must be positive, got {unit_scale}")
    mapped = tuple(j in src_of for j in range(NUM_JOINTS))
    src = [src_of[j] for j in range(NUM_JOINTS) if mapped[j]]
    R_raw, P_raw = bvh.fk(src)
    _, P_zero = bvh.fk(src, zero_pose=True)

    head_minus_pelvis = P_raw[:, src_of[_HEAD]] - P_raw[:, src_of[_PELVIS]]
    up = (up_axis or detect_up_axis(head_minus_pelvis)).lower()
    if unit_scale is None:
        unit_scale = detect_unit_scale(_body_size(P_raw[0], src_of), where)
    A = TO_Y_UP[up]

    Rsrc = torch.full((bvh.num_frames, NUM_JOINTS, 3, 3), float("nan"), dtype=torch.float64)
    P = torch.zeros((bvh.num_frames, NUM_JOINTS, 3), dtype=torch.float64)
    for j, s in src_of.items():
        Rsrc[:, j] = A @ R_raw[:, s]
        P[:, j] = unit_scale * (P_raw[:, s] @ A.T)
    _interpolate_positions(P, mapped)

    G = _tpose_frames(table, R_raw, P_zero[0], src_of, mapped)
    R_world = _smpl_rotations(Rsrc, P, G, P_zero[0], src_of, mapped)
    if not torch.isfinite(R_world).all() or not torch.isfinite(P).all():
        raise EdgeSDKError(f"{where}: retargeting produced NaN (degenerate skeleton)")

    foot_y = P[:, list(FOOT_JOINTS), 1].amin(dim=1)
    P[..., 1] -= float(np.percentile(foot_y.numpy(), _FLOOR_PERCENTILE))
    offsets = _clip_offsets(R_world, P)
    names = {
        JOINT_NAMES[j]: bvh.names[src_of[j]] if mapped[j] else "interpolated"
        for j in range(NUM_JOINTS)
    }
    return Retargeted(
        rig=table.name,
        R_world_joint=R_world.numpy(),
        pos_m=P.numpy(),
        offsets_m=offsets.numpy(),
        mapped=mapped,
        source_joints=names,
        up_axis=up,
        unit_scale=float(unit_scale),
    )


def _body_size(P_frame: Tensor, src_of: dict[int, int]) -> float:
    """Head -> pelvis -> left ankle path length through the SMPL chain (file units)."""
    pts = [P_frame[src_of[j]] for j in _BODY_PATH if j in src_of]
    return float(sum((b - a).norm() for a, b in itertools.pairwise(pts)))


def _chain_links() -> dict[int, list[tuple[int, ...]]]:
    """Joint -> the chain segments that continue from it (each the rest of a chain)."""
    links: dict[int, list[tuple[int, ...]]] = {j: [] for j in range(NUM_JOINTS)}
    for chain in CHAINS:
        for i, j in enumerate(chain[:-1]):
            links[j].append(chain[i + 1 :])
    return links


_LINKS = _chain_links()
_REST_M = rest_positions().double()


def _next_mapped(j: int, mapped: tuple[bool, ...]) -> list[int]:
    """The first mapped joint down each chain leaving ``j``; the primary chain first."""
    return [next(k for k in rest if mapped[k]) for rest in _LINKS[j]]


def _away_from(
    j: int, k: int, P_zero: Tensor, src_of: dict[int, int], mapped: tuple[bool, ...]
) -> int:
    """``k``, or the next mapped joint down its chain while ``k`` lies on ``j`` (zero pose)."""
    while float((P_zero[src_of[k]] - P_zero[src_of[j]]).norm()) == 0.0:
        following = _next_mapped(k, mapped)
        if not following:
            break
        k = following[0]
    return k


def _mapped_parent(j: int, mapped: tuple[bool, ...]) -> int:
    p = PARENTS[j]
    while not mapped[p]:
        p = PARENTS[p]
    return p


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _mean_rotation(R: Tensor) -> Tensor:
    """Chordal mean of rotations ``[T, 3, 3]``: the nearest rotation to the mean matrix."""
    U, _, Vh = torch.linalg.svd(R.mean(0))
    d = torch.sign(torch.det(U @ Vh))
    return U @ torch.diag(torch.stack([torch.ones_like(d), torch.ones_like(d), d])) @ Vh


def _bone_dirs(
    j: int, P_zero: Tensor, src_of: dict[int, int], mapped: tuple[bool, ...]
) -> tuple[Tensor, Tensor]:
    """Unit directions ``[K, 3]`` from joint ``j`` to the first mapped joint down each chain
    leaving it (primary first): in the source joint's own frame in the zero pose (where every
    frame is the world's), and in the SMPL template. A mapped joint on ``j`` itself (the
    ASF's lower back starts at the root) has no direction: the next mapped one is used."""
    targets = [_away_from(j, k, P_zero, src_of, mapped) for k in _next_mapped(j, mapped)]
    if not targets:
        empty = torch.zeros((0, 3), dtype=torch.float64)
        return empty, empty
    local = torch.stack([P_zero[src_of[k]] - P_zero[src_of[j]] for k in targets])
    template = torch.stack([_REST_M[k] - _REST_M[j] for k in targets])
    return _unit(local), _unit(template)


def _tpose_frames(
    table: RigTable,
    R_raw: Tensor,
    P_zero: Tensor,
    src_of: dict[int, int],
    mapped: tuple[bool, ...],
    estimate: bool = False,
) -> dict[int, Tensor]:
    """``G_j``: each mapped source joint's frame (file axes -> world, Y up) in a T-pose facing
    +Z. From the table's calibrated rest rotations, or estimated from this clip when the
    table has none (or ``estimate``)."""
    rest = None if estimate else table.rest_deg
    root_rest = (table.rest_deg or {}).get("pelvis")
    G: dict[int, Tensor] = {}
    for j in range(NUM_JOINTS):
        if not mapped[j]:
            continue
        local, template = _bone_dirs(j, P_zero, src_of, mapped)
        if j == _PELVIS and root_rest is not None:
            G[j] = _euler_xyz_deg(root_rest)
            continue
        if len(local) > 1:
            G[j] = procrustes_rotation(local, template)
            continue
        base = _SPINE3 if j == _HEAD else _mapped_parent(j, mapped)
        name = JOINT_NAMES[j]
        start = G[base]
        if rest is not None and name in rest:
            start = G[base] @ _euler_xyz_deg(rest[name])
        elif rest is None and j in _CALIBRATED and len(_LINKS[base]) > 1:
            start = G[base] @ _mean_rotation(R_raw[:, src_of[base]].mT @ R_raw[:, src_of[j]])
        G[j] = rotation_between(start @ local[0], template[0]) @ start if len(local) else start
        if rest is None and j in _HINGES:
            G[j] = _hinge_twist(G[j], j, R_raw, P_zero, src_of)
    return G


def _hinge_twist(
    G_prox: Tensor, prox: int, R_raw: Tensor, P_zero: Tensor, src_of: dict[int, int]
) -> Tensor:
    """Turn a thigh's or upper arm's T-pose frame about its bone so that the clip's knee or
    elbow hinge lies on SMPL's hinge axis (unchanged when the clip hardly bends that joint).

    The hinge is the mean normal of the plane the distal bone sweeps in the proximal frame,
    so forearm pronation (twist about the distal bone) does not disturb it."""
    dist, end, axis = _HINGES[prox]
    sp, sd, se = src_of[prox], src_of[dist], src_of[end]
    bone_prox = _unit(P_zero[sd] - P_zero[sp])  # both in their own frames, zero pose
    bone_dist = _unit(P_zero[se] - P_zero[sd])
    v = (R_raw[:, sp].mT @ R_raw[:, sd] @ bone_dist[:, None])[..., 0]  # distal bone, prox frame
    n = torch.linalg.cross(bone_prox.expand_as(v), v, dim=-1)
    bent = n.norm(dim=-1) > math.sin(math.radians(_HINGE_MIN_DEG))
    if int(bent.sum()) < _HINGE_MIN_FRAMES:
        return G_prox
    d = G_prox @ bone_prox
    h = G_prox @ _unit(n[bent].sum(0))
    want = torch.tensor(axis, dtype=torch.float64)
    h_perp, want_perp = _unit(h - (h @ d) * d), _unit(want - (want @ d) * d)
    angle = torch.atan2(torch.linalg.cross(h_perp, want_perp, dim=-1) @ d, h_perp @ want_perp)
    return axis_angle_to_matrix(d * angle) @ G_prox


def calibrate_rest_deg(motions: Iterable[SourceMotion]) -> dict[str, tuple[float, float, float]]:
    """Estimate a rig's T-pose rotations for ``RigTable.rest_deg`` from many of its clips.

    Per clip, the joints whose twist the zero pose cannot give (``CALIBRATED_JOINTS``) start
    from the clip's mean pose, are swung onto the template bone, and the thighs and upper
    arms are turned so that the observed knee and elbow hinges lie on SMPL's hinge axes. The
    result is each joint's rotation relative to its mapped parent, averaged over the clips,
    as intrinsic XYZ Euler angles in degrees.

    Example:
        >>> from edgesdk.data.bvh import read_bvh
        >>> from edgesdk.data.sources import bundled_data_dir, list_bvh
        >>> rest = calibrate_rest_deg(read_bvh(p) for p in list_bvh(bundled_data_dir()))
        >>> sorted(rest) == sorted(CALIBRATED_JOINTS)
        True
    """
    samples: dict[str, list[Tensor]] = {name: [] for name in CALIBRATED_JOINTS}
    for bvh in motions:
        table, src_of = detect_rig(bvh.names, bvh.path)
        mapped = tuple(j in src_of for j in range(NUM_JOINTS))
        R_raw, _ = bvh.fk(list(src_of.values()))
        _, P_zero = bvh.fk(list(src_of.values()), zero_pose=True)
        G = _tpose_frames(table, R_raw, P_zero[0], src_of, mapped, estimate=True)
        for name in CALIBRATED_JOINTS:
            j = JOINT_INDEX[name]
            if mapped[j]:
                samples[name].append(G[_mapped_parent(j, mapped)].T @ G[j])
    return {
        name: _matrix_to_euler_xyz_deg(_mean_rotation(torch.stack(rs)))
        for name, rs in samples.items()
        if rs
    }


def _euler_xyz_deg(angles_deg: tuple[float, float, float]) -> Tensor:
    """``Rx @ Ry @ Rz`` from intrinsic XYZ Euler angles in degrees (float64)."""
    return euler_to_matrix(torch.deg2rad(torch.tensor(angles_deg, dtype=torch.float64)), "XYZ")


def _matrix_to_euler_xyz_deg(R: Tensor) -> tuple[float, float, float]:
    """Inverse of ``euler_to_matrix(angles, "XYZ")`` (``R = Rx @ Ry @ Rz``): degrees, 0.1."""
    b = math.asin(max(-1.0, min(1.0, float(R[0, 2]))))
    a = math.atan2(-float(R[1, 2]), float(R[2, 2]))
    c = math.atan2(-float(R[0, 1]), float(R[0, 0]))
    x, y, z = (round(math.degrees(v), 1) for v in (a, b, c))
    return (x, y, z)


def _interpolate_positions(P: Tensor, mapped: tuple[bool, ...]) -> None:
    """Fill unmapped joints in place: points between the mapped neighbours on their chain."""
    for j in range(NUM_JOINTS):
        if mapped[j]:
            continue
        a, b, f = _interpolation(j, mapped)
        P[:, j] = (1.0 - f) * P[:, a] + f * P[:, b]


def _interpolation(j: int, mapped: tuple[bool, ...]) -> tuple[int, int, float]:
    """For an unmapped joint: mapped chain neighbours (a, b) and the fraction along a -> b."""
    chain = next(c for c in CHAINS if j in c[1:-1])
    i = chain.index(j)
    ia = max(k for k in range(i) if mapped[chain[k]])
    ib = min(k for k in range(i + 1, len(chain)) if mapped[chain[k]])
    seg = [float((_REST_M[chain[k + 1]] - _REST_M[chain[k]]).norm()) for k in range(ia, ib)]
    return chain[ia], chain[ib], sum(seg[: i - ia]) / sum(seg)


def _smpl_rotations(
    Rsrc: Tensor,
    P: Tensor,
    G: dict[int, Tensor],
    P_zero: Tensor,
    src_of: dict[int, int],
    mapped: tuple[bool, ...],
) -> Tensor:
    """``R_world_joint [T, 22, 3, 3]``: ``Swing_t @ Rsrc @ C_j``, interpolated where unmapped."""
    R_world = torch.empty_like(Rsrc)
    for j in range(NUM_JOINTS):
        if not mapped[j]:
            continue
        R = Rsrc[:, j] @ G[j].T
        targets = _next_mapped(j, mapped)
        # A zero-length bone (the ASF's lower back starts at the root) has no direction to
        # swing onto: its rotation is the source's.
        if targets and float((P_zero[src_of[targets[0]]] - P_zero[src_of[j]]).norm()) > 0:
            k = targets[0]
            bone_local = _unit(P_zero[src_of[k]] - P_zero[src_of[j]])
            u = G[j] @ bone_local  # the bone's direction in the SMPL joint frame
            child = next(c for c in _LINKS[j][0])  # the chain's next joint, mapped or not
            R = _swing_onto(R, u, P[:, child] - P[:, j])
        R_world[:, j] = R
    for j in range(NUM_JOINTS):
        if mapped[j]:
            continue
        a, b, f = _interpolation(j, mapped)
        q = quat_slerp(matrix_to_quat(R_world[:, a]), matrix_to_quat(R_world[:, b]), f)
        u = _unit(_REST_M[b] - _REST_M[a])
        child = next(c for c in _LINKS[j][0])
        R_world[:, j] = _swing_onto(quat_to_matrix(q), u, P[:, child] - P[:, j])
    return R_world


def _swing_onto(R: Tensor, u: Tensor, observed: Tensor) -> Tensor:
    """``Swing_t @ R`` where ``Swing_t`` turns ``R @ u`` onto ``observed`` minimally."""
    predicted = R @ u
    return rotation_between(predicted, observed) @ R


def _clip_offsets(R_world: Tensor, P: Tensor) -> Tensor:
    """Bone offsets: per bone, the mean over frames of the child in its parent's frame."""
    offsets = torch.zeros((NUM_JOINTS, 3), dtype=torch.float64)
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        local = (R_world[:, p].mT @ (P[:, j] - P[:, p])[..., None])[..., 0]
        offsets[j] = local.mean(0)
    # Pelvis height in the rest pose: the lowest foot joint of the rest-pose FK on the floor.
    rest = torch.zeros((NUM_JOINTS, 3), dtype=torch.float64)
    for j in range(1, NUM_JOINTS):
        rest[j] = rest[PARENTS[j]] + offsets[j]
    offsets[0] = torch.tensor([0.0, -float(rest[list(FOOT_JOINTS), 1].min()), 0.0])
    return offsets

"""Pose-estimation metrics on the 22-joint layout, in torch, batched over any leading dims.

Inputs are positions in metres (``[..., T, 22, 3]``, Y up, floor at y = 0) and global joint
rotations (``[..., T, 22, 3, 3]``); the unit of each result is in the function's name.

Definitions (all means are over every leading dim, frame and selected joint):

- ``mpjpe_mm``: mean Euclidean joint position error.
- ``pa_mpjpe_mm``: MPJPE after aligning the prediction to the ground truth in every frame with
  the best similarity transform (scale, rotation, translation; Umeyama 1991).
- ``root_aligned_mpjpe_mm``: MPJPE after subtracting the pelvis from both.
- ``mpjre_deg``: mean geodesic angle between predicted and true global joint rotations.
- ``mpjve_mm_s``: mean norm of the velocity error (first differences times fps).
- ``jitter_mps3``: mean norm of the third derivative of position (third differences times
  fps^3), in m/s^3; TransPose / PIP report the same quantity in km/s^3 (divide by 1000).
- ``foot_skating_mm``: mean horizontal (xz) displacement between consecutive frames of the foot
  joints while they are in contact with the floor. Following EgoAllo (from EgoEgo / Kinpoly):
  the sequence is first dropped so its lowest foot joint touches y = 0, and a foot joint is in
  contact in frame t+1 when its height is below 8 cm (ankles) or 4 cm (feet / toe joints).
  The mean is over the (joint, frame) pairs in contact; 0 when nothing touches the floor.
  (EgoAllo itself sums L1 displacements weighted by ``2 - 2^(h / threshold)``; this is the
  plain mean of the Euclidean slide per frame, so 1 cm per frame on the floor reads 10 mm.)
- ``ground_penetration_mm``: mean depth below the floor y = 0 of the lowest joint in each
  frame, 0 for frames where every joint is above the floor.

Joint masks select joints: a boolean mask of length 22 or a sequence of joint indices.

Example:
    >>> import torch
    >>> gt = torch.zeros(4, 22, 3)
    >>> round(float(mpjpe_mm(gt + torch.tensor([0.01, 0.0, 0.0]), gt)), 3)
    10.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from edgesdk.body.rotations import procrustes_rotation
from edgesdk.body.skeleton import FOOT_JOINTS, NUM_JOINTS

JointMask = Tensor | Sequence[int] | Sequence[bool] | None
Reduction = Literal["mean", "none"]

# Contact height thresholds of EgoAllo / EgoEgo / Kinpoly: ankles 8 cm, toes (feet) 4 cm.
FOOT_CONTACT_HEIGHT_M: dict[int, float] = {7: 0.08, 8: 0.08, 10: 0.04, 11: 0.04}


def mpjpe_mm(
    pred_pos_m: Tensor,
    gt_pos_m: Tensor,
    joint_mask: JointMask = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean per-joint position error in millimetres.

    Args:
        pred_pos_m, gt_pos_m: ``[..., 22, 3]`` (or any joint count with a matching mask).
        joint_mask: joints to include (all by default).
        reduction: ``"mean"`` for a scalar, ``"none"`` for the per-frame values ``[...]``.

    Example:
        >>> gt = torch.zeros(2, 22, 3)
        >>> round(mpjpe_mm(gt + torch.tensor([0.0, 0.003, 0.004]), gt).item(), 4)
        5.0
    """
    _check_same_shape(pred_pos_m, gt_pos_m, "positions")
    err_mm = (_select(pred_pos_m, joint_mask) - _select(gt_pos_m, joint_mask)).norm(dim=-1)
    return _reduce(err_mm.mean(dim=-1) * 1000.0, reduction)


def pa_mpjpe_mm(
    pred_pos_m: Tensor,
    gt_pos_m: Tensor,
    joint_mask: JointMask = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """MPJPE (mm) after per-frame Procrustes alignment of the prediction onto the ground truth.

    The alignment is Umeyama's similarity transform ``s R x + t`` fitted on the selected joints
    (least squares); it removes global scale, orientation and position errors.

    Example:
        >>> from edgesdk.body.skeleton import rest_positions
        >>> gt = rest_positions()
        >>> pred = 1.1 * gt @ torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]).T + 0.5
        >>> pa_mpjpe_mm(pred, gt).item() < 1e-3 < mpjpe_mm(pred, gt).item()
        True
    """
    _check_same_shape(pred_pos_m, gt_pos_m, "positions")
    pred = _select(pred_pos_m, joint_mask)
    gt = _select(gt_pos_m, joint_mask)
    aligned = procrustes_align(pred, gt)
    return _reduce((aligned - gt).norm(dim=-1).mean(dim=-1) * 1000.0, reduction)


def procrustes_align(src: Tensor, dst: Tensor) -> Tensor:
    """``src [..., N, 3]`` moved by the similarity transform that best fits it onto ``dst``.

    Umeyama (1991): the rotation is Kabsch's on the centred points (reflections excluded), the
    scale ``s = sum(dst_c . R src_c) / sum |src_c|^2`` and the translation matches the centroids.
    """
    mu_src = src.mean(dim=-2, keepdim=True)
    mu_dst = dst.mean(dim=-2, keepdim=True)
    src_c, dst_c = src - mu_src, dst - mu_dst
    R = procrustes_rotation(src_c, dst_c)
    rotated = src_c @ R.transpose(-1, -2)
    scale = (rotated * dst_c).sum(dim=(-1, -2)) / (src_c * src_c).sum(dim=(-1, -2)).clamp_min(1e-12)
    return scale[..., None, None] * rotated + mu_dst


def root_aligned_mpjpe_mm(
    pred_pos_m: Tensor,
    gt_pos_m: Tensor,
    joint_mask: JointMask = None,
    root: int = 0,
    reduction: Reduction = "mean",
) -> Tensor:
    """MPJPE (mm) after subtracting the root joint (the pelvis, joint 0) from both.

    Example:
        >>> gt = torch.zeros(3, 22, 3)
        >>> root_aligned_mpjpe_mm(gt + 0.25, gt).item()
        0.0
    """
    _check_same_shape(pred_pos_m, gt_pos_m, "positions")
    pred = pred_pos_m - pred_pos_m[..., root : root + 1, :]
    gt = gt_pos_m - gt_pos_m[..., root : root + 1, :]
    return mpjpe_mm(pred, gt, joint_mask, reduction)


def mpjre_deg(
    pred_R_world_joint: Tensor,
    gt_R_world_joint: Tensor,
    joint_mask: JointMask = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean per-joint rotation error in degrees: the geodesic angle of ``R_pred^T R_gt``.

    The angle is ``atan2(|vee(R - R^T)| / 2, (trace(R) - 1) / 2)``, accurate near 0 and 180.

    Example:
        >>> from edgesdk.body.rotations import axis_angle_to_matrix
        >>> R = axis_angle_to_matrix(torch.tensor([0.0, 1.5707963, 0.0])).expand(22, 3, 3)
        >>> round(mpjre_deg(R, torch.eye(3).expand(22, 3, 3)).item(), 3)
        90.0
    """
    _check_same_shape(pred_R_world_joint, gt_R_world_joint, "rotations")
    pred = _select(pred_R_world_joint, joint_mask, joint_dim=-3)
    gt = _select(gt_R_world_joint, joint_mask, joint_dim=-3)
    return _reduce(geodesic_angle_deg(pred, gt).mean(dim=-1), reduction)


def geodesic_angle_deg(R_a: Tensor, R_b: Tensor) -> Tensor:
    """Angle in degrees of the rotation between ``R_a`` and ``R_b`` (``[..., 3, 3] -> [...]``)."""
    R = R_a.transpose(-1, -2) @ R_b
    cos = (R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0
    vee = torch.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1
    )
    sin = vee.norm(dim=-1) / 2.0
    return torch.rad2deg(torch.atan2(sin, cos))


def mpjve_mm_s(
    pred_pos_m: Tensor,
    gt_pos_m: Tensor,
    fps: float,
    joint_mask: JointMask = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean per-joint velocity error in mm/s; velocities are first differences times ``fps``.

    Positions are ``[..., T, 22, 3]`` with ``T >= 2``; ``"none"`` gives ``[..., T - 1]``.

    Example:
        >>> gt = torch.zeros(5, 22, 3)
        >>> pred = gt.clone()
        >>> pred[..., 0] = torch.arange(5.0)[:, None] * 0.001  # 1 mm per frame along x
        >>> mpjve_mm_s(pred, gt, fps=30.0).item()
        30.0
    """
    _check_same_shape(pred_pos_m, gt_pos_m, "positions")
    _check_frames(pred_pos_m, 2, "mpjve_mm_s")
    pred_vel = _select(pred_pos_m, joint_mask).diff(dim=-3) * fps
    gt_vel = _select(gt_pos_m, joint_mask).diff(dim=-3) * fps
    return _reduce((pred_vel - gt_vel).norm(dim=-1).mean(dim=-1) * 1000.0, reduction)


def jitter_mps3(
    pos_m: Tensor, fps: float, joint_mask: JointMask = None, reduction: Reduction = "mean"
) -> Tensor:
    """Mean norm of the third time derivative of joint positions, in m/s^3.

    Computed by third differences ``x[t+3] - 3 x[t+2] + 3 x[t+1] - x[t]`` times ``fps^3``,
    exact for cubic motion. Needs ``T >= 4``; ``"none"`` gives ``[..., T - 3]``. TransPose and
    PIP report jitter in km/s^3: divide by 1000.

    Example:
        >>> t = torch.arange(10.0) / 10.0
        >>> pos = torch.zeros(10, 22, 3)
        >>> pos[..., 1] = (2.0 * t**3)[:, None]  # third derivative 12 m/s^3
        >>> round(jitter_mps3(pos, fps=10.0).item(), 3)
        12.0
    """
    _check_frames(pos_m, 4, "jitter_mps3")
    jerk = _select(pos_m, joint_mask).diff(n=3, dim=-3) * fps**3
    return _reduce(jerk.norm(dim=-1).mean(dim=-1), reduction)


def foot_skating_mm(
    pos_m: Tensor,
    fps: float | None = None,
    foot_joints: Sequence[int] = FOOT_JOINTS,
    contact_height_m: Sequence[float] | None = None,
    drop_to_floor: bool = True,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean horizontal displacement per frame (mm) of the foot joints while in floor contact.

    Args:
        pos_m: ``[..., T, 22, 3]``, Y up, ``T >= 2``.
        fps: unused by the per-frame definition; accepted so every temporal metric has the
            same call (multiply by ``fps / 1000`` for a sliding speed in m/s).
        foot_joints: the joints tested for contact; by default ankles and feet (7, 8, 10, 11).
        contact_height_m: per foot joint, the height under which it is in contact; by default
            8 cm for ankles and 4 cm for feet (toe joints), EgoAllo's values.
        drop_to_floor: first shift each sequence down (or up) so its lowest foot joint is at
            y = 0, as EgoAllo does, so a floating prediction is still measured.
        reduction: ``"mean"`` over everything, or ``"none"`` for one value per sequence
            (the leading dims without time).

    A displacement between frames t and t+1 counts when the joint is in contact at t+1.

    Example:
        >>> pos = torch.ones(5, 22, 3)
        >>> pos[:, [7, 8, 10, 11], 1] = 0.0                       # feet on the floor
        >>> pos[:, [7, 8, 10, 11], 0] = torch.arange(5.0)[:, None] * 0.01  # sliding 1 cm/frame
        >>> round(foot_skating_mm(pos).item(), 3)
        10.0
    """
    del fps
    _check_frames(pos_m, 2, "foot_skating_mm")
    feet = pos_m[..., list(foot_joints), :]
    if contact_height_m is None:
        contact_height_m = [FOOT_CONTACT_HEIGHT_M.get(j, 0.04) for j in foot_joints]
    if len(contact_height_m) != len(foot_joints):
        raise ValueError("contact_height_m needs one threshold per foot joint")
    height = feet[..., 1]
    if drop_to_floor:
        height = height - height.amin(dim=(-2, -1), keepdim=True)
    threshold = torch.as_tensor(contact_height_m, dtype=height.dtype, device=height.device)
    contact = (height[..., 1:, :] < threshold).to(feet.dtype)
    slide_m = feet[..., [0, 2]].diff(dim=-3).norm(dim=-1)
    if reduction == "none":
        total = (slide_m * contact).sum(dim=(-2, -1))
        return total / contact.sum(dim=(-2, -1)).clamp_min(1.0) * 1000.0
    return (slide_m * contact).sum() / contact.sum().clamp_min(1.0) * 1000.0


def ground_penetration_mm(
    pos_m: Tensor, joint_mask: JointMask = None, reduction: Reduction = "mean"
) -> Tensor:
    """Mean depth (mm) below the floor y = 0 of each frame's lowest joint; 0 above the floor.

    Example:
        >>> pos = torch.ones(4, 22, 3)
        >>> pos[:2, 10, 1] = -0.02                  # a foot 2 cm under the floor in 2 of 4 frames
        >>> round(ground_penetration_mm(pos).item(), 3)
        10.0
    """
    lowest_y = _select(pos_m, joint_mask)[..., 1].amin(dim=-1)
    return _reduce((-lowest_y).clamp_min(0.0) * 1000.0, reduction)


def evaluate(
    pred_pos_m: Tensor | np.ndarray,
    gt_pos_m: Tensor | np.ndarray,
    pred_R_world_joint: Tensor | np.ndarray | None = None,
    gt_R_world_joint: Tensor | np.ndarray | None = None,
    fps: float = 30.0,
    joint_mask: JointMask = None,
) -> dict[str, float]:
    """Every metric of this module as a JSON-ready dict of floats (computed in float64).

    Positions are ``[..., T, 22, 3]`` metres; rotations ``[..., T, 22, 3, 3]`` (optional, for
    ``mpjre_deg``). Temporal metrics need enough frames (2 for velocity and skating, 4 for
    jitter) and are left out otherwise. ``gt_*`` entries describe the ground truth itself, as a
    reference level for the prediction's jitter, skating and penetration.

    Example:
        >>> gt = torch.zeros(8, 22, 3)
        >>> report = evaluate(gt + 0.01, gt, fps=30.0)
        >>> round(report["mpjpe_mm"], 2), report["pa_mpjpe_mm"] < 1e-6, report["num_frames"]
        (17.32, True, 8.0)
    """
    pred = torch.as_tensor(pred_pos_m, dtype=torch.float64)
    gt = torch.as_tensor(gt_pos_m, dtype=torch.float64)
    _check_same_shape(pred, gt, "positions")
    if pred.dim() < 3:
        raise ValueError(f"positions must be [..., T, J, 3], got {tuple(pred.shape)}")
    for label, x in (("pred_pos_m", pred), ("gt_pos_m", gt)):
        if not torch.isfinite(x).all():
            raise ValueError(f"{label} has NaN or inf values")
    num_frames = pred.shape[-3]
    out: dict[str, float] = {
        "num_frames": float(num_frames),
        "mpjpe_mm": mpjpe_mm(pred, gt, joint_mask).item(),
        "pa_mpjpe_mm": pa_mpjpe_mm(pred, gt, joint_mask).item(),
        "root_aligned_mpjpe_mm": root_aligned_mpjpe_mm(pred, gt, joint_mask).item(),
    }
    if (pred_R_world_joint is None) != (gt_R_world_joint is None):
        raise ValueError("pass both pred_R_world_joint and gt_R_world_joint, or neither")
    if pred_R_world_joint is not None and gt_R_world_joint is not None:
        pred_R = torch.as_tensor(pred_R_world_joint, dtype=torch.float64)
        gt_R = torch.as_tensor(gt_R_world_joint, dtype=torch.float64)
        if not (torch.isfinite(pred_R).all() and torch.isfinite(gt_R).all()):
            raise ValueError("rotations have NaN or inf values")
        out["mpjre_deg"] = mpjre_deg(pred_R, gt_R, joint_mask).item()
    if num_frames >= 2:
        out["mpjve_mm_s"] = mpjve_mm_s(pred, gt, fps, joint_mask).item()
        if pred.shape[-2] == NUM_JOINTS:
            out["foot_skating_mm"] = foot_skating_mm(pred).item()
            out["gt_foot_skating_mm"] = foot_skating_mm(gt).item()
    if num_frames >= 4:
        out["jitter_mps3"] = jitter_mps3(pred, fps, joint_mask).item()
        out["jitter_kmps3"] = out["jitter_mps3"] / 1000.0
        out["gt_jitter_mps3"] = jitter_mps3(gt, fps, joint_mask).item()
    out["ground_penetration_mm"] = ground_penetration_mm(pred, joint_mask).item()
    out["gt_ground_penetration_mm"] = ground_penetration_mm(gt, joint_mask).item()
    return out


def _select(x: Tensor, joint_mask: JointMask, joint_dim: int = -2) -> Tensor:
    """The selected joints along ``joint_dim``."""
    if joint_mask is None:
        return x
    num = x.shape[joint_dim]
    mask = torch.as_tensor(joint_mask, device=x.device)
    if mask.dtype == torch.bool:
        if mask.shape != (num,):
            raise ValueError(f"a boolean joint mask needs {num} entries, got {tuple(mask.shape)}")
        index = mask.nonzero().flatten()
    else:
        index = mask.long().flatten()
    if index.numel() == 0:
        raise ValueError("the joint mask selects no joints")
    if int(index.min()) < -num or int(index.max()) >= num:
        raise ValueError(f"joint index out of range for {num} joints: {index.tolist()}")
    return x.index_select(joint_dim % x.dim(), index % num)


def _reduce(per_frame: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return per_frame.mean()
    if reduction == "none":
        return per_frame
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def _check_same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: prediction {tuple(a.shape)} and truth {tuple(b.shape)} differ")


def _check_frames(x: Tensor, minimum: int, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] < minimum:
        raise ValueError(f"{name} needs [..., T, J, 3] with T >= {minimum}, got {tuple(x.shape)}")

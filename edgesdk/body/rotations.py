"""Rotation conversions in torch: matrix, 6D, quaternion (w, x, y, z) and axis-angle.

Conventions, used everywhere in edgesdk:
- A rotation matrix ``R_a_b`` maps vectors from frame b into frame a (``v_a = R_a_b @ v_b``).
- Quaternions are scalar-first ``(w, x, y, z)``, unit norm; ``matrix_to_quat`` returns ``w >= 0``.
- The 6D representation (Zhou et al., CVPR 2019) is the first two *columns* of the matrix,
  concatenated: ``(r00, r10, r20, r01, r11, r21)``.
- Axis-angle is a 3-vector whose direction is the axis and whose norm is the angle in radians.
- Euler angles follow BVH: intrinsic rotations applied in the order the channels are listed,
  so channels ``Zrotation Xrotation Yrotation`` give ``R = Rz @ Rx @ Ry``.

All functions take batched tensors (any leading shape) and are differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

_EPS = 1e-8


def normalize(v: Tensor, eps: float = _EPS) -> Tensor:
    """Unit vectors along the last axis."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def matrix_to_6d(R: Tensor) -> Tensor:
    """``[..., 3, 3] -> [..., 6]``: the first two columns.

    Example:
        >>> matrix_to_6d(torch.eye(3)).tolist()
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def rot6d_to_matrix(d6: Tensor) -> Tensor:
    """``[..., 6] -> [..., 3, 3]`` by Gram-Schmidt; accepts any non-degenerate 6-vector."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = normalize(a1)
    b2 = normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def quat_to_matrix(q: Tensor) -> Tensor:
    """``[..., 4] (w, x, y, z) -> [..., 3, 3]``; the quaternion is normalized first."""
    q = normalize(q)
    w, x, y, z = q.unbind(-1)
    row0 = torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1)
    row1 = torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1)
    row2 = torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)
    return torch.stack([row0, row1, row2], dim=-2)


def matrix_to_quat(R: Tensor) -> Tensor:
    """``[..., 3, 3] -> [..., 4] (w, x, y, z)`` with ``w >= 0``.

    Uses the numerically best of the four candidate formulas for every element, so it is
    accurate for rotations near 180 degrees too.
    """
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    # 4 * (w^2, x^2, y^2, z^2), each from the trace and the diagonal.
    q_abs_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    q_abs = q_abs_sq.clamp_min(0).sqrt()
    m21_m12 = R[..., 2, 1] - R[..., 1, 2]
    m02_m20 = R[..., 0, 2] - R[..., 2, 0]
    m10_m01 = R[..., 1, 0] - R[..., 0, 1]
    m10_p01 = R[..., 1, 0] + R[..., 0, 1]
    m02_p20 = R[..., 0, 2] + R[..., 2, 0]
    m21_p12 = R[..., 2, 1] + R[..., 1, 2]
    candidates = (
        torch.stack(
            [
                torch.stack([q_abs_sq[..., 0], m21_m12, m02_m20, m10_m01], -1),
                torch.stack([m21_m12, q_abs_sq[..., 1], m10_p01, m02_p20], -1),
                torch.stack([m02_m20, m10_p01, q_abs_sq[..., 2], m21_p12], -1),
                torch.stack([m10_m01, m02_p20, m21_p12, q_abs_sq[..., 3]], -1),
            ],
            dim=-2,
        )
        / (2.0 * q_abs.clamp_min(0.1))[..., None]
    )
    best = q_abs.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = normalize(q)
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """``[..., 3] -> [..., 3, 3]`` (Rodrigues); smooth at zero angle."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def axis_angle_to_quat(aa: Tensor) -> Tensor:
    """``[..., 3] -> [..., 4] (w, x, y, z)``; uses a Taylor expansion near zero angle."""
    angle = aa.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-6
    safe = torch.where(small, torch.ones_like(angle), angle)
    # sin(a/2)/a ~ 1/2 - a^2/48 for small a.
    k = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / safe)
    return torch.cat([torch.cos(half), aa * k], dim=-1)


def quat_to_axis_angle(q: Tensor) -> Tensor:
    """``[..., 4] -> [..., 3]`` with angle in ``[0, pi]``."""
    q = normalize(q)
    q = torch.where(q[..., :1] < 0, -q, q)
    sin_half = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    safe = torch.where(small, torch.ones_like(sin_half), sin_half)
    k = torch.where(small, 2.0 + angle * angle / 12.0, angle / safe)
    return q[..., 1:] * k


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    """``[..., 3, 3] -> [..., 3]``."""
    return quat_to_axis_angle(matrix_to_quat(R))


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product ``a * b`` of ``(w, x, y, z)`` quaternions (apply b, then a)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_conjugate(q: Tensor) -> Tensor:
    """Inverse of a unit quaternion."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def quat_rotate(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]``."""
    return (quat_to_matrix(q) @ v[..., None])[..., 0]


def quat_slerp(q0: Tensor, q1: Tensor, t: Tensor | float) -> Tensor:
    """Spherical linear interpolation along the shorter arc.

    ``t`` is a float or a tensor broadcasting against ``q[..., :1]``.
    """
    t = torch.as_tensor(t, dtype=q0.dtype, device=q0.device)
    if t.dim() == q0.dim() - 1:
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    near = sin_theta < 1e-6
    safe = torch.where(near, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    return normalize(w0 * q0 + w1 * q1)


def euler_to_matrix(angles_rad: Tensor, order: str) -> Tensor:
    """Intrinsic Euler angles ``[..., 3]`` in the given axis order (e.g. ``"ZXY"``) to matrices.

    ``angles_rad[..., i]`` is the angle about axis ``order[i]``; the result is
    ``R_order[0] @ R_order[1] @ R_order[2]``, the BVH convention.

    Example:
        >>> R = euler_to_matrix(torch.tensor([0.0, 0.0, 1.5707963]), "XYZ")
        >>> [round(v, 3) for v in (R @ torch.tensor([1.0, 0.0, 0.0])).tolist()]
        [0.0, 1.0, 0.0]
    """
    if len(order) != 3 or set(order.upper()) - set("XYZ"):
        raise ValueError(f"Euler order must be three of X, Y, Z, got {order!r}")
    R = _axis_matrix(order[0], angles_rad[..., 0])
    R = R @ _axis_matrix(order[1], angles_rad[..., 1])
    return R @ _axis_matrix(order[2], angles_rad[..., 2])


def _axis_matrix(axis: str, angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    axis = axis.upper()
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def rotation_between(a: Tensor, b: Tensor) -> Tensor:
    """The minimal rotation matrix taking direction ``a`` onto direction ``b`` (``[..., 3]``).

    For opposite vectors it turns by pi about an axis perpendicular to ``a``.
    """
    a, b = normalize(a), normalize(b)
    axis = torch.cross(a, b, dim=-1)
    cos = (a * b).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    sin = axis.norm(dim=-1, keepdim=True)
    # Opposite directions: pick any axis perpendicular to a.
    helper = torch.where(
        a[..., :1].abs() < 0.9, a.new_tensor([1.0, 0.0, 0.0]), a.new_tensor([0.0, 1.0, 0.0])
    )
    perp = normalize(torch.cross(a, helper.expand_as(a), dim=-1))
    axis = torch.where(sin < 1e-7, perp, axis / sin.clamp_min(1e-12))
    angle = torch.atan2(sin, cos)
    return axis_angle_to_matrix(axis * angle)


def procrustes_rotation(src: Tensor, dst: Tensor, weights: Tensor | None = None) -> Tensor:
    """Best rotation ``R`` (Kabsch) minimizing ``sum w |R @ src_i - dst_i|^2``; ``[..., N, 3]``."""
    if weights is None:
        weights = torch.ones_like(src[..., 0])
    H = (src * weights[..., None]).transpose(-1, -2) @ dst
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)

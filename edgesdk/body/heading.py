"""Heading: the rotation about world +Y (up) hidden in a body or device orientation.

The heading of ``R_world_x`` is the twist about +Y of its swing-twist decomposition: the sum
of two estimates, the forward (+Z) axis and the left (+X) axis turned a quarter, so that a
body lying down (forward vertical) or on its side (left vertical) still has one. It is
undefined only upside down, or for an all-zero matrix (an absent device), where the identity
is returned.

Example:
    >>> import torch
    >>> from edgesdk.body.rotations import axis_angle_to_matrix
    >>> R = axis_angle_to_matrix(torch.tensor([0.0, 0.7, 0.0]))
    >>> torch.allclose(heading_rotation(R), R, atol=1e-6)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor


def heading_cos_sin(R_world_x: Tensor, eps: float = 1e-6) -> Tensor:
    """``[..., 3, 3] -> [..., 2]``: (cos, sin) of the yaw that turns +Z to the heading."""
    cos = R_world_x[..., 0, 0] + R_world_x[..., 2, 2]
    sin = R_world_x[..., 0, 2] - R_world_x[..., 2, 0]
    flat = torch.stack([cos, sin], -1)
    norm = flat.norm(dim=-1, keepdim=True)
    identity = torch.tensor([1.0, 0.0], dtype=flat.dtype, device=flat.device)
    return torch.where(norm > eps, flat / norm.clamp_min(eps), identity)


def yaw_matrix(heading: Tensor) -> Tensor:
    """``[..., 2]`` (cos, sin) -> rotation about +Y ``[..., 3, 3]`` (taking +Z to (sin, 0, cos))."""
    c, s = heading.unbind(-1)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rows = [torch.stack(r, -1) for r in ([c, zero, s], [zero, one, zero], [-s, zero, c])]
    return torch.stack(rows, -2)


def heading_rotation(R_world_x: Tensor, eps: float = 1e-6) -> Tensor:
    """``R_world_heading [..., 3, 3]``: the yaw-only part of ``R_world_x``."""
    return yaw_matrix(heading_cos_sin(R_world_x, eps))

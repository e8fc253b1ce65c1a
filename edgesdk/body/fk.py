"""Batched, differentiable forward kinematics over the 22-joint skeleton.

Written with a fixed Python loop over the joints, so it traces through ``torch.export`` and
the mobile exporters without data-dependent control flow.

Example:
    >>> import torch
    >>> from edgesdk.body.skeleton import template_offsets
    >>> local = torch.eye(3).expand(2, 22, 3, 3)
    >>> R_world_joint, pos_m = forward_kinematics(local, template_offsets(), torch.zeros(2, 3))
    >>> tuple(pos_m.shape)
    (2, 22, 3)
"""

from __future__ import annotations

import torch
from torch import Tensor

from edgesdk.body.skeleton import NUM_JOINTS, PARENTS


def forward_kinematics(
    local_rot: Tensor, offsets_m: Tensor, root_pos_m: Tensor
) -> tuple[Tensor, Tensor]:
    """Local rotations to global rotations and joint positions.

    Args:
        local_rot: ``[..., 22, 3, 3]``, ``R_parent_joint`` (the root's is ``R_world_pelvis``).
        offsets_m: ``[22, 3]`` or ``[..., 22, 3]`` bone offsets in the parent's rest frame;
            row 0 is ignored (the root position comes from ``root_pos_m``).
        root_pos_m: ``[..., 3]`` pelvis position in the world.

    Returns:
        ``(R_world_joint [..., 22, 3, 3], pos_m [..., 22, 3])``.
    """
    if local_rot.shape[-3:] != (NUM_JOINTS, 3, 3):
        raise ValueError(f"local_rot must end in (22, 3, 3), got {tuple(local_rot.shape)}")
    offsets_m = offsets_m.to(local_rot.dtype)
    rots: list[Tensor] = [local_rot[..., 0, :, :]]
    pos: list[Tensor] = [root_pos_m.to(local_rot.dtype)]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        rots.append(rots[p] @ local_rot[..., j, :, :])
        pos.append(pos[p] + (rots[p] @ offsets_m[..., j, :, None])[..., 0])
    return torch.stack(rots, dim=-3), torch.stack(pos, dim=-2)


def global_to_local(global_rot: Tensor) -> Tensor:
    """``R_world_joint [..., 22, 3, 3]`` to ``R_parent_joint`` (the root stays global)."""
    parent_rot = global_rot[..., [0, *PARENTS[1:]], :, :]
    local = parent_rot.transpose(-1, -2) @ global_rot
    return torch.cat([global_rot[..., :1, :, :], local[..., 1:, :, :]], dim=-3)


def local_to_global(local_rot: Tensor) -> Tensor:
    """``R_parent_joint [..., 22, 3, 3]`` to ``R_world_joint``."""
    rots: list[Tensor] = [local_rot[..., 0, :, :]]
    for j in range(1, NUM_JOINTS):
        rots.append(rots[PARENTS[j]] @ local_rot[..., j, :, :])
    return torch.stack(rots, dim=-3)

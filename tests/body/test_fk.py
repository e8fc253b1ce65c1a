"""Forward kinematics: hand-checked chains, gradients, and torch.export."""

from __future__ import annotations

import math

import torch

from edgesdk.body import rotations as rot
from edgesdk.body.fk import forward_kinematics, global_to_local, local_to_global
from edgesdk.body.skeleton import (
    CHAINS,
    JOINT_NAMES,
    NUM_JOINTS,
    PARENTS,
    children,
    primary_child,
    rest_positions,
    template_offsets,
)


def test_layout_is_smpl() -> None:
    assert NUM_JOINTS == 22 and len(PARENTS) == 22
    assert JOINT_NAMES[:4] == ("pelvis", "left_hip", "right_hip", "spine1")
    assert JOINT_NAMES[20:] == ("left_wrist", "right_wrist")
    assert all(p < j for j, p in enumerate(PARENTS) if j > 0)
    assert sorted(j for chain in CHAINS for j in chain[1:]) == list(range(1, 22))
    assert primary_child(0) == 3 and primary_child(9) == 12 and primary_child(15) is None
    assert children(9) == (12, 13, 14)


def test_rest_pose_fk_reproduces_template_and_scales_with_height() -> None:
    offsets = template_offsets(1.70)
    _, pos = forward_kinematics(torch.eye(3).expand(22, 3, 3), offsets, offsets[0])
    assert torch.allclose(pos, rest_positions(1.70), atol=1e-6)
    head_170 = float(rest_positions(1.70)[15, 1])
    assert 1.5 < head_170 < 1.6  # head joint of a 1.70 m body
    assert math.isclose(float(rest_positions(1.87)[15, 1]), head_170 * 1.1, rel_tol=1e-5)
    # Left is +X, front is +Z (toes ahead of ankles), up is +Y.
    rest = rest_positions()
    assert rest[16, 0] > 0 > rest[17, 0] and rest[10, 2] > rest[7, 2] and rest[15, 1] > rest[0, 1]


def test_elbow_bend_moves_only_the_forearm() -> None:
    offsets = template_offsets()
    local = torch.eye(3).repeat(22, 1, 1)
    local[18] = rot.axis_angle_to_matrix(torch.tensor([0.0, math.pi / 2, 0.0]))
    R, pos = forward_kinematics(local, offsets, torch.zeros(3))
    _, rest = forward_kinematics(torch.eye(3).expand(22, 3, 3), offsets, torch.zeros(3))
    moved = (pos - rest).norm(dim=-1) > 1e-6
    assert moved.nonzero().flatten().tolist() == [20]
    forearm = offsets[20]
    expected = pos[18] + rot.axis_angle_to_matrix(torch.tensor([0.0, math.pi / 2, 0.0])) @ forearm
    assert torch.allclose(pos[20], expected, atol=1e-6)
    assert torch.allclose(R[20], local[18], atol=1e-6)


def test_local_global_round_trip_and_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    local = rot.axis_angle_to_matrix(
        0.5 * torch.randn(4, 7, 22, 3, generator=g, dtype=torch.float64)
    )
    assert torch.allclose(global_to_local(local_to_global(local)), local, atol=1e-12)
    aa = (0.3 * torch.randn(2, 22, 3, generator=g)).requires_grad_()
    _, pos = forward_kinematics(rot.axis_angle_to_matrix(aa), template_offsets(), torch.zeros(2, 3))
    pos[..., 20, :].sum().backward()
    assert (
        aa.grad is not None and aa.grad[:, 18].abs().sum() > 0 and aa.grad[:, 15].abs().sum() == 0
    )


class _FKModule(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offsets", template_offsets())

    def forward(self, rot6d: torch.Tensor, root: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return forward_kinematics(rot.rot6d_to_matrix(rot6d), self.offsets, root)


def test_fk_passes_torch_export() -> None:
    module = _FKModule()
    rot6d = rot.matrix_to_6d(torch.eye(3).expand(3, 22, 3, 3)).contiguous()
    rot6d = rot6d + 0.1 * torch.randn(3, 22, 6, generator=torch.Generator().manual_seed(0))
    root = torch.randn(3, 3)
    exported = torch.export.export(module, (rot6d, root))
    out_R, out_pos = exported.module()(rot6d, root)
    ref_R, ref_pos = module(rot6d, root)
    assert torch.allclose(out_pos, ref_pos, atol=1e-6) and torch.allclose(out_R, ref_R, atol=1e-6)

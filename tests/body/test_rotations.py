"""Round trips between every rotation representation, and hand-checked values."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesdk.body import rotations as rot

finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


def _random_matrices(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return rot.quat_to_matrix(torch.randn(n, 4, generator=g, dtype=torch.float64))


@given(st.lists(finite, min_size=4, max_size=4).filter(lambda v: sum(x * x for x in v) > 1e-3))
@settings(max_examples=200, deadline=None)
def test_quat_matrix_round_trip(values: list[float]) -> None:
    q = rot.normalize(torch.tensor(values, dtype=torch.float64))
    q = torch.where(q[:1] < 0, -q, q)
    back = rot.matrix_to_quat(rot.quat_to_matrix(q))
    # q and -q are the same rotation; w >= 0 picks one unless w == 0.
    assert min((back - q).abs().max(), (back + q).abs().max()) < 1e-9


def test_matrix_quat_near_180_degrees() -> None:
    for axis in torch.eye(3, dtype=torch.float64):
        R = rot.axis_angle_to_matrix(axis * (math.pi - 1e-7))
        assert torch.allclose(rot.quat_to_matrix(rot.matrix_to_quat(R)), R, atol=1e-9)


def test_6d_round_trip_and_gram_schmidt() -> None:
    R = _random_matrices(500)
    assert torch.allclose(rot.rot6d_to_matrix(rot.matrix_to_6d(R)), R, atol=1e-12)
    noisy = rot.matrix_to_6d(R) * 3.0 + 1e-3
    R2 = rot.rot6d_to_matrix(noisy)
    eye = torch.eye(3, dtype=torch.float64).expand_as(R2)
    assert torch.allclose(R2.transpose(-1, -2) @ R2, eye, atol=1e-12)
    assert torch.allclose(torch.det(R2), torch.ones(500, dtype=torch.float64))


@given(st.lists(st.floats(-3.1, 3.1, allow_nan=False), min_size=3, max_size=3))
@settings(max_examples=200, deadline=None)
def test_axis_angle_round_trip(values: list[float]) -> None:
    aa = torch.tensor(values, dtype=torch.float64)
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
    assert torch.allclose(rot.axis_angle_to_matrix(back), rot.axis_angle_to_matrix(aa), atol=1e-9)
    if aa.norm() < math.pi - 1e-3:
        assert torch.allclose(back, aa, atol=1e-8)


def test_axis_angle_near_zero_is_smooth() -> None:
    aa = torch.tensor([1e-9, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    R = rot.axis_angle_to_matrix(aa)
    R.sum().backward()
    assert aa.grad is not None and torch.isfinite(aa.grad).all()
    assert torch.allclose(R, torch.eye(3, dtype=torch.float64), atol=1e-8)


def test_hand_checked_values() -> None:
    # 90 degrees about Z takes +X to +Y.
    Rz = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(
        Rz @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6
    )
    q = rot.matrix_to_quat(Rz)
    s = math.sqrt(0.5)
    assert torch.allclose(q, torch.tensor([s, 0.0, 0.0, s]), atol=1e-6)
    # BVH intrinsic order: "ZXY" means Rz @ Rx @ Ry.
    a = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    Rx = rot.axis_angle_to_matrix(torch.tensor([a[1], 0, 0], dtype=torch.float64))
    Ry = rot.axis_angle_to_matrix(torch.tensor([0, a[2], 0], dtype=torch.float64))
    Rz2 = rot.axis_angle_to_matrix(torch.tensor([0, 0, a[0]], dtype=torch.float64))
    assert torch.allclose(rot.euler_to_matrix(a, "ZXY"), Rz2 @ Rx @ Ry, atol=1e-12)
    with pytest.raises(ValueError, match="Euler order"):
        rot.euler_to_matrix(a, "ZZQ")


def test_quat_multiply_matches_matrix_product() -> None:
    g = torch.Generator().manual_seed(1)
    a = rot.normalize(torch.randn(100, 4, generator=g, dtype=torch.float64))
    b = rot.normalize(torch.randn(100, 4, generator=g, dtype=torch.float64))
    lhs = rot.quat_to_matrix(rot.quat_multiply(a, b))
    assert torch.allclose(lhs, rot.quat_to_matrix(a) @ rot.quat_to_matrix(b), atol=1e-12)
    ident = rot.quat_multiply(a, rot.quat_conjugate(a))
    assert torch.allclose(ident, torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(100, 4))


def test_slerp_endpoints_midpoint_and_shorter_arc() -> None:
    q0 = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    q1 = rot.axis_angle_to_quat(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    assert torch.allclose(rot.quat_slerp(q0, q1, 0.0), q0)
    assert torch.allclose(rot.quat_slerp(q0, q1, 1.0), q1)
    mid = rot.quat_slerp(q0, q1, 0.5)
    assert torch.allclose(
        rot.quat_to_axis_angle(mid), torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64)
    )
    # -q1 is the same rotation: slerp must take the shorter arc and give the same midpoint.
    assert torch.allclose(rot.quat_to_matrix(rot.quat_slerp(q0, -q1, 0.5)), rot.quat_to_matrix(mid))


def test_rotation_between_and_procrustes() -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64)
    b = torch.randn(50, 3, generator=g, dtype=torch.float64)
    R = rot.rotation_between(a, b)
    assert torch.allclose(rot.normalize((R @ a[..., None])[..., 0]), rot.normalize(b), atol=1e-12)
    opposite = rot.rotation_between(a, -a)
    assert torch.allclose((opposite @ a[..., None])[..., 0], -a, atol=1e-9)
    R_true = _random_matrices(1, seed=3)[0]
    pts = torch.randn(10, 3, generator=g, dtype=torch.float64)
    fit = rot.procrustes_rotation(pts, pts @ R_true.T)
    assert torch.allclose(fit, R_true, atol=1e-10)

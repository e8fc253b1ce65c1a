"""Metrics against hand-computed cases: offsets, similarity transforms, rotations, derivatives."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from edgesdk import metrics as m
from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.skeleton import FOOT_JOINTS, rest_positions


def _walk(T: int = 20, seed: int = 0) -> torch.Tensor:
    """A rest-pose body with small random joint motion, ``[T, 22, 3]`` float64."""
    g = torch.Generator().manual_seed(seed)
    rest = rest_positions().double()
    return rest + 0.02 * torch.randn(T, 22, 3, generator=g, dtype=torch.float64)


def test_mpjpe_constant_offset_is_the_offset() -> None:
    gt = _walk()
    pred = gt + torch.tensor([0.0, 0.0, 0.010], dtype=torch.float64)
    assert m.mpjpe_mm(pred, gt).item() == pytest.approx(10.0)
    assert m.mpjpe_mm(gt, gt).item() == 0.0
    # Translation only: root alignment and Procrustes remove it entirely.
    assert m.root_aligned_mpjpe_mm(pred, gt).item() == pytest.approx(0.0, abs=1e-9)
    assert m.pa_mpjpe_mm(pred, gt).item() == pytest.approx(0.0, abs=1e-6)


def test_mpjpe_one_joint_off_averages_over_joints_and_masks() -> None:
    gt = torch.zeros(3, 22, 3)
    pred = gt.clone()
    pred[:, 20, 0] = 0.022  # left wrist 22 mm off
    assert m.mpjpe_mm(pred, gt).item() == pytest.approx(1.0)  # 22 mm / 22 joints
    assert m.mpjpe_mm(pred, gt, joint_mask=[20, 21]).item() == pytest.approx(11.0)
    mask = torch.zeros(22, dtype=torch.bool)
    mask[20] = True
    assert m.mpjpe_mm(pred, gt, joint_mask=mask).item() == pytest.approx(22.0)
    per_frame = m.mpjpe_mm(pred, gt, reduction="none")
    assert per_frame.shape == (3,) and torch.allclose(per_frame, torch.ones(3))
    with pytest.raises(ValueError, match="22 entries"):
        m.mpjpe_mm(pred, gt, joint_mask=torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="differ"):
        m.mpjpe_mm(pred, gt[:2])


def test_pa_mpjpe_is_zero_for_a_similar_copy_but_mpjpe_is_not() -> None:
    gt = _walk(T=6)
    R = axis_angle_to_matrix(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    pred = 1.3 * gt @ R.T + torch.tensor([0.4, -0.2, 1.5], dtype=torch.float64)
    assert m.pa_mpjpe_mm(pred, gt).item() == pytest.approx(0.0, abs=1e-6)
    assert m.mpjpe_mm(pred, gt).item() > 100.0
    # A mirrored copy is not a similarity transform: Procrustes must not reflect it.
    mirrored = gt * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert m.pa_mpjpe_mm(mirrored, gt).item() > 10.0


def test_pa_mpjpe_reduces_noise_error_and_is_batched() -> None:
    gt = _walk(T=10).reshape(2, 5, 22, 3)
    noise = 0.01 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(1)).double()
    pred = gt + noise
    pa = m.pa_mpjpe_mm(pred, gt, reduction="none")
    assert pa.shape == (2, 5)
    assert (pa <= m.mpjpe_mm(pred, gt, reduction="none") + 1e-9).all()
    assert m.pa_mpjpe_mm(pred, gt).item() == pytest.approx(pa.mean().item())


def test_root_aligned_mpjpe_removes_only_the_pelvis_offset() -> None:
    gt = _walk(T=4)
    pred = gt.clone()
    pred[..., 0, 1] += 0.05  # only the pelvis is off: every other joint is 5 cm off relative
    assert m.root_aligned_mpjpe_mm(pred, gt).item() == pytest.approx(50.0 * 21 / 22)
    assert m.mpjpe_mm(pred, gt).item() == pytest.approx(50.0 / 22)


def test_mpjre_of_a_90_degree_rotation_is_90() -> None:
    gt = torch.eye(3).expand(5, 22, 3, 3)
    R90 = axis_angle_to_matrix(torch.tensor([math.pi / 2, 0.0, 0.0]))
    assert m.mpjre_deg(R90.expand(5, 22, 3, 3), gt).item() == pytest.approx(90.0, abs=1e-4)
    assert m.mpjre_deg(gt, gt).item() == pytest.approx(0.0, abs=1e-6)
    # Near 180 degrees the atan2 form stays accurate.
    R179 = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(179.0)], dtype=torch.float64))
    assert m.geodesic_angle_deg(R179, torch.eye(3, dtype=torch.float64)).item() == pytest.approx(
        179.0, abs=1e-6
    )
    # Only half the joints rotated: the mean halves; masks select.
    pred = gt.clone()
    pred[:, :11] = R90
    assert m.mpjre_deg(pred, gt).item() == pytest.approx(45.0, abs=1e-4)
    assert m.mpjre_deg(pred, gt, joint_mask=list(range(11))).item() == pytest.approx(90.0, abs=1e-4)


def test_mpjve_of_a_constant_velocity_error() -> None:
    gt = _walk(T=10)
    t = torch.arange(10, dtype=torch.float64)
    pred = gt.clone()
    pred[..., 2] += 0.002 * t[:, None]  # drifts 2 mm per frame
    assert m.mpjve_mm_s(pred, gt, fps=60.0).item() == pytest.approx(120.0)
    assert m.mpjve_mm_s(pred, gt, fps=60.0, reduction="none").shape == (9,)
    with pytest.raises(ValueError, match="T >= 2"):
        m.mpjve_mm_s(gt[:1], gt[:1], fps=30.0)


def test_jitter_of_constant_velocity_quadratic_and_cubic() -> None:
    fps = 30.0
    t = torch.arange(30, dtype=torch.float64) / fps
    pos = torch.zeros(30, 22, 3, dtype=torch.float64)
    pos[..., 0] = (1.5 * t)[:, None]  # constant velocity
    assert m.jitter_mps3(pos, fps).item() == pytest.approx(0.0, abs=1e-6)
    pos[..., 1] = (0.5 * 9.81 * t**2)[:, None]  # free fall: constant acceleration
    assert m.jitter_mps3(pos, fps).item() == pytest.approx(0.0, abs=1e-6)
    pos[..., 2] = (4.0 * t**3)[:, None]  # third derivative 24 m/s^3 along z
    assert m.jitter_mps3(pos, fps).item() == pytest.approx(24.0, rel=1e-6)
    assert m.jitter_mps3(pos, fps, reduction="none").shape == (27,)


def test_jitter_of_alternating_noise() -> None:
    # +-e alternating: third differences are +-8e, times fps^3.
    pos = torch.zeros(10, 22, 3, dtype=torch.float64)
    pos[::2, :, 0] = 0.001
    pos[1::2, :, 0] = -0.001
    assert m.jitter_mps3(pos, fps=10.0).item() == pytest.approx(8 * 0.001 * 1000)


def _feet_case(T: int = 10) -> torch.Tensor:
    pos = torch.ones(T, 22, 3, dtype=torch.float64)
    pos[:, list(FOOT_JOINTS), 1] = 0.0
    return pos


def test_foot_skating_of_a_foot_sliding_1cm_per_frame_on_the_floor() -> None:
    pos = _feet_case()
    pos[:, 10, 0] = 0.01 * torch.arange(10)  # the left foot slides, the others stay
    # 10 mm per frame for one of the four foot joints in contact.
    assert m.foot_skating_mm(pos, fps=30.0).item() == pytest.approx(10.0 / 4)
    pos[:, list(FOOT_JOINTS), 0] = 0.01 * torch.arange(10, dtype=torch.float64)[:, None]
    assert m.foot_skating_mm(pos, fps=30.0).item() == pytest.approx(10.0)
    # Diagonal sliding in x and z: the horizontal norm.
    pos[:, list(FOOT_JOINTS), 2] = 0.01 * torch.arange(10, dtype=torch.float64)[:, None]
    assert m.foot_skating_mm(pos).item() == pytest.approx(10.0 * math.sqrt(2))


def test_foot_skating_ignores_feet_in_the_air_and_vertical_motion() -> None:
    pos = _feet_case()
    pos[:, list(FOOT_JOINTS), 0] = 0.01 * torch.arange(10, dtype=torch.float64)[:, None]
    lifted = pos.clone()
    lifted[1:, list(FOOT_JOINTS), 1] = 0.5  # off the floor after the first frame
    assert m.foot_skating_mm(lifted).item() == 0.0
    stepping = _feet_case()
    stepping[:, 10, 1] = 0.003 * torch.arange(10)  # lifts a toe 3 mm per frame: no skating
    assert m.foot_skating_mm(stepping).item() == 0.0
    # A floating sequence is dropped to the floor first (EgoAllo); without that it never slides.
    floating = pos.clone()
    floating[..., 1] += 0.3
    assert m.foot_skating_mm(floating).item() == pytest.approx(10.0)
    assert m.foot_skating_mm(floating, drop_to_floor=False).item() == 0.0
    assert m.foot_skating_mm(torch.stack([pos, lifted]), reduction="none").tolist() == (
        pytest.approx([10.0, 0.0])
    )


def test_ground_penetration() -> None:
    pos = torch.ones(6, 22, 3)
    assert m.ground_penetration_mm(pos).item() == 0.0
    pos[:, 7, 1] = -0.02  # an ankle 2 cm under the floor
    pos[:, 10, 1] = -0.01  # the shallower joint does not count: only the lowest
    assert m.ground_penetration_mm(pos).item() == pytest.approx(20.0)
    assert m.ground_penetration_mm(pos, joint_mask=[10]).item() == pytest.approx(10.0)
    assert m.ground_penetration_mm(pos, reduction="none").shape == (6,)


def test_metrics_are_differentiable() -> None:
    gt = _walk(T=8)
    pred = (gt + 0.01).requires_grad_(True)
    loss = m.mpjpe_mm(pred, gt) + m.pa_mpjpe_mm(pred, gt) + m.jitter_mps3(pred, 30.0)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_evaluate_returns_every_metric_as_json_ready_floats() -> None:
    gt = _walk(T=12).float()
    pred = gt + 0.01
    R = torch.eye(3).expand(12, 22, 3, 3)
    report = m.evaluate(pred.numpy(), gt, R, R, fps=30.0)
    expected_keys = {
        "num_frames", "mpjpe_mm", "pa_mpjpe_mm", "root_aligned_mpjpe_mm", "mpjre_deg",
        "mpjve_mm_s", "jitter_mps3", "jitter_kmps3", "gt_jitter_mps3", "foot_skating_mm",
        "gt_foot_skating_mm", "ground_penetration_mm", "gt_ground_penetration_mm",
    }  # fmt: skip
    assert set(report) == expected_keys
    assert all(type(v) is float for v in report.values())
    json.dumps(report)
    assert report["mpjpe_mm"] == pytest.approx(10.0 * math.sqrt(3), rel=1e-5)
    assert report["mpjre_deg"] == pytest.approx(0.0, abs=1e-4)
    assert report["mpjve_mm_s"] == pytest.approx(0.0, abs=1e-3)
    assert report["jitter_mps3"] == pytest.approx(report["gt_jitter_mps3"], rel=1e-6)
    # Short clips leave out what they cannot measure; rotations are optional.
    short = m.evaluate(pred[:2], gt[:2])
    assert "jitter_mps3" not in short and "mpjre_deg" not in short and "mpjve_mm_s" in short
    with pytest.raises(ValueError, match="both"):
        m.evaluate(pred, gt, pred_R_world_joint=R)
    with pytest.raises(ValueError, match="NaN"):
        m.evaluate(np.full((4, 22, 3), np.nan), gt[:4])

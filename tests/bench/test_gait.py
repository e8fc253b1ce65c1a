"""Posture and gait measures of a pose stream on poses with known angles."""

from __future__ import annotations

import math

import numpy as np

from edgesdk.bench.gait import (
    hip_flexion_deg,
    knee_flexion_deg,
    main_axis_rate,
    pelvis_yaw,
    stride_frequency_hz,
    thigh_pitch_deg,
    unwrapped_turn_deg,
)


def _seated(T: int = 5) -> np.ndarray:
    """Pelvis at 0, trunk up, thighs forward (+Z), shanks down: hips and knees at 90."""
    pos = np.zeros((T, 22, 3))
    pos[:, 9] = (0.0, 0.4, 0.0)  # spine3 above the pelvis
    for hip, knee, ankle, x in ((1, 4, 7, 0.1), (2, 5, 8, -0.1)):
        pos[:, hip] = (x, -0.05, 0.0)
        pos[:, knee] = (x, -0.05, 0.4)
        pos[:, ankle] = (x, -0.45, 0.4)
    return pos


def test_seated_pose_reads_ninety_degrees() -> None:
    pos = _seated()
    np.testing.assert_allclose(knee_flexion_deg(pos), 90.0, atol=1e-6)
    np.testing.assert_allclose(hip_flexion_deg(pos), 90.0, atol=1e-6)
    R = np.tile(np.eye(3), (5, 1, 1))
    np.testing.assert_allclose(thigh_pitch_deg(pos, R), 90.0, atol=1e-6)  # knees forward
    R_back = np.tile(np.diag([-1.0, 1.0, -1.0]), (5, 1, 1))  # facing -Z: knees behind
    np.testing.assert_allclose(thigh_pitch_deg(pos, R_back), -90.0, atol=1e-6)


def test_stride_frequency_and_turns() -> None:
    t = np.arange(120) / 30.0
    assert abs(stride_frequency_hz(np.sin(2 * math.pi * 0.85 * t), 30.0) - 0.85) < 0.02
    assert math.isnan(stride_frequency_hz(np.zeros(120), 30.0))
    yaw = np.linspace(0.0, 3.0 * math.pi / 2, 50)  # crosses +-pi: unwrapped
    wrapped = (yaw + math.pi) % (2 * math.pi) - math.pi
    assert abs(unwrapped_turn_deg(wrapped) - 270.0) < 1e-6
    R = np.stack([np.eye(3)] * 3)
    np.testing.assert_allclose(pelvis_yaw(R), 0.0)
    g = np.zeros((100, 3))
    g[:, 2] = np.sin(np.arange(100) / 5.0)
    assert abs(abs(main_axis_rate(g)).max() - abs(g[:, 2] - g[:, 2].mean()).max()) < 1e-9

"""The offline reference's yaw alignment and inputs."""

from __future__ import annotations

import numpy as np

from edgesdk.body.rotations_numpy import rot_y
from edgesdk.data.clip import Clip
from edgesdk.runtime.offline import best_yaw, offline_inputs, yaw_aligned_mpjpe_mm


def test_best_yaw_undoes_a_known_turn() -> None:
    gt = np.random.default_rng(0).normal(size=(50, 22, 3))
    pred = gt @ rot_y(-0.8).T
    assert abs(best_yaw(pred, gt) - 0.8) < 1e-12
    assert yaw_aligned_mpjpe_mm(pred, gt) < 1e-9
    assert abs(yaw_aligned_mpjpe_mm(gt + np.array([0.01, 0.0, 0.0]), gt) - 10.0) < 0.5


def test_offline_inputs_mask_the_absent_device(walk: Clip) -> None:
    inputs = offline_inputs(walk, ("head", "left_wrist"), absent={"left_wrist": (1.0, 2.0)})
    t = np.arange(walk.num_frames) / walk.fps
    gone = (t >= 1.0) & (t < 2.0)
    assert (inputs["mask"][:, 0] == 1).all()
    assert (inputs["mask"][gone, 1] == 0).all() and (inputs["mask"][~gone, 1] == 1).all()
    assert (inputs["imu"][gone, 1] == 0).all() and (inputs["imu"][:, 2:] == 0).all()

"""Model inputs of a calibrated device: exact for a device at rest in the N-pose."""

from __future__ import annotations

import numpy as np

from edgesdk.body.rotations_numpy import R_ZUP_YUP, matrix_to_quat, rot_z, to_6d
from edgesdk.runtime.device import Device
from edgesdk.runtime.device_calibration import Calibration
from edgesdk.runtime.fusion import Fusion
from edgesdk.runtime.npose import npose_target
from edgesdk.runtime.session import SessionConfig


def test_a_device_at_rest_in_the_npose_gives_zero_acceleration_and_its_target() -> None:
    kind, slot = "watch", "right_wrist"
    T = npose_target(kind, slot)
    Q = rot_z(1.1) @ R_ZUP_YUP @ T  # any heading
    acc = Q.T @ np.array([0.0, 0.0, 9.80665])  # specific force at rest
    row = (*acc.tolist(), 0.0, 0.0, 0.0, *matrix_to_quat(Q).tolist())
    dev = Device("w", kind=kind, slot=slot, max_samples=8, max_gap_ns=10**9)
    dev.calibration = Calibration(Q, 0.0, 0)
    fusion = Fusion(SessionConfig(), fps=30.0, hr_factor=0)
    inputs, used = fusion.inputs({"w": dev}, {"w": row}, 0, {"imu", "mask"})
    assert used == ["w"]
    assert inputs["mask"].tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]
    assert np.allclose(inputs["imu"][0, 2, :3], 0.0, atol=1e-6)
    assert np.allclose(inputs["imu"][0, 2, 3:], to_6d(T), atol=1e-6)
    assert (inputs["imu"][0, [0, 1, 3, 4]] == 0).all()

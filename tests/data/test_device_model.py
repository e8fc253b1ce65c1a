"""Realistic device errors in windows: deterministic, different from clean windows, and of
the size the model says (a tilted filter leaks gravity into the user acceleration)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.device_model import ERRORS, DeviceDraw, DeviceErrors, rot_y, slam_head
from edgesdk.data.sources import load_dir
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.errors import EdgeSDKError


def test_tilt_leaks_gravity_and_heading_turns_everything() -> None:
    rng = np.random.default_rng(0)
    e = DeviceErrors(0.0, 0.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    draw = DeviceDraw.draw(rng, e, 600, 30.0, 1)
    acc, R, _ = draw.apply(rng, np.zeros((600, 3)), np.tile(np.eye(3), (600, 1, 1)))
    tilt_deg = np.degrees(np.arccos(np.clip(R[:, 1, 1], -1, 1)))
    assert 1.0 < float(np.sqrt(np.mean(tilt_deg**2))) < 3.5  # RMS about 2 degrees
    # the leak: |acc| = g sin(tilt) where the device is still
    np.testing.assert_allclose(
        np.linalg.norm(acc, axis=1), 9.80665 * np.sin(np.radians(tilt_deg)), atol=1e-3
    )
    h = DeviceErrors(0.0, 0.0, 0.0, 0.5, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    draw = DeviceDraw.draw(np.random.default_rng(1), h, 10, 30.0, 1)
    _, R, _ = draw.apply(rng, np.zeros((10, 3)), np.tile(np.eye(3), (10, 1, 1)))
    np.testing.assert_allclose(R, np.tile(rot_y(draw.psi[0]), (10, 1, 1)), atol=1e-6)


def test_bad_errors_are_refused() -> None:
    with pytest.raises(EdgeSDKError, match="tilt_std_deg"):
        DeviceErrors(0.1, 0.1, math.nan, 0.5, 1.0, 0.1, 1.0, 1.0, 0.0)
    with pytest.raises(EdgeSDKError, match="devices='noisy'"):
        WindowConfig(devices="noisy")


def test_slam_head_stays_near_the_head() -> None:
    rng = np.random.default_rng(0)
    pos = np.zeros((60, 3))
    R = np.tile(np.eye(3), (60, 1, 1))
    p, R_est = slam_head(rng, pos, R, 30.0)
    assert float(np.abs(p).max()) < 0.25  # map drift over up to 10 minutes, lever, jitter
    angle = np.degrees(np.arccos(np.clip((np.trace(R_est, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert float(angle.max()) < 10.0


def test_realistic_windows_are_deterministic_and_differ_from_clean(cmu_dir: Path) -> None:
    clips = load_dir(cmu_dir, limit=2)
    clean = WindowDataset(clips, WindowConfig(head_hr_factor=8), train=False)
    real = clean.with_config(WindowConfig(head_hr_factor=8, devices="realistic", head="slam"))
    a, b = real[0], real[0]
    for key in ("imu", "head", "head_imu_hr"):
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    c = clean[0]
    present = c["mask"].numpy() > 0
    diff = np.abs(a["imu"].numpy() - c["imu"].numpy())[present & (a["mask"].numpy() > 0)]
    assert diff.max() > 0.05
    assert set(ERRORS) == {"phone", "watch", "glasses"}

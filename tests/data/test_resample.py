"""Resampling: decimation, round trips, time span, cubic positions, slerped rotations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edgesdk.body.rotations import matrix_to_axis_angle
from edgesdk.data.bvh import load_clip
from edgesdk.data.clip import Clip
from edgesdk.data.resample import resample, resample_times
from edgesdk.errors import EdgeSDKError


@pytest.fixture(scope="module")
def clip(cmu_dir: Path) -> Clip:
    return load_clip(cmu_dir / "002_02.bvh")  # walk, 148 frames at 60 Hz


def _max_angle_rad(R_a: np.ndarray, R_b: np.ndarray) -> float:
    rel = np.swapaxes(R_a, -1, -2).astype(np.float64) @ R_b.astype(np.float64)
    return float(np.linalg.norm(matrix_to_axis_angle(torch.from_numpy(rel)).numpy(), axis=-1).max())


def test_times_cover_the_same_span() -> None:
    assert resample_times(5, 60.0, 30.0).tolist() == [0.0, 2.0, 4.0]
    assert resample_times(4, 30.0, 60.0).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    u = resample_times(100, 60.0, 7.0)
    assert u[-1] <= 99 and (99 - u[-1]) * 7.0 / 60.0 < 1.0 and np.all(np.diff(u) > 0)


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_halving_the_rate_is_decimation(clip: Clip, method: str) -> None:
    half = resample(clip, 30.0, method=method)
    assert half.fps == 30.0 and half.num_frames == (clip.num_frames + 1) // 2
    np.testing.assert_allclose(half.global_pos_m, clip.global_pos_m[::2], atol=1e-6)
    assert _max_angle_rad(half.R_world_joint, clip.R_world_joint[::2]) < 1e-3
    assert half.labels == clip.labels and half.rig == clip.rig and half.mapped == clip.mapped
    np.testing.assert_array_equal(half.offsets_m, clip.offsets_m)


def test_up_then_down_round_trip(clip: Clip) -> None:
    back = resample(resample(clip, 120.0), 60.0)
    assert back.num_frames == clip.num_frames
    np.testing.assert_allclose(back.global_pos_m, clip.global_pos_m, atol=1e-5)
    assert _max_angle_rad(back.R_world_joint, clip.R_world_joint) < 1e-3
    # Through an unrelated rate the error stays small for human motion.
    for method in ("linear", "cubic"):
        odd = resample(resample(clip, 97.0, method), 60.0, method)
        n = min(odd.num_frames, clip.num_frames)
        err_m = np.abs(odd.global_pos_m[:n] - clip.global_pos_m[:n]).max()
        assert err_m < (0.01 if method == "linear" else 0.004), (method, err_m)
        assert _max_angle_rad(odd.R_world_joint[:n], clip.R_world_joint[:n]) < math.radians(5)


def test_rotations_stay_rotations_and_rates_are_free(clip: Clip) -> None:
    for fps in (24.0, 29.97, 100.0):
        out = resample(clip, fps, method="cubic")
        R = out.R_world_joint.astype(np.float64)
        eye = np.broadcast_to(np.eye(3), R.shape)
        np.testing.assert_allclose(np.swapaxes(R, -1, -2) @ R, eye, atol=1e-5)
        assert abs(out.duration_s - clip.duration_s) <= 1.0 / fps + 1.0 / clip.fps
        assert out.fps == fps


def test_single_frame_and_same_rate(clip: Clip) -> None:
    one = clip.slice(0, 1)
    assert resample(one, 30.0).num_frames == 1
    same = resample(clip, 60.0)
    np.testing.assert_array_equal(same.global_pos_m, clip.global_pos_m)


def test_bad_arguments(clip: Clip) -> None:
    with pytest.raises(EdgeSDKError, match=r"002_02\.bvh: target frame rate"):
        resample(clip, 0.0)
    with pytest.raises(EdgeSDKError, match="method"):
        resample(clip, 30.0, method="quadratic")

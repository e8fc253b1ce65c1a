"""Simulated sessions: an N-pose stand-still, then continuous motion; a device's gap."""

from __future__ import annotations

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.simulate import simulate_take
from edgesdk.runtime.scenario import npose_rotations, session_clip, true_time_s, with_gap


def test_session_clip_stands_still_then_moves_continuously(walk: Clip) -> None:
    clip = session_clip(walk, 12.0, still_s=2.0, blend_s=1.0)
    assert clip.num_frames == 360
    yaw_still = clip.R_world_joint[:60]
    assert np.allclose(yaw_still, yaw_still[:1], atol=1e-6)
    assert np.allclose(
        clip.R_world_joint[0, 18] @ np.array([1.0, 0.0, 0.0]), [0, -1, 0], atol=1e-5
    )  # the forearm hangs down
    step = np.linalg.norm(np.diff(clip.global_pos_m, axis=0), axis=-1).max()
    own = np.linalg.norm(np.diff(walk.global_pos_m, axis=0), axis=-1).max()
    assert step < 1.2 * own  # no jumps between repeats: as fast as the clip itself at most
    moved = np.linalg.norm(clip.global_pos_m[-1, 0, [0, 2]] - clip.global_pos_m[0, 0, [0, 2]])
    assert moved > 5.0  # it keeps walking
    assert np.allclose(npose_rotations(0.3)[0] @ [0.0, 0.0, 1.0], [np.sin(0.3), 0.0, np.cos(0.3)])


def test_with_gap_removes_exactly_the_interval(walk: Clip) -> None:
    take = simulate_take(session_clip(walk, 8.0), [DeviceSpec.watch()], seed=0)
    gapped = with_gap(take, "watch_left_wrist", 3.0, 5.0)
    t0, t1 = (true_time_s(s.streams["watch_left_wrist"]) for s in (take, gapped))
    assert not ((t1 >= 3.0) & (t1 < 5.0)).any()
    assert len(t0) - len(t1) == ((t0 >= 3.0) & (t0 < 5.0)).sum() > 90

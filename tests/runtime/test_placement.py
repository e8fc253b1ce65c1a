"""Placement from signals alone on simulated takes, caller overrides, the assignment, and the
phone-screen-towards-the-thigh case settled by walking."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.body.rotations_numpy import matrix_to_quat
from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.runtime.placement import assign, slot_probabilities
from tests.runtime.common import push_take, recording_session, simulated_take

FIVE = [
    DeviceSpec.glasses(),
    DeviceSpec.watch("left_wrist"),
    DeviceSpec.watch("right_wrist"),
    DeviceSpec.phone("left_pocket"),
    DeviceSpec.phone("right_pocket"),
]


def _push_anonymous(clip: Clip, seed: int) -> tuple[dict[str, dict], dict[str, str]]:
    """Push a simulated take under device ids that say nothing (``dev0`` ...), no kinds."""
    _, take = simulated_take(clip, 14.0, FIVE, seed=seed)
    session, _ = recording_session(use_kind_hints=False)
    ids = {d: f"dev{i}" for i, d in enumerate(sorted(take.streams, reverse=True))}
    renamed = {ids[d]: s for d, s in take.streams.items()}
    frames = push_take(session, take, ids=ids)
    assert frames and all(session.devices[d].kind is None for d in renamed)
    return session.placements(), {ids[d]: s.spec.slot for d, s in take.streams.items()}


@pytest.mark.parametrize("name", ["002_01", "002_02", "007_01", "002_03"])
def test_five_anonymous_devices_are_placed_from_their_signals(
    clips: dict[str, Clip], name: str
) -> None:
    placements, truth = _push_anonymous(clips[name], seed=0)
    for device_id, slot in truth.items():
        assert placements[device_id]["slot"] == slot, (device_id, placements)
        assert placements[device_id]["confidence"] >= 0.8
        assert not placements[device_id]["override"]


def test_weak_evidence_shows_as_low_confidence(walk: Clip) -> None:
    """In CMU 05_01 the thighs' pitch and yaw rates hardly correlate: still right, less sure."""
    placements, truth = _push_anonymous(walk, seed=0)
    assert all(placements[d]["slot"] == s for d, s in truth.items())
    pockets = [placements[d]["confidence"] for d, s in truth.items() if "pocket" in s]
    wrists = [placements[d]["confidence"] for d, s in truth.items() if "wrist" in s]
    assert max(pockets) < 0.8 < min(wrists)


def test_caller_override_wins_and_others_avoid_its_slot(clips: dict[str, Clip]) -> None:
    _, take = simulated_take(clips["002_01"], 8.0, FIVE[1:3], seed=0)
    session, backend = recording_session()
    session.add_device("watch_left_wrist", slot="right_wrist")  # deliberately the wrong wrist
    push_take(session, take)
    placed = session.placements()
    assert placed["watch_left_wrist"] == {
        "slot": "right_wrist",
        "confidence": 1.0,
        "override": True,
        "calibrated": True,
        "calibration": "calibrated",  # at the N-pose of the take's start
        "calibration_confidence": 1.0,
    }
    assert placed["watch_right_wrist"]["slot"] == "left_wrist"
    assert backend.seen[-1]["mask"][0].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    session.set_slot("watch_left_wrist", None)
    assert not session.placements()["watch_left_wrist"]["override"]


def test_assignment_uses_each_slot_once() -> None:
    wrist = slot_probabilities("wrist", None, None)
    upright = slot_probabilities("upright", None, None)
    out = assign({"a": wrist, "b": wrist, "c": wrist, "d": upright}, {"e": "head"})
    assert out["e"] == ("head", 1.0)
    slots = [s for s, _ in out.values() if s is not None]
    assert len(slots) == len(set(slots))
    assert sorted(s for d, (s, _) in out.items() if d in "abc" and s) == [
        "left_wrist",
        "right_wrist",
    ]


@pytest.mark.parametrize("turn", ["screen_in", "upside_down"])
def test_phone_worn_another_way_ends_up_with_the_right_orientation(
    clips: dict[str, Clip], turn: str
) -> None:
    R = np.diag([-1.0, 1.0, -1.0]) if turn == "screen_in" else np.diag([-1.0, -1.0, 1.0])
    quat = tuple(matrix_to_quat(R).tolist())
    specs = [DeviceSpec("phone", "right_pocket", heading_deg=70.0), DeviceSpec.glasses()]
    turned = [
        DeviceSpec("phone", "right_pocket", heading_deg=70.0, mount_quat_wxyz=quat),
        DeviceSpec.glasses(),
    ]  # type: ignore[arg-type]
    seen = []
    for s in (specs, turned):
        _, take = simulated_take(clips["002_02"], 10.0, s, seed=0)
        session, backend = recording_session()
        push_take(session, take)
        assert session.placements()["phone_right_pocket"]["slot"] == "right_pocket"
        seen.append(np.stack([f["imu"][0, 4, 3:] for f in backend.seen[-30:]]))
    assert np.abs(seen[0] - seen[1]).max() < 0.05


def test_features_match_the_rotation_matrix_definition() -> None:
    """``features`` (the third row of R(q) in closed form) equals the same figures computed
    from full rotation matrices, on random, not quite unit quaternions."""
    from edgesdk.body.rotations_numpy import quat_to_matrix
    from edgesdk.runtime.placement import features

    rng = np.random.default_rng(3)
    n = 180
    q = rng.normal(size=(n, 4)) * rng.uniform(0.99, 1.01, (n, 1))
    values = np.concatenate([rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), q], 1)
    valid = rng.random(n) > 0.1
    C = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    f = features(values, valid, C)
    assert f is not None
    v = values[valid]
    gyro = v[:, 3:6] @ C
    moving = np.linalg.norm(gyro, axis=1) > 0.3  # placement._MOVING_RADS
    gyro = gyro[moving]
    up = quat_to_matrix(v[moving, 6:10])[:, 2, :] @ C
    mean = up.mean(0) / np.linalg.norm(up.mean(0))
    tilt = np.degrees(np.arccos(np.clip(up @ mean, -1, 1)))
    gx, gy = gyro[:, 0] - gyro[:, 0].mean(), gyro[:, 1] - gyro[:, 1].mean()
    assert f.frames == int(moving.sum())
    assert np.isclose(f.tilt_std_deg, tilt.std())
    assert np.isclose(f.gyro_rms, np.sqrt(np.mean(np.sum(gyro**2, 1))))
    assert np.isclose(f.mean_up_y, up[:, 1].mean()) and np.isclose(f.mean_up_z, up[:, 2].mean())
    assert np.isclose(f.corr_xy, (gx @ gy) / np.sqrt((gx @ gx) * (gy @ gy)))

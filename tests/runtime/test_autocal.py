"""Calibration from ordinary activity: the mount turn of a phone and a watch found without an
N-pose on simulated sessions (ground truth) and on a real phone + watch recording, devices
used from their first second, heading consensus across devices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgesdk.body.rotations_numpy import matrix_to_quat
from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.importers import import_recordings
from edgesdk.data.mounts import nominal_mount
from edgesdk.data.recording import read_take
from edgesdk.data.simulate import simulate_take
from edgesdk.runtime.autocal import TURNS, ActivityCalibration, align_headings
from edgesdk.runtime.replay import replay_take
from edgesdk.runtime.scenario import session_clip
from tests.runtime.common import push_take, recording_session

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "devices"


def _turn(name: str) -> np.ndarray:
    return dict(TURNS["phone"])[name]


@pytest.mark.parametrize("turn", ["upright_roll0", "upside_down_roll180", "upright_roll90"])
def test_a_walking_phone_worn_any_way_is_found_without_a_pose(walk: Clip, turn: str) -> None:
    mount = nominal_mount("phone", "right_pocket") @ _turn(turn)
    specs = [
        DeviceSpec.phone(
            "right_pocket",
            mount_jitter_deg=0.0,
            mount_quat_wxyz=tuple(matrix_to_quat(mount).tolist()),
        ),
        DeviceSpec.watch("left_wrist"),
    ]
    take = simulate_take(session_clip(walk, 12.0, still_s=0.0, blend_s=0.0), specs, seed=3)
    session, backend = recording_session()
    for spec in specs:
        session.add_device(spec.device_id, kind=spec.kind, slot=spec.slot)
    frames = push_take(session, take)
    phone = session.devices["phone_right_pocket"]
    assert isinstance(phone.calibration, ActivityCalibration)
    found = phone.calibration.turn_name("right_pocket")
    flip, roll = found.split("_roll")
    assert flip == turn.split("_roll")[0]
    assert abs((int(roll) - int(turn.split("_roll")[1]) + 180) % 360 - 180) <= 15
    # used from the first second on, and the frames say so
    late = [f for f in frames if f.t_ns > 1.5e9]
    assert all(f.devices["phone_right_pocket"]["used"] for f in late)
    assert frames[-1].devices["phone_right_pocket"]["calibration"] in ("provisional", "calibrated")
    assert backend.seen[-1]["mask"][0].tolist() == [0.0, 1.0, 0.0, 0.0, 1.0]


def test_heading_consensus_aligns_a_second_device() -> None:
    a, b = ActivityCalibration("phone"), ActivityCalibration("watch")
    cals = {"a": a, "b": b}
    slots = {"a": "right_pocket", "b": "left_wrist"}
    # the same forward direction seen at +X in a's world and at +Y in b's world
    align_headings(cals, slots, {"a": (0.0, 1.0), "b": (math.pi / 2, 1.0)})
    assert a.alpha is not None and b.alpha is not None
    assert abs(a.model_yaw(0.0)) < 1e-9
    assert abs(b.model_yaw(math.pi / 2)) < 1e-9  # both see the wearer facing +Z
    for _ in range(20):  # b's estimates move by 10 degrees: it follows, a barely moves
        align_headings(cals, slots, {"a": (0.0, 1.0), "b": (math.pi / 2 + 0.17, 1.0)})
    assert abs(b.model_yaw(math.pi / 2 + 0.17)) < math.radians(2.0)
    assert abs(a.model_yaw(0.0)) < math.radians(2.0)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real recordings not found at {SHARED}")
def test_a_real_phone_and_watch_are_used_within_three_seconds(tmp_path: Path) -> None:
    """sp-sw-har s01_01: seated, stands up, walks, turns, walks back, sits down. The phone is
    upside down with its screen towards the thigh (``back_inv`` upstream)."""
    src = SHARED / "sp-sw-har" / "s01"
    import_recordings(src, "sp-sw-har", tmp_path / "takes")
    take = read_take(tmp_path / "takes" / "s01_01")
    session, _ = recording_session()
    frames = replay_take(session, take)
    late = [f for f in frames if f.t_ns >= 3e9]
    for device in ("phone", "watch"):
        assert np.mean([f.devices[device]["used"] for f in late]) >= 0.9
    phone = session.devices["phone"]
    assert isinstance(phone.calibration, ActivityCalibration) and phone.slot is not None
    flip, roll = phone.calibration.turn_name(phone.slot).split("_roll")
    assert flip == "upside_down" and 90 < int(roll) < 270  # screen towards the thigh

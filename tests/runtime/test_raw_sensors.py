"""Devices without a fused orientation: a live Session fed raw accelerometer + gyroscope
estimates it (per-device ImuFilter) close to the truth, calibrates and uses the device, and a
take without quaternion columns replays with ``t_ns`` counted from its first sample."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.orientation import ImuFilter
from edgesdk.data.recording import read_take, write_take
from edgesdk.data.sensors import DeviceSpec, Take
from edgesdk.runtime.replay import arrival_order, replay
from tests.runtime.common import RecordingBackend, recording_session, simulated_take


def _up(q: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """World +Z in the sensor frame, ``R(q)^T z``."""
    w, x, y, z = q
    return np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


def _tilt_deg(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(_up(a) @ _up(b))))))


def test_raw_sensor_session_tracks_tilt_and_uses_the_device(walk: Clip) -> None:
    _, take = simulated_take(walk, 12.0, [DeviceSpec.phone()], seed=4)
    (stream,) = take.streams.values()
    session, backend = recording_session()
    frames, tilts = [], []
    t0 = int(stream.t_ns[0])
    for i in range(stream.num_samples):
        t = int(stream.t_ns[i])
        assert session.push("phone", t, stream.acc_mps2[i], stream.gyro_rads[i], recv_ns=t - t0)
        frames.extend(session.poses())
        q = session.devices["phone"].filter.q  # type: ignore[union-attr]
        if t - t0 > 1e9:  # after the filter's first second
            tilts.append(_tilt_deg(q, stream.quat_wxyz[i]))  # type: ignore[index]
    frames.extend(session.flush())
    assert len(frames) >= 12 * 30 - 2
    assert np.median(tilts) < 2.0 and np.percentile(tilts, 95) < 5.0, np.percentile(tilts, [50, 95])
    stats = session.stats()["devices"]["phone"]
    assert stats["orientation"] == "filter" and stats["acc"] == "raw"
    assert stats["accepted"] == stream.num_samples
    # calibrated at the stand-still and used: the pocket slot is fed in the last frames
    assert all(f.devices["phone"]["used"] for f in frames[-30:])
    assert backend.seen[-1]["mask"][0].sum() == 1.0


def test_filter_learns_the_gyro_bias_at_a_stand_still() -> None:
    f = ImuFilter()
    bias = (0.03, -0.02, 0.04)  # the vertical axis (z here) is unobservable without stillness
    for i in range(300):
        f.update(i * 10_000_000, (0.0, 0.0, 9.80665), bias)
    assert np.allclose(f.bias, bias, atol=1e-9) and f.still_updates == 1
    q0 = f.q
    for i in range(300, 6300):  # a minute more, still: no heading drift left
        q = f.update(i * 10_000_000, (0.0, 0.0, 9.80665), bias)
    assert q0 is not None
    angle = 2 * math.degrees(
        math.acos(min(1.0, abs(sum(a * b for a, b in zip(q0, q, strict=True)))))
    )
    assert angle < 0.01


def test_user_acceleration_without_quat_is_dropped() -> None:
    session, _ = recording_session()
    session.add_device("w", kind="watch", acc="user")
    assert not session.push("w", 0, [0.0, 0.0, 0.1], [0.0, 0.0, 0.0], recv_ns=0)
    assert session.stats()["devices"]["w"]["dropped"] == {"needs_raw_acc": 1}


def _without_quats(take: Take) -> Take:
    streams = {
        d: dataclasses.replace(s, quat_wxyz=None, user_acc_mps2=None)
        for d, s in take.streams.items()
    }
    return dataclasses.replace(take, streams=streams)


def test_replay_of_a_take_without_quaternions(walk: Clip, tmp_path: Path) -> None:
    _, take = simulated_take(walk, 6.0, [DeviceSpec.phone(), DeviceSpec.watch()], seed=2)
    folder = write_take(_without_quats(take), tmp_path / "take")
    header = (folder / "phone_right_pocket.csv").read_text().splitlines()[0]
    assert header == "t_ns,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"
    back = read_take(folder)
    assert all(s.quat_wxyz is None and s.user_acc_mps2 is None for s in back.streams.values())
    assert arrival_order(back, False)[0][0] == 0
    out = tmp_path / "poses.jsonl"
    frames = replay(RecordingBackend(), folder, out=out)
    t_ns = np.array([f.t_ns for f in frames])
    assert t_ns[0] == 0  # counted from the take's first sample
    assert np.array_equal(t_ns, np.round(np.arange(len(t_ns)) * 1e9 / 30).astype(int))
    assert len(frames) >= 6 * 30 - 2
    lines = out.read_text().splitlines()
    meta = json.loads(lines[0])["meta"]
    assert {d["orientation"] for d in meta["stats"]["devices"].values()} == {"filter"}
    assert json.loads(lines[1])["t_ns"] == 0
    assert any(f.devices["phone_right_pocket"]["used"] for f in frames[-10:])

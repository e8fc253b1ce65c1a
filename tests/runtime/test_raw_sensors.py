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
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.orientation import ImuFilter
from edgesdk.data.recording import read_take, write_take
from edgesdk.data.takes import Take
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


def test_stand_still_learns_a_raw_gyro_bias_larger_than_still_rads() -> None:
    f = ImuFilter()  # a raw (uncalibrated) phone gyro: iPhone 5's x bias is about 0.1 rad/s
    bias = (0.1, -0.05, 0.03)
    for i in range(150):  # 1.5 s: too short for a bias this far from the one learnt so far
        f.update(i * 10_000_000, (0.0, 0.0, 9.80665), bias)
    assert f.still_updates == 0
    for i in range(150, 300):
        f.update(i * 10_000_000, (0.0, 0.0, 9.80665), bias)
    assert np.allclose(f.bias, bias, atol=1e-9) and f.still_updates == 1


def test_a_steady_turn_is_not_taken_for_a_bias() -> None:
    f = ImuFilter()  # lying flat on a turntable at 0.5 rad/s (beyond max_bias_rads)
    for i in range(500):
        q = f.update(i * 10_000_000, (0.0, 0.0, 9.80665), (0.0, 0.0, 0.5))
    assert f.still_updates == 0 and f.bias == [0.0, 0.0, 0.0]
    turned = 2 * math.degrees(math.atan2(q[3], q[0]))
    assert abs(turned - math.degrees(0.5 * 4.99)) < 0.01


def _slow_turns(n: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Rates (rad/s) of a phone turned slowly by hand and its orientations, ``[n, 3]``, and
    ``[n, 4]``."""
    t = np.arange(n) * dt
    w = np.stack(
        [0.3 * np.sin(0.7 * t), 0.25 * np.sin(0.43 * t + 1), 0.2 * np.sin(0.31 * t + 2)], 1
    )
    q = [np.array([1.0, 0.0, 0.0, 0.0])]
    for k in range(n - 1):
        half = 0.5 * w[k] * dt
        a = float(np.linalg.norm(half))
        d = np.r_[math.cos(a), math.sin(a) * half / a]
        p = q[-1]
        q.append(
            np.array(
                [
                    p[0] * d[0] - p[1:] @ d[1:],
                    *(p[0] * d[1:] + d[0] * p[1:] + np.cross(p[1:], d[1:])),
                ]
            )
        )
    return w, np.array(q)


def test_the_bias_is_learnt_from_calm_motion() -> None:
    rng = np.random.default_rng(0)
    n, dt = 9000, 0.01  # 90 s turned slowly by hand, never still
    w, q_true = _slow_turns(n, dt)
    up = np.stack([_up(q) for q in q_true])
    acc = 9.80665 * up + rng.normal(0.0, 0.05, (n, 3))
    bias = np.array([0.1, -0.05, 0.03])
    gyro = w + bias + rng.normal(0.0, 0.005, (n, 3))
    f = ImuFilter()
    tilts = []
    for i in range(n):
        q = f.update(i * 10_000_000, acc[i].tolist(), gyro[i].tolist())
        if i >= n - 3000:
            tilts.append(_tilt_deg(q, q_true[i]))
    assert f.still_updates == 0
    assert np.allclose(f.bias, bias, atol=0.005), f.bias
    assert np.median(tilts) < 0.5, np.median(tilts)


def test_motion_does_not_teach_a_bias() -> None:
    """The specific force of a moving device is not gravity: a steady 1.2 g along a tilted
    direction (a phone carried round a bend) tilts the estimate, but teaches no bias."""
    f = ImuFilter()
    for i in range(3000):
        f.update(i * 10_000_000, (3.0, 0.0, 11.4), (0.0, 0.0, 0.0))
    assert f.bias == [0.0, 0.0, 0.0]


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

"""Session behaviour with a stand-in model: the frame grid and latency, out-of-order and
duplicate samples, dropout and re-join, raw vs user acceleration, bad input, backlog, clock
restarts, the head pose and the 8x head IMU inputs."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.replay import arrival_order
from edgesdk.runtime.scenario import true_time_s, with_gap
from edgesdk.runtime.session import Session, SessionConfig
from tests.runtime.common import (
    RecordingBackend,
    push_take,
    recording_session,
    simulated_take,
    three_devices,
)

G = (0.0, 0.0, 9.80665)
Q1 = (1.0, 0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def take3(walk: Clip):
    """12 s: N-pose, then walking; glasses 200 Hz, watch 50 Hz, phone 100 Hz, typical."""
    return simulated_take(walk, 12.0, three_devices(), seed=1)[1]


def test_frames_on_the_grid_within_the_latency_bound(take3) -> None:
    session, backend = recording_session(max_latency_s=0.08)
    frames = push_take(session, take3)
    t = np.array([f.t_ns for f in frames])
    assert t[0] == 0 and np.array_equal(t, np.round(np.arange(len(t)) * 1e9 / 30).astype(int))
    assert len(frames) == 12 * 30 - 1 or len(frames) == 12 * 30
    assert max(f.latency_ns for f in frames[:-5]) <= 80_000_000
    used = [f for f in frames if f.mask.sum() == 3]
    assert used and used[0].t_ns < 1.6e9  # calibrated in the first stand-still second
    assert all(np.isfinite(f.pos_rel_m).all() for f in frames)
    assert session.stats()["frames"] == len(frames) == len(backend.seen)
    for device_id, stream in take3.streams.items():  # replay: arrival = t_ns - t_ns[0]
        assert session.stats()["devices"][device_id]["clock_offset_ns"] == -stream.t_ns.min()


def test_out_of_order_and_duplicates_change_almost_nothing(take3) -> None:
    base, b_backend = recording_session()
    push_take(base, take3)
    order = arrival_order(take3, False)
    rng = np.random.default_rng(0)
    shuffled = list(order)
    for i in range(0, len(shuffled) - 1, 2):  # every other pair swapped ...
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    dupes = [shuffled[i] for i in rng.choice(len(shuffled), 500, replace=False)]
    shuffled += dupes  # ... and 500 samples again at the end
    shuffled.sort(key=lambda e: e[0] + int(rng.integers(0, 3_000_000)))  # 0-3 ms reordering
    other, o_backend = recording_session()
    push_take(other, take3, shuffled)
    dropped = sum(d["dropped"].get("duplicate", 0) for d in other.stats()["devices"].values())
    assert dropped == 500
    a = np.stack([s["imu"] for s in b_backend.seen])
    b = np.stack([s["imu"] for s in o_backend.seen])
    assert a.shape == b.shape and np.isfinite(b).all()
    both = (a != 0).any(-1) & (b != 0).any(-1)
    assert np.abs(a[both][:, 3:] - b[both][:, 3:]).mean() < 0.01
    assert np.abs(a[both][:, :3] - b[both][:, :3]).mean() < 0.1


def test_device_leaving_for_5_s_is_masked_after_the_timeout_and_rejoins(walk: Clip) -> None:
    _, take = simulated_take(walk, 16.0, three_devices(drop_prob=0.0), seed=2)
    take = with_gap(take, "watch_left_wrist", 6.0, 11.0)
    session, _ = recording_session(dropout_timeout_s=0.3)
    frames = push_take(session, take)
    t = np.array([f.t_ns for f in frames]) / 1e9
    wrist = np.array([f.mask[1] for f in frames])
    times = true_time_s(take.streams["watch_left_wrist"])
    last, back = times[times < 6.0].max(), times[times >= 11.0].min()
    assert (wrist[(t > 2.0) & (t <= last)] == 1).all()
    assert (wrist[(t > last + 0.3 + 0.01) & (t < back - 0.01)] == 0).all()
    assert (wrist[t >= back + 0.01] == 1).all()
    held = wrist[(t > last + 0.01) & (t < last + 0.29)]
    assert len(held) >= 7 and (held == 1).all()  # the last sample held until the timeout
    used = [f.devices.get("watch_left_wrist", {"used": False})["used"] for f in frames]
    assert used == [bool(f.mask[1]) for f in frames]


def test_user_acceleration_gives_the_same_inputs_as_raw(take3) -> None:
    runs = []
    for acc in ("raw", "user"):
        session, backend = recording_session()
        push_take(session, take3, acc=acc)
        runs.append(np.stack([s["imu"] for s in backend.seen]))
        assert {d["acc"] for d in session.stats()["devices"].values()} == {acc}
    # equal up to interpolating gravity linearly between samples (raw) or not (user)
    assert np.allclose(runs[0], runs[1], atol=0.02)


def test_bad_input_is_dropped_and_counted() -> None:
    session, _ = recording_session(allow_new_devices=False, max_devices=2)
    session.add_device("a")
    assert session.push("a", 0, G, (0, 0, 0), Q1, recv_ns=0)
    bad = [
        ("a", 1, (float("nan"), 0, 0), (0, 0, 0), Q1),
        ("a", 2, G[:2], (0, 0, 0), Q1),
        ("a", 3, G, (0, 0, 0), (0.0, 0.0, 0.0, 0.0)),
        ("a", "soon", G, (0, 0, 0), Q1),
        ("a", 0, G, (0, 0, 0), Q1),
        ("zzz", 4, G, (0, 0, 0), Q1),
        (None, 5, G, (0, 0, 0), Q1),
    ]
    for args in bad:
        assert not session.push(*args, recv_ns=10)
    assert not session.push("a", 6, G, (0, 0, 0), Q1, recv_ns=float("nan"))
    stats = session.stats()
    assert stats["dropped"] == {"unknown_device": 2}
    assert stats["devices"]["a"]["dropped"] == {
        "not_finite": 1,
        "bad_length": 1,
        "bad_quat": 1,
        "bad_time": 1,
        "duplicate": 1,
        "bad_recv_time": 1,
    }
    with pytest.raises(EdgeSDKError, match="unknown slot"):
        session.add_device("b", slot="knee")
    with pytest.raises(EdgeSDKError, match="kind='toaster'"):
        session.add_device("c", kind="toaster")
    with pytest.raises(EdgeSDKError, match="already added"):
        session.add_device("a")


def test_backlog_is_skipped_not_computed() -> None:
    session, backend = recording_session(max_backlog_s=1.0)
    session.push("phone", 0, G, (0, 0, 0), Q1, recv_ns=0)
    frames = session.poses(now_ns=3_600 * 10**9)  # an hour later
    assert session.frames_skipped > 100_000
    assert len(frames) == len(backend.seen) <= 32
    assert all(f.mask.sum() == 0 for f in frames)


def test_a_clock_glitch_is_dropped_and_a_restart_is_followed() -> None:
    session, _ = recording_session()
    for k in range(60):
        session.push("w", 10**12 + k * 20_000_000, G, (0, 0, 0), Q1, recv_ns=k * 20_000_000)
    assert not session.push("w", 10**15, G, (0, 0, 0), Q1, recv_ns=60 * 20_000_000)  # a glitch
    for k in range(61, 70):  # the device rebooted: its clock now starts near 0
        session.push("w", (k - 61) * 20_000_000, G, (0, 0, 0), Q1, recv_ns=k * 20_000_000)
    stats = session.stats()["devices"]["w"]
    assert stats["dropped"] == {"clock_jump": 5} and stats["stream_resets"] == 1
    assert stats["clock_offset_ns"] == 61 * 20_000_000
    frames = session.poses() + session.flush()
    assert frames[-1].t_ns >= 68 * 20_000_000 - 40_000_000


def test_head_pose_and_high_rate_head_inputs(walk: Clip) -> None:
    scene, take = simulated_take(walk, 6.0, [DeviceSpec.glasses(heading_deg=30.0)], seed=0)
    backend = RecordingBackend(hr_factor=8, head=True)
    session = Session(backend, SessionConfig(), clock="virtual")
    assert take.head_pose is not None
    frames = push_take(session, take, arrival_order(take, with_head_pose=True))
    seen = backend.seen
    on = [k for k, s in enumerate(seen) if s["mask"][0, 0] == 1]
    assert on and on[0] < 50
    head = np.stack([seen[k]["head"][0] for k in on])
    truth = scene.global_pos_m[[round(frames[k].t_ns * 30 / 1e9) for k in on], 15]
    assert np.abs(head[:, 1] - truth[:, 1]).max() < 0.015  # height above the floor
    # horizontal distance covered in half a second: the same (SLAM drift, low-pass aside)
    step_rt = np.linalg.norm(head[15:, [0, 2]] - head[:-15, [0, 2]], axis=1)
    step_gt = np.linalg.norm(truth[15:, [0, 2]] - truth[:-15, [0, 2]], axis=1)
    assert step_gt.max() > 0.4 and np.abs(step_rt - step_gt).max() < 0.02
    for k in on[:: len(on) // 5]:
        hr = seen[k]["head_imu_hr"][0]
        assert np.allclose(hr[0, [0, 1, 2, 6, 7, 8, 9, 10, 11]], seen[k]["imu"][0, 0], atol=1e-5)
        assert (hr != 0).any(1).all()


def test_unread_frames_are_bounded() -> None:
    session, _ = recording_session(max_unread_frames=50)
    for k in range(600):  # 6 s at 100 Hz: 180 frames, nobody reading
        session.push("phone", k * 10_000_000, G, (0, 0, 0), Q1, recv_ns=k * 10_000_000)
    frames = session.poses()
    assert len(frames) == 50 and session.stats()["frames_unread"] == session.frames_made - 50
    assert frames[-1].t_ns == session._frame_t(session.frames_made - 1)


def test_rates_from_25_to_800_hz(walk: Clip) -> None:
    specs = [DeviceSpec.phone(rate_hz=25.0), DeviceSpec.glasses(rate_hz=800.0)]
    _, take = simulated_take(walk, 6.0, specs, seed=4)
    session, backend = recording_session()
    frames = push_take(session, take)
    assert len(frames) >= 6 * 30 - 2
    assert max(f.latency_ns for f in frames[:-3]) <= 100_000_000
    both = [s for s in backend.seen if s["mask"][0].sum() == 2]
    assert len(both) > 100 and all(np.isfinite(s["imu"]).all() for s in backend.seen)


def test_devices_register_on_a_usable_sample_and_silent_ones_expire() -> None:
    session, _ = recording_session(max_devices=2, device_expiry_s=1.0)
    assert not session.push("junk", 0, None, None, None, recv_ns=0)
    assert not session.push_head_pose("junk", 0, [0, 0], Q1, recv_ns=0)
    assert session.devices == {}
    assert session.push("a", 0, G, (0, 0, 0), Q1, recv_ns=0)
    assert session.push("b", 0, G, (0, 0, 0), Q1, recv_ns=0)
    assert not session.push("c", 0, G, (0, 0, 0), Q1, recv_ns=500_000_000)  # a, b live
    assert session.push("b", 10**9, G, (0, 0, 0), Q1, recv_ns=10**9)
    assert session.push("c", 0, G, (0, 0, 0), Q1, recv_ns=1_200_000_000)  # a silent 1.2 s
    stats = session.stats()
    assert sorted(session.devices) == ["b", "c"] and stats["devices_expired"] == 1
    assert stats["dropped"] == {"new_device_bad_sample": 1, "bad_head_pose": 1, "device_limit": 1}

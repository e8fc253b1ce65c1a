"""Property tests: whatever is pushed (NaN, inf, wrong lengths, strange ids, timestamps
jumping backwards, bursts of 10k samples), a session never raises and never emits a
non-finite pose, and its buffers stay bounded."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesdk.runtime.session import Session, SessionConfig
from tests.runtime.common import RecordingBackend, recording_session

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
vectors = st.one_of(
    st.lists(floats, min_size=0, max_size=5),
    st.lists(st.floats(-20, 20), min_size=3, max_size=3),
    st.just("abc"),
    st.none(),
)
quats = st.one_of(
    st.lists(floats, min_size=0, max_size=5),
    st.lists(st.floats(-1, 1), min_size=4, max_size=4),
    st.just([1.0, 0.0, 0.0, 0.0]),
)
times = st.one_of(
    st.integers(-(2**63), 2**63),
    st.integers(0, 10**10),
    floats,
    st.text(max_size=3),
)
ids = st.sampled_from(["watch", "phone_left", "glasses", "", None, 7, "x" * 70])
samples = st.tuples(ids, times, vectors, vectors, quats, st.integers(0, 10**10))


def _assert_finite(frames: list) -> None:
    for f in frames:
        for arr in (f.R_world_joint_6d, f.pos_rel_m, f.root_m, f.contact, f.mask):
            assert np.isfinite(arr).all()


WATCH_STILL_Q = (math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0)  # crown down: up is sensor -X


def _calibrated_watch() -> tuple[Session, RecordingBackend, int]:
    """A session whose watch stood still in the N-pose for 1.5 s (so it is calibrated and
    its inputs reach the model), and the receive time reached."""
    session, backend = recording_session()
    for k in range(75):
        session.push(
            "watch",
            k * 20_000_000,
            (-9.8, 0.0, 0.0),
            (0.0, 0.0, 0.0),
            WATCH_STILL_Q,
            recv_ns=k * 20_000_000,
        )
    session.poses()
    assert session.devices["watch"].calibration is not None
    return session, backend, 75 * 20_000_000


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(samples, max_size=60))
def test_garbage_never_raises_nor_gives_nan(batch: list) -> None:
    session, backend, start = _calibrated_watch()
    before = {
        d: v["accepted"] + sum(v["dropped"].values()) for d, v in session.stats()["devices"].items()
    }
    frames = []
    for device, t, acc, gyro, quat, recv in batch:
        session.push(device, t, acc, gyro, quat, recv_ns=start + recv)
        frames += session.poses()
    frames += session.flush()
    _assert_finite(frames)
    assert all(np.isfinite(s["imu"]).all() for s in backend.seen)
    stats = session.stats()
    kept = sum(d["accepted"] for d in stats["devices"].values())
    dropped = sum(sum(d["dropped"].values()) for d in stats["devices"].values())
    total = kept + dropped + sum(stats["dropped"].values()) - sum(before.values())
    assert total == len(batch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(25.0, 800.0),
    jitter_ms=st.floats(0.0, 20.0),
    back_every=st.integers(3, 500),
    back_ms=st.floats(1.0, 5_000.0),
    seed=st.integers(0, 2**16),
)
def test_bursts_of_10k_samples_with_time_going_backwards(
    rate: float, jitter_ms: float, back_every: int, back_ms: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = 10_000
    t = np.arange(n) * (1e9 / rate) + rng.normal(0.0, jitter_ms * 1e6, n)
    t[::back_every] -= back_ms * 1e6  # jumps backwards
    acc = rng.normal(0.0, 3.0, (n, 3)) + np.array([0.0, 0.0, 9.8])
    gyro = rng.normal(0.0, 2.0, (n, 3))
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    config = SessionConfig(buffer_s=1.0, max_rate_hz=1000.0)
    session = Session(RecordingBackend(), config, clock="virtual")
    recv = 5_000_000_000  # the whole burst arrives at once
    for k in range(n):
        session.push("burst", int(t[k]), acc[k], gyro[k], q[k], recv_ns=recv)
    frames = session.poses(now_ns=recv + 10**9) + session.flush()
    _assert_finite(frames)
    assert len(session.devices["burst"].buffer) <= 1000
    assert session.frames_skipped + len(frames) < n


def test_a_model_that_returns_nan_never_reaches_the_caller() -> None:
    class Flaky(RecordingBackend):
        def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
            out = super()._run(feed)
            if len(self.seen) % 3 == 0:
                out[1] = out[1] * math.nan
            return out

    session = Session(Flaky(), clock="virtual")
    for k in range(300):
        session.push(
            "phone",
            k * 10_000_000,
            (0.0, 9.8, 0.0),
            (0, 0, 0),
            (1.0, 0, 0, 0),
            recv_ns=k * 10_000_000,
        )
    frames = session.poses() + session.flush()
    _assert_finite(frames)
    assert session.model_failures == len(frames) // 3 > 0


SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=20, deadline=None, suppress_health_check=SLOW_OK)
@given(st.lists(samples, min_size=20, max_size=80))
def test_a_real_student_never_gives_nan(ego_onnx: Path, batch: list) -> None:
    session = Session(ego_onnx, clock="virtual")
    frames = []
    for k, (device, t, acc, gyro, quat, _) in enumerate(batch):
        session.push(device, t, acc, gyro, quat, recv_ns=k * 5_000_000)
    frames += session.poses() + session.flush()
    _assert_finite(frames)

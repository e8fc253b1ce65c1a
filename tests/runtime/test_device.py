"""Device state: kind from the id, raw / user acceleration detection, stream restarts."""

from __future__ import annotations

import math

import numpy as np

from edgesdk.runtime.device import Device
from edgesdk.runtime.device_calibration import Calibration

UP_Y = (0.0, 9.80665, 0.0)
Q_UPRIGHT = (0.7071067811865476, 0.7071067811865476, 0.0, 0.0)  # sensor +Y points up


def test_kind_from_the_id() -> None:
    assert Device("watch_left_wrist").kind == "watch"
    assert Device("Phone-2").kind == "phone"
    assert Device("dev0").kind is None
    assert Device("watch_x", kind_from_id=False).kind is None
    assert Device("x", kind="glasses").kind == "glasses"


def test_raw_or_user_acceleration_is_detected() -> None:
    raw, user = Device("a"), Device("b")
    for k in range(40):
        wobble = 0.3 * np.sin(k)
        raw.vote_acc((wobble, 9.80665, 0.0, 0.0, 0.0, 0.0, *Q_UPRIGHT))
        user.vote_acc((wobble, 0.1 * wobble, 0.0, 0.0, 0.0, 0.0, *Q_UPRIGHT))
    assert raw.is_raw and not user.is_raw
    assert Device("c", acc="user").is_raw is False


def test_reset_keeps_the_calibration() -> None:
    dev = Device("a", max_samples=16, max_gap_ns=10**9)
    dev.calibration = Calibration(np.eye(3), 0.0, 0)
    assert dev.accept(0, 100, (*UP_Y, 0.0, 0.0, 0.0, *Q_UPRIGHT), 10**9) == "ok"
    dev.reset_stream()
    assert len(dev.buffer) == 0 and not dev.clock.ready and dev.calibration is not None


def test_newest_session_time_follows_the_clock_fit() -> None:
    """The cached session time of the newest sample is redone when the clock is refitted."""
    dev = Device("a", max_samples=64, max_gap_ns=10**9)
    row = (*UP_Y, 0.0, 0.0, 0.0, *Q_UPRIGHT)
    assert dev.newest_session_time() is None
    for k in range(4):  # 5 ms of transport delay on every sample
        assert dev.accept(k * 10**7, 10**9 + k * 10**7 + 5 * 10**6, row, 10**9) == "ok"
    first = dev.newest_session_time()
    assert first == dev.clock.to_session(3 * 10**7) == 10**9 + 3 * 10**7 + 5 * 10**6
    # A sample that arrived faster lowers the envelope: the same newest sample maps earlier
    assert dev.accept(2 * 10**7 + 1, 10**9 + 2 * 10**7 + 1, row, 10**9) == "ok"
    assert dev.newest_session_time() == dev.clock.to_session(3 * 10**7) == first - 5 * 10**6


def test_accelerometer_low_pass_keeps_gravity_and_drops_vibration() -> None:
    dev = Device("phone", max_samples=4096, max_gap_ns=10**9, acc_lowpass_hz=8.0)
    rate = 200
    out = []
    for i in range(rate * 2):
        t = i * 10**9 // rate
        vibration = 2.0 * math.sin(2 * math.pi * 40.0 * i / rate)  # 40 Hz, 2 m/s^2
        row = (vibration, 0.0, 9.81, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
        assert dev.accept(t, t, row, 10**9) == "ok"
        out.append(dev.buffer.at(t, hold_ns=10**8))
    late = np.array([r[:3] for r in out[rate:]])
    assert abs(late[:, 2].mean() - 9.81) < 1e-6  # gravity (DC) passes
    assert np.abs(late[:, 0]).max() < 0.2  # 40 Hz is cut to under a tenth

"""Device state: kind from the id, raw / user acceleration detection, stream restarts."""

from __future__ import annotations

import numpy as np

from edgesdk.runtime.calibration import Calibration
from edgesdk.runtime.device import Device

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

"""Clock offset and drift from arrival times: exact where the lower envelope is exact."""

from __future__ import annotations

import numpy as np

from edgesdk.runtime.clock import ClockSync


def _stream(offset: int, drift_ppm: float, seconds: int, rate: int, seed: int):
    """(t_dev, t_recv) with delays of 0 (every 7th sample) or 1-40 ms, shuffled by arrival."""
    rng = np.random.default_rng(seed)
    t_dev = 5_000_000_000_000 + np.arange(seconds * rate) * (1_000_000_000 // rate)
    true = t_dev - t_dev[0]
    delay = rng.integers(1_000_000, 40_000_000, len(t_dev))
    delay[::7] = 0
    t_recv = offset + t_dev + np.round(true * drift_ppm * 1e-6).astype(np.int64) + delay
    order = np.argsort(t_recv, kind="stable")
    return t_dev[order].tolist(), t_recv[order].tolist()


def test_offset_is_exact_with_undelayed_samples() -> None:
    sync = ClockSync()
    for d, r in zip(*_stream(-4_999_123_456_789, 0.0, 10, 50, 0), strict=True):
        sync.observe(d, r)
    assert sync.offset_ns() == -4_999_123_456_789
    assert sync.drift_ppm == 0.0
    assert sync.to_session(5_000_000_000_000) == 876_543_211
    assert sync.to_device(876_543_211) == 5_000_000_000_000


def test_drift_is_tracked_to_the_nanosecond() -> None:
    sync = ClockSync(buckets=30)
    t_dev, t_recv = _stream(123_000, 40.0, 20, 100, 1)
    for d, r in zip(t_dev, t_recv, strict=True):
        sync.observe(d, r)
    assert abs(sync.drift_ppm - 40.0) < 1e-3
    t0 = 5_000_000_000_000
    for k in (0, 7 * 77, 1_995):
        d = t0 + k * 10_000_000
        expected = 123_000 + d + round(k * 10_000_000 * 40e-6)
        assert abs(sync.to_session(d) - expected) <= 1


def test_window_forgets_old_buckets_and_reset() -> None:
    sync = ClockSync(buckets=3)
    for k in range(10):  # the offset changes at k = 5: only the last 3 buckets count
        offset = 0 if k < 5 else 2_000_000
        sync.observe(k * 1_000_000_000, k * 1_000_000_000 + offset)
    assert sync.offset_ns() == 2_000_000
    sync.reset()
    assert not sync.ready

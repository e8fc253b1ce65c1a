"""Clock offset and drift from arrival times: exact where the lower envelope is exact."""

from __future__ import annotations

import numpy as np

from edgesdk.runtime.clock import ClockSync


def _stream(
    offset: int, drift_ppm: float, seconds: int, rate: int, seed: int, start: int = 5 * 10**12
):
    """(t_dev, t_recv) with delays of 0 (every 7th sample) or 1-40 ms, shuffled by arrival."""
    rng = np.random.default_rng(seed)
    t_dev = start + np.arange(seconds * rate) * (1_000_000_000 // rate)
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


EPOCH_NS = 1_660_000_000_123_456_789  # UNIX-epoch nanoseconds, as imported real takes have


def test_epoch_scale_stamps_map_exactly() -> None:
    """Device stamps near 1.66e18 ns (a float64 step there is 256 ns) map onto session time
    to the nanosecond: the first sample of a replay is at session time 0, not 0 +- 128."""
    sync = ClockSync()
    t_dev = [EPOCH_NS + k * 9_999_937 for k in range(400)]
    for t in t_dev:
        sync.observe(t, t - t_dev[0])  # replay: arrival = device time since the first sample
    assert sync.drift_ppm == 0.0
    assert sync.offset_ns() == -EPOCH_NS
    assert [sync.to_session(t) for t in t_dev] == [t - EPOCH_NS for t in t_dev]
    assert [sync.to_device(t - EPOCH_NS) for t in t_dev] == t_dev
    assert all(sync.observe_if_consistent(t, t - EPOCH_NS, 1) for t in t_dev[-5:])


def test_epoch_scale_stamps_with_drift() -> None:
    sync = ClockSync(buckets=30)
    t_dev, t_recv = _stream(-EPOCH_NS + 123_000, 40.0, 20, 100, 1, start=EPOCH_NS)
    for d, r in zip(t_dev, t_recv, strict=True):
        sync.observe(d, r)
    assert abs(sync.drift_ppm - 40.0) < 1e-3
    for k in (0, 7 * 77, 1_995):
        d = EPOCH_NS + k * 10_000_000
        expected = 123_000 + k * 10_000_000 + round(k * 10_000_000 * 40e-6)
        assert abs(sync.to_session(d) - expected) <= 1
        assert abs(sync.to_device(expected) - d) <= 1

"""Sample checks, ordering, duplicates, gaps and resampling: exact numbers."""

from __future__ import annotations

import math

import numpy as np

from edgesdk.runtime.ingest import SampleBuffer, check_sample

G = (0.0, 0.0, 9.80665)


def _row(a: float, w: float = 0.0, angle: float = 0.0) -> tuple[float, ...]:
    """acc (a, 0, 9.8), gyro (0, 0, w), a rotation of ``angle`` about z."""
    return (a, 0.0, 9.8, 0.0, 0.0, w, math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2))


def test_check_sample_accepts_lists_tuples_arrays_and_normalizes() -> None:
    got = check_sample(np.int64(7), np.array(G), (0, 0, 0), [-1.004, 0.0, 0.6, 0.0])
    assert not isinstance(got, str)
    t, row = got
    norm = float(np.hypot(1.004, 0.6))
    assert t == 7 and row[:6] == (*G, 0.0, 0.0, 0.0)
    assert np.allclose(row[6:], (1.004 / norm, 0.0, -0.6 / norm, 0.0), rtol=0, atol=1e-15)
    assert check_sample(7.0, G, G, (1, 0, 0, 0)) != "bad_time"


def test_check_sample_names_every_problem() -> None:
    ok_q = (1.0, 0.0, 0.0, 0.0)
    assert check_sample("x", G, G, ok_q) == "bad_time"
    assert check_sample(1.5, G, G, ok_q) == "bad_time"
    assert check_sample(True, G, G, ok_q) == "bad_time"
    assert check_sample(10**20, G, G, ok_q) == "bad_time"
    assert check_sample(1, G[:2], G, ok_q) == "bad_length"
    assert check_sample(1, G, G, (1.0, 0.0, 0.0)) == "bad_length"
    assert check_sample(1, "abc", G, ok_q) == "bad_length"
    assert check_sample(1, None, G, ok_q) == "bad_length"
    assert check_sample(1, np.zeros((3, 1)), G, ok_q) == "bad_length"
    assert check_sample(1, (0, float("inf"), 0), G, ok_q) == "not_finite"
    assert check_sample(1, G, (float("nan"), 0, 0), ok_q) == "not_finite"
    assert check_sample(1, (1e300, -1e300, 0), G, ok_q) == "not_finite"
    assert check_sample(1, G, G, (0.0, 0.0, 0.0, 0.0)) == "bad_quat"
    assert check_sample(1, G, G, (3.0, 0.0, 0.0, 0.0)) == "bad_quat"


def test_linear_and_slerp_interpolation_are_exact() -> None:
    buf = SampleBuffer(max_samples=16, max_gap_ns=10**9)
    buf.insert(1_000, _row(0.0, 0.0, 0.0))
    buf.insert(11_000, _row(2.0, 4.0, 1.0))
    got = buf.at(3_500)
    assert got is not None
    assert got[:6] == (0.5, 0.0, 9.8, 0.0, 0.0, 1.0)  # a quarter of the way, linear
    assert np.allclose(got[6:], (math.cos(0.125), 0.0, 0.0, math.sin(0.125)), atol=1e-15)
    assert buf.at(1_000) == _row(0.0, 0.0, 0.0)
    assert buf.at(11_000) == _row(2.0, 4.0, 1.0)
    assert buf.at(999) is None  # before the data
    assert buf.at(11_500) is None and buf.at(11_500, hold_ns=500) == _row(2.0, 4.0, 1.0)


def test_out_of_order_and_duplicates() -> None:
    rng = np.random.default_rng(0)
    times = rng.permutation(np.arange(0, 50_000_000, 1_000_000)).tolist()
    buf = SampleBuffer(max_samples=100, max_gap_ns=10**9)
    for t in times:
        assert buf.insert(t, _row(t * 1e-6)) == "ok"
    for t in times[:10]:
        assert buf.insert(t, _row(-1.0)) == "duplicate"
    assert buf.times == sorted(times)
    assert [r[0] for r in buf.rows] == [t * 1e-6 for t in sorted(times)]
    assert buf.at(2_500_000) == (2.5, *_row(0.0)[1:])


def test_gap_is_not_bridged_and_memory_is_bounded() -> None:
    buf = SampleBuffer(max_samples=8, max_gap_ns=100)
    buf.insert(0, _row(0.0))
    buf.insert(1_000, _row(1.0))
    assert buf.at(500) is None  # inside a gap longer than max_gap_ns
    assert buf.at(50, hold_ns=60) == _row(0.0)  # held just after the last sample before it
    for t in range(2_000, 2_000 + 20 * 10, 10):
        buf.insert(t, _row(1.0))
    assert len(buf) == 8 and buf.overflow == 14
    assert buf.insert(0, _row(0.0)) == "too_old"
    buf.trim_before(2_150)
    assert buf.times[0] == 2_150 - 0 and len(buf) == 5


def test_check_sample_keeps_a_unit_quaternion_and_bounds_the_magnitudes() -> None:
    half = math.sqrt(0.5)
    got = check_sample(1, G, (0.1, 0.2, 0.3), [half, 0.0, half, 0.0])
    assert not isinstance(got, str) and got[1] == (*G, 0.1, 0.2, 0.3, half, 0.0, half, 0.0)
    flipped = check_sample(1, G, G, [-half, 0.0, -half, 0.0])  # same rotation, w >= 0 out
    assert not isinstance(flipped, str) and flipped[1][6:] == (half, 0.0, half, 0.0)
    # Every value plausible alone, their magnitudes summing past 1e6: garbage, not a motion
    assert check_sample(1, (4e5, 4e5, 4e5), G, (1.0, 0.0, 0.0, 0.0)) == "not_finite"
    assert not isinstance(check_sample(1, (4e5, 0.0, 0.0), G, (1.0, 0.0, 0.0, 0.0)), str)

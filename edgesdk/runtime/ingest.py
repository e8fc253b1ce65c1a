"""Per-device sample buffers: validation, ordering, duplicates, bounded memory, resampling.

A sample is ``(t_dev, acc[3], gyro[3], quat[4])`` on the device's clock (``quat`` None: a
device without a fused orientation; the session's ``ImuFilter`` adds it). ``check_sample``
turns the caller's values into plain floats or says why they are unusable (the session
drops and counts those). ``SampleBuffer`` keeps samples sorted by device time (a late,
out-of-order sample is inserted in place; one with a timestamp already held is a duplicate),
holds at most ``max_samples`` (the oldest go first) and interpolates at any time: linearly for
acceleration and angular velocity, by slerp for orientation. It never interpolates across a
gap longer than ``max_gap_ns``.

Example:
    >>> buf = SampleBuffer(max_samples=100, max_gap_ns=10**9)
    >>> buf.insert(0, (0.0, 0.0, 9.8, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0))
    'ok'
    >>> buf.insert(10**7, (1.0, 0.0, 9.8, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0))
    'ok'
    >>> buf.insert(10**7, (1.0, 0.0, 9.8, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0))
    'duplicate'
    >>> [round(v, 4) for v in buf.at(5 * 10**6)]   # half-way: acc, gyro linear; quat slerp
    [0.5, 0.0, 9.8, 0.0, 0.0, 1.0, 0.7071, 0.0, 0.0, 0.7071]
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgesdk.body.rotations_numpy import slerp_scalar

Row = tuple[float, ...]  # acc (3), gyro (3), quat w, x, y, z (4)
_MAX_ABS = 1e6  # beyond this an IMU sample is garbage (sum of |values|: m/s^2, rad/s)


def check_sample(t_ns: Any, acc: Any, gyro: Any, quat: Any = None) -> tuple[int, Row] | str:
    """``(t_ns, row)`` with a unit, ``w >= 0`` quaternion (a row of 6, acc and gyro, when
    ``quat`` is None), or the reason the sample is bad: ``bad_time``, ``bad_length``,
    ``not_finite``, ``bad_quat``.

    Example:
        >>> check_sample(5, [0, 0, 9.8], [0, 0, 0], [-1.001, 0, 0, 0])
        (5, (0.0, 0.0, 9.8, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0))
        >>> check_sample(5, [0, 0, 9.8], [0, 0, 0])
        (5, (0.0, 0.0, 9.8, 0.0, 0.0, 0.0))
        >>> check_sample(5, [0, 0], [0, 0, 0], [1, 0, 0, 0])
        'bad_length'
        >>> check_sample(5, [0, 0, float("nan")], [0, 0, 0], [1, 0, 0, 0])
        'not_finite'
    """
    if type(t_ns) is int:
        t = t_ns
    else:
        if isinstance(t_ns, bool):
            return "bad_time"
        try:
            t = int(t_ns)
            if t != t_ns:
                return "bad_time"
        except (TypeError, ValueError, OverflowError):
            return "bad_time"
    if not -(2**62) < t < 2**62:
        return "bad_time"
    if quat is None:
        try:
            values = _floats(acc, 3) + _floats(gyro, 3)
        except (TypeError, ValueError, OverflowError):
            return "bad_length"
        if len(values) != 6:
            return "bad_length"
        if not sum(map(abs, values)) <= _MAX_ABS:
            return "not_finite"
        return t, tuple(values)
    try:
        if type(acc) is list and type(gyro) is list and type(quat) is list:  # the usual case
            if len(acc) != 3 or len(gyro) != 3 or len(quat) != 4:
                return "bad_length"
            values = [*map(float, acc), *map(float, gyro), *map(float, quat)]
        else:
            values = _floats(acc, 3) + _floats(gyro, 3) + _floats(quat, 4)
    except (TypeError, ValueError, OverflowError):
        return "bad_length"
    if len(values) != 10:
        return "bad_length"
    # NaN fails the comparison, inf and garbage exceed it (the sum of magnitudes is bounded)
    if not sum(map(abs, values)) <= _MAX_ABS:
        return "not_finite"
    w, x, y, z = values[6:]
    sq = w * w + x * x + y * y + z * z
    if not 0.25 < sq < 2.25:  # a unit quaternion within rounding (docs: within 1 %)
        return "bad_quat"
    if w >= 0.0 and -1e-12 < sq - 1.0 < 1e-12:  # unit already (the usual case)
        return t, tuple(values)
    norm = math.sqrt(sq) if w >= 0 else -math.sqrt(sq)
    return t, (*values[:6], w / norm + 0.0, x / norm + 0.0, y / norm + 0.0, z / norm + 0.0)


def _floats(x: Any, n: int) -> list[float]:
    """``x`` as a list of Python floats (not ``n`` long when ``x`` is not); raises TypeError /
    ValueError for what is not a sequence of numbers."""
    kind = type(x)
    if kind is not list and kind is not tuple:
        if isinstance(x, np.ndarray):
            if x.shape != (n,) or x.dtype.kind not in "fiu":
                return []
            x = x.tolist()
        elif isinstance(x, str | bytes):
            return []
    if len(x) != n:
        return []
    return list(map(float, x))


class SampleBuffer:
    """Samples of one device, sorted by device time, bounded in count."""

    def __init__(self, max_samples: int, max_gap_ns: int) -> None:
        self.max_samples = max(4, int(max_samples))
        self.max_gap_ns = int(max_gap_ns)
        self.times: list[int] = []
        self.rows: list[Row] = []
        self.overflow = 0  # samples dropped because the buffer was full

    def __len__(self) -> int:
        return len(self.times)

    @property
    def newest(self) -> int | None:
        return self.times[-1] if self.times else None

    @property
    def oldest(self) -> int | None:
        return self.times[0] if self.times else None

    def clear(self) -> None:
        self.times.clear()
        self.rows.clear()

    def insert(self, t: int, row: Row) -> str:
        """Add a sample: ``ok``, ``duplicate`` (same time held) or ``too_old`` (older than
        everything in a full buffer)."""
        times = self.times
        if not times or t > times[-1]:
            times.append(t)
            self.rows.append(row)
        else:
            i = bisect_left(times, t)
            if i < len(times) and times[i] == t:
                return "duplicate"
            if i == 0 and len(times) >= self.max_samples:
                return "too_old"
            times.insert(i, t)
            self.rows.insert(i, row)
        if len(times) > self.max_samples:
            excess = len(times) - self.max_samples
            del times[:excess]
            del self.rows[:excess]
            self.overflow += excess
        return "ok"

    def trim_before(self, t: int) -> None:
        """Forget samples older than the last one at or before ``t`` (kept for interpolation)."""
        i = bisect_right(self.times, t) - 1
        if i > 0:
            del self.times[:i]
            del self.rows[:i]

    def at(self, t: int, hold_ns: int = 0) -> Row | None:
        """The sample interpolated at device time ``t``; past the newest sample, the newest
        one held for up to ``hold_ns``; None outside the data or inside a gap."""
        times = self.times
        if not times:
            return None
        i = bisect_right(times, t)
        if i == 0:
            return self.rows[0] if times[0] == t else None
        if i == len(times):
            t_last = times[-1]
            return self.rows[-1] if t - t_last <= hold_ns else None
        t0, t1 = times[i - 1], times[i]
        if t1 - t0 > self.max_gap_ns:  # do not bridge a gap: hold the sample before it
            return self.rows[i - 1] if t - t0 <= hold_ns else None
        a, b = self.rows[i - 1], self.rows[i]
        u = (t - t0) / (t1 - t0)
        return (
            a[0] + u * (b[0] - a[0]),
            a[1] + u * (b[1] - a[1]),
            a[2] + u * (b[2] - a[2]),
            a[3] + u * (b[3] - a[3]),
            a[4] + u * (b[4] - a[4]),
            a[5] + u * (b[5] - a[5]),
            *slerp_scalar(a[6:], b[6:], u),
        )

    def between(self, t0: int, t1: int) -> tuple[Sequence[int], Sequence[Row]]:
        """The samples with ``t0 <= t < t1``."""
        i, j = bisect_left(self.times, t0), bisect_left(self.times, t1)
        return self.times[i:j], self.rows[i:j]

"""Per-device clock alignment: a device's monotonic clock (``t_dev``) against the session's
clock (``t_recv``, when the sample reached the session).

Every sample gives ``d = t_recv - t_dev = offset + drift * t_dev + delay`` with a transport
delay ``delay >= 0``. The samples that arrived fastest lie on the lower envelope of ``d``, so
the estimator keeps the smallest ``d`` of each one-second bucket of device time (the last
``buckets`` buckets, so it follows slow drift and forgets a reset), fits the drift as the
least-squares slope through those minima and puts the line through the lowest of them. With
at least one undelayed sample per bucket the mapping is exact.

The line is kept as an integer point, the first sample's ``(t_dev, d)``, plus a small float
intercept and slope about it, and every mapping adds the large integer parts exactly: device
stamps in UNIX-epoch nanoseconds (about 1.7e18, where a float64 step is 256 ns) still map to
the nanosecond, so a replayed take's first sample is at session time 0.

Example:
    >>> sync = ClockSync()
    >>> for k in range(5):   # the device clock reads 1e12 + k * 10 ms, 2 ms of delay or none
    ...     sync.observe(10**12 + k * 10**7, 500 + k * 10**7 + (2 * 10**6 if k % 2 else 0))
    >>> sync.offset_ns(), sync.to_session(10**12 + 3 * 10**7)
    (-999999999500, 30000500)
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence

_BUCKET_NS = 1_000_000_000
# A timestamp more than the session's ``clock_jump_s`` off a device's clock is a glitch and is
# dropped (``clock_jump``), unless this many samples in a row agree on the new clock: then the
# device restarted and its stream is reset to it. The live session and replays share it.
JUMP_VOTES = 5


class ClockSync:
    """Lower-envelope offset and drift of one device's clock against the session clock."""

    def __init__(self, buckets: int = 30, bucket_ns: int = _BUCKET_NS) -> None:
        self.bucket_ns = bucket_ns
        # [bucket index, t_dev of the minimum, minimum of t_recv - t_dev]
        self._mins: deque[list[int]] = deque(maxlen=max(2, buckets))
        self._ref = 0  # t_dev origin of the fit (keeps the floats small)
        self._dref = 0  # d origin of the fit: d = _dref + _intercept + _slope (t_dev - _ref)
        self._slope = 0.0
        self._intercept = 0.0  # d - _dref at t_dev = _ref
        self._dirty = False
        self._version = 0  # changes whenever the mapping may have changed

    @property
    def ready(self) -> bool:
        return bool(self._mins)

    def reset(self) -> None:
        self._mins.clear()
        self._slope, self._intercept, self._dirty = 0.0, 0.0, False
        self._ref = self._dref = 0
        self._version += 1

    def observe_if_consistent(self, t_dev: int, t_recv: int, jump_ns: int) -> bool:
        """``observe`` the sample unless its ``t_recv - t_dev`` is more than ``jump_ns`` off
        the fitted line (a clock jump: returns False, nothing kept). One call per sample."""
        mins = self._mins
        if mins:
            if self._dirty:
                self._fit()
            d = t_recv - t_dev
            if abs(d - self._dref - self._intercept - self._slope * (t_dev - self._ref)) > jump_ns:
                return False
            newest = mins[-1]
            if t_dev // self.bucket_ns == newest[0]:  # inlined observe: the usual case
                if d < newest[2]:
                    newest[1], newest[2] = t_dev, d
                    self._dirty = True
                return True
        self.observe(t_dev, t_recv)
        return True

    def observe(self, t_dev: int, t_recv: int) -> None:
        """Take one sample's device and arrival times (integer ns)."""
        d = t_recv - t_dev
        b = t_dev // self.bucket_ns
        mins = self._mins
        if not mins:
            self._ref, self._dref = t_dev, d
        if not mins or b > mins[-1][0]:
            mins.append([b, t_dev, d])
            self._dirty = True
            return
        for entry in reversed(mins):  # a short deque: the newest buckets first
            if entry[0] == b:
                if d < entry[2]:
                    entry[1], entry[2] = t_dev, d
                    self._dirty = True
                return
            if entry[0] < b:
                break
        if b > mins[0][0] or len(mins) < (mins.maxlen or 0):
            mins.append([b, t_dev, d])
            ordered = sorted(mins)
            mins.clear()
            mins.extend(ordered)
            self._dirty = True

    def expected_delta(self, t_dev: int) -> float:
        """The fitted ``t_recv - t_dev`` at ``t_dev`` (the offset there) as a float, so only to
        about 256 ns when it is epoch-sized: ``offset_ns`` and ``to_session`` are exact."""
        if self._dirty:
            self._fit()
        return self._dref + self._intercept + self._slope * (t_dev - self._ref)

    def offset_ns(self, t_dev: int | None = None) -> int:
        """The offset (session minus device clock, ns) at ``t_dev`` (default: the latest)."""
        if t_dev is None:
            t_dev = self._mins[-1][1] if self._mins else 0
        if self._dirty:
            self._fit()
        return self._dref + round(self._intercept + self._slope * (t_dev - self._ref))

    def version(self) -> int:
        """A number that changes whenever the mapping does (for callers' caches)."""
        if self._dirty:
            self._fit()
        return self._version

    @property
    def drift_ppm(self) -> float:
        self._fit()
        return self._slope * 1e6

    def to_session(self, t_dev: int) -> int:
        """A device time in session time (ns)."""
        if self._dirty:
            self._fit()
        return t_dev + self._dref + round(self._intercept + self._slope * (t_dev - self._ref))

    def to_device(self, t_session: int) -> int:
        """A session time in device time (ns), inverting ``to_session``."""
        if self._dirty:
            self._fit()
        # t_s = t_d + dref + i + s (t_d - ref)  =>  t_d - ref = (t_s - ref - dref - i) / (1 + s)
        x = (t_session - self._ref - self._dref - self._intercept) / (1.0 + self._slope)
        return self._ref + round(x)

    def _fit(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._version += 1
        pts = list(self._mins)
        ref, dref = self._ref, self._dref
        if len(pts) >= 3:
            xs = [float(p[1] - ref) for p in pts]
            ys = [float(p[2] - dref) for p in pts]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
            self._slope = slope if abs(slope) < 1e-3 else 0.0  # > 1000 ppm: not a clock
        else:
            self._slope = 0.0
        self._intercept = min(float(p[2] - dref) - self._slope * (p[1] - ref) for p in pts)


def replay_arrivals(t_ns: Sequence[int], jump_ns: int) -> list[int]:
    """When each sample of one recorded device (in file order) would have reached a live
    session, in ns after the device's first sample, by the session's clock-jump rule.

    A sample more than ``jump_ns`` off the median of its ``2 * JUMP_VOTES - 1`` neighbours is
    a glitch: it arrives with the sample before it (the session then drops it as a
    ``clock_jump``), and it never sets the device's start, so one sample stamped an hour early
    cannot shift the others by an hour. A backward jump kept by ``JUMP_VOTES`` or more samples
    (a restarted clock) continues from the arrival before it.

    Example:
        >>> t = [0, 10**7, 2 * 10**7, 3 * 10**7 - 3600 * 10**9, 4 * 10**7, 5 * 10**7]
        >>> replay_arrivals(t, 2 * 10**9)
        [0, 10000000, 20000000, 20000000, 40000000, 50000000]
    """
    n = len(t_ns)
    if n == 0:
        return []
    half = JUMP_VOTES - 1
    glitch = []
    for i in range(n):
        near = sorted(t_ns[max(0, i - half) : i + half + 1])
        glitch.append(abs(t_ns[i] - near[len(near) // 2]) > jump_ns)
    good = [t for t, g in zip(t_ns, glitch, strict=True) if not g]
    if not good:  # nothing consistent: keep the file's own order and spacing
        glitch = [False] * n
        good = list(t_ns)
    start = good[0]  # the earliest timestamp before any restart (jitter may reorder)
    for prev, t in itertools.pairwise(good):
        if t < prev - jump_ns:
            break
        start = min(start, t)
    arrivals: list[int] = []
    base, last_t, last = start, None, 0
    for t, g in zip(t_ns, glitch, strict=True):
        if g:
            arrivals.append(last)
            continue
        if last_t is not None and t < last_t - jump_ns:  # a restarted clock: carry on
            base = t - last
        last_t, last = t, max(0, t - base)
        arrivals.append(last)
    return arrivals

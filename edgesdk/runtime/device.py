"""One device's state in a session: its samples, clock, per-frame history, calibration and
placement, and what the session dropped from it.

Example:
    >>> dev = Device("watch_left_wrist", kind="watch", max_samples=64, max_gap_ns=10**9)
    >>> dev.accept(0, 1_000, (0.0, 0.0, 9.8, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0), 5 * 10**8)
    'ok'
    >>> dev.session_time(0), dev.kind, dev.slot
    (1000, 'watch', None)
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from edgesdk.data.mounts import GRAVITY_MPS2, KINDS
from edgesdk.data.orientation import ImuFilter
from edgesdk.runtime.autocal import ActivityCalibration
from edgesdk.runtime.clock import JUMP_VOTES as _JUMP_VOTES
from edgesdk.runtime.clock import ClockSync
from edgesdk.runtime.device_calibration import Calibration
from edgesdk.runtime.ingest import Row, SampleBuffer

ACC_MODES = ("raw", "user", "auto")


class History:
    """The device's resampled values at the last ``size`` output frames: ``[size, 10]``
    (acc, gyro, quat) and a flag per frame (False: no data at that frame)."""

    def __init__(self, size: int) -> None:
        self.values = np.zeros((size, 10))
        self.valid = np.zeros(size, dtype=bool)
        self.count = 0  # frames appended in all

    def append(self, row: Row | None) -> None:
        i = self.count % len(self.valid)
        if row is None:
            self.valid[i] = False
        else:
            self.values[i] = row
            self.valid[i] = True
        self.count += 1

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The last ``n`` frames, oldest first: ``(values [m, 10], valid [m])``, m <= n."""
        size = len(self.valid)
        n = min(n, size, self.count)
        idx = (np.arange(self.count - n, self.count)) % size
        return self.values[idx], self.valid[idx]


class Device:
    """Everything the session knows about one device."""

    def __init__(
        self,
        device_id: str,
        *,
        kind: str | None = None,
        slot: str | None = None,
        acc: str = "auto",
        max_samples: int = 2048,
        max_gap_ns: int = 300_000_000,
        history: int = 300,
        kind_from_id: bool = True,
        acc_lowpass_hz: float = 0.0,
    ) -> None:
        self.id = device_id
        if kind not in KINDS:
            kind = _kind_from_id(device_id) if kind_from_id else None
        self.kind = kind
        self.acc_mode = acc
        self.buffer = SampleBuffer(max_samples, max_gap_ns)
        self.clock = ClockSync()
        self.poses: SampleBuffer | None = None  # 6DoF head pose (glasses SLAM), if sent
        self.history = History(history)
        self.calibration: Calibration | ActivityCalibration | None = None
        self.autocal: ActivityCalibration | None = None  # mount and heading from activity
        self.filter: ImuFilter | None = None  # orientation of a device that sends none
        self.acc_lowpass_hz = acc_lowpass_hz
        self._lp_tau = 1.0 / (2.0 * math.pi * acc_lowpass_hz) if acc_lowpass_hz > 0 else 0.0
        self._lp: list[float] | None = None
        self.slot_override = slot
        self.slot: str | None = slot
        self.slot_confidence = 1.0 if slot else 0.0
        self.last_recv: int | None = None
        self.added_ns: int | None = None  # session time when registered (for expiry)
        self.dropped: Counter[str] = Counter()
        self.accepted = 0
        self.resets = 0
        self._pending: list[tuple[int, int, Row]] = []  # samples on a new clock
        self._acc_votes = [0.0, 0]  # sum of the vertical specific force, frames
        self._newest_key: tuple[int, int] = (0, -1)
        self._newest_session = 0

    @property
    def calibration_state(self) -> tuple[str, float]:
        """``(state, confidence)``: ``uncalibrated``, ``provisional`` (mount and heading from
        the first seconds of activity) or ``calibrated`` (settled, or an N-pose)."""
        cal = self.calibration
        if cal is None:
            return "uncalibrated", 0.0
        if isinstance(cal, ActivityCalibration):
            return cal.state, round(cal.confidence, 3)
        return "calibrated", 1.0

    @property
    def is_raw(self) -> bool:
        """True when ``acc`` includes gravity (given, or detected: the mean vertical specific
        force over the first frames is about +g for a raw accelerometer and 0 for user
        acceleration)."""
        if self.acc_mode != "auto":
            return self.acc_mode == "raw"
        total, n = self._acc_votes
        return n == 0 or total / n > 0.5 * GRAVITY_MPS2

    def vote_acc(self, row: Row) -> None:
        """Feed one frame to the raw / user acceleration detector (first 3 s of frames)."""
        if self.acc_mode != "auto" or self._acc_votes[1] >= 90:
            return
        w, x, y, z = row[6:10]
        vertical = (
            2 * (x * z - w * y) * row[0]
            + 2 * (y * z + w * x) * row[1]
            + (1 - 2 * (x * x + y * y)) * row[2]
        )
        self._acc_votes[0] += vertical
        self._acc_votes[1] += 1

    def orient(self, t_dev: int, row: Row) -> Row:
        """``row`` (acc, gyro) with the orientation filter's ``q_world_sensor`` appended (the
        filter is created on the first sample without a quaternion)."""
        f = self.filter
        if f is None:
            f = self.filter = ImuFilter()
        return (*row, *f.update(t_dev, row[0:3], row[3:6]))

    def accept(self, t_dev: int, t_recv: int, row: Row, jump_ns: int) -> str:
        """Take one checked sample: ``ok`` or why it was not kept."""
        if not self.clock.observe_if_consistent(t_dev, t_recv, jump_ns):
            return self._on_clock_jump(t_dev, t_recv, row, jump_ns)
        if self._pending:
            self._pending.clear()
        if self.acc_lowpass_hz > 0:
            row = self._lowpass(t_dev, row)
        result = self.buffer.insert(t_dev, row)
        if result == "ok":
            self.accepted += 1
            if self.last_recv is None or t_recv > self.last_recv:
                self.last_recv = t_recv
        return result

    def _lowpass(self, t_dev: int, row: Row) -> Row:
        """The acceleration through a critically damped 2nd-order low-pass (two one-pole
        stages at ``acc_lowpass_hz``): a phone's accelerometer carries heel strikes and
        vibration far above what 30 frames a second can hold (1-2 m/s^2 above 8 Hz in a
        walking pocket), which sampling would fold into the band the models read; the models
        learn from motion capture low-passed at 8 Hz. Samples in arrival order."""
        state = self._lp
        if state is None:
            self._lp = [t_dev, row[0], row[1], row[2], row[0], row[1], row[2]]
            return row
        dt = (t_dev - state[0]) * 1e-9
        if dt <= 0:  # late or repeated: take the current filter output
            return (state[4], state[5], state[6], *row[3:])
        a = dt / (self._lp_tau + dt) if dt < 1.0 else 1.0
        state[0] = t_dev
        for i in range(3):
            state[1 + i] += a * (row[i] - state[1 + i])
            state[4 + i] += a * (state[1 + i] - state[4 + i])
        return (state[4], state[5], state[6], *row[3:])

    def _on_clock_jump(self, t_dev: int, t_recv: int, row: Row, jump_ns: int) -> str:
        """A timestamp far off the clock: a glitch (dropped) or, when ``_JUMP_VOTES``
        samples in a row agree on a new clock, a restarted device (reset to it)."""
        pending = self._pending
        if pending and abs((t_recv - t_dev) - (pending[-1][1] - pending[-1][0])) > jump_ns:
            pending.clear()
        pending.append((t_dev, t_recv, row))
        if len(pending) < _JUMP_VOTES:
            return "clock_jump"
        samples = list(pending)
        self.reset_stream()
        for t, r, values in samples:
            self.clock.observe(t, r)
            self.buffer.insert(t, values)
            self.last_recv = r if self.last_recv is None else max(self.last_recv, r)
        self.accepted += len(samples)
        return "ok"

    def reset_stream(self) -> None:
        """Forget the samples and the clock (the calibration stays: same device, same mount)."""
        self.buffer.clear()
        self.clock.reset()
        self._pending.clear()
        self.resets += 1

    def session_time(self, t_dev: int) -> int:
        return self.clock.to_session(t_dev)

    def newest_session_time(self) -> int | None:
        """The newest sample's session time (cached: called for every device on most pushes)."""
        times = self.buffer.times
        if not times:
            return None
        key = (times[-1], self.clock.version())
        if key != self._newest_key:
            self._newest_key = key
            self._newest_session = self.clock.to_session(times[-1])
        return self._newest_session


def _kind_from_id(device_id: str) -> str | None:
    """``watch`` for ``watch_left_wrist``, ``phone-2``, ...; None when the id names no kind."""
    head = device_id.replace("-", "_").split("_", 1)[0].lower()
    return head if head in KINDS else None

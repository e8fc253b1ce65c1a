"""A live pose session: push IMU samples from any number of devices, get poses at the model's
rate.

    session = Session("exports/ego4o-student-int8.onnx")
    session.push("watch", t_ns, acc, gyro, quat)      # any device, any rate, its own clock
    session.push("phone", t_ns, acc, gyro)            # no quat: the session's filter adds it
    for frame in session.poses():                      # frames made since the last call
        frame.pos_rel_m, frame.devices, frame.latency_ns

**Clock.** The session clock is the host's monotonic clock in nanoseconds (``recv_ns`` is
then ignored), or, with ``clock="virtual"`` (replays, tests), the ``recv_ns`` passed with each
sample. Each device's
clock is mapped onto it by ``ClockSync``. Output frame ``k`` is at session time
``round(k * 1e9 / fps)``; it is made once every device heard from in the last
``dropout_timeout_s`` has a sample at or after it, or at the latest ``max_latency_s`` after it
(the bound on buffering). A device with no data for ``dropout_timeout_s`` before a frame is
masked there, and is used again from its first new sample. Frames more than
``max_backlog_s`` behind the clock are skipped, not computed, and at most
``max_unread_frames`` wait for ``poses()``: memory stays bounded however long it runs.

**Raw sensors.** A device that sends no quaternion (``quat=None``: raw accelerometer and
gyroscope only) gets one from its own ``edgesdk.data.orientation.ImuFilter``, updated with
each sample in arrival order (a late, out-of-order sample gets the filter's current
orientation); its ``acc`` must then include gravity (``acc="user"`` devices are dropped as
``needs_raw_acc``).

**Activity and text.** A model with an activity head (``edgesdk.models.activity_head``) gives
each frame an ``activity``: label, confidence, top 3 and the nearest training description,
smoothed over ``activity_smoothing_s`` (``edgesdk.runtime.activity``). A model that reads text
(ego4o-student) gets none, the app's (``set_context``), or with ``text_feedback`` its own
description fed back.

**Bad input never raises**: a sample with a non-numeric, NaN or infinite value, a wrong
length, a non-unit quaternion, an unusable time, a duplicate time, or from a device the
session does not take is dropped and counted (``stats()``); a clock jump is dropped unless
the device keeps to the new clock (then its stream restarts). A device is registered on its
first usable sample only; when ``max_devices`` are registered, a new device takes the place
of one silent for ``device_expiry_s`` (a real device always gets in). A frame whose model output is
not finite repeats the last good pose and restarts the model's state.

Example:
    >>> cfg = SessionConfig(max_latency_s=0.05)
    >>> cfg.max_latency_s, cfg.dropout_timeout_s
    (0.05, 0.3)
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.mounts import KINDS
from edgesdk.data.slots import check_slot
from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.activity import ActivityTracker, TextContext
from edgesdk.runtime.config import Frame, SessionConfig
from edgesdk.runtime.device import ACC_MODES, Device
from edgesdk.runtime.fusion import Fusion
from edgesdk.runtime.ingest import SampleBuffer, check_sample
from edgesdk.runtime.model_backend import ModelBackend, open_backend

_NO_CONTACT = np.zeros(2)
_NO_CONTACT.flags.writeable = False


class Session:
    """Fuses device streams into poses with one streaming model (see the module docstring)."""

    def __init__(
        self,
        model: str | Path | ModelBackend,
        config: SessionConfig | None = None,
        *,
        clock: str = "wall",
        threads: int = 1,
    ) -> None:
        if clock not in ("wall", "virtual"):
            raise EdgeSDKError(f"clock={clock!r}: must be 'wall' or 'virtual'")
        self.backend = model if isinstance(model, ModelBackend) else open_backend(model, threads)
        self.config = config or SessionConfig()
        self.virtual = clock == "virtual"
        self.fusion = Fusion(self.config, self.backend.fps, self.backend.hr_factor)
        c = self.config
        table = self.backend.activity
        self.activity = (
            ActivityTracker(table, self.backend.fps, c.activity_smoothing_s) if table else None
        )
        shapes = dict(self.backend.inputs)
        self.context: TextContext | None = None
        if "text_emb" in shapes and "text_mask" in shapes:
            self.context = TextContext(
                table, shapes["text_emb"][-1], c.text_feedback, c.text_feedback_confidence
            )
        elif c.text_feedback:
            raise EdgeSDKError(f"{self.backend.model} reads no text: text_feedback needs one")
        self.devices: dict[str, Device] = {}
        self.dropped: Counter[str] = Counter()
        self._need = self.backend.input_names
        self._checked = [
            n
            for n in ("R_world_joint_6d", "pos_rel_m", "activity_prob", "activity_emb")
            if n in self.backend.outputs
        ]
        self._now: int | None = None
        self._next_k: int | None = None
        # (device, deadline, need): the next frame awaits data from ``device`` at or after
        # session time ``need``, or the clock reaching ``deadline``
        self._waiting: tuple[str, int, int] | None = None
        self._out: list[Frame] = []
        self._last_good: dict[str, np.ndarray] | None = None
        self._root = np.zeros(3)
        self._report_key: tuple[Any, ...] = ()
        self._report: dict[str, dict[str, Any]] = {}
        self.frames_made = 0
        self.devices_expired = 0  # silent devices whose place a new device took
        self.frames_skipped = 0
        self.frames_unread = 0  # made but dropped before anyone called poses()
        self.model_failures = 0
        self.model_s = 0.0  # wall time spent in the model (for the overhead benchmark)
        self._jump_ns = round(c.clock_jump_s * 1e9)
        self._latency_ns = round(c.max_latency_s * 1e9)
        self._timeout_ns = round(c.dropout_timeout_s * 1e9)
        self._backlog_ns = round(c.max_backlog_s * 1e9)
        hr = self.backend.hr_factor
        self._hr_ns = round(1e9 / self.backend.fps * (1 - 1 / hr)) if hr else 0

    # -- devices

    def add_device(
        self,
        device_id: str,
        *,
        kind: str | None = None,
        slot: str | None = None,
        acc: str = "auto",
    ) -> Device:
        """Register a device (``push`` does it on first sight when new devices are allowed).
        ``kind``: phone / watch / glasses / earbuds (default: from the id, else unknown);
        ``slot``: fix its placement; ``acc``: ``raw`` (gravity included), ``user`` or ``auto``.
        """
        if not isinstance(device_id, str) or not 0 < len(device_id) <= 64:
            raise EdgeSDKError(f"device id {device_id!r}: must be a string of 1 to 64 characters")
        if kind is not None and kind not in KINDS:
            raise EdgeSDKError(f"kind={kind!r} for {device_id}: must be one of {KINDS}")
        if acc not in ACC_MODES:
            raise EdgeSDKError(f"acc={acc!r} for {device_id}: must be one of {ACC_MODES}")
        if slot is not None:
            self._check_slot(slot)
        if device_id in self.devices:
            raise EdgeSDKError(f"device {device_id!r}: already added")
        if len(self.devices) >= self.config.max_devices and not self._expire_one():
            raise EdgeSDKError(
                f"device {device_id!r}: the session takes at most {self.config.max_devices} devices"
                f" (none silent for {self.config.device_expiry_s:g} s)"
            )
        c = self.config
        dev = Device(
            device_id,
            kind=kind if c.use_kind_hints else None,
            kind_from_id=c.use_kind_hints,
            slot=slot,
            acc=acc,
            max_samples=round(c.buffer_s * c.max_rate_hz),
            max_gap_ns=round(c.dropout_timeout_s * 1e9),
            history=max(round(c.placement_window_s * self.backend.fps), 60),
            acc_lowpass_hz=c.acc_lowpass_hz,
        )
        dev.added_ns = self._clock_now()
        self.devices[device_id] = dev
        return dev

    def _clock_now(self) -> int | None:
        return self._now if self.virtual else time.monotonic_ns()

    def _expire_one(self) -> bool:
        """Free the place of the device silent longest, if silent for ``device_expiry_s``
        (counted in ``stats()["devices_expired"]``); False when every device is live."""
        now = self._clock_now()
        if now is None:
            return False
        oldest: Device | None = None
        oldest_at = 0
        for dev in self.devices.values():
            if dev.added_ns is None:  # added before the session had a clock: from now on
                dev.added_ns = now
            seen = dev.last_recv if dev.last_recv is not None else dev.added_ns
            if oldest is None or seen < oldest_at:
                oldest, oldest_at = dev, seen
        if oldest is None or now - oldest_at < round(self.config.device_expiry_s * 1e9):
            return False
        del self.devices[oldest.id]
        self.fusion.forget(oldest.id)
        if self._waiting is not None and self._waiting[0] == oldest.id:
            self._waiting = None
        self.devices_expired += 1
        return True

    def set_slot(self, device_id: str, slot: str | None) -> None:
        """Fix a device's slot (``None``: infer it again)."""
        if device_id not in self.devices:
            raise EdgeSDKError(f"device {device_id!r}: unknown (known: {sorted(self.devices)})")
        if slot is not None:
            self._check_slot(slot)
        dev = self.devices[device_id]
        dev.slot_override = slot
        if slot is not None:
            dev.slot, dev.slot_confidence = slot, 1.0

    @staticmethod
    def _check_slot(slot: str) -> None:
        try:
            check_slot(slot)
        except ValueError as exc:
            raise EdgeSDKError(str(exc)) from None

    def _device(self, device_id: Any) -> Device | None:
        """A known device, or a new one registered; None (counted) when it is not taken."""
        dev = self.devices.get(device_id) if isinstance(device_id, str) else None
        if dev is None:
            if not self.config.allow_new_devices or not isinstance(device_id, str):
                self.dropped["unknown_device"] += 1
                return None
            try:
                dev = self.add_device(device_id)
            except EdgeSDKError:
                full = len(self.devices) >= self.config.max_devices
                self.dropped["device_limit" if full else "unknown_device"] += 1
                return None
        return dev

    # -- input

    def push(
        self,
        device_id: Any,
        t_ns: Any,
        acc: Any,
        gyro: Any,
        quat: Any = None,
        *,
        recv_ns: Any = None,
    ) -> bool:
        """One sample of ``device_id`` (see docs/sensors.md): ``t_ns`` on the device's clock,
        ``acc`` (m/s², sensor frame, with gravity or user acceleration), ``gyro`` (rad/s),
        ``quat`` (w, x, y, z, ``q_world_sensor``; None: the device's orientation filter
        estimates it from ``acc``, with gravity, and ``gyro``). True when kept; never raises."""
        dev = self.devices.get(device_id) if type(device_id) is str else None
        checked = check_sample(t_ns, acc, gyro, quat)
        if dev is None:
            if isinstance(checked, str):  # a device is registered on a usable sample only
                self.dropped["new_device_bad_sample"] += 1
                return False
            dev = self._device(device_id)
            if dev is None:
                return False
        last = self._now
        recv: int | None
        if self.virtual and type(recv_ns) is int and last is not None and last < recv_ns < 2**62:
            recv = self._now = recv_ns  # inlined _recv: the usual case of a replay
        else:
            recv = self._recv(recv_ns)
        if isinstance(checked, str) or recv is None:
            dev.dropped[checked if isinstance(checked, str) else "bad_recv_time"] += 1
            return False
        t, row = checked
        if len(row) == 6:
            if dev.acc_mode == "user":
                dev.dropped["needs_raw_acc"] += 1
                return False
            row = dev.orient(t, row)
        result = dev.accept(t, recv, row, self._jump_ns)
        if result != "ok":
            dev.dropped[result] += 1
            return False
        if self._next_k is None:
            self._next_k = math.ceil(dev.session_time(t) * self.backend.fps / 1e9)
        now = self._now if self._now is not None else recv
        # Only the device the next frame waits for, or a clock past the frame's deadline, can
        # make it: the common case returns here
        waiting = self._waiting
        if waiting is None or now >= waiting[1] or waiting[0] == "":
            self._advance(now)
        elif waiting[0] == dev.id:  # the awaited device: has it reached the frame yet?
            newest = dev.newest_session_time()
            if newest is not None and newest >= waiting[2]:
                self._advance(now)
        return True

    def push_head_pose(
        self, device_id: Any, t_ns: Any, pos_m: Any, quat: Any, *, recv_ns: Any = None
    ) -> bool:
        """The glasses' 6DoF SLAM pose (docs/sensors.md, ``head_pose.csv``), for models with a
        ``head`` input. Same clock as the device's IMU samples."""
        checked = check_sample(t_ns, pos_m, (0.0, 0.0, 0.0), quat)
        if quat is None or isinstance(checked, str) or self._recv(recv_ns) is None:
            self.dropped["bad_head_pose"] += 1
            return False
        dev = self._device(device_id)
        if dev is None:
            return False
        if dev.poses is None:
            dev.poses = SampleBuffer(dev.buffer.max_samples, dev.buffer.max_gap_ns)
        return dev.poses.insert(*checked) == "ok"

    def _recv(self, recv_ns: Any) -> int | None:
        if self.virtual:
            if type(recv_ns) is int and -(2**62) < recv_ns < 2**62:  # the usual case
                if self._now is None or recv_ns > self._now:
                    self._now = recv_ns
                return recv_ns
            if recv_ns is None or isinstance(recv_ns, bool):
                return None
            try:
                recv = int(recv_ns)
            except (TypeError, ValueError, OverflowError):
                return None
            if not -(2**62) < recv < 2**62:
                return None
        else:
            recv = time.monotonic_ns()
        self._now = recv if self._now is None else max(self._now, recv)
        return recv

    # -- output

    def poses(self, now_ns: int | None = None) -> list[Frame]:
        """The frames made since the last call (making those that are due now)."""
        if now_ns is not None:
            self._now = max(self._now or now_ns, now_ns)
        elif not self.virtual:
            self._now = time.monotonic_ns()
        now, waiting = self._now, self._waiting
        if now is not None and (waiting is None or now >= waiting[1] or waiting[0] == ""):
            self._advance(now)
        if not self._out:
            return []
        out, self._out = self._out, []
        return out

    def flush(self) -> list[Frame]:
        """Make every frame the received data covers (the end of a replay) and return the
        frames not yet returned."""
        newest = [t for d in self.devices.values() if (t := d.newest_session_time()) is not None]
        if newest:
            self._advance(max(newest) + round(self.config.max_latency_s * 1e9), final=max(newest))
        out, self._out = self._out, []
        return out

    def _frame_t(self, k: int) -> int:
        return round(k * 1e9 / self.backend.fps)

    def _advance(self, now: int, final: int | None = None) -> None:
        if self._next_k is None:
            return
        backlog = now - self._backlog_ns
        if self._frame_t(self._next_k) < backlog:
            k_new = math.ceil(backlog * self.backend.fps / 1e9)
            self.frames_skipped += k_new - self._next_k
            self._next_k = k_new
        while True:
            t = self._frame_t(self._next_k)
            if final is not None and t > final:
                return
            if now < t + self._latency_ns:
                active = False
                lagging: Device | None = None  # the device furthest behind the frame
                lag, lag_need = 0, 0
                for dev in self.devices.values():
                    if dev.last_recv is None or dev.last_recv < now - self._timeout_ns:
                        continue  # silent: not waited for
                    active = True
                    newest = dev.newest_session_time()
                    need = t + (self._hr_ns if dev.slot == "head" else 0)
                    if newest is None or newest < need:
                        behind = need - newest if newest is not None else 2**62
                        if behind > lag:
                            lagging, lag, lag_need = dev, behind, need
                if lagging is not None and lagging.last_recv is not None:
                    # Wait for it until the deadline or until it goes silent.
                    silent_at = lagging.last_recv + self._timeout_ns + 1
                    deadline = min(t + self._latency_ns, silent_at)
                    self._waiting = (lagging.id, deadline, lag_need)
                    return
                if not active:  # nobody to wait for: the frame is due at its deadline
                    self._waiting = ("", t + self._latency_ns, t)
                    return
            self._waiting = None
            self._make(t, now)
            self._next_k += 1

    def _make(self, t: int, now: int) -> None:
        rows = self.fusion.sample_devices(self.devices, t)
        inputs, used = self.fusion.inputs(self.devices, rows, t, self._need)
        if self.context is not None:
            inputs["text_emb"], inputs["text_mask"] = self.context.inputs(1, self.activity)
        started = time.perf_counter()
        try:
            out = self.backend.step(inputs)
            # one float64 sum per output: NaN or inf anywhere makes it non-finite
            ok = all(math.isfinite(out[n].sum(dtype=np.float64)) for n in self._checked)
        except Exception:  # a runtime failing on one frame must not end the session
            out, ok = {}, False
        self.model_s += time.perf_counter() - started
        activity = None
        if ok:
            self._last_good = out
            if self.activity is not None:
                activity = self.activity.update(out["activity_prob"], out["activity_emb"])[0]
        else:
            self.model_failures += 1
            self.backend.reset()
            if self.activity is not None:
                self.activity.reset()
            if self._last_good is None:
                return
            out = self._last_good
        vel = out.get("root_vel_mps")
        if vel is not None and vel.size == 3:
            vx, vy, vz = vel.reshape(3).tolist()
            if math.isfinite(vx + vy + vz):
                self._root = self._root + np.array((vx, vy, vz)) / self.backend.fps
        self._out.append(
            Frame(
                t_ns=t,
                R_world_joint_6d=np.asarray(out["R_world_joint_6d"]).reshape(22, 6),
                pos_rel_m=np.asarray(out["pos_rel_m"]).reshape(22, 3),
                root_m=self._root.copy(),
                contact=np.asarray(out["contact"]).reshape(-1)[:2]
                if "contact" in out
                else _NO_CONTACT,
                mask=inputs["mask"][0].copy(),
                devices=self._device_report(used),
                latency_ns=max(0, now - t),
                activity=activity,
            )
        )
        self.frames_made += 1
        excess = len(self._out) - self.config.max_unread_frames
        if excess > 0:  # nobody reads: stay bounded
            del self._out[:excess]
            self.frames_unread += excess
        if self.frames_made % 8 == 0:  # forget samples the next frames cannot need
            keep = t - round(1e9 / self.backend.fps)
            for dev in self.devices.values():
                if dev.clock.ready:
                    dev.buffer.trim_before(dev.clock.to_device(keep))
                    if dev.poses is not None:
                        dev.poses.trim_before(dev.clock.to_device(keep))

    def _device_report(self, used: list[str]) -> dict[str, dict[str, Any]]:
        """Each device's slot, confidence, use and calibration in this frame; frames share
        the dict while nothing changes (treat it as read-only)."""
        key = (
            *(
                (d.id, d.slot, d.slot_confidence, d.calibration_state)
                for d in self.devices.values()
            ),
            tuple(used),
        )
        if key != self._report_key:
            self._report_key = key
            self._report = {
                d.id: {
                    "slot": d.slot,
                    "confidence": round(float(d.slot_confidence), 3),
                    "used": d.id in used,
                    "calibrated": d.calibration_state[0] == "calibrated",
                    "calibration": d.calibration_state[0],
                    "calibration_confidence": d.calibration_state[1],
                }
                for d in self.devices.values()
            }
        return self._report

    # -- text

    def set_context(self, text: str | np.ndarray | None) -> None:
        """What the wearer is doing, in words, for a model that reads text (ego4o-student):
        one of its training descriptions (no torch needed: the manifest has them), free text
        (embedded with the bundled all-MiniLM-L6-v2 of the full install), an embedding, or
        None to stop. It is the model's text input from the next frame on, and replaces the
        closed loop while set.

        Raises:
            EdgeSDKError: the model reads no text, or free text without the text encoder.
        """
        if self.context is None:
            raise EdgeSDKError(f"{self.backend.model} reads no text (no text_emb input)")
        self.context.set(text)

    # -- reporting

    def placements(self) -> dict[str, dict[str, Any]]:
        """Per device: slot, confidence, whether the caller set it, calibration state."""
        return {
            d.id: {
                "slot": d.slot,
                "confidence": round(float(d.slot_confidence), 3),
                "override": d.slot_override is not None,
                "calibrated": d.calibration_state[0] == "calibrated",
                "calibration": d.calibration_state[0],
                "calibration_confidence": d.calibration_state[1],
            }
            for d in self.devices.values()
        }

    def stats(self) -> dict[str, Any]:
        """Counters: frames made and skipped, samples kept and dropped (by reason)."""
        per_device = {
            d.id: {
                "accepted": d.accepted,
                "dropped": dict(d.dropped),
                "overflow": d.buffer.overflow,
                "stream_resets": d.resets,
                "clock_offset_ns": d.clock.offset_ns() if d.clock.ready else None,
                "clock_drift_ppm": round(d.clock.drift_ppm, 3) if d.clock.ready else None,
                "acc": "raw" if d.is_raw else "user",
                "orientation": "device" if d.filter is None else "filter",
            }
            for d in self.devices.values()
        }
        return {
            "frames": self.frames_made,
            "frames_skipped": self.frames_skipped,
            "frames_unread": self.frames_unread,
            "model_failures": self.model_failures,
            "devices_expired": self.devices_expired,
            "calibrations": self.fusion.calibrations,
            "recalibrations": self.fusion.recalibrations,
            "dropped": dict(self.dropped),
            "devices": per_device,
        }

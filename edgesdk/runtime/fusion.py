"""From device samples to one frame of model inputs: resampling at the frame time, automatic
calibration at stand-stills, placement, and the tensors a student reads.

Per output frame at session time ``t``: each device's samples are interpolated at its own
clock's ``t`` (``SampleBuffer.at``), appended to its history, and, for a calibrated device in
a slot, turned into the model's Y-up world: ``imu[slot] = (A acc_devworld, 6D(A Q C))``
(``edgesdk.runtime.device_calibration``), ``mask[slot] = 1``. Stand-still checks run every
``CHECK_EVERY`` frames, placement every second.

Example (the pieces; ``Session`` drives them)::

    fusion = Fusion(config, fps=30.0, hr_factor=0)
    rows = fusion.sample_devices(devices, t_ns)
    inputs, used = fusion.inputs(devices, rows, t_ns, need={"imu", "mask"})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from edgesdk.body.rotations_numpy import mean_quat, qmul, qrotate, quat_6d, quat_to_matrix
from edgesdk.data.mounts import GRAVITY_MPS2, HEAD_LEVER_M, WORN_TURNS, nominal_mount, slot_kind
from edgesdk.data.slots import SLOT_INDEX
from edgesdk.input_kinds import INPUT_KINDS
from edgesdk.runtime.autocal import ActivityCalibration, align_headings, up_in_sensor
from edgesdk.runtime.config import SessionConfig
from edgesdk.runtime.device import Device
from edgesdk.runtime.device_calibration import (
    Calibration,
    calibrated_tilt_error,
    circular_median,
    implied_body_yaw,
    is_still,
    npose_tilt_error,
    yaw_spread,
)
from edgesdk.runtime.ingest import Row
from edgesdk.runtime.placement import (
    MIN_MOVING_FRAMES,
    Features,
    assign,
    family_of,
    features,
    slot_probabilities,
)

CHECK_EVERY = 6  # frames between stand-still checks (0.2 s at 30 Hz)
ACTIVITY_EVERY_S = 1.0  # seconds between updates of the calibration from activity
_HEADING_WINDOW_S = 2.0
_FAMILY_SLOT = {
    "wrist": "left_wrist",
    "upright": "right_pocket",
    "head": "head",
    "pocket": "right_pocket",
}
_FLIP_LEAN = 0.05  # mean forward lean of a thigh's up axis that settles screen in / out
_HYSTERESIS = 1.0  # nats a new placement must gain over the current one


class Fusion:
    """Calibration, placement and input assembly over a session's devices."""

    def __init__(self, config: SessionConfig, fps: float, hr_factor: int) -> None:
        self.config = config
        self.fps = fps
        self.period_ns = 1e9 / fps
        self.hr_factor = hr_factor
        self.hold_ns = round(config.dropout_timeout_s * 1e9)
        self.frames = 0
        self.calibrations = 0
        self.recalibrations = 0
        self._handled: set[str] = set()  # devices calibrated in the current stand-still
        self._activity_every = max(1, round(ACTIVITY_EVERY_S * fps))
        self._contradicted: dict[str, int] = {}  # seconds in a row an N-pose was contradicted
        # the per-frame builders of the input kinds' ``runtime`` sources besides "slots"
        self._fusers: dict[str, Callable[[Device | None, int], np.ndarray]] = {
            "head_pose": self._head_pose
        }
        if hr_factor:
            self._fusers["head_imu"] = self._head_hr

    # -- per frame

    def sample_devices(self, devices: Mapping[str, Device], t_ns: int) -> dict[str, Row | None]:
        """Each device's values at session time ``t_ns`` (None: no data there), recorded."""
        rows: dict[str, Row | None] = {}
        for dev in devices.values():
            row = None
            if dev.clock.ready:
                row = dev.buffer.at(dev.clock.to_device(t_ns), hold_ns=self.hold_ns)
            dev.history.append(row)
            if row is not None:
                dev.vote_acc(row)
            rows[dev.id] = row
        self.frames += 1
        if self.frames % CHECK_EVERY == 0:
            self.update_calibration(devices, rows, t_ns)
        if self.config.activity_calibration and self.frames % self._activity_every == 0:
            self.update_activity(devices)
        if self.frames % max(1, round(self.config.placement_every_s * self.fps)) == 0:
            self.update_placement(devices)
        return rows

    def inputs(
        self,
        devices: Mapping[str, Device],
        rows: Mapping[str, Row | None],
        t_ns: int,
        need: set[str],
    ) -> tuple[dict[str, np.ndarray], list[str]]:
        """The model's inputs for one frame and the devices used in it."""
        imu = np.zeros((5, 9), np.float32)
        mask = np.zeros(5, np.float32)
        picked: list[tuple[Device, Row, int]] = []
        for dev in devices.values():
            row = rows.get(dev.id)
            if row is None or dev.calibration is None or dev.slot is None:
                continue
            i = SLOT_INDEX[dev.slot]
            if mask[i]:
                continue  # two devices in one slot (caller overrides): the first one wins
            mask[i] = 1.0
            picked.append((dev, row, i))
        used: list[str] = []
        head_dev: Device | None = None
        for dev, row, i in picked:
            vec = self._imu_vector(dev, row)
            if not math.isfinite(sum(vec)):
                mask[i] = 0.0
                continue
            imu[i] = vec
            used.append(dev.id)
            if dev.slot == "head":
                head_dev = dev
        out = {"imu": imu[None], "mask": mask[None]}  # the "slots" kinds, always given
        for name in need:
            kind = INPUT_KINDS.get(name)
            fuser = self._fusers.get(kind.runtime or "") if kind is not None else None
            if fuser is not None:
                out[name] = fuser(head_dev, t_ns)[None]
        return out, used

    @staticmethod
    def _imu_vector(dev: Device, row: Row) -> tuple[float, ...]:
        """``(A acc_devworld, 6D of A Q C)`` of a calibrated device in a slot, in plain Python
        with quaternions (a few microseconds; numpy's per-call cost is larger for 3 x 3
        matrices). ``A`` maps the device world's Z-up to the model's Y-up and turns about that
        vertical only, so gravity ``A (0, 0, g)`` is ``(0, g, 0)``."""
        qa, qc = dev.calibration.quats(dev.kind, dev.slot)  # type: ignore[union-attr, arg-type]
        qaq = qmul(qa, row[6:10])
        ax, ay, az = qrotate(qaq, row[0:3])
        if dev.is_raw:
            ay -= GRAVITY_MPS2
        return (ax, ay, az, *quat_6d(qmul(qaq, qc)))

    def _head_hr(self, dev: Device | None, t_ns: int) -> np.ndarray:
        """``[k, 12]`` head IMU samples at ``t + j / (k fps)``: acc_world, gyro, 6D."""
        k = self.hr_factor
        out = np.zeros((k, 12), np.float32)
        if dev is None or dev.calibration is None or dev.slot is None:
            return out
        _, C = dev.calibration.frames(dev.kind, dev.slot)
        got: list[tuple[int, Row]] = []
        for j in range(k):
            t = t_ns + round(j * self.period_ns / k)
            row = dev.buffer.at(dev.clock.to_device(t), hold_ns=self.hold_ns)
            if row is not None:
                got.append((j, row))
        if got:
            vecs = np.array([self._imu_vector(dev, r) for _, r in got])
            gyro = np.array([r[3:6] for _, r in got]) @ C  # C^T gyro per row
            rows = np.concatenate([vecs[:, :3], gyro, vecs[:, 3:]], 1)
            ok = np.isfinite(rows).all(1)
            out[[j for j, _ in got]] = np.where(ok[:, None], rows, 0.0)
        return out

    def _head_pose(self, dev: Device | None, t_ns: int) -> np.ndarray:
        """``[9]`` head joint position + R_world_head 6D from the glasses' SLAM pose."""
        out = np.zeros(9, np.float32)
        if dev is None or dev.calibration is None or dev.slot != "head" or not dev.poses:
            return out
        row = dev.poses.at(dev.clock.to_device(t_ns), self.hold_ns)
        if row is None:
            return out
        A, C = dev.calibration.frames(dev.kind, "head")
        R_head = A @ quat_to_matrix(np.asarray(row[6:10])) @ C @ nominal_mount(dev.kind, "head").T
        lever = HEAD_LEVER_M.get(dev.kind or "glasses", HEAD_LEVER_M["glasses"])
        pos = A @ np.asarray(row[0:3]) - R_head @ lever
        vec = np.concatenate([pos, R_head[:, 0], R_head[:, 1]])
        return vec.astype(np.float32) if np.isfinite(vec).all() else out

    # -- calibration

    def _still_quat(self, dev: Device) -> np.ndarray | None:
        n = max(2, round(self.config.still_s * self.fps))
        values, valid = dev.history.last(n)
        if len(valid) < n or not valid.all():
            return None
        c = self.config
        if not is_still(values[:, 3:6], values[:, 0:3], c.still_gyro_rads, c.still_acc_std_mps2):
            return None
        return quat_to_matrix(mean_quat(values[:, 6:10]))

    def _slot_for(self, dev: Device) -> str:
        if dev.slot is not None:
            return dev.slot
        fam = family_of(dev.kind, None)
        if fam is None and dev.calibration is not None:
            fam = family_of(None, _up_sensor(dev))
        return _FAMILY_SLOT.get(fam or "upright", "head")

    def _npose_like(self, dev: Device, Q: np.ndarray) -> bool:
        """Could this still be the N-pose for the device (its kind's usual mounts, or any
        kind's when it is unknown)?"""
        tol = math.radians(self.config.npose_tol_deg)
        slots: tuple[str, ...] = ("right_pocket", "left_wrist")  # upright or wrist, any turn
        if dev.slot_override is not None or not _replaceable(dev):
            slots = (self._slot_for(dev),)
        elif dev.kind is not None:
            slots = (_FAMILY_SLOT[family_of(dev.kind, None) or "upright"],)
        return any(
            npose_tilt_error(Q @ turn, slot_kind(dev.kind, s), s) < tol
            for s in slots
            for turn in WORN_TURNS[slot_kind(dev.kind, s)]
        )

    def update_calibration(
        self, devices: Mapping[str, Device], rows: Mapping[str, Row | None], t_ns: int
    ) -> None:
        """Calibrate new devices and re-calibrate drifted ones at an N-pose stand-still."""
        still: dict[str, np.ndarray] = {}
        limit = self.config.still_gyro_rads**2
        for dev in devices.values():
            row = rows.get(dev.id)
            if row is None or row[3] * row[3] + row[4] * row[4] + row[5] * row[5] >= limit:
                continue  # no data, or turning right now: not still
            Q = self._still_quat(dev)
            if Q is not None:
                still[dev.id] = Q
        self._handled &= set(still)
        todo = [devices[d] for d in still if d not in self._handled]
        if not todo:
            return
        tilt_tol = math.radians(self.config.recal_tilt_deg)
        confirmed: list[Device] = []
        slipped: list[Device] = []
        for d, Q in still.items():
            dev = devices[d]
            if _replaceable(dev):
                continue
            slot = self._slot_for(dev)
            assert dev.calibration is not None  # not replaceable
            err = calibrated_tilt_error(dev.calibration, Q, dev.kind, slot)
            (confirmed if err < tilt_tol else slipped).append(dev)
        yaws = [
            implied_body_yaw(dev.calibration, still[dev.id], dev.kind, self._slot_for(dev))
            for dev in confirmed
            if dev.calibration is not None
        ]
        phi = circular_median(yaws)
        redo: list[Device] = []
        if len(yaws) >= 2 and yaw_spread(yaws) > math.radians(self.config.drift_deg):
            redo = list(confirmed)
        if confirmed:
            redo += [d for d in slipped if self._npose_like(d, still[d.id])]
        new = [d for d in todo if _replaceable(d) and self._npose_like(d, still[d.id])]
        for dev in redo:
            if dev.id not in self._handled:
                dev.calibration = Calibration(still[dev.id], phi, t_ns)
                self.recalibrations += 1
                self._handled.add(dev.id)
        for dev in new:
            if dev.calibration is None:  # a provisional one from activity is upgraded
                self.calibrations += 1
            dev.calibration = Calibration(still[dev.id], phi, t_ns)
        self._handled |= {d.id for d in todo}
        if new or redo:
            self.update_placement(devices)

    # -- calibration from activity

    def update_activity(self, devices: Mapping[str, Device]) -> None:
        """Once a second: each device's mount evidence from its last second of frames, then
        one step of heading consensus over the last two seconds (``edgesdk.runtime.autocal``).
        A device calibrated at an N-pose keeps that calibration."""
        n = self._activity_every
        n_heading = max(n, round(_HEADING_WINDOW_S * self.fps))
        cals: dict[str, ActivityCalibration] = {}
        slots: dict[str, str] = {}
        estimates: dict[str, tuple[float, float]] = {}
        for dev in devices.values():
            values, valid = dev.history.last(n)
            v = values[valid]
            if len(v) < n // 2:
                continue
            if dev.autocal is None:
                dev.autocal = ActivityCalibration(dev.kind)
            cal = dev.autocal
            cal.observe_mount(up_in_sensor(v[:, 6:10]), v[:, 3:6])
            slot = self._slot_for(dev)
            values, valid = dev.history.last(n_heading)
            v = values[valid]
            cals[dev.id], slots[dev.id] = cal, slot
            estimates[dev.id] = cal.forward_heading(slot, v[:, 6:10], v[:, 3:6])
        if not cals:
            return
        for dev in devices.values():  # devices not seen this second keep their heading
            if dev.autocal is not None and dev.id not in cals and dev.autocal.alpha is not None:
                cals[dev.id] = dev.autocal
        align_headings(cals, slots, estimates)
        changed = False
        for d in estimates:
            dev = devices[d]
            auto = dev.autocal
            if dev.calibration is None and auto is not None and auto.alpha is not None:
                dev.calibration = auto
                self.calibrations += 1
                changed = True
        # The N-pose fast path takes any arms-down stand-still at the start for an N-pose; it
        # cannot see a phone turned about its long axis (that reads as heading) and can take
        # a watch for one worn the other way round. Once activity has settled a device's mount
        # and contradicts it there, every device moves to its activity calibration (one
        # heading consensus for all).
        for dev in devices.values():
            seen = _npose_contradicted(dev, self._slot_for(dev))
            self._contradicted[dev.id] = self._contradicted.get(dev.id, 0) + 1 if seen else 0
        if max(self._contradicted.values(), default=0) >= _CONTRADICTED_S:
            self._contradicted.clear()
            for dev in devices.values():
                auto = dev.autocal
                if auto is not None and auto.alpha is not None and dev.calibration is not auto:
                    dev.calibration = auto
                    self.recalibrations += 1
                    changed = True
        if changed:
            self.update_placement(devices)

    def forget(self, device_id: str) -> None:
        """Drop what is kept about a device that left the session."""
        self._handled.discard(device_id)

    # -- placement

    def update_placement(self, devices: Mapping[str, Device]) -> None:
        """Re-run the placement classifier and adopt its result when clearly better."""
        n = max(1, round(self.config.placement_window_s * self.fps))
        probs: dict[str, dict[str, float]] = {}
        fixed: dict[str, str] = {}
        for dev in devices.values():
            if dev.slot_override is not None:
                fixed[dev.id] = dev.slot_override
                continue
            up = None
            C = np.eye(3)
            if dev.calibration is not None:
                up = _up_sensor(dev)
                C = dev.calibration.frames(dev.kind, self._slot_for(dev))[1]
            family = family_of(dev.kind, up)
            if family is None:  # no kind, not calibrated yet: no evidence, no slot
                continue
            values, valid = dev.history.last(n)
            f = features(values, valid, C)
            odds = None
            if family == "wrist" and dev.autocal is not None:
                odds = dev.autocal.log_odds("left_wrist", "right_wrist")
            probs[dev.id] = slot_probabilities(family, dev.kind, f, odds)
            if f is not None:
                _settle_screen(dev, f)
        proposal = assign(probs, fixed)
        current = {d: devices[d].slot for d in probs}

        def score(assignment: Mapping[str, str | None]) -> float:
            return sum(
                math.log(max(probs[d].get(s, 0.0), 1e-9)) if s else math.log(1e-6)
                for d, s in assignment.items()
                if d in probs
            )

        unsettled = any(s is None for s in current.values())
        adopt = unsettled or score({d: s for d, (s, _) in proposal.items()}) > (
            score(current) + _HYSTERESIS
        )
        for d, (slot, _) in proposal.items():
            dev = devices[d]
            if adopt or d in fixed:
                dev.slot = slot
            dev.slot_confidence = 1.0 if d in fixed else probs[d].get(dev.slot or "", 0.0)


def _up_sensor(dev: Device) -> np.ndarray:
    """World up in the sensor frame at the device's calibration (its stand-still, or its
    mean over the recent activity)."""
    cal = dev.calibration
    if isinstance(cal, ActivityCalibration):
        return cal.up_sensor
    assert cal is not None
    return cal.Q_still.T @ np.array([0.0, 0.0, 1.0])


_NPOSE_START_S = 2.0


def _replaceable(dev: Device) -> bool:
    """No calibration yet, or one from the first seconds of activity, not settled: an N-pose
    (the fast path at the start of a session) replaces it. Later stand-stills are not taken
    for N-poses: a standing thigh cannot tell a phone's turn about its long axis from
    heading, which activity can."""
    cal = dev.calibration
    if cal is None:
        return True
    return (
        isinstance(cal, ActivityCalibration)
        and cal.state != "calibrated"
        and cal.seconds <= _NPOSE_START_S
    )


_CONTRADICTED_S = 5  # seconds in a row before activity overrides an N-pose calibration
_LONG_AXIS = {"pocket": 1, "wrist": 0, "head": 1}  # sensor axis along the bone, nominally


def _npose_contradicted(dev: Device, slot: str) -> bool:
    """An N-pose calibration whose mount a settled activity calibration contradicts in what
    activity sees reliably: which way the device's long axis runs along the bone (upside
    down, crown to the elbow) and, for a thigh, the line of its swing axis (the phone's turn
    about its long axis, modulo the screen side that walking alone leaves open)."""
    cal, auto = dev.calibration, dev.autocal
    if not isinstance(cal, Calibration) or auto is None or auto.state != "calibrated":
        return False
    family = "pocket" if slot.endswith("pocket") else "wrist" if slot.endswith("wrist") else "head"
    a, b = cal.mount(dev.kind, slot), auto.mount(dev.kind, slot)  # columns: sensor axes
    axis = _LONG_AXIS[family]
    if float(a[:, axis] @ b[:, axis]) < 0.0:
        return True
    if family == "pocket":  # the bone's lateral axis in sensor coordinates: rows of R
        return abs(float(a[0] @ b[0])) < math.cos(math.radians(45.0))
    return False


def _settle_screen(dev: Device, f: Features) -> None:
    """A pocket phone's screen in or out (``Calibration.flip``), once, from walking."""
    cal = dev.calibration
    if not isinstance(cal, Calibration) or cal.flip_decided:
        return  # none, settled, or from activity (whose turns include the screen's side)
    if dev.slot not in ("left_pocket", "right_pocket"):
        return
    if abs(f.mean_up_z) > _FLIP_LEAN and f.frames >= 2 * MIN_MOVING_FRAMES:
        cal.flip_decided = True
        if f.mean_up_z < 0:  # the thigh leans backwards: the screen faces in
            cal.flip()

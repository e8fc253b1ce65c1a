"""Calibration without a calibration pose: mount and heading of each device from what people
do anyway (sitting, standing, walking).

A device's fused orientation ``Q`` (sensor -> its own Z-up world, arbitrary heading) becomes
the model's input ``A Q C`` once two things are known (``edgesdk.runtime.device_calibration``
has the algebra): the mount correction ``C`` (how the device sits on its bone) and the heading
``A`` (how its world turns relative to the other devices').

**Mount.** A phone goes into a pocket in one of four ways (upright or upside down, screen out
or in), a watch onto a wrist crown towards the hand or the elbow: ``C`` is one of a few turns,
plus a few degrees. Each turn ``K`` predicts where up points in the bone's frame,
``u_bone = M K u_sensor`` (``M`` the nominal mount, ``u_sensor = Q^T z`` what the
accelerometer's gravity says), and real motion capture says where up can point in that
bone's frame (``edgesdk.runtime.bone_prior``: a thigh is never upside down and its front does
not face the floor; the hand hangs below the elbow more than it rises above it). Every second
of data adds its mean log-density to each turn's score; the posterior over turns is the
confidence. Seated, the thigh's front faces up and settles screen in or out; standing or
walking, its top points up and settles upside down or not. A thigh's remaining twist in the
pocket is taken from its swing axis when walking: the thigh swings about its lateral axis,
which the gyroscope's main axis gives in sensor coordinates.

**Heading.** Each device estimates the wearer's forward direction in its own world, once a
second over the last two seconds: a thigh from its lateral axis (always horizontal but for
abduction: within about 5 degrees of the pelvis' heading on mocap walking), the head from
its forward axis, a forearm from its swing plane while walking (within 25-35 degrees over a
two-second window) or, weakly, from where the hand points. The first device is put facing
+Z; every other device's heading is set from the ones already there at the moment it is
first seen, and then nudged each second towards the others' consensus, weighted by how much
each estimate is worth (a thigh's far more than a forearm's). Heading drift of the fused
orientations is followed the same way.

**State.** ``uncalibrated`` -> ``provisional`` (used by the model from its first second of
data, with the most likely mount) -> ``calibrated`` (the mount's posterior at least
``MOUNT_CONFIDENT`` and, when there are other devices, ``HEADING_EVIDENCE`` seconds of
heading evidence). ``confidence`` is the product of the two.

Example:
    >>> import numpy as np
    >>> cal = ActivityCalibration("phone")
    >>> up = np.tile([0.0, -1.0, 0.0], (30, 1))  # standing: the phone's -Y points up
    >>> cal.observe_mount(up)
    >>> cal.turn_name("right_pocket").split("_roll")[0]  # roll unknown yet
    'upside_down'
    >>> up = np.tile([0.0, 0.0, -1.0], (30, 1))  # seated: the screen faces down
    >>> cal.observe_mount(up)
    >>> cal.turn_name("right_pocket")  # upside down, screen towards the thigh
    'upside_down_roll180'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import cast

import numpy as np

from edgesdk.body.rotations_numpy import R_YUP_ZUP, Quat, rot_y, wrap
from edgesdk.data.mounts import SLOT_BONE, nominal_mount, slot_kind
from edgesdk.runtime.bone_prior import BonePrior
from edgesdk.runtime.device_calibration import cached_quats

MOUNT_CONFIDENT = 0.9
HEADING_EVIDENCE = 3.0  # seconds of full-quality heading evidence
_HALF = {
    "x": np.diag([1.0, -1.0, -1.0]),
    "y": np.diag([-1.0, 1.0, -1.0]),
    "z": np.diag([-1.0, -1.0, 1.0]),
}
ROLL_STEP_DEG = 15


def _phone_turns() -> tuple[tuple[str, np.ndarray], ...]:
    """A phone in a pocket: upright or upside down, turned by any angle about its long axis
    (screen out is roll 0, screen towards the thigh roll 180; a phone lying on its side in a
    side pocket, 90 or 270)."""
    out = []
    for name, flip in (("upright", np.eye(3)), ("upside_down", _HALF["z"])):
        for deg in range(0, 360, ROLL_STEP_DEG):
            a = math.radians(deg)
            c, s = math.cos(a), math.sin(a)
            roll = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
            out.append((f"{name}_roll{deg}", flip @ roll))
    return tuple(out)


# The ways each kind is worn, as turns K of the sensor frame (actual mount = nominal K).
TURNS: dict[str, tuple[tuple[str, np.ndarray], ...]] = {
    "phone": _phone_turns(),
    "watch": (("nominal", np.eye(3)), ("crown_to_elbow", _HALF["z"])),
    "glasses": (("nominal", np.eye(3)),),
    "earbuds": (("nominal", np.eye(3)),),
}
# How much one second of each bone's heading estimate is worth (relative).
RELIABILITY = {"pocket": 1.0, "head": 0.7, "wrist": 0.15}
_SWING_MIN_RADS = 1.0  # RMS horizontal angular rate of a walking arm or thigh
_REFINE_COS = 0.8  # a measured swing axis refines the best turn within about 37 degrees
_SWING_KAPPA = 4.0  # nats per second of walking for a lateral axis 90 degrees off
_MAX_MARGIN = 30.0  # nats a turn can trail the best one by
_NUDGE = 0.3  # fraction of the heading disagreement corrected per second at full weight


def bone_family(slot: str) -> str:
    return "pocket" if slot.endswith("pocket") else "wrist" if slot.endswith("wrist") else "head"


def up_in_sensor(quats: np.ndarray) -> np.ndarray:
    """World up in the sensor frame, ``Q^T z``, for quaternions ``[N, 4]`` (w, x, y, z)."""
    w, x, y, z = np.asarray(quats, np.float64).T
    s = 2.0 / np.maximum(w * w + x * x + y * y + z * z, 1e-12)
    return np.stack([s * (x * z - w * y), s * (y * z + w * x), 1.0 - s * (x * x + y * y)], 1)


def rotations(quats: np.ndarray) -> np.ndarray:
    """``[N, 3, 3]`` rotation matrices of quaternions ``[N, 4]``."""
    q = np.asarray(quats, np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


@dataclass
class _SlotEvidence:
    """What a device's data say about its mount if it sits in one slot."""

    scores: np.ndarray
    lateral: np.ndarray | None = None  # a thigh's swing axis in sensor axes (running mean)


class ActivityCalibration:
    """One device's mount and heading, learned from ordinary activity (module docstring).
    Offers the ``frames`` / ``quats`` interface of ``device_calibration.Calibration``; the mount is
    tracked for every slot the device could be in, so a change of placement keeps it."""

    flip_decided = True  # the N-pose calibration's screen flip: settled by the turns here

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self.seconds = 0.0
        self.alpha: float | None = None  # heading: A = Ry(alpha) R_YUP_ZUP
        self.heading_evidence = 0.0
        self.up_sensor = np.array([0.0, 0.0, 1.0])  # mean gravity direction, sensor frame
        self.slot: str | None = None  # the slot ``frames`` was last asked for
        self._slots = {s: _SlotEvidence(np.zeros(len(_turns(kind, s)))) for s in SLOT_BONE}
        self._cache: dict[tuple[str | None, str], tuple[np.ndarray, np.ndarray]] = {}
        self._quats: dict[tuple[str | None, str], tuple[Quat, Quat]] = {}
        self._state: tuple[str, float] | None = None
        self._postures: dict[tuple[int, ...], int] = {}

    # -- hypotheses

    def posterior(self, slot: str) -> np.ndarray:
        scores = self._slots[slot].scores
        p = np.exp(scores - scores.max())
        return cast(np.ndarray, p / p.sum())

    def best(self, slot: str) -> int:
        return int(np.argmax(self._slots[slot].scores))

    def turn_name(self, slot: str | None = None) -> str:
        slot = slot or self.slot or "right_pocket"
        return _turns(self.kind, slot)[self.best(slot)][0]

    def mount_confidence(self, slot: str | None = None) -> float:
        """Posterior mass of the turns within ``NEAR_DEG`` of the best one (neighbouring
        rolls of one phone are one answer, not rivals)."""
        slot = slot or self.slot
        if slot is None:
            return 0.0
        near = _near(self.kind, slot)[self.best(slot)]
        return float(self.posterior(slot)[near].sum())

    def log_odds(self, slot_a: str, slot_b: str, min_seconds: float = 2.0) -> float | None:
        """Best-turn score of ``slot_a`` minus that of ``slot_b`` (the evidence that the
        device rides on one bone rather than the other); None before ``min_seconds``."""
        if self.seconds < min_seconds:
            return None
        return float(self._slots[slot_a].scores.max() - self._slots[slot_b].scores.max())

    def correction(self, slot: str) -> np.ndarray:
        """``C`` for ``slot``: the best turn (``C = K^T``), then, for a thigh seen walking, the
        smallest rotation taking the predicted lateral axis onto the measured swing axis."""
        K = _turns(self.kind, slot)[self.best(slot)][1]
        ev = self._slots[slot]
        if ev.lateral is None:
            return K.T
        predicted = (nominal_mount(self.kind, slot) @ K).T @ np.array([1.0, 0.0, 0.0])
        lateral = ev.lateral if ev.lateral @ predicted >= 0 else -ev.lateral  # a line, no sign
        if lateral @ predicted < _REFINE_COS:  # another turn's axis: not a refinement of this one
            return K.T
        return _smallest_rotation(predicted, lateral) @ K.T

    # -- evidence

    def observe_mount(self, up_sensor: np.ndarray, gyro_rads: np.ndarray | None = None) -> None:
        """One block of frames (about a second): ``up_sensor [N, 3]`` (``Q^T z`` per frame)
        and optionally ``gyro_rads [N, 3]`` (sensor frame, for a thigh's swing axis). Adds the
        block's mean log-density of each turn, for every slot, to that turn's score."""
        if len(up_sensor) == 0:
            return
        prior = BonePrior.load()
        mean = up_sensor.mean(0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-9)
        # Seconds of one posture are not independent evidence: a block counts 1 / sqrt(n)
        # where n blocks before it held about the same gravity direction (30-degree cells).
        cell = tuple(np.round(mean * 2.0).astype(int).tolist())
        seen = self._postures.get(cell, 0)
        self._postures[cell] = seen + 1
        weight = 1.0 / math.sqrt(1.0 + seen)
        for slot, ev in self._slots.items():
            # every turn at once: u_bone[h] = up_sensor @ (M K_h)^T
            u_bone = np.einsum("nj,hij->hni", up_sensor, _turn_mounts(self.kind, slot))
            density = prior.log_density(slot, u_bone.reshape(-1, 3)).reshape(len(u_bone), -1)
            ev.scores += weight * density.mean(1)
            # bounded margins: a device put back differently is followed within seconds
            np.maximum(ev.scores, ev.scores.max() - _MAX_MARGIN, out=ev.scores)
            if gyro_rads is not None and bone_family(slot) == "pocket":
                self._observe_swing(slot, gyro_rads)
        self.seconds += len(up_sensor) / 30.0
        self.up_sensor = mean
        self._clear()

    def _observe_swing(self, slot: str, gyro_rads: np.ndarray) -> None:
        """A walking thigh swings about its lateral axis (bone +X): the gyroscope's main axis
        is that axis in sensor coordinates. Each turn scores how well its predicted lateral
        axis lines up with it (sign aside), and the best turn's estimate is refined by it."""
        g = gyro_rads - gyro_rads.mean(0)
        if len(g) < 20 or math.sqrt(float(np.mean(np.sum(g * g, 1)))) < _SWING_MIN_RADS:
            return
        w, v = np.linalg.eigh(g.T @ g)
        strength = float(w[2] / max(float(w.sum()), 1e-12))
        if strength < 0.6:
            return
        axis = v[:, 2]
        ev = self._slots[slot]
        M = nominal_mount(self.kind, slot)
        for h, (_, K) in enumerate(_turns(self.kind, slot)):
            predicted = (M @ K).T @ np.array([1.0, 0.0, 0.0])
            ev.scores[h] += _SWING_KAPPA * strength * (float(predicted @ axis) ** 2 - 1.0)
        K = _turns(self.kind, slot)[self.best(slot)][1]
        predicted = (M @ K).T @ np.array([1.0, 0.0, 0.0])
        axis = axis * (1.0 if axis @ predicted >= 0 else -1.0)
        if ev.lateral is None:
            ev.lateral = axis
            return
        previous = ev.lateral if ev.lateral @ axis >= 0 else -ev.lateral  # lines, no sign
        mean = 0.8 * previous + 0.2 * axis
        ev.lateral = mean / np.linalg.norm(mean)

    def forward_heading(
        self, slot: str, quats: np.ndarray, gyro_rads: np.ndarray
    ) -> tuple[float, float]:
        """The wearer's forward direction in this device's world over a block of frames, worn
        in ``slot``: ``(h, quality)``, ``h`` the angle of forward from the world's +X (rad),
        ``quality`` in [0, 1] (0: no information)."""
        if len(quats) < 10:
            return 0.0, 0.0
        R = rotations(quats)  # device world <- sensor
        bone = R @ self.correction(slot) @ nominal_mount(self.kind, slot).T  # dw <- bone
        family = bone_family(slot)
        if family == "pocket":  # forward = left x up, the left axis (bone +X) horizontal
            left = bone[:, :, 0]
            fwd = np.stack([left[:, 1], -left[:, 0]], 1)  # cross(left, z) in the xy plane
            return _circular(fwd, 1.0 - left[:, 2] ** 2)
        if family == "head":
            face = bone[:, :, 2]
            return _circular(face[:, :2], 1.0 - face[:, 2] ** 2)
        # forearm: its swing plane while walking, else (weakly) where the hand points
        hand = bone[:, :, 0] * (1.0 if slot == "left_wrist" else -1.0)
        hand_h = hand[:, :2].mean(0)
        w_world = np.einsum("nij,nj->ni", R, gyro_rads)[:, :2]
        rms = math.sqrt(float(np.mean(np.sum(w_world * w_world, 1))))
        if rms >= _SWING_MIN_RADS:
            vals, vecs = np.linalg.eigh(w_world.T @ w_world)
            strength = float(vals[1] / max(float(vals.sum()), 1e-12))
            axis = vecs[:, 1]
            fwd = np.array([axis[1], -axis[0]])  # cross(axis, z): horizontal, across the axis
            if fwd @ hand_h < 0:  # the hand is ahead of the elbow on average
                fwd = -fwd
            quality = max(0.0, (strength - 0.6) / 0.4) * min(1.0, rms / 2.0)
            return math.atan2(fwd[1], fwd[0]), quality
        norm = float(np.linalg.norm(hand_h))
        return math.atan2(hand_h[1], hand_h[0]), 0.2 * min(1.0, norm / 0.5)

    # -- state and the Calibration interface

    @property
    def state(self) -> str:
        if self.seconds <= 0 or self.alpha is None:
            return "uncalibrated"
        settled = self.mount_confidence() >= MOUNT_CONFIDENT
        return (
            "calibrated"
            if settled and self.heading_evidence >= HEADING_EVIDENCE
            else ("provisional")
        )

    @property
    def confidence(self) -> float:
        return self.mount_confidence() * min(1.0, self.heading_evidence / HEADING_EVIDENCE)

    def model_yaw(self, h: float) -> float:
        """The wearer's yaw in the model world implied by forward angle ``h`` in this
        device's world (yaw 0: facing +Z)."""
        return wrap(h + math.pi / 2 + (self.alpha or 0.0))

    def frames(self, kind: str | None, slot: str) -> tuple[np.ndarray, np.ndarray]:
        """``(A, C)`` for the device worn in ``slot`` (its kind is fixed at creation)."""
        self.slot = slot
        key = (kind, slot)
        if key not in self._cache:
            self._cache[key] = (rot_y(self.alpha or 0.0) @ R_YUP_ZUP, self.correction(slot))
        return self._cache[key]

    def quats(self, kind: str | None, slot: str) -> tuple[Quat, Quat]:
        return cached_quats(self, self._quats, kind, slot)

    def mount(self, kind: str | None, slot: str) -> np.ndarray:
        """The estimated actual ``R_bone_sensor``: ``R_nominal C^T``."""
        return nominal_mount(kind, slot) @ self.frames(kind, slot)[1].T

    def set_alpha(self, alpha: float) -> None:
        self.alpha = wrap(alpha)
        self._clear()

    def _clear(self) -> None:
        self._cache.clear()
        self._quats.clear()
        self._state = None


def _turns(kind: str | None, slot: str) -> tuple[tuple[str, np.ndarray], ...]:
    return TURNS[slot_kind(kind, slot)]


@cache
def _turn_mounts(kind: str | None, slot: str) -> np.ndarray:
    """``[H, 3, 3]``: the nominal mount turned by each candidate turn, ``M K_h``."""
    M = nominal_mount(kind, slot)
    return np.stack([M @ K for _, K in _turns(kind, slot)])


NEAR_DEG = 25.0


@cache
def _near(kind: str | None, slot: str) -> np.ndarray:
    """``[H, H]`` bool: turn pairs within ``NEAR_DEG`` of each other."""
    Ks = [K for _, K in _turns(kind, slot)]
    cos = np.array([[(np.trace(a.T @ b) - 1.0) / 2.0 for b in Ks] for a in Ks])
    return cast(np.ndarray, cos >= math.cos(math.radians(NEAR_DEG)))


def _smallest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation of smallest angle taking unit vector ``a`` onto unit vector ``b``."""
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -0.999999:
        return np.eye(3)  # opposite: no unique smallest rotation (not reached: checked above)
    K = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return cast(np.ndarray, np.eye(3) + K + K @ K / (1.0 + c))


def _circular(vecs: np.ndarray, weight: np.ndarray, scale: float = 1.0) -> tuple[float, float]:
    """Weighted mean direction of 2-D vectors and its quality (resultant length x weight)."""
    w = np.clip(weight, 0.0, 1.0)
    norms = np.maximum(np.linalg.norm(vecs, axis=1), 1e-9)
    unit = vecs / norms[:, None]
    mean = (unit * w[:, None]).sum(0)
    total = float(w.sum())
    if total <= 1e-9:
        return 0.0, 0.0
    resultant = float(np.linalg.norm(mean)) / total
    return math.atan2(mean[1], mean[0]), scale * resultant * total / len(w)


def align_headings(
    cals: dict[str, ActivityCalibration],
    slots: dict[str, str],
    estimates: dict[str, tuple[float, float]],
) -> None:
    """One second of heading consensus (module docstring): ``estimates`` maps device id to
    ``(h, quality)`` over the same frames, ``slots`` each device's slot. A device without a
    heading gets one from the others (or faces +Z when it is the first); the others are
    nudged towards the weighted consensus of the rest."""
    weight = {d: q * RELIABILITY[bone_family(slots[d])] for d, (_, q) in estimates.items() if q > 0}
    for d in sorted(weight, key=lambda d: -weight[d]):
        cal, (h, quality) = cals[d], estimates[d]
        others = [o for o in weight if o != d and cals[o].alpha is not None]
        if not others:
            if cal.alpha is None:
                cal.set_alpha(-h - math.pi / 2)
            if len(weight) == 1 and len(cals) == 1:
                cal.heading_evidence = HEADING_EVIDENCE  # alone: any heading will do
                cal._state = None
            continue
        target = _consensus(cals, estimates, weight, others)
        if cal.alpha is None:
            cal.set_alpha(target - h - math.pi / 2)
            continue
        w_others = sum(weight[o] for o in others)
        share = w_others / (w_others + weight[d])
        cal.heading_evidence += min(quality, max(estimates[o][1] for o in others))
        cal.set_alpha(cal.alpha + _NUDGE * share * quality * wrap(target - cal.model_yaw(h)))


def _consensus(
    cals: dict[str, ActivityCalibration],
    estimates: dict[str, tuple[float, float]],
    weight: dict[str, float],
    ids: list[str],
) -> float:
    s = sum(weight[o] * math.sin(cals[o].model_yaw(estimates[o][0])) for o in ids)
    c = sum(weight[o] * math.cos(cals[o].model_yaw(estimates[o][0])) for o in ids)
    return math.atan2(s, c)

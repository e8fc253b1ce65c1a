"""Helpers of the runtime tests: a stand-in model that records what it is fed, small
students, and simulated sessions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.simulate import simulate_take
from edgesdk.data.takes import Take
from edgesdk.runtime.model_backend import ModelBackend
from edgesdk.runtime.replay import arrival_order
from edgesdk.runtime.scenario import session_clip
from edgesdk.runtime.session import Frame, Session, SessionConfig

IDENTITY_6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], np.float32)


def _t(name: str, *shape: int) -> dict[str, Any]:
    return {"name": name, "shape": [1, *shape]}


class RecordingBackend(ModelBackend):
    """A stand-in streaming model: keeps every frame's inputs in ``seen``; its pose moves with
    the IMU inputs (so non-finite inputs would show) and its state counts frames."""

    name = "recording"

    def __init__(self, fps: float = 30.0, hr_factor: int = 0, head: bool = False) -> None:
        inputs = [_t("imu", 5, 9), _t("mask", 5)]
        if head:
            inputs.append(_t("head", 9))
        if hr_factor:
            inputs.append(_t("head_imu_hr", hr_factor, 12))
        io = {
            "inputs": [*inputs, _t("count", 1)],
            "outputs": [
                _t("R_world_joint_6d", 22, 6),
                _t("pos_rel_m", 22, 3),
                _t("root_vel_mps", 3),
                _t("contact", 2),
                _t("next_count", 1),
            ],
            "state": [{"output": "next_count", "input": "count"}],
        }
        self.seen: list[dict[str, np.ndarray]] = []
        super().__init__(io, fps, "recording")

    def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        named = {name: x.copy() for (name, _), x in zip(self.inputs, feed, strict=True)}
        self.seen.append(named)
        pos = np.zeros((1, 22, 3), np.float32)
        pos[0, :, 1] = np.linspace(-0.9, 0.6, 22)
        pos[0, :5] += 0.01 * named["imu"][0, :, :3]
        R6 = np.tile(IDENTITY_6D, (1, 22, 1))
        return [
            R6,
            pos,
            np.zeros((1, 3), np.float32),
            np.zeros((1, 2), np.float32),
            named["count"] + 1.0,
        ]


def three_devices(**changes: Any) -> list[DeviceSpec]:
    """Glasses at 200 Hz, a left watch at 50 Hz, a phone in the right pocket at 100 Hz, with
    typical noise, jitter, drops, mounts, clocks and headings."""
    return [
        DeviceSpec.glasses(rate_hz=200.0, **changes),
        DeviceSpec.watch("left_wrist", rate_hz=50.0, **changes),
        DeviceSpec.phone("right_pocket", rate_hz=100.0, **changes),
    ]


def simulated_take(
    clip: Clip,
    duration_s: float,
    specs: Sequence[DeviceSpec],
    seed: int = 0,
    still_s: float = 2.0,
) -> tuple[Clip, Take]:
    """A session clip (N-pose stand-still, then ``clip`` repeated) and its simulated take."""
    scene = session_clip(clip, duration_s, still_s=still_s)
    return scene, simulate_take(scene, specs, seed=seed)


def push_take(
    session: Session,
    take: Take,
    order: Sequence[tuple[int, int, str, int]] | None = None,
    acc: str = "raw",
    ids: Mapping[str, str] | None = None,
) -> list[Frame]:
    """Push a take's samples in ``order`` (default: arrival order) with virtual receive
    times, head poses (``kind`` 1 in ``arrival_order(take, True)``) through
    ``push_head_pose``, each device under ``ids[device]`` when given; all frames made,
    flushed at the end."""
    frames: list[Frame] = []
    for recv, kind, device_id, i in order if order is not None else arrival_order(take, False):
        name = ids[device_id] if ids is not None else device_id
        if kind:
            pose = take.head_pose
            assert pose is not None
            session.push_head_pose(
                name, int(pose.t_ns[i]), pose.pos_m[i], pose.quat_wxyz[i], recv_ns=recv
            )
            continue
        s = take.streams[device_id]
        values = s.acc_mps2[i] if acc == "raw" else s.user_acc_mps2[i]
        session.push(name, int(s.t_ns[i]), values, s.gyro_rads[i], s.quat_wxyz[i], recv_ns=recv)
        frames.extend(session.poses())
    frames.extend(session.flush())
    return frames


def recording_session(**config: Any) -> tuple[Session, RecordingBackend]:
    backend = RecordingBackend()
    return Session(backend, SessionConfig(**config), clock="virtual"), backend

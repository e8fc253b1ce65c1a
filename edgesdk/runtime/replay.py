"""Replay a take folder through a session, as the samples would have arrived live.

The take's devices have unsynchronized clocks; a recording app starts them together, so each
device's first sample is taken to arrive at session time 0 and every later one
``t_ns - t_ns[0]`` after it, by the live session's clock-jump rule (``clock.replay_arrivals``):
a sample stamped far off its neighbours arrives in its place in the file and is dropped and
counted as a ``clock_jump``, as live. Samples of all devices are pushed in that arrival order (the
glasses' head pose too, when the model reads it). ``realtime=True`` paces the pushes on the
wall clock (the session then uses it); otherwise the session runs on the replay's virtual
clock, as fast as it can. A device recorded without quaternions (raw accelerometer and
gyroscope) is pushed without them: the session's orientation filter estimates them, as live.
A device's slot is fixed when the take's ``user_slots`` names it (the user said where it was,
``edgesdk data import --slot``) or with ``use_take_slots``; otherwise the session detects it.
The frames are written to ``poses.jsonl`` (one JSON object per
line, ``Frame.to_json``) atomically: into a temporary file beside it, then ``os.replace``.

Example::

    frames = replay("exports/ego4o-student-int8.onnx", "takes/take_0001", out="poses.jsonl")
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.recording import read_take
from edgesdk.data.takes import Take
from edgesdk.errors import EdgeSDKError
from edgesdk.io import atomic_path
from edgesdk.runtime.clock import replay_arrivals
from edgesdk.runtime.model_backend import ModelBackend
from edgesdk.runtime.selfcheck import check_stream
from edgesdk.runtime.session import Frame, Session, SessionConfig


def arrival_order(
    take: Take, with_head_pose: bool, clock_jump_s: float = SessionConfig.clock_jump_s
) -> list[tuple[int, int, str, int]]:
    """``(recv_ns, kind, device_id, index)`` of every sample sorted by arrival; kind 0 is an
    IMU sample, 1 a head pose sample. Arrival times follow ``clock.replay_arrivals``: the
    session's clock-jump rule, so a glitched timestamp is dropped as it would be live."""
    events: list[tuple[int, int, str, int]] = []
    starts: dict[str, int] = {}
    jump_ns = round(clock_jump_s * 1e9)
    for device_id, stream in take.streams.items():
        if len(stream.t_ns) == 0:
            continue
        t = stream.t_ns.tolist()
        recv = replay_arrivals(t, jump_ns)
        first = next(i for i, r in enumerate(recv) if r == 0)
        starts[device_id] = t[first]
        events.extend((r, 0, device_id, i) for i, r in enumerate(recv))
    pose = take.head_pose
    if with_head_pose and pose is not None and pose.device_id in starts:
        recv = (pose.t_ns - starts[pose.device_id]).tolist()
        events.extend((max(0, r), 1, pose.device_id, i) for i, r in enumerate(recv))
    events.sort()
    return events


def replay_take(
    session: Session,
    take: Take,
    *,
    realtime: bool = False,
    acc: str = "raw",
    use_take_slots: bool = False,
) -> list[Frame]:
    """Push a take's samples into ``session`` in arrival order; all frames made."""
    user_slots = take.meta.get("user_slots") or {}
    for device_id, stream in take.streams.items():
        if stream.quat_wxyz is None and acc != "raw":
            raise EdgeSDKError(
                f"{device_id}: recorded without quaternions, so only acc='raw' replays it"
            )
        if device_id not in session.devices:
            given = isinstance(user_slots, dict) and device_id in user_slots
            slot = stream.spec.slot if use_take_slots or given else None
            session.add_device(device_id, kind=stream.spec.kind, slot=slot, acc=acc)
    with_pose = "head" in session.backend.input_names
    frames: list[Frame] = []
    started = time.monotonic_ns()
    pose = take.head_pose
    for recv, kind, device_id, i in arrival_order(take, with_pose, session.config.clock_jump_s):
        if realtime:
            wait = started + recv - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
        stamp = None if realtime else recv
        if kind == 1 and pose is not None:
            session.push_head_pose(
                device_id, int(pose.t_ns[i]), pose.pos_m[i], pose.quat_wxyz[i], recv_ns=stamp
            )
            continue
        s = take.streams[device_id]
        if s.quat_wxyz is None or s.user_acc_mps2 is None:
            session.push(device_id, int(s.t_ns[i]), s.acc_mps2[i], s.gyro_rads[i], recv_ns=stamp)
        else:
            values = s.acc_mps2[i] if acc == "raw" else s.user_acc_mps2[i]
            session.push(
                device_id, int(s.t_ns[i]), values, s.gyro_rads[i], s.quat_wxyz[i], recv_ns=stamp
            )
        frames.extend(session.poses())  # drained as it goes: unread frames are bounded
    frames.extend(session.poses())
    frames.extend(session.flush())
    return frames


def write_poses(frames: list[Frame], out: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """``poses.jsonl``: an optional first line ``{"meta": ...}``, then one frame per line."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as f:
        if meta is not None:
            f.write(json.dumps({"meta": meta}) + "\n")
        for frame in frames:
            f.write(json.dumps(frame.to_json()) + "\n")
    return out


def replay(
    artifact: str | Path | ModelBackend,
    take_dir: str | Path,
    realtime: bool = False,
    *,
    out: str | Path | None = None,
    write: bool = True,
    config: SessionConfig | None = None,
    acc: str = "raw",
    use_take_slots: bool = False,
    threads: int = 1,
    context: str | None = None,
) -> list[Frame]:
    """Replay ``take_dir`` through ``artifact`` (an artifact file, a checkpoint folder or a
    backend) and return the frames; unless ``write=False`` they are also written to ``out``
    (default: ``poses.jsonl`` in the take folder). A device failing the self-check of
    docs/sensors.md section 4 is named in a warning line on stderr and in the meta line.
    ``context``: text for a model that reads it (``Session.set_context``)."""
    take = read_take(take_dir)
    problems = self_check(take)
    for device_id, problem in problems:
        print(f"edgesdk: warning: {take_dir}: {device_id}: {problem}", file=sys.stderr)
    session = Session(artifact, config, clock="wall" if realtime else "virtual", threads=threads)
    if context is not None:
        session.set_context(context)
    frames = replay_take(session, take, realtime=realtime, acc=acc, use_take_slots=use_take_slots)
    if write:
        meta = {
            "take": str(take_dir),
            "model": session.backend.model,
            "backend": session.backend.name,
            "fps": session.backend.fps,
            "realtime": realtime,
            "placements": session.placements(),
            "stats": session.stats(),
            "self_check": [{"device": d, "problem": p} for d, p in problems],
        }
        write_poses(frames, Path(take_dir) / "poses.jsonl" if out is None else out, meta)
    return frames


def self_check(take: Take) -> list[tuple[str, str]]:
    """``(device_id, problem)`` of each stream that fails docs/sensors.md's self-check
    (``edgesdk.runtime.selfcheck``): a device a session would silently never use."""
    return [
        (device_id, problem)
        for device_id, s in take.streams.items()
        for problem in check_stream(s.t_ns, s.acc_mps2, s.gyro_rads, s.quat_wxyz)
    ]


def frames_array(frames: list[Frame]) -> tuple[np.ndarray, np.ndarray]:
    """``(t_ns [N], pos_rel_m [N, 22, 3])`` of a list of frames."""
    if not frames:
        return np.zeros(0, np.int64), np.zeros((0, 22, 3))
    return np.array([f.t_ns for f in frames]), np.stack([f.pos_rel_m for f in frames])

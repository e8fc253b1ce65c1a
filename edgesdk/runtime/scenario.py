"""Simulated sessions for tests and benchmarks: a wearer who stands still in the N-pose (the
runtime calibrates there), eases into a mocap clip and keeps moving (the clip repeated, each
repeat turned and moved to continue the last and cross-faded with it) for as long as asked;
devices may leave and come back. Uses the training stack (torch, scipy): not needed on a device.

Example:
    >>> from edgesdk.data.kinematics import tpose_clip
    >>> clip = session_clip(tpose_clip(num_frames=20), duration_s=4.0, still_s=1.0)
    >>> clip.num_frames, clip.fps
    (120, 30.0)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from edgesdk.body.rotations_numpy import matrix_to_quat, quat_to_matrix, rot_y, slerp, yaw_of
from edgesdk.data.clip import Clip
from edgesdk.data.takes import DeviceStream, Take
from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.npose import NPOSE_ARM_JOINTS

_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)


def npose_rotations(yaw_rad: float = 0.0) -> np.ndarray:
    """``R_world_joint [22, 3, 3]`` of the N-pose, facing +Z turned by ``yaw_rad``."""
    R = np.tile(np.eye(3), (22, 1, 1))
    for joint, rot in NPOSE_ARM_JOINTS.items():
        R[joint] = rot
    return rot_y(yaw_rad) @ R


def fk_positions(
    R_world_joint: np.ndarray, offsets_m: np.ndarray, root_m: np.ndarray
) -> np.ndarray:
    """Joint positions ``[T, 22, 3]`` of global rotations ``[T, 22, 3, 3]`` (numpy FK)."""
    pos = np.zeros((*R_world_joint.shape[:2], 3))
    pos[:, 0] = root_m
    for j in range(1, 22):
        p = _PARENTS[j]
        pos[:, j] = pos[:, p] + R_world_joint[:, p] @ offsets_m[j]
    return pos


def session_clip(
    clip: Clip,
    duration_s: float,
    still_s: float = 2.0,
    blend_s: float = 1.0,
    overlap_s: float = 0.35,
) -> Clip:
    """``still_s`` seconds of N-pose, ``blend_s`` seconds easing into ``clip``'s first frame,
    then ``clip`` again and again until ``duration_s`` in all: each repeat is turned and moved
    to continue from the one before, and cross-faded with it over ``overlap_s`` seconds."""
    fps = clip.fps
    n_total = round(duration_s * fps)
    n_still, n_blend = round(still_s * fps), round(blend_s * fps)
    n_move = n_total - n_still - n_blend
    if n_move < 1:
        raise EdgeSDKError(f"duration_s={duration_s} leaves no time after the stand-still")
    R_move, root_move = _chained(clip, n_move, round(overlap_s * fps))
    yaw = yaw_of(R_move[0, 0])
    R_still = np.repeat(npose_rotations(yaw)[None], n_still, 0)
    root = root_move[0].copy()
    root[1] = float(clip.offsets_m[0, 1])
    q_a, q_b = matrix_to_quat(npose_rotations(yaw)), matrix_to_quat(R_move[0])
    t = (np.arange(1, n_blend + 1) / (n_blend + 1))[:, None]
    R_blend = quat_to_matrix(slerp(q_a[None], q_b[None], t))
    root_blend = root + t * (root_move[0] - root)
    R_all = np.concatenate([R_still, R_blend, R_move])
    roots = np.concatenate([np.repeat(root[None], n_still, 0), root_blend, root_move])
    pos_all = fk_positions(R_all, clip.offsets_m.astype(np.float64), roots)
    return clip.replace(
        name=f"{clip.name}-session",
        R_world_joint=R_all.astype(np.float32),
        global_pos_m=pos_all.astype(np.float32),
    )


def _chained(clip: Clip, frames: int, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` frames of ``clip`` repeated: global rotations and pelvis positions."""
    R_src = clip.R_world_joint.astype(np.float64)
    root_src = clip.global_pos_m[:, 0].astype(np.float64)
    overlap = max(0, min(overlap, (clip.num_frames - 1) // 2))
    segs_R, segs_root = [R_src.copy()], [root_src.copy()]
    total = clip.num_frames
    while total < frames and clip.num_frames > 1:
        R_prev, root_prev = segs_R[-1], segs_root[-1]
        anchor = len(R_prev) - overlap - 1
        turn = rot_y(yaw_of(R_prev[anchor, 0]) - yaw_of(R_src[0, 0]))
        R_next = turn @ R_src
        root_next = (root_src - root_src[0]) @ turn.T
        root_next[:, [0, 2]] += root_prev[anchor, [0, 2]]
        if overlap:
            w = (np.arange(1, overlap + 1) / (overlap + 1))[:, None]
            tail = slice(len(R_prev) - overlap, len(R_prev))
            q = slerp(matrix_to_quat(R_prev[tail]), matrix_to_quat(R_next[:overlap]), w)
            R_prev[tail] = quat_to_matrix(q)
            root_prev[tail] += w * (root_next[:overlap] - root_prev[tail])
        segs_R.append(R_next[overlap:])
        segs_root.append(root_next[overlap:])
        total += len(R_next) - overlap
    R_out, root_out = np.concatenate(segs_R), np.concatenate(segs_root)
    if len(R_out) < frames:  # a one-frame clip: hold it
        R_out = np.repeat(R_out[:1], frames, 0)
        root_out = np.repeat(root_out[:1], frames, 0)
    return R_out[:frames], root_out[:frames]


def without_interval(stream: DeviceStream, start_s: float, stop_s: float) -> DeviceStream:
    """``stream`` with the samples taken in true time ``[start_s, stop_s)`` removed (the device
    out of range), using the simulation's ground-truth clock."""
    offset = stream.clock_offset_s or 0.0
    drift = 1.0 + stream.spec.clock_drift_ppm * 1e-6
    t_true = (stream.t_ns - np.int64(round(offset * 1e9))) / 1e9 / drift
    keep = (t_true < start_s) | (t_true >= stop_s)
    return dataclasses.replace(
        stream,
        t_ns=stream.t_ns[keep],
        acc_mps2=stream.acc_mps2[keep],
        user_acc_mps2=None if stream.user_acc_mps2 is None else stream.user_acc_mps2[keep],
        gyro_rads=stream.gyro_rads[keep],
        quat_wxyz=None if stream.quat_wxyz is None else stream.quat_wxyz[keep],
    )


def with_gap(take: Take, device_id: str, start_s: float, stop_s: float) -> Take:
    """``take`` with one device silent in true time ``[start_s, stop_s)``."""
    if device_id not in take.streams:
        raise EdgeSDKError(f"take has no device {device_id!r} (it has {sorted(take.streams)})")
    streams = dict(take.streams)
    streams[device_id] = without_interval(streams[device_id], start_s, stop_s)
    return dataclasses.replace(take, streams=streams)


def true_time_s(stream: DeviceStream) -> np.ndarray:
    """The simulation's true sample times (s) of a stream (ground truth, for checks)."""
    offset = stream.clock_offset_s or 0.0
    drift = 1.0 + stream.spec.clock_drift_ppm * 1e-6
    return (stream.t_ns - np.int64(round(offset * 1e9))) / 1e9 / drift


def frames_in(duration_s: float, fps: float) -> int:
    return math.floor(duration_s * fps + 1e-9)

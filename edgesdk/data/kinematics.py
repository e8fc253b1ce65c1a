"""Kinematics of a point and frame mounted on a bone of a clip: ideal accelerations and
angular rates from the poses, for training data (``virtual_imu``) and the device simulator.

Kinematics come from cubic splines through the clip's frames (sensor point position;
sign-continuous quaternions), differentiated analytically, so noise-free streams are exact
derivatives of one smooth trajectory. scipy is imported when a track is built.

Example:
    >>> imu = virtual_imu(tpose_clip(num_frames=10), "left_wrist")
    >>> sorted(imu), imu["gyro_rads"].shape
    (['R_world_sensor', 'acc_world_mps2', 'gyro_rads', 'pos_m'], (10, 3))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgesdk.data.mounts import DEFAULT_KIND, slot_mount
from edgesdk.errors import EdgeSDKError

if TYPE_CHECKING:
    from edgesdk.data.clip import Clip

# Optical mocap jitters by millimetres from frame to frame, which twice differentiated at 60 fps
# gives accelerations of 10-50 m/s^2 above 10 Hz; trajectories are low-passed (4th-order
# Butterworth, forward and backward) at this cutoff before the splines. None: no filter.
MOCAP_LOWPASS_HZ = 8.0


class SensorTrack:
    """The smooth trajectory of a point and frame rigidly mounted on one bone of a clip."""

    def __init__(
        self,
        clip: Clip,
        bone_joint: int,
        lever_m: np.ndarray,
        R_bone_sensor: np.ndarray,
        lowpass_hz: float | None,
    ) -> None:
        from scipy.interpolate import CubicSpline
        from scipy.signal import butter, sosfiltfilt
        from scipy.spatial.transform import Rotation

        if clip.num_frames < 2:
            raise EdgeSDKError(f"{clip.source or clip.name}: sensor simulation needs >= 2 frames")
        R_world_bone = clip.R_world_joint[:, bone_joint].astype(np.float64)
        pos_m = clip.global_pos_m[:, bone_joint].astype(np.float64) + R_world_bone @ lever_m
        t_s = np.arange(clip.num_frames) / clip.fps
        quat = Rotation.from_matrix(R_world_bone @ R_bone_sensor).as_quat(scalar_first=True)
        # Sign-continuous quaternions so the spline never passes between q and -q.
        flips = np.sign(np.einsum("ij,ij->i", quat[1:], quat[:-1]))
        flips[flips == 0] = 1.0
        quat[1:] *= np.cumprod(flips)[:, None]
        if lowpass_hz is not None and lowpass_hz < 0.45 * clip.fps and clip.num_frames > 3:
            sos = butter(4, lowpass_hz, fs=clip.fps, output="sos")
            pad = min(15, clip.num_frames - 1)
            pos_m = sosfiltfilt(sos, pos_m, axis=0, padlen=pad)
            quat = sosfiltfilt(sos, quat, axis=0, padlen=pad)
        self.pos = CubicSpline(t_s, pos_m, axis=0)
        self.quat = CubicSpline(t_s, quat, axis=0)
        self.t_end_s = float(t_s[-1])

    def orientation(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R_world_sensor [N, 3, 3], gyro_rads [N, 3] in the sensor frame)``."""
        from scipy.spatial.transform import Rotation

        u, du = self.quat(t_s), self.quat(t_s, 1)
        norm = np.linalg.norm(u, axis=-1, keepdims=True)
        q = u / norm
        dq = (du - q * np.sum(q * du, axis=-1, keepdims=True)) / norm
        # dq/dt = q * (0, gyro) / 2 for a unit q, so gyro = 2 vec(conj(q) * dq/dt).
        w, v, dw, dv = q[:, :1], q[:, 1:], dq[:, :1], dq[:, 1:]
        gyro = 2.0 * (w * dv - dw * v - np.cross(v, dv))
        return Rotation.from_quat(q, scalar_first=True).as_matrix(), gyro


def tpose_clip(num_frames: int = 30, fps: float = 30.0, height_m: float = 1.70) -> Clip:
    """A subject standing still in the rest pose (T-pose, facing +Z), for examples and checks.

    Example:
        >>> tpose_clip(num_frames=5).global_pos_m.shape
        (5, 22, 3)
    """
    from edgesdk.body.skeleton import rest_positions, template_offsets
    from edgesdk.data.clip import Clip

    pos_m = np.repeat(rest_positions(height_m).numpy()[None], num_frames, 0)
    R_world_joint = np.tile(np.eye(3, dtype=np.float32), (num_frames, 22, 1, 1))
    return Clip("t-pose", fps, R_world_joint, pos_m, template_offsets(height_m).numpy())


def virtual_imu(
    clip: Clip, slot: str, kind: str | None = None, lowpass_hz: float | None = MOCAP_LOWPASS_HZ
) -> dict[str, np.ndarray]:
    """Clean kinematics of a slot's sensor at the clip's own frames, for training data.

    Returns float64 arrays in the clip's Y-up world: ``acc_world_mps2 [T, 3]`` (linear
    acceleration of the sensor point, no gravity), ``R_world_sensor [T, 3, 3]`` (nominal mount
    of ``kind``, default the slot's usual device), ``gyro_rads [T, 3]`` (sensor frame) and
    ``pos_m [T, 3]`` (the sensor point). Trajectories are low-passed at ``lowpass_hz``.

    Example:
        >>> still = tpose_clip(num_frames=10)
        >>> imu = virtual_imu(still, "left_pocket")
        >>> imu["acc_world_mps2"].shape, float(abs(imu["acc_world_mps2"]).max()) < 1e-9
        ((10, 3), True)
    """
    mount = slot_mount(kind or DEFAULT_KIND.get(slot, ""), slot)
    lever_m, R_bone_sensor = mount.lever_arm_m(clip.offsets_m), np.array(mount.R_bone_sensor)
    track = SensorTrack(clip, mount.bone_joint, lever_m, R_bone_sensor, lowpass_hz)
    t_s = np.arange(clip.num_frames) / clip.fps
    R_world_sensor, gyro_rads = track.orientation(t_s)
    return {
        "acc_world_mps2": track.pos(t_s, 2),
        "R_world_sensor": R_world_sensor,
        "gyro_rads": gyro_rads,
        "pos_m": track.pos(t_s),
    }

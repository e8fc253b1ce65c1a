"""Virtual wearables: phone, watch, glasses and earbuds IMU streams simulated from a motion clip.

Each device rides rigidly on one bone (``edgesdk.data.mounts`` and docs/sensors.md) and reports,
at its own rate and on its own clock, what the phone/watch/glasses APIs report:

- ``acc_mps2``: specific force (gravity included) in the sensor frame; +9.80665 along the
  sensor axis that points up when at rest (Android ``TYPE_ACCELEROMETER``).
- ``user_acc_mps2``: the same minus gravity (Android ``TYPE_LINEAR_ACCELERATION``; CoreMotion
  ``userAcceleration`` in m/s^2 with the sign flipped, see docs/sensors.md).
- ``gyro_rads``: angular velocity in the sensor frame.
- ``quat_wxyz``: fused orientation ``q_world_sensor``; the device's world is Z up with its
  own arbitrary heading (``xArbitraryZVertical`` / ``TYPE_GAME_ROTATION_VECTOR``).

The clip's Y-up world maps to a device world by ``(x, y, z)_Yup -> (x, -z, y)_Zup`` and then
a yaw of ``heading_deg`` about Z. The ideal motion comes from ``edgesdk.data.kinematics``, the
errors from the device's ``DeviceSpec`` (``edgesdk.data.device_spec``, ``edgesdk.data.noise``).

Example:
    >>> from edgesdk.data.kinematics import tpose_clip
    >>> still = tpose_clip(num_frames=30)            # standing still, palms down
    >>> watch = simulate_device(still, DeviceSpec("watch", "left_wrist"), seed=0)
    >>> (watch.acc_mps2[0].round(3) + 0.0).tolist()   # screen up on the wrist: +g on z
    [0.0, 0.0, 9.807]
    >>> (watch.gyro_rads[0].round(6) + 0.0).tolist(), watch.t_ns[:3].tolist()
    ([0.0, 0.0, 0.0], [0, 20000000, 40000000])
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from edgesdk.body.rotations_numpy import Quat, rot_z
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.kinematics import MOCAP_LOWPASS_HZ, SensorTrack
from edgesdk.data.mounts import GRAVITY_MPS2, R_devworld_yup, Vec3, slot_mount
from edgesdk.data.noise import bias_walk, device_clock, drop_mask, random_walk, white_noise
from edgesdk.data.takes import DeviceStream, HeadPose, Take
from edgesdk.errors import EdgeSDKError

if TYPE_CHECKING:
    from edgesdk.data.clip import Clip


def _num_samples(duration_s: float, rate_hz: float) -> int:
    return math.floor(duration_s * rate_hz + 1e-9) + 1


@dataclass(frozen=True)
class _Realized:
    """A device's seeded draws that every output of it shares."""

    heading_deg: float
    clock_offset_s: float
    R_bone_sensor: np.ndarray
    lever_m: np.ndarray
    rngs: dict[str, np.random.Generator]
    track: SensorTrack


def _realize(clip: Clip, spec: DeviceSpec, seed: int, lowpass_hz: float | None) -> _Realized:
    from scipy.spatial.transform import Rotation

    if not isinstance(seed, int | np.integer) or seed < 0:
        raise EdgeSDKError(f"seed must be a non-negative integer, got {seed!r}")
    names = ("setup", "clock", "drop", "acc_bias", "acc", "gyro_bias", "gyro", "fusion", "slam")
    seq = np.random.SeedSequence([int(seed), zlib.crc32(spec.device_id.encode())])
    rngs = {n: np.random.default_rng(s) for n, s in zip(names, seq.spawn(len(names)), strict=True)}
    setup = rngs["setup"]
    # Always draw all three, so that fixing one value does not change the others.
    heading = float(setup.uniform(0.0, 360.0))
    offset = float(setup.uniform(1.0, 10_000.0))
    jitter_rotvec = setup.normal(0.0, np.radians(spec.mount_jitter_deg) / math.sqrt(3.0), 3)
    if spec.slot is None:
        raise EdgeSDKError(f"{spec.device_id}: a device without a slot cannot be simulated")
    mount = slot_mount(spec.kind, spec.slot)
    if spec.mount_quat_wxyz is not None:
        R_bs = Rotation.from_quat(spec.mount_quat_wxyz, scalar_first=True).as_matrix()
    else:
        R_bs = np.array(mount.R_bone_sensor)
    R_bs = R_bs @ Rotation.from_rotvec(jitter_rotvec).as_matrix()
    if spec.lever_arm_m is not None:
        lever = np.array(spec.lever_arm_m)
    else:
        lever = mount.lever_arm_m(clip.offsets_m)
    return _Realized(
        heading_deg=heading if spec.heading_deg is None else float(spec.heading_deg),
        clock_offset_s=offset if spec.clock_offset_s is None else float(spec.clock_offset_s),
        R_bone_sensor=R_bs,
        lever_m=lever,
        rngs=rngs,
        track=SensorTrack(clip, mount.bone_joint, lever, R_bs, lowpass_hz),
    )


def simulate_device(
    clip: Clip, spec: DeviceSpec, seed: int = 0, lowpass_hz: float | None = MOCAP_LOWPASS_HZ
) -> DeviceStream:
    """One device's stream over the whole clip, deterministic for ``(clip, spec, seed)``.

    True time 0 is the clip's first frame; the device samples every ``1 / rate_hz`` seconds
    of true time and stamps each sample ``t_ns = offset + t (1 + drift) + jitter`` on its clock.

    Example:
        >>> from edgesdk.data.kinematics import tpose_clip
        >>> still = tpose_clip(num_frames=61)
        >>> s = simulate_device(still, DeviceSpec.phone("left_pocket"), seed=7)
        >>> s.device_id, s.acc_mps2.shape[1], bool(np.all(np.diff(s.t_ns) > 0))
        ('phone_left_pocket', 3, True)
    """
    from scipy.spatial.transform import Rotation

    real = _realize(clip, spec, seed, lowpass_hz)
    rate, track = spec.sample_rate_hz, real.track
    n = _num_samples(track.t_end_s, rate)
    t_true_s = np.arange(n) / rate
    dt = 1.0 / rate
    R_yup_sensor, gyro_true = track.orientation(t_true_s)
    R_devworld_yup_ = R_devworld_yup(real.heading_deg)
    R_world_sensor = R_devworld_yup_ @ R_yup_sensor
    force_world = track.pos(t_true_s, 2) @ R_devworld_yup_.T + np.array([0.0, 0.0, GRAVITY_MPS2])
    acc = np.einsum("nji,nj->ni", R_world_sensor, force_world)

    rngs = real.rngs
    acc += bias_walk(rngs["acc_bias"], spec.acc_bias_mps2, spec.acc_bias_rw, n, dt)
    acc += white_noise(rngs["acc"], spec.acc_noise_std_mps2, (n, 3))
    gyro = gyro_true + bias_walk(rngs["gyro_bias"], spec.gyro_bias_rads, spec.gyro_bias_rw, n, dt)
    gyro += white_noise(rngs["gyro"], spec.gyro_noise_std_rads, (n, 3))

    fusion = rngs["fusion"]
    yaw_drift = random_walk(fusion, spec.heading_rw_deg, (n,), dt)
    tilt = white_noise(fusion, np.radians(spec.quat_noise_std_deg), (n, 3))
    R_fused = Rotation.from_rotvec(tilt).as_matrix() @ rot_z(np.radians(yaw_drift)) @ R_world_sensor
    user_acc = acc - R_fused[:, 2, :] * GRAVITY_MPS2  # acc - R^T (0, 0, g)
    quat = Rotation.from_matrix(R_fused).as_quat(canonical=True, scalar_first=True)

    t_ns = device_clock(t_true_s, real.clock_offset_s, spec, rngs["clock"], jitter=True)
    keep = ~drop_mask(rngs["drop"], n, spec.drop_prob, spec.drop_burst_len)
    mount_q = Rotation.from_matrix(real.R_bone_sensor).as_quat(canonical=True, scalar_first=True)
    return DeviceStream(
        spec=spec,
        t_ns=t_ns[keep],
        acc_mps2=acc[keep],
        user_acc_mps2=user_acc[keep],
        gyro_rads=gyro[keep],
        quat_wxyz=quat[keep],
        heading_deg=real.heading_deg,
        clock_offset_s=real.clock_offset_s,
        mount_quat_wxyz=cast(Quat, tuple(mount_q.tolist())),
        lever_arm_m=cast(Vec3, tuple(real.lever_m.tolist())),
    )


def simulate_head_pose(
    clip: Clip, spec: DeviceSpec, seed: int = 0, lowpass_hz: float | None = MOCAP_LOWPASS_HZ
) -> HeadPose:
    """The glasses' SLAM trajectory at ``spec.slam_rate_hz`` on the glasses' clock (no jitter,
    no drops): pose of the IMU frame with random-walk position drift and yaw drift.

    The drift is a rigid error of the whole map: ``pos = Rz(yaw_drift) p + pos_drift`` and
    ``R = Rz(yaw_drift) R_world_sensor``, both walks starting at zero.

    Example:
        >>> from edgesdk.data.kinematics import tpose_clip
        >>> pose = simulate_head_pose(tpose_clip(num_frames=31), DeviceSpec.glasses(), seed=0)
        >>> pose.pos_m.shape, 1.5 < float(pose.pos_m[0, 2]) < 1.7   # z: height above the floor
        ((31, 3), True)
    """
    from scipy.spatial.transform import Rotation

    if spec.kind != "glasses" or spec.slam_rate_hz <= 0:
        raise EdgeSDKError(f"{spec.device_id}: only glasses with slam_rate_hz > 0 give a head pose")
    real = _realize(clip, spec, seed, lowpass_hz)
    rate, track = spec.slam_rate_hz, real.track
    n = _num_samples(track.t_end_s, rate)
    t_true_s = np.arange(n) / rate
    R_map = R_devworld_yup(real.heading_deg)
    R_yup_sensor, _ = track.orientation(t_true_s)
    rng = real.rngs["slam"]
    R_drift = rot_z(np.radians(random_walk(rng, spec.slam_yaw_rw_deg, (n,), 1.0 / rate)))
    pos_drift = random_walk(rng, spec.slam_pos_rw_m, (n, 3), 1.0 / rate)
    pos_m = np.einsum("nij,nj->ni", R_drift, track.pos(t_true_s) @ R_map.T) + pos_drift
    R_est = R_drift @ R_map @ R_yup_sensor
    return HeadPose(
        device_id=spec.device_id,
        t_ns=device_clock(t_true_s, real.clock_offset_s, spec, real.rngs["clock"], jitter=False),
        pos_m=pos_m,
        quat_wxyz=Rotation.from_matrix(R_est).as_quat(canonical=True, scalar_first=True),
        rate_hz=float(rate),
    )


def simulate_take(
    clip: Clip,
    specs: Sequence[DeviceSpec],
    seed: int = 0,
    lowpass_hz: float | None = MOCAP_LOWPASS_HZ,
) -> Take:
    """All devices of one session; each stream equals ``simulate_device(clip, spec, seed)``
    (a device's randomness depends only on the seed and its device id).

    Example:
        >>> from edgesdk.data.kinematics import tpose_clip
        >>> still = tpose_clip(num_frames=31)
        >>> take = simulate_take(still, [DeviceSpec.glasses(), DeviceSpec.watch()], seed=1)
        >>> sorted(take.streams), take.head_pose.pos_m.shape
        (['glasses_head', 'watch_left_wrist'], (31, 3))
    """
    ids = [s.device_id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise EdgeSDKError(f"take: two devices with the same kind and slot: {duplicates}")
    streams = {s.device_id: simulate_device(clip, s, seed, lowpass_hz) for s in specs}
    glasses = [s for s in specs if s.kind == "glasses" and s.slam_rate_hz > 0]
    head_pose = simulate_head_pose(clip, glasses[0], seed, lowpass_hz) if glasses else None
    return Take(streams=streams, head_pose=head_pose, clip_name=clip.name, seed=int(seed))

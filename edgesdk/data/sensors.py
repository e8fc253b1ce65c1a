"""Virtual wearables: phone, watch, glasses and earbuds IMU streams simulated from a motion clip.

Each device rides rigidly on one bone (see ``SLOT_MOUNTS`` and docs/sensors.md) and reports,
at its own rate and on its own clock, what the phone/watch/glasses APIs report:

- ``acc_mps2``: specific force (gravity included) in the sensor frame; +9.80665 along the
  sensor axis that points up when at rest (Android ``TYPE_ACCELEROMETER``).
- ``user_acc_mps2``: the same minus gravity (Android ``TYPE_LINEAR_ACCELERATION``; CoreMotion
  ``userAcceleration`` in m/s^2 with the sign flipped, see docs/sensors.md).
- ``gyro_rads``: angular velocity in the sensor frame.
- ``quat_wxyz``: fused orientation ``q_world_sensor``; the device's world is Z up with its
  own arbitrary heading (``xArbitraryZVertical`` / ``TYPE_GAME_ROTATION_VECTOR``).

The clip's Y-up world maps to a device world by ``(x, y, z)_Yup -> (x, -z, y)_Zup`` and then
a yaw of ``heading_deg`` about Z. Kinematics come from cubic splines through the clip's frames
(sensor point position; sign-continuous quaternions), differentiated analytically, so noise-free
streams are exact derivatives of one smooth trajectory.

Example:
    >>> still = tpose_clip(num_frames=30)            # standing still, palms down
    >>> watch = simulate_device(still, DeviceSpec("watch", "left_wrist"), seed=0)
    >>> (watch.acc_mps2[0].round(3) + 0.0).tolist()   # screen up on the wrist: +g on z
    [0.0, 0.0, 9.807]
    >>> (watch.gyro_rads[0].round(6) + 0.0).tolist(), watch.t_ns[:3].tolist()
    ([0.0, 0.0, 0.0], [0, 20000000, 40000000])
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from edgesdk.body.skeleton import JOINT_NAMES
from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.errors import EdgeSDKError

if TYPE_CHECKING:  # takes, streams and specs need numpy only (the runtime on an edge board)
    from edgesdk.data.clip import Clip

GRAVITY_MPS2 = 9.80665
# Optical mocap jitters by millimetres from frame to frame, which twice differentiated at 60 fps
# gives accelerations of 10-50 m/s^2 above 10 Hz; trajectories are low-passed (4th-order
# Butterworth, forward and backward) at this cutoff before the splines. None: no filter.
MOCAP_LOWPASS_HZ = 8.0
KINDS: tuple[str, ...] = ("phone", "watch", "glasses", "earbuds")
DEFAULT_RATE_HZ: dict[str, float] = {"phone": 100.0, "watch": 50.0, "glasses": 200.0,
                                     "earbuds": 100.0}  # fmt: skip
# The device a slot's training data (``virtual_imu``) assumes.
DEFAULT_KIND: dict[str, str] = {"head": "glasses", "left_wrist": "watch", "right_wrist": "watch",
                                "left_pocket": "phone", "right_pocket": "phone"}  # fmt: skip

# (x, y, z) in the clip's Y-up world -> (x, -z, y) in a Z-up world; right-handed, det +1.
R_ZUP_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


@dataclass(frozen=True)
class SlotMount:
    """Where a device sits on the body and how its axes sit on the bone.

    Attributes:
        bone_joint: the joint whose global rotation orients the bone the device rides on
            (``R_world_bone = clip.R_world_joint[:, bone_joint]``) and whose position is the
            lever arm's origin.
        end_joint: the joint at the bone's far end, or None (the head has none).
        along: the sensor sits this fraction of the way from ``bone_joint`` to ``end_joint``.
        offset_m: plus this offset off the bone's axis, in the bone's rest frame (T-pose axes:
            +X the subject's left, +Y up, +Z forward; palms face down).
        R_bone_sensor: the nominal mount, rows of a rotation matrix (columns are the sensor's
            axes in the bone's rest frame).
    """

    bone_joint: int
    end_joint: int | None
    along: float
    offset_m: Vec3
    R_bone_sensor: tuple[Vec3, Vec3, Vec3]

    @property
    def bone_name(self) -> str:
        """The bone's joint name, e.g. ``left_elbow`` for the left forearm."""
        return JOINT_NAMES[self.bone_joint]

    def lever_arm_m(self, offsets_m: np.ndarray) -> np.ndarray:
        """Sensor point relative to ``bone_joint`` in the bone frame, for a body's offsets."""
        lever = np.asarray(self.offset_m, dtype=np.float64)
        if self.end_joint is not None:
            lever = lever + self.along * np.asarray(offsets_m[self.end_joint], dtype=np.float64)
        return lever


_RIGHT_UP_BACK = ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0))
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
# Watch screen up on the back of the wrist, crown (device +X) towards the hand.
_LEFT_WATCH = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))
_RIGHT_WATCH = ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0))

SLOT_MOUNTS: dict[tuple[str, str], SlotMount] = {
    # Glasses' IMU above and in front of the head joint (bridge of the nose); X right, Y up,
    # Z towards the back of the head.
    ("glasses", "head"): SlotMount(15, None, 0.0, (0.0, 0.065, 0.095), _RIGHT_UP_BACK),
    # The left earbud, at the left ear; same axes as the glasses.
    ("earbuds", "head"): SlotMount(15, None, 0.0, (0.075, 0.03, 0.0), _RIGHT_UP_BACK),
    # Forearm (elbow's frame), 88 % of the way to the wrist joint, 2.5 cm out on the back.
    ("watch", "left_wrist"): SlotMount(18, 20, 0.88, (0.0, 0.025, 0.0), _LEFT_WATCH),
    ("watch", "right_wrist"): SlotMount(19, 21, 0.88, (0.0, 0.025, 0.0), _RIGHT_WATCH),
    # Thigh (hip's frame), 30 % down to the knee, 5 cm to the side and 7 cm to the front;
    # phone upright, top towards the hip, screen facing forward (away from the thigh).
    ("phone", "left_pocket"): SlotMount(1, 4, 0.3, (0.05, 0.0, 0.07), _IDENTITY),
    ("phone", "right_pocket"): SlotMount(2, 5, 0.3, (-0.05, 0.0, 0.07), _IDENTITY),
}


def slot_mount(kind: str, slot: str) -> SlotMount:
    """The mount of a device kind in a slot; ``EdgeSDKError`` for an unsupported pair.

    Example:
        >>> slot_mount("watch", "left_wrist").bone_name
        'left_elbow'
    """
    if slot not in SLOT_INDEX:
        raise EdgeSDKError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    if kind not in KINDS:
        raise EdgeSDKError(f"unknown device kind {kind!r}; kinds are {', '.join(KINDS)}")
    mount = SLOT_MOUNTS.get((kind, slot))
    if mount is None:
        ok = ", ".join(s for k, s in SLOT_MOUNTS if k == kind)
        raise EdgeSDKError(f"a {kind} cannot sit in slot {slot!r} (it can sit in: {ok})")
    return mount


def R_devworld_yup(heading_deg: float) -> np.ndarray:
    """``[3, 3]`` map from the clip's Y-up world into a device's Z-up world of that heading.

    Example:
        >>> (R_devworld_yup(0.0) @ np.array([0.0, 1.0, 0.0])).tolist()   # up stays up
        [0.0, 0.0, 1.0]
    """
    return _rot_z(np.radians(heading_deg)) @ R_ZUP_YUP


@dataclass(frozen=True)
class DeviceSpec:
    """One virtual device: what it is, where it sits, its clock and its errors.

    ``None`` for ``rate_hz`` takes the kind's default (phone 100, watch 50, glasses 200,
    earbuds 100 Hz). ``slot=None`` is a real device whose placement is not known (the
    runtime detects it; such a device cannot be simulated, and its id is its kind).
    ``None`` for ``heading_deg`` or ``clock_offset_s`` draws the value from the
    seed (uniform in [0, 360) degrees and [1, 10000) s); ``None`` for ``mount_quat_wxyz`` or
    ``lever_arm_m`` takes the slot's nominal mount (``SLOT_MOUNTS``). The bare constructor is
    noise-free; ``phone()``, ``watch()``, ``glasses()`` and ``earbuds()`` give typical devices.

    Noise: ``*_noise_std`` is white noise per sample; ``*_bias_rw`` is a random walk of the bias
    in units per sqrt(second), starting at ``*_bias``; ``quat_noise_std_deg`` perturbs the fused
    orientation per sample and ``heading_rw_deg`` lets its heading drift (deg per sqrt(s)).
    Drops: a fraction ``drop_prob`` of samples is missing, in runs of mean length
    ``drop_burst_len`` samples (1: isolated single losses). ``mount_jitter_deg`` turns the
    mount by a random rotation whose RMS angle is that many degrees. Glasses also give a SLAM
    head pose at ``slam_rate_hz`` (0: none) with random-walk position and yaw drift.

    Example:
        >>> DeviceSpec.watch("right_wrist").rate_hz, DeviceSpec("phone", "left_pocket").rate_hz
        (50.0, 100.0)
    """

    kind: str
    slot: str | None
    rate_hz: float | None = None
    clock_offset_s: float | None = 0.0
    clock_drift_ppm: float = 0.0
    jitter_std_s: float = 0.0
    drop_prob: float = 0.0
    drop_burst_len: float = 1.0
    acc_noise_std_mps2: float = 0.0
    gyro_noise_std_rads: float = 0.0
    acc_bias_mps2: Vec3 = (0.0, 0.0, 0.0)
    gyro_bias_rads: Vec3 = (0.0, 0.0, 0.0)
    acc_bias_rw: float = 0.0
    gyro_bias_rw: float = 0.0
    quat_noise_std_deg: float = 0.0
    heading_rw_deg: float = 0.0
    heading_deg: float | None = 0.0
    mount_quat_wxyz: Quat | None = None
    mount_jitter_deg: float = 0.0
    lever_arm_m: Vec3 | None = None
    slam_rate_hz: float = 30.0
    slam_pos_rw_m: float = 0.0
    slam_yaw_rw_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.slot is not None:
            slot_mount(self.kind, self.slot)
        elif self.kind not in KINDS:
            raise EdgeSDKError(f"unknown device kind {self.kind!r}; kinds are {', '.join(KINDS)}")
        where = f"device {self.device_id}"
        rate_hz = DEFAULT_RATE_HZ[self.kind] if self.rate_hz is None else self.rate_hz
        object.__setattr__(self, "rate_hz", float(rate_hz))
        for name in ("acc_bias_mps2", "gyro_bias_rads", "lever_arm_m", "mount_quat_wxyz"):
            value = getattr(self, name)
            if value is None:
                continue
            size = 4 if name == "mount_quat_wxyz" else 3
            vec = tuple(float(v) for v in value)
            if len(vec) != size or not all(math.isfinite(v) for v in vec):
                raise EdgeSDKError(f"{where}: {name} must be {size} finite numbers, got {value}")
            object.__setattr__(self, name, vec)
        if self.mount_quat_wxyz is not None and math.hypot(*self.mount_quat_wxyz) < 1e-6:
            raise EdgeSDKError(f"{where}: mount_quat_wxyz is zero")
        if not (self.rate_hz is not None and 0.0 < self.rate_hz <= 10_000.0):
            raise EdgeSDKError(f"{where}: rate_hz must be in (0, 10000], got {self.rate_hz}")
        burst = self.drop_burst_len
        if not (burst >= 1.0 and 0.0 <= self.drop_prob <= burst / (burst + 1.0)):
            raise EdgeSDKError(
                f"{where}: need drop_burst_len >= 1 and 0 <= drop_prob <= burst / (burst + 1) "
                f"(runs of kept samples are at least one long), got {self.drop_prob}, {burst}"
            )
        if not 0.0 <= self.slam_rate_hz <= 1000.0:
            raise EdgeSDKError(f"{where}: slam_rate_hz must be in [0, 1000]")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise EdgeSDKError(f"{where}: {f.name} is not finite ({value})")
            if f.name in _NON_NEGATIVE and value < 0:
                raise EdgeSDKError(f"{where}: {f.name} must be >= 0, got {value}")

    @property
    def device_id(self) -> str:
        """``{kind}_{slot}``, e.g. ``watch_left_wrist``, or the kind alone when the slot is not
        known: the stream's key and CSV file stem."""
        return self.kind if self.slot is None else f"{self.kind}_{self.slot}"

    @property
    def sample_rate_hz(self) -> float:
        """``rate_hz`` as a float (never None after construction)."""
        assert self.rate_hz is not None
        return float(self.rate_hz)

    def ideal(self) -> DeviceSpec:
        """The same device without noise, bias, jitter, drops, drift or mount jitter."""
        clean = DeviceSpec(self.kind, self.slot)
        return dataclasses.replace(self, **{n: getattr(clean, n) for n in _NOISE_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "spec") -> DeviceSpec:
        """Inverse of ``to_dict``; unknown or missing keys raise ``EdgeSDKError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise EdgeSDKError(f"{where}: unknown device spec fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise EdgeSDKError(f"{where}: bad device spec ({exc})") from exc

    @classmethod
    def phone(cls, slot: str = "right_pocket", **overrides: Any) -> DeviceSpec:
        """A typical phone in a front trouser pocket (100 Hz, MEMS noise, random heading)."""
        return cls("phone", slot, **{**_TYPICAL["phone"], **overrides})

    @classmethod
    def watch(cls, slot: str = "left_wrist", **overrides: Any) -> DeviceSpec:
        """A typical smartwatch (50 Hz, Bluetooth-batched: more jitter and bursty drops)."""
        return cls("watch", slot, **{**_TYPICAL["watch"], **overrides})

    @classmethod
    def glasses(cls, **overrides: Any) -> DeviceSpec:
        """Typical camera glasses (200 Hz IMU, 30 Hz SLAM head pose with drift)."""
        return cls("glasses", "head", **{**_TYPICAL["glasses"], **overrides})

    @classmethod
    def earbuds(cls, **overrides: Any) -> DeviceSpec:
        """Typical earbuds with head tracking (100 Hz over Bluetooth, bursty drops)."""
        return cls("earbuds", "head", **{**_TYPICAL["earbuds"], **overrides})


# Everything ``DeviceSpec.ideal`` resets; the first ten must also be non-negative.
_NOISE_FIELDS = (
    "jitter_std_s", "acc_noise_std_mps2", "gyro_noise_std_rads", "acc_bias_rw", "gyro_bias_rw",
    "quat_noise_std_deg", "heading_rw_deg", "mount_jitter_deg", "slam_pos_rw_m",
    "slam_yaw_rw_deg", "clock_drift_ppm", "drop_prob", "drop_burst_len", "acc_bias_mps2",
    "gyro_bias_rads",
)  # fmt: skip
_NON_NEGATIVE = frozenset(_NOISE_FIELDS[:10])
# Typical consumer devices: white noise per sample at the default rate, bias random walks,
# fusion errors, Bluetooth-like jitter and losses, and arbitrary heading and clock offset.
_COMMON: dict[str, Any] = {
    "clock_offset_s": None, "heading_deg": None, "clock_drift_ppm": 20.0, "acc_bias_rw": 3e-4,
    "gyro_bias_rw": 3e-5, "quat_noise_std_deg": 0.3, "heading_rw_deg": 0.1,
}  # fmt: skip
_TYPICAL: dict[str, dict[str, Any]] = {
    "phone": {**_COMMON, "acc_noise_std_mps2": 0.02, "gyro_noise_std_rads": 0.003,
              "jitter_std_s": 0.0005, "drop_prob": 0.002, "mount_jitter_deg": 10.0},
    "watch": {**_COMMON, "acc_noise_std_mps2": 0.03, "gyro_noise_std_rads": 0.005,
              "jitter_std_s": 0.002, "drop_prob": 0.01, "drop_burst_len": 3.0,
              "mount_jitter_deg": 5.0},
    "glasses": {**_COMMON, "acc_noise_std_mps2": 0.01, "gyro_noise_std_rads": 0.002,
                "jitter_std_s": 0.0001, "drop_prob": 0.001, "mount_jitter_deg": 2.0,
                "slam_pos_rw_m": 0.002, "slam_yaw_rw_deg": 0.05},
    "earbuds": {**_COMMON, "acc_noise_std_mps2": 0.03, "gyro_noise_std_rads": 0.005,
                "jitter_std_s": 0.003, "drop_prob": 0.02, "drop_burst_len": 5.0,
                "mount_jitter_deg": 8.0},
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class DeviceStream:
    """What one device recorded, on its own clock, in its own frames.

    Attributes:
        spec: the device.
        t_ns: ``[N]`` int64 timestamps of the device's monotonic clock.
        acc_mps2, user_acc_mps2, gyro_rads: ``[N, 3]`` in the sensor frame.
        quat_wxyz: ``[N, 4]`` fused ``q_world_sensor`` (world Z up, the device's heading), w >= 0.
            ``quat_wxyz`` and ``user_acc_mps2`` are None for a device that gives raw
            accelerometer and gyroscope only (the runtime then estimates the orientation).
        heading_deg, clock_offset_s, mount_quat_wxyz, lever_arm_m: ground truth of the
            simulation (the device world's yaw, the clock's offset, ``R_bone_sensor`` and the
            sensor point in the bone frame); None for real recordings.
    """

    spec: DeviceSpec
    t_ns: np.ndarray
    acc_mps2: np.ndarray
    user_acc_mps2: np.ndarray | None
    gyro_rads: np.ndarray
    quat_wxyz: np.ndarray | None
    heading_deg: float | None = None
    clock_offset_s: float | None = None
    mount_quat_wxyz: Quat | None = None
    lever_arm_m: Vec3 | None = None

    def __post_init__(self) -> None:
        n = len(self.t_ns)
        if self.t_ns.dtype != np.int64 or self.t_ns.ndim != 1:
            raise EdgeSDKError(f"{self.device_id}: t_ns must be a 1-D int64 array")
        if (self.quat_wxyz is None) != (self.user_acc_mps2 is None):
            raise EdgeSDKError(f"{self.device_id}: quat_wxyz and user_acc_mps2 go together")
        for name, width in (("acc_mps2", 3), ("user_acc_mps2", 3), ("gyro_rads", 3),
                            ("quat_wxyz", 4)):  # fmt: skip
            value = getattr(self, name)
            if value is not None and value.shape != (n, width):
                raise EdgeSDKError(f"{self.device_id}: {name} must have shape ({n}, {width})")

    @property
    def device_id(self) -> str:
        return self.spec.device_id

    @property
    def num_samples(self) -> int:
        return len(self.t_ns)

    @property
    def has_quat(self) -> bool:
        """Whether the device gave a fused orientation (``quat_wxyz`` and ``user_acc_mps2``)."""
        return self.quat_wxyz is not None


@dataclass(frozen=True, eq=False)
class HeadPose:
    """A glasses' SLAM trajectory of its IMU frame: ``t_ns [N]`` (the glasses' clock),
    ``pos_m [N, 3]`` and ``quat_wxyz [N, 4]`` in the glasses' world (Z up, the glasses'
    heading, origin on the floor below the clip's origin)."""

    device_id: str
    t_ns: np.ndarray
    pos_m: np.ndarray
    quat_wxyz: np.ndarray
    rate_hz: float


@dataclass(frozen=True, eq=False)
class Take:
    """One recording session: the devices' streams keyed by device id, an optional glasses
    head pose, and where it came from (the ground-truth clip's name and the seed)."""

    streams: Mapping[str, DeviceStream]
    head_pose: HeadPose | None = None
    clip_name: str = ""
    seed: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, stream in self.streams.items():
            if key != stream.device_id:
                raise EdgeSDKError(f"take: stream key {key!r} != device id {stream.device_id!r}")


class _SensorTrack:
    """The smooth trajectory of a point and frame rigidly mounted on one bone of a clip."""

    def __init__(self, clip: Clip, bone_joint: int, lever_m: np.ndarray,
                 R_bone_sensor: np.ndarray, lowpass_hz: float | None) -> None:  # fmt: skip
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


def _num_samples(duration_s: float, rate_hz: float) -> int:
    return math.floor(duration_s * rate_hz + 1e-9) + 1


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
    track = _SensorTrack(clip, mount.bone_joint, lever_m, R_bone_sensor, lowpass_hz)
    t_s = np.arange(clip.num_frames) / clip.fps
    R_world_sensor, gyro_rads = track.orientation(t_s)
    return {
        "acc_world_mps2": track.pos(t_s, 2),
        "R_world_sensor": R_world_sensor,
        "gyro_rads": gyro_rads,
        "pos_m": track.pos(t_s),
    }


@dataclass(frozen=True)
class _Realized:
    """A device's seeded draws that every output of it shares."""

    heading_deg: float
    clock_offset_s: float
    R_bone_sensor: np.ndarray
    lever_m: np.ndarray
    rngs: dict[str, np.random.Generator]
    track: _SensorTrack


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
        track=_SensorTrack(clip, mount.bone_joint, lever, R_bs, lowpass_hz),
    )


def simulate_device(
    clip: Clip, spec: DeviceSpec, seed: int = 0, lowpass_hz: float | None = MOCAP_LOWPASS_HZ
) -> DeviceStream:
    """One device's stream over the whole clip, deterministic for ``(clip, spec, seed)``.

    True time 0 is the clip's first frame; the device samples every ``1 / rate_hz`` seconds
    of true time and stamps each sample ``t_ns = offset + t (1 + drift) + jitter`` on its clock.

    Example:
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
    acc += _bias(rngs["acc_bias"], spec.acc_bias_mps2, spec.acc_bias_rw, n, dt)
    acc += _white(rngs["acc"], spec.acc_noise_std_mps2, (n, 3))
    gyro = gyro_true + _bias(rngs["gyro_bias"], spec.gyro_bias_rads, spec.gyro_bias_rw, n, dt)
    gyro += _white(rngs["gyro"], spec.gyro_noise_std_rads, (n, 3))

    fusion = rngs["fusion"]
    yaw_drift = _random_walk(fusion, spec.heading_rw_deg, (n,), dt)
    tilt = _white(fusion, np.radians(spec.quat_noise_std_deg), (n, 3))
    R_fused = (
        Rotation.from_rotvec(tilt).as_matrix() @ _rot_z(np.radians(yaw_drift)) @ R_world_sensor
    )
    user_acc = acc - R_fused[:, 2, :] * GRAVITY_MPS2  # acc - R^T (0, 0, g)
    quat = Rotation.from_matrix(R_fused).as_quat(canonical=True, scalar_first=True)

    t_ns = _clock(t_true_s, real.clock_offset_s, spec, rngs["clock"], jitter=True)
    keep = ~_drop_mask(rngs["drop"], n, spec.drop_prob, spec.drop_burst_len)
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
    R_drift = _rot_z(np.radians(_random_walk(rng, spec.slam_yaw_rw_deg, (n,), 1.0 / rate)))
    pos_drift = _random_walk(rng, spec.slam_pos_rw_m, (n, 3), 1.0 / rate)
    pos_m = np.einsum("nij,nj->ni", R_drift, track.pos(t_true_s) @ R_map.T) + pos_drift
    R_est = R_drift @ R_map @ R_yup_sensor
    return HeadPose(
        device_id=spec.device_id,
        t_ns=_clock(t_true_s, real.clock_offset_s, spec, real.rngs["clock"], jitter=False),
        pos_m=pos_m,
        quat_wxyz=Rotation.from_matrix(R_est).as_quat(canonical=True, scalar_first=True),
        rate_hz=float(rate),
    )


def simulate_take(clip: Clip, specs: Sequence[DeviceSpec], seed: int = 0,
                  lowpass_hz: float | None = MOCAP_LOWPASS_HZ) -> Take:  # fmt: skip
    """All devices of one session; each stream equals ``simulate_device(clip, spec, seed)``
    (a device's randomness depends only on the seed and its device id).

    Example:
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


def _white(rng: np.random.Generator, std: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0.0, std, shape) if std > 0 else np.zeros(shape)


def _random_walk(
    rng: np.random.Generator, std_per_sqrt_s: float, shape: tuple[int, ...], dt_s: float
) -> np.ndarray:
    """A walk that starts at 0 with variance ``std^2 t`` at time ``t``."""
    if std_per_sqrt_s <= 0:
        return np.zeros(shape)
    steps = rng.normal(0.0, std_per_sqrt_s * math.sqrt(dt_s), shape)
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def _bias(
    rng: np.random.Generator, initial: Vec3, rw_per_sqrt_s: float, n: int, dt_s: float
) -> np.ndarray:
    return np.asarray(initial, dtype=np.float64) + _random_walk(rng, rw_per_sqrt_s, (n, 3), dt_s)


def _clock(
    t_true_s: np.ndarray, offset_s: float, spec: DeviceSpec, rng: np.random.Generator, jitter: bool
) -> np.ndarray:
    local_s = t_true_s * (1.0 + spec.clock_drift_ppm * 1e-6)
    if jitter:
        local_s = local_s + _white(rng, spec.jitter_std_s, local_s.shape)
    # The offset is added in integer nanoseconds so large offsets keep nanosecond resolution.
    return np.int64(round(offset_s * 1e9)) + np.round(local_s * 1e9).astype(np.int64)


def _drop_mask(rng: np.random.Generator, n: int, prob: float, burst_len: float) -> np.ndarray:
    """True where a sample is lost: alternating runs of kept and lost samples, both geometric
    (a two-state Gilbert chain), lost runs of mean ``burst_len``, a fraction ``prob`` lost."""
    if prob <= 0 or n == 0:
        return np.zeros(n, dtype=bool)
    mean_keep = burst_len * (1.0 - prob) / prob  # >= 1, checked by DeviceSpec
    start_dropping = bool(rng.random() < prob)
    chunks: list[np.ndarray] = []
    total = 0
    while total < n + 1:
        pairs = max(16, int(2 * n / (mean_keep + burst_len)) + 1)
        runs = np.stack(
            [rng.geometric(1.0 / mean_keep, pairs), rng.geometric(1.0 / burst_len, pairs)], 1
        ).ravel()  # keep, drop, keep, drop, ...
        chunks.append(runs)
        total += int(runs.sum()) - (int(runs[0]) if len(chunks) == 1 and start_dropping else 0)
    lengths = np.concatenate(chunks)
    states = np.tile([False, True], len(lengths) // 2)
    if start_dropping:  # the geometric runs are memoryless: start inside a burst
        lengths, states = lengths[1:], states[1:]
    return np.repeat(states, lengths)[:n]


def _rot_z(angle_rad: np.ndarray | float) -> np.ndarray:
    """Rotation(s) about +Z, ``[..., 3, 3]``."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, -1) for r in rows], -2)

"""A virtual device's description: its kind and slot, its clock, and its error model (noise,
bias random walks, fusion errors, jitter, drops, mount and heading), with typical consumer
devices as presets. numpy only; ``edgesdk.data.simulate`` draws a stream from it.

Example:
    >>> DeviceSpec.watch().device_id, DeviceSpec.watch().ideal().acc_noise_std_mps2
    ('watch_left_wrist', 0.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgesdk.body.rotations_numpy import Quat
from edgesdk.data.mounts import DEFAULT_RATE_HZ, KINDS, Vec3, slot_mount
from edgesdk.errors import EdgeSDKError


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
    "jitter_std_s",
    "acc_noise_std_mps2",
    "gyro_noise_std_rads",
    "acc_bias_rw",
    "gyro_bias_rw",
    "quat_noise_std_deg",
    "heading_rw_deg",
    "mount_jitter_deg",
    "slam_pos_rw_m",
    "slam_yaw_rw_deg",
    "clock_drift_ppm",
    "drop_prob",
    "drop_burst_len",
    "acc_bias_mps2",
    "gyro_bias_rads",
)
_NON_NEGATIVE = frozenset(_NOISE_FIELDS[:10])
# Typical consumer devices: white noise per sample at the default rate, bias random walks,
# fusion errors, Bluetooth-like jitter and losses, and arbitrary heading and clock offset.
_COMMON: dict[str, Any] = {
    "clock_offset_s": None,
    "heading_deg": None,
    "clock_drift_ppm": 20.0,
    "acc_bias_rw": 3e-4,
    "gyro_bias_rw": 3e-5,
    "quat_noise_std_deg": 0.3,
    "heading_rw_deg": 0.1,
}
_TYPICAL: dict[str, dict[str, Any]] = {
    "phone": {
        **_COMMON,
        "acc_noise_std_mps2": 0.02,
        "gyro_noise_std_rads": 0.003,
        "jitter_std_s": 0.0005,
        "drop_prob": 0.002,
        "mount_jitter_deg": 10.0,
    },
    "watch": {
        **_COMMON,
        "acc_noise_std_mps2": 0.03,
        "gyro_noise_std_rads": 0.005,
        "jitter_std_s": 0.002,
        "drop_prob": 0.01,
        "drop_burst_len": 3.0,
        "mount_jitter_deg": 5.0,
    },
    "glasses": {
        **_COMMON,
        "acc_noise_std_mps2": 0.01,
        "gyro_noise_std_rads": 0.002,
        "jitter_std_s": 0.0001,
        "drop_prob": 0.001,
        "mount_jitter_deg": 2.0,
        "slam_pos_rw_m": 0.002,
        "slam_yaw_rw_deg": 0.05,
    },
    "earbuds": {
        **_COMMON,
        "acc_noise_std_mps2": 0.03,
        "gyro_noise_std_rads": 0.005,
        "jitter_std_s": 0.003,
        "drop_prob": 0.02,
        "drop_burst_len": 5.0,
        "mount_jitter_deg": 8.0,
    },
}

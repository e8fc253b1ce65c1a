"""What a device recorded: its streams on its own clock (``DeviceStream``), a glasses' SLAM
head pose (``HeadPose``) and one session of them (``Take``). numpy only: the runtime reads
takes on an edge board.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgesdk.body.rotations_numpy import Quat
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.mounts import Vec3
from edgesdk.errors import EdgeSDKError


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
        for name, width in (
            ("acc_mps2", 3),
            ("user_acc_mps2", 3),
            ("gyro_rads", 3),
            ("quat_wxyz", 4),
        ):
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

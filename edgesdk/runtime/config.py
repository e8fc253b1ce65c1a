"""A session's tunables and its output frame.

Example:
    >>> SessionConfig(max_latency_s=0.05).dropout_timeout_s
    0.3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError


@dataclass(frozen=True)
class SessionConfig:
    """Tunables of a session (times in seconds)."""

    max_latency_s: float = 0.1
    dropout_timeout_s: float = 0.3
    max_backlog_s: float = 2.0
    max_unread_frames: int = 3000  # frames kept for ``poses()``; older unread ones are dropped
    buffer_s: float = 2.0
    max_rate_hz: float = 1000.0
    max_devices: int = 8
    device_expiry_s: float = 10.0  # a device silent this long gives its place to a new one
    allow_new_devices: bool = True
    still_s: float = 1.0
    still_gyro_rads: float = 0.3
    still_acc_std_mps2: float = 0.3
    npose_tol_deg: float = 35.0
    recal_tilt_deg: float = 12.0
    drift_deg: float = 6.0
    placement_every_s: float = 1.0
    placement_window_s: float = 6.0
    clock_jump_s: float = 2.0
    activity_calibration: bool = True  # mount and heading from ordinary activity
    # Anti-aliasing of the accelerometer before frames are sampled, Hz (0: off). Off by
    # default: on the real phone + watch recordings (benchmarks/real_devices.py) an 8 Hz
    # filter changed no figure beyond noise, and its 40 ms lag moves simulated replays.
    acc_lowpass_hz: float = 0.0
    use_kind_hints: bool = True  # False: ignore device kinds (given or in ids), signals only
    # Models with an activity head: time constant of the smoothing of its class probabilities
    # and description embedding (edgesdk.runtime.activity; 0: none).
    activity_smoothing_s: float = 0.5
    # Models that read text (ego4o-student): feed the model's own description back as its
    # text input (closed loop) once its smoothed class probability reaches the confidence.
    text_feedback: bool = False
    text_feedback_confidence: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "max_latency_s",
            "dropout_timeout_s",
            "buffer_s",
            "still_s",
            "device_expiry_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise EdgeSDKError(f"SessionConfig.{name}={value!r}: must be a positive number")
        for name in ("activity_smoothing_s", "text_feedback_confidence"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise EdgeSDKError(f"SessionConfig.{name}={value!r}: must be a number >= 0")
        if self.max_devices < 1:
            raise EdgeSDKError(f"SessionConfig.max_devices={self.max_devices}: must be >= 1")


@dataclass(frozen=True)
class Frame:
    """One output pose.

    ``t_ns``: session time of the frame; ``R_world_joint_6d [22, 6]`` and ``pos_rel_m
    [22, 3]`` (pelvis-relative) in the model world (Y up, facing +Z at the first
    calibration); ``root_m [3]``: the pelvis dead-reckoned from the model's root velocity
    (drifts); ``contact [2]``; ``devices``: per device its slot, confidence and whether it was
    used (shared by consecutive frames while it does not change: read it, do not modify it);
    ``mask [5]`` per slot; ``latency_ns``: session time when made minus ``t_ns``;
    ``activity``: with a model that has an activity head, ``{"label", "confidence", "top3",
    "description"}`` (``edgesdk.runtime.activity``), else None.
    """

    t_ns: int
    R_world_joint_6d: np.ndarray
    pos_rel_m: np.ndarray
    root_m: np.ndarray
    contact: np.ndarray
    mask: np.ndarray
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_ns: int = 0
    activity: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (numbers rounded to 0.1 mm / 1e-5)."""
        out: dict[str, Any] = {
            "t_ns": self.t_ns,
            "latency_ns": self.latency_ns,
            "R_world_joint_6d": np.round(self.R_world_joint_6d, 5).tolist(),
            "pos_rel_m": np.round(self.pos_rel_m, 4).tolist(),
            "root_m": np.round(self.root_m, 4).tolist(),
            "contact": np.round(self.contact, 4).tolist(),
            "mask": {s: int(m) for s, m in zip(SLOTS, self.mask, strict=True)},
            "devices": self.devices,
        }
        if self.activity is not None:
            out["activity"] = self.activity
        return out

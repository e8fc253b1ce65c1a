"""What a model's inputs look like when they come from real devices through the runtime.

Training and evaluation windows are built from the clean kinematics of ``virtual_imu``. A
deployed model never sees those: it sees a phone's or a watch's own noisy sensors, fused into
an orientation by a filter without a magnetometer, mapped into the body's world by a
calibration that got the mount and the heading only approximately right. This module puts
those errors back into a window, per device, at the cost of a few array operations (running
the simulator and the runtime for every training window would cost milliseconds each).

For a device in slot ``s`` of kind ``k`` (head: glasses, wrists: watch, pockets: phone), with
``R_true(t) = R_world_bone(t) R_bone_sensor`` its nominally mounted orientation and
``a_true(t)`` its linear acceleration in the window's world (Y up):

    R_in(t) = Ry(psi(t)) T(t) R_true(t) J
    a_in(t) = Ry(psi(t)) [T(t) a_true(t) + (T(t) - I) g_up + R_true(t) J b] + n(t)

- ``J``: the mount error the calibration leaves (a random rotation of RMS ``mount_std_deg``,
  then a roll about the bone's long axis of ``roll_std_deg``: a watch strap turned on the
  forearm, a phone turned in the pocket);
- ``psi(t)``: the device's heading error relative to the other devices after calibration
  (``heading_std_deg``), plus the fused orientation's heading drift (``heading_rw_deg`` per
  sqrt(s));
- ``T(t)``: the orientation filter's tilt error, a slowly varying rotation about a horizontal
  axis (RMS ``tilt_std_deg``, correlation time ``tilt_tau_s``); through it gravity leaks into
  the user acceleration (``(T - I) g``: 0.17 m/s^2 per degree);
- ``b``: accelerometer bias in the sensor frame (``acc_bias_std_mps2`` per axis), ``n``: white
  noise (``acc_noise_std_mps2``);
- with probability ``hold_prob`` per frame the runtime had no fresh sample (dropped bursts)
  and repeats the previous frame's values.

The per-kind figures start from ``DeviceSpec.phone() / .watch() / .glasses()`` (noise, bias
walk, drops) and the runtime's measured calibration and filter errors (see ``ERRORS``).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> R = np.tile(np.eye(3, dtype=np.float32), (60, 1, 1))
    >>> acc = np.zeros((60, 3), np.float32)
    >>> acc_in, R_in = corrupt_device(rng, acc, R, ERRORS["phone"], fps=30.0, long_axis=1)
    >>> acc_in.shape, R_in.shape, bool(np.abs(acc_in).max() > 0)
    ((60, 3), (60, 3, 3), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgesdk.body.rotations_numpy import rot_y, rotvec_to_matrix
from edgesdk.data.mounts import GRAVITY_MPS2, SLOT_MOUNTS
from edgesdk.errors import EdgeSDKError

DEVICE_MODES = ("clean", "realistic")
HEAD_MODES = ("mocap", "slam")


@dataclass(frozen=True)
class DeviceErrors:
    """The errors of one kind of device as a model sees them through the runtime."""

    acc_noise_std_mps2: float
    acc_bias_std_mps2: float
    tilt_std_deg: float
    tilt_tau_s: float
    heading_std_deg: float
    heading_rw_deg: float
    mount_std_deg: float
    roll_std_deg: float
    hold_prob: float
    gyro_noise_std_rads: float = 0.005
    gyro_bias_std_rads: float = 0.005

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (math.isfinite(value) and value >= 0):
                raise EdgeSDKError(f"DeviceErrors.{name}={value!r}: must be finite and >= 0")
        if self.hold_prob >= 1:
            raise EdgeSDKError(f"DeviceErrors.hold_prob={self.hold_prob}: must be < 1")


# Per kind, from measurements (the figures in brackets):
# - acc noise: what a phone's accelerometer keeps after the runtime's 8 Hz anti-aliasing
#   (real pockets carry 0.5-2.3 m/s^2 above 8 Hz while walking, sp-sw-har), next to the
#   white noise of DeviceSpec.phone()/watch() (0.02 / 0.03 m/s^2); biases: factory offsets.
# - tilt: the accelerometer-gyroscope filter against motion capture
#   (benchmarks/results/attitude.json: median 4.4, p95 10.2 degrees, pocket and swinging arm).
# - heading and mount: the runtime's calibration without a pose on simulated sessions
#   (benchmarks/results/calibration.json: phone mount error median 16, p90 33 degrees;
#   watch 4 / 9 plus the strap's unobservable roll; phone-watch relative heading median 12,
#   p90 39 degrees: a thigh's heading is good to a few degrees, a forearm's to about twenty).
# - glasses: SLAM-grade orientation and a rigid mount.
ERRORS: dict[str, DeviceErrors] = {
    "phone": DeviceErrors(
        acc_noise_std_mps2=0.3,
        acc_bias_std_mps2=0.1,
        tilt_std_deg=5.0,
        tilt_tau_s=0.5,
        heading_std_deg=8.0,
        heading_rw_deg=0.5,
        mount_std_deg=12.0,
        roll_std_deg=8.0,
        hold_prob=0.005,
    ),
    "watch": DeviceErrors(
        acc_noise_std_mps2=0.3,
        acc_bias_std_mps2=0.1,
        tilt_std_deg=5.0,
        tilt_tau_s=0.5,
        heading_std_deg=20.0,
        heading_rw_deg=0.5,
        mount_std_deg=5.0,
        roll_std_deg=15.0,
        hold_prob=0.02,
    ),
    "glasses": DeviceErrors(
        acc_noise_std_mps2=0.1,
        acc_bias_std_mps2=0.05,
        tilt_std_deg=1.0,
        tilt_tau_s=0.5,
        heading_std_deg=5.0,
        heading_rw_deg=0.1,
        mount_std_deg=2.0,
        roll_std_deg=0.0,
        hold_prob=0.002,
    ),
}
# The kind of device each slot's window simulates, and the sensor axis along its bone (the
# axis a strap or a pocket lets the device turn about): a watch's crown axis (+X), a phone's
# long axis (+Y), the glasses' vertical (+Y, no roll).
SLOT_DEVICE: tuple[tuple[str, int], ...] = (
    ("glasses", 1),
    ("watch", 0),
    ("watch", 0),
    ("phone", 1),
    ("phone", 1),
)


@dataclass(frozen=True)
class SlamErrors:
    """Glasses' SLAM head trajectory: random-walk map drift since the session began (position
    ``pos_rw_m`` per sqrt(s), up to ``session_s`` seconds before the window), per-frame jitter
    (``pos_noise_m``) and the glasses' mount error (``mount_std_deg``), which the runtime's
    head-pose input turns into a head orientation and position error through the lever arm."""

    pos_rw_m: float = 0.002
    session_s: float = 600.0
    pos_noise_m: float = 0.003
    mount_std_deg: float = 2.0
    lever_m: tuple[float, float, float] = SLOT_MOUNTS[("glasses", "head")].offset_m


SLAM = SlamErrors()


def _random_rotation(rng: np.random.Generator, rms_deg: float) -> np.ndarray:
    """A rotation whose angle has RMS ``rms_deg`` (isotropic axis)."""
    return rotvec_to_matrix(rng.normal(0.0, math.radians(rms_deg) / math.sqrt(3.0), 3))


def _ar1(rng: np.random.Generator, n: int, dims: int, std: float, tau_frames: float) -> np.ndarray:
    """A stationary AR(1) sequence ``[n, dims]`` with marginal std ``std``."""
    if std <= 0:
        return np.zeros((n, dims))
    phi = math.exp(-1.0 / max(tau_frames, 1e-6))
    out = np.empty((n, dims))
    out[0] = rng.normal(0.0, std, dims)
    kicks = rng.normal(0.0, std * math.sqrt(1.0 - phi * phi), (n, dims))
    for t in range(1, n):
        out[t] = phi * out[t - 1] + kicks[t]
    return out


@dataclass(frozen=True)
class DeviceDraw:
    """One device's random errors over a window, drawn at ``n`` time steps: mount error
    ``J``, heading error ``psi [n]`` (rad) and filter tilt ``tilt [n, 3, 3]``, sensor biases."""

    errors: DeviceErrors
    J: np.ndarray
    psi: np.ndarray
    tilt: np.ndarray
    acc_bias: np.ndarray
    gyro_bias: np.ndarray

    @classmethod
    def draw(
        cls, rng: np.random.Generator, errors: DeviceErrors, n: int, rate_hz: float, long_axis: int
    ) -> DeviceDraw:
        e = errors
        J = _random_rotation(rng, e.mount_std_deg)
        roll = np.zeros(3)
        roll[long_axis] = rng.normal(0.0, math.radians(e.roll_std_deg))
        J = J @ rotvec_to_matrix(roll)
        walk = rng.normal(0.0, math.radians(e.heading_rw_deg) / math.sqrt(rate_hz), n)
        walk[0] = 0.0
        psi = math.radians(rng.normal(0.0, e.heading_std_deg)) + np.cumsum(walk)
        std = math.radians(e.tilt_std_deg) / math.sqrt(2.0)
        tilt = _ar1(rng, n, 2, std, e.tilt_tau_s * rate_hz)
        Tm = rotvec_to_matrix(np.stack([tilt[:, 0], np.zeros(n), tilt[:, 1]], -1))
        return cls(
            e,
            J,
            psi,
            Tm,
            rng.normal(0.0, e.acc_bias_std_mps2, 3),
            rng.normal(0.0, e.gyro_bias_std_rads, 3),
        )

    def apply(
        self,
        rng: np.random.Generator,
        acc_world_mps2: np.ndarray,
        R_world_sensor: np.ndarray,
        every: int = 1,
        gyro_rads: np.ndarray | None = None,
        hold: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(acc_in, R_in, gyro_in)`` for clean inputs at every ``every``-th drawn step (the
        module docstring's model); ``gyro_in`` (sensor frame) only when ``gyro_rads`` is given."""
        e = self.errors
        T = len(acc_world_mps2)
        Hy = rot_y(self.psi[::every][:T])
        Tm = self.tilt[::every][:T]
        R_true = np.asarray(R_world_sensor, np.float64)
        RJ = R_true @ self.J
        R_in = Hy @ Tm @ RJ
        g_up = np.array([0.0, GRAVITY_MPS2, 0.0])
        acc = np.einsum("tij,tj->ti", Tm, np.asarray(acc_world_mps2, np.float64))
        acc += (Tm - np.eye(3)) @ g_up + np.einsum("tij,j->ti", RJ, self.acc_bias)
        acc = np.einsum("tij,tj->ti", Hy, acc) + rng.normal(0.0, e.acc_noise_std_mps2, (T, 3))
        gyro = None
        if gyro_rads is not None:
            gyro = np.asarray(gyro_rads, np.float64) @ self.J + self.gyro_bias  # J^T w per row
            gyro = gyro + rng.normal(0.0, e.gyro_noise_std_rads, (T, 3))
        if hold and e.hold_prob > 0 and T > 1:
            fresh = rng.random(T) >= e.hold_prob
            fresh[0] = True
            idx = np.maximum.accumulate(np.where(fresh, np.arange(T), 0))
            acc, R_in = acc[idx], R_in[idx]
            gyro = gyro[idx] if gyro is not None else None
        f32 = np.float32
        return acc.astype(f32), R_in.astype(f32), gyro.astype(f32) if gyro is not None else None


def corrupt_device(
    rng: np.random.Generator,
    acc_world_mps2: np.ndarray,
    R_world_sensor: np.ndarray,
    errors: DeviceErrors,
    fps: float,
    long_axis: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One device's ``(acc_in [T, 3], R_in [T, 3, 3])`` as the runtime would feed them (the
    module docstring's model); inputs are the clean values in the window's Y-up world."""
    draw = DeviceDraw.draw(rng, errors, len(acc_world_mps2), fps, long_axis)
    acc, R, _ = draw.apply(rng, acc_world_mps2, R_world_sensor)
    return acc, R


def slam_head(
    rng: np.random.Generator,
    head_pos_m: np.ndarray,
    R_world_head: np.ndarray,
    fps: float,
    errors: SlamErrors = SLAM,
) -> tuple[np.ndarray, np.ndarray]:
    """``(head_pos_m [T, 3], R_world_head [T, 3, 3])`` as glasses' SLAM gives them through the
    runtime: the map has drifted since the session began, the glasses sit slightly off their
    nominal mount (the runtime maps the glasses' pose back to the head through the nominal
    mount and lever arm, so the error turns the head and moves it by the lever), and each
    frame jitters."""
    T = len(head_pos_m)
    e = errors
    since_s = rng.uniform(0.0, e.session_s)
    offset = rng.normal(0.0, e.pos_rw_m * math.sqrt(since_s), 3)
    steps = rng.normal(0.0, e.pos_rw_m / math.sqrt(fps), (T, 3))
    steps[0] = 0.0
    drift = offset + np.cumsum(steps, 0)
    J = _random_rotation(rng, e.mount_std_deg)
    R = np.asarray(R_world_head, np.float64)
    lever = np.asarray(e.lever_m)
    R_est = R @ J
    # glasses at p + R lever; the runtime subtracts R_est lever
    pos = np.asarray(head_pos_m, np.float64) + (R - R_est) @ lever + drift
    pos += rng.normal(0.0, e.pos_noise_m, (T, 3))
    return pos.astype(np.float32), R_est.astype(np.float32)

"""Orientation from a raw accelerometer and gyroscope (no magnetometer): ``q_world_sensor``
with world Z up and an arbitrary heading, as docs/sensors.md wants it.

``ImuFilter`` is a Mahony complementary filter (Mahony, Hamel, Pflimlin 2008, "Nonlinear
complementary filters on the special orthogonal group") in plain Python floats, one
``update`` per sample (3-5 microseconds: the runtime's ``Session`` runs one per device and
sample, where numpy's per-call overhead on 3-vectors would cost more than the maths):

- the gyroscope, less its estimated bias, is integrated exactly over each step
  (``q <- q * exp(w dt / 2)``);
- the accelerometer corrects the tilt: the specific force is turned into the world frame and
  low-passed there (``tau_s``), and the filter turns towards putting that mean on +Z with gain
  ``kp`` (rad/s per unit of error). Over a second, a swinging arm's centripetal acceleration
  and a walking thigh's steps average out in the world frame while gravity stays, so this
  is far less fooled by periodic motion than correcting with each sample's acceleration
  (on the attitude benchmark's swinging trial, 6 instead of 15 degrees median tilt error);
- the integral term ``ki`` learns the gyroscope's bias about the axes gravity observes, but
  only from calm samples (angular rate below ``calm_rads`` and ``|acc|`` within ``calm_acc``
  of ``g``): in motion, what the accelerometer says about gravity is off by a few degrees in
  a way that follows the motion (a pocket phone's thigh swing, a hand's arc), and an integral
  fed all samples learns that as bias (on the attitude benchmark, up to 0.1 rad/s wrong while
  running, where the true bias is constant);
- a stand-still (``still_s`` of gyro within ``still_rads`` of its mean and ``|acc|`` within
  2 % of ``g``) sets the bias on all three axes, the vertical one included, to the
  stand-still's mean gyro, and levels fast (``kp_still``); a raw gyro's bias may be larger
  than ``still_rads``, so the test is on the gyro's spread, not its size (a mean beyond
  ``max_bias_rads`` is a steady turn; one far from the bias learnt so far must last
  ``4 * still_s``);
- the first ``warmup_s`` levels fast too (``kp_warmup``), so a stream that starts in motion
  converges.

Without a magnetometer nothing observes the heading: it starts as the shortest turn of the
first sample's up onto +Z (no turn about the vertical) and drifts with whatever vertical gyro
bias the filter has not learnt. ``benchmarks/attitude.py`` measures tilt error and heading
drift against motion capture, beside CoreMotion's own fusion.

Example:
    >>> f = ImuFilter()
    >>> for i in range(200):   # 2 s lying face up, still, with a small gyro bias
    ...     q = f.update(i * 10_000_000, (0.0, 0.0, 9.81), (0.01, -0.02, 0.005))
    >>> [round(v, 2) + 0.0 for v in q]        # level: identity
    [1.0, 0.0, 0.0, 0.0]
    >>> [round(b, 3) + 0.0 for b in f.bias]   # the bias learnt at the stand-still
    [0.01, -0.02, 0.005]
"""

from __future__ import annotations

import math

import numpy as np

GRAVITY_MPS2 = 9.80665
Quat = tuple[float, float, float, float]


class ImuFilter:
    """One device's orientation filter; ``update`` takes one sample and returns
    ``q_world_sensor`` (w, x, y, z; ``w >= 0``). See the module docstring."""

    def __init__(
        self,
        *,
        kp: float = 1.0,
        ki: float = 0.5,
        tau_s: float = 1.0,
        kp_still: float = 5.0,
        kp_warmup: float = 10.0,
        warmup_s: float = 1.0,
        calm_rads: float = 0.5,
        calm_acc: float = 0.05,
        still_rads: float = 0.06,
        still_s: float = 0.5,
        max_bias_rads: float = 0.2,
        max_dt_s: float = 0.2,
    ) -> None:
        self.kp, self.ki, self.kp_still, self.kp_warmup = kp, ki, kp_still, kp_warmup
        self.tau_s = tau_s
        self.warmup_ns = round(warmup_s * 1e9)
        self.calm_rads2 = calm_rads * calm_rads
        self.calm_dev = calm_acc * GRAVITY_MPS2
        self.still_rads2 = still_rads * still_rads
        self.still_ns = round(still_s * 1e9)
        self.max_bias = max_bias_rads
        self.max_dt_s = max_dt_s
        self.q: Quat | None = None
        self.bias = [0.0, 0.0, 0.0]
        self.t_ns: int | None = None
        self.t0_ns = 0
        self.still_updates = 0  # stand-stills that set the bias
        self._mean = [0.0, 0.0, GRAVITY_MPS2]  # low-passed specific force, world frame
        self._still_since: int | None = None
        self._still_sum = [0.0, 0.0, 0.0, 0]  # gyro sums and count over the stand-still
        self._counted: int | None = None  # the stand-still last counted in still_updates

    def reset(self) -> None:
        """Forget the orientation (the next sample starts a new one); the bias stays."""
        self.q = None
        self.t_ns = None
        self._still_since = None

    def update(
        self, t_ns: int, acc: tuple[float, ...] | list[float], gyro: tuple[float, ...] | list[float]
    ) -> Quat:
        """Feed one sample (``t_ns`` on the device clock, ``acc`` m/s² with gravity, ``gyro``
        rad/s, both in the sensor frame); the orientation after it. A sample at or before
        the previous time leaves the orientation as it is (more than a second before it: the
        clock restarted, and the filter follows it); a longer step counts as ``max_dt_s``."""
        ax, ay, az = acc
        gx, gy, gz = gyro
        q = self.q
        if q is None or self.t_ns is None:
            q = self.q = _level(ax, ay, az)
            self.t_ns = self.t0_ns = t_ns
            m = self._mean
            m[0], m[1], m[2] = 0.0, 0.0, math.sqrt(ax * ax + ay * ay + az * az)
            return q
        dt_ns = t_ns - self.t_ns
        if dt_ns <= 0:
            if dt_ns < -1_000_000_000:  # the device clock restarted: follow it
                self.t_ns = t_ns
            return q
        self.t_ns = t_ns
        dt = min(dt_ns * 1e-9, self.max_dt_s)
        b = self.bias
        wx, wy, wz = gx - b[0], gy - b[1], gz - b[2]
        dev = abs(math.sqrt(ax * ax + ay * ay + az * az) - GRAVITY_MPS2)
        still = self._still(t_ns, dev, gx, gy, gz)
        calm = not still and dev < self.calm_dev and wx * wx + wy * wy + wz * wz < self.calm_rads2
        warm = t_ns - self.t0_ns < self.warmup_ns
        w, x, y, z = q
        # the specific force in the world frame (R(q) acc), low-passed
        tx, ty, tz = 2.0 * (y * az - z * ay), 2.0 * (z * ax - x * az), 2.0 * (x * ay - y * ax)
        m = self._mean
        a = min(1.0, (10.0 if warm or still else 1.0) * dt / self.tau_s)
        m[0] += a * (ax + w * tx + y * tz - z * ty - m[0])
        m[1] += a * (ay + w * ty + z * tx - x * tz - m[1])
        m[2] += a * (az + w * tz + x * ty - y * tx - m[2])
        mn = math.sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2])
        if mn > 1e-6:
            # Mahony's error, measured up x estimated up, in the world frame: (m / |m|) x +Z;
            # then in the sensor frame, R(q)^T e
            ex_w, ey_w = m[1] / mn, -m[0] / mn
            ex = (1.0 - 2.0 * (y * y + z * z)) * ex_w + 2.0 * (x * y + w * z) * ey_w
            ey = 2.0 * (x * y - w * z) * ex_w + (1.0 - 2.0 * (x * x + z * z)) * ey_w
            ez = 2.0 * (x * z + w * y) * ex_w + 2.0 * (y * z - w * x) * ey_w
            kp = self.kp_still if still else self.kp_warmup if warm else self.kp
            if calm and self.ki > 0.0:
                k, lim = self.ki * dt, self.max_bias
                b[0] = min(lim, max(-lim, b[0] - k * ex))
                b[1] = min(lim, max(-lim, b[1] - k * ey))
                b[2] = min(lim, max(-lim, b[2] - k * ez))
            wx, wy, wz = wx + kp * ex, wy + kp * ey, wz + kp * ez
        q = self.q = _integrate(q, wx, wy, wz, dt)
        return q

    def _still(self, t_ns: int, dev: float, gx: float, gy: float, gz: float) -> bool:
        """Track stand-stills (``dev``: ``||acc| - g|``); from ``still_s`` into one on (from
        ``4 * still_s`` when its mean gyro is far from the bias so far), the bias is its mean
        gyro."""
        s = self._still_sum
        if dev > 0.02 * GRAVITY_MPS2:
            self._still_since = None
            return False
        if self._still_since is not None:
            n = s[3]
            dx, dy, dz = gx - s[0] / n, gy - s[1] / n, gz - s[2] / n
            if dx * dx + dy * dy + dz * dz >= self.still_rads2:
                self._still_since = None
        if self._still_since is None:
            self._still_since = t_ns
            s[0], s[1], s[2], s[3] = gx, gy, gz, 1
            return False
        s[0] += gx
        s[1] += gy
        s[2] += gz
        s[3] += 1
        held = t_ns - self._still_since
        if held < self.still_ns:
            return False
        n, b = s[3], self.bias
        mx, my, mz = s[0] / n, s[1] / n, s[2] / n
        if mx * mx + my * my + mz * mz > self.max_bias * self.max_bias:
            return False  # a steady turn, not a bias
        dx, dy, dz = mx - b[0], my - b[1], mz - b[2]
        if dx * dx + dy * dy + dz * dz >= self.still_rads2 and held < 4 * self.still_ns:
            return False
        if self._counted != self._still_since:
            self._counted = self._still_since
            self.still_updates += 1
        b[0], b[1], b[2] = mx, my, mz
        return True


def _level(ax: float, ay: float, az: float) -> Quat:
    """The orientation with the measured up on world +Z and no heading: the shortest turn of
    the sensor's up vector onto +Z."""
    an = math.sqrt(ax * ax + ay * ay + az * az)
    if an < 1e-6:
        return (1.0, 0.0, 0.0, 0.0)
    vx, vy, vz = ax / an, ay / an, az / an
    if vz < -0.999999:  # upside down: half a turn about X
        return (0.0, 1.0, 0.0, 0.0)
    w, x, y = 1.0 + vz, vy, -vx  # (1 + v.z, v x z)
    n = math.sqrt(w * w + x * x + y * y)
    return (w / n, x / n, y / n, 0.0)


def _integrate(q: Quat, wx: float, wy: float, wz: float, dt: float) -> Quat:
    """``q * exp((wx, wy, wz) dt / 2)``, normalized, ``w >= 0``."""
    w, x, y, z = q
    rate = math.sqrt(wx * wx + wy * wy + wz * wz)
    half = 0.5 * rate * dt
    if rate > 1e-12:
        s = math.sin(half) / rate
        c = math.cos(half)
        dx, dy, dz = wx * s, wy * s, wz * s
        w, x, y, z = (
            w * c - x * dx - y * dy - z * dz,
            w * dx + x * c + y * dz - z * dy,
            w * dy - x * dz + y * c + z * dx,
            w * dz + x * dy - y * dx + z * c,
        )
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if w < 0.0:
        n = -n
    return (w / n, x / n, y / n, z / n)


def filter_orientation(
    t_ns: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray, **options: float
) -> np.ndarray:
    """``q_world_sensor [N, 4]`` of a whole stream, one ``ImuFilter`` update per sample
    (``options``: ``ImuFilter``'s tunables).

    Example:
        >>> t = np.arange(100, dtype=np.int64) * 10_000_000
        >>> acc = np.tile([0.0, 9.81, 0.0], (100, 1))    # standing upright in portrait
        >>> q = filter_orientation(t, acc, np.zeros((100, 3)))
        >>> (q[-1].round(4) + 0.0).tolist()              # +Y turned onto world +Z
        [0.7071, 0.7071, 0.0, 0.0]
    """
    f = ImuFilter(**options)
    update = f.update
    out = [
        update(t, a, g)
        for t, a, g in zip(t_ns.tolist(), acc_mps2.tolist(), gyro_rads.tolist(), strict=True)
    ]
    return np.array(out, dtype=np.float64).reshape(-1, 4)

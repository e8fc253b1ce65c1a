"""Phone and watch platform recordings: ``coremotion-txt``, ``android-csv``, ``ios-csv``
(docs/sensors.md sections 5 and 9 define the two CSVs). One device per take; its kind is
``--kind`` (default ``phone``).

- ``coremotion-txt``: a trial folder of the attitude set (``../shared/data/devices/attitude/
  ios/<trial>``), or a folder of such folders: ``accelerometer.txt`` (``t ax ay az``, g, raw
  CoreMotion sign: face up reads ``z = -1``, so ``acc = -9.80665 a``), ``gyroscope.txt``
  (``t gx gy gz``, rad/s), optional ``attitude.txt`` (``t w x y z``, CoreMotion's fused
  ``q_world_sensor``: ``R(q) acc`` is ``+g`` on Z, checked on all five trials), ``t`` seconds
  since boot (``t_ns = round(t 10^9)``). The accelerometer (~100 Hz) and the gyroscope and
  attitude (~94 Hz, one clock) are stamped apart: one row per accelerometer sample, the gyro
  linearly interpolated and the attitude slerped to its time; accelerometer samples outside
  the gyroscope's time span are dropped (``outside_gyro_span``). ``description.txt``'s boot
  time and ``timeAlignment.txt`` (mocap offset) go into ``source``.
- ``android-csv``: one file per take, one row per ``SensorEvent``: ``sensor,timestamp_ns,x,
  y,z,w`` (``sensor``: ``accelerometer``, ``gyroscope``, ``game_rotation_vector``, with or
  without the ``android.sensor.`` prefix; ``w`` empty for 3-value events; other sensors are
  skipped and counted as ``other_sensor``). Rows per accelerometer event, gyro interpolated,
  rotation vector slerped (``w`` computed when missing).
- ``ios-csv``: one file per take, one row per ``CMDeviceMotion`` (header ``IOS_HEADER``);
  ``acc = -9.80665 (gravity + userAcceleration)``, ``gyro = rotationRate``, ``quat = (w, x, y,
  z)`` of ``attitude.quaternion``, ``t_ns = round(timestamp 10^9)``.

Example:
    >>> android_quat(np.array([[0.0, 0.0, 0.0, np.nan]]))   # x, y, z and no w: w computed
    array([[1., 0., 0., 0.]])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.importers.common import (
    RawDevice,
    Recording,
    clean_device,
    interp_columns,
    read_table,
    slerp_quats,
)
from edgesdk.data.mounts import GRAVITY_MPS2
from edgesdk.errors import EdgeSDKError

ANDROID_HEADER = ("sensor", "timestamp_ns", "x", "y", "z", "w")
IOS_HEADER = (
    "timestamp",
    "gravity_x",
    "gravity_y",
    "gravity_z",
    "user_acc_x",
    "user_acc_y",
    "user_acc_z",
    "rotation_rate_x",
    "rotation_rate_y",
    "rotation_rate_z",
    "quat_x",
    "quat_y",
    "quat_z",
    "quat_w",
)
_ANDROID_SENSORS = ("accelerometer", "gyroscope", "game_rotation_vector")


def _files(src: Path, suffix: str) -> list[Path]:
    if src.is_file():
        return [src]
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix == suffix and p.is_file())
        if files:
            return files
        raise EdgeSDKError(f"{src}: no {suffix} files")
    raise EdgeSDKError(f"{src}: missing")


def _device(kind: str, path: Path) -> RawDevice:
    """An empty device named by its kind (``clean_device`` fills it)."""
    empty = np.zeros((0, 3))
    return RawDevice(kind, kind, np.zeros(0, np.int64), empty, empty, file=str(path))


# -- coremotion-txt


def read_coremotion_txt(src: Path, kind: str = "phone") -> list[Recording]:
    """One recording per trial folder under ``src`` (or ``src`` itself)."""
    if not src.exists():
        raise EdgeSDKError(f"{src}: missing")
    if (src / "accelerometer.txt").exists() or not src.is_dir():
        trials = [src]
    else:
        trials = sorted(p for p in src.iterdir() if (p / "accelerometer.txt").is_file())
        if not trials:
            raise EdgeSDKError(f"{src}: no trial folder with accelerometer.txt")
    return [_coremotion_trial(t, kind or "phone") for t in trials]


def _coremotion_trial(folder: Path, kind: str) -> Recording:
    acc = read_table(folder / "accelerometer.txt", None, width=4, sep=None)
    gyro = read_table(folder / "gyroscope.txt", None, width=4, sep=None)
    a = np.array(acc.rows)
    g = np.array(gyro.rows)
    device = _device(kind, folder / "accelerometer.txt")
    device.dropped.update(acc.dropped)
    device.dropped.update({f"gyroscope_{k}": v for k, v in gyro.dropped.items()})
    t_g = _sorted_ns(g[:, 0])
    order = np.argsort(t_g, kind="stable")
    t_g, g = t_g[order], g[order]
    t_a = np.round(a[:, 0] * 1e9).astype(np.int64)
    inside = (t_a >= t_g[0]) & (t_a <= t_g[-1])
    if (~inside).any():
        device.dropped["outside_gyro_span"] += int((~inside).sum())
    a, t_a = a[inside], t_a[inside]
    columns: dict[str, Any] = {
        "acc_mps2": -GRAVITY_MPS2 * a[:, 1:4],
        "gyro_rads": interp_columns(t_a, t_g, g[:, 1:4]),
    }
    source: dict[str, Any] = {"format": "coremotion-txt", "folder": folder.name}
    attitude = folder / "attitude.txt"
    if attitude.exists():
        att = np.array(read_table(attitude, None, width=5, sep=None).rows)
        t_q = _sorted_ns(att[:, 0])
        order = np.argsort(t_q, kind="stable")
        columns["quat_wxyz"] = slerp_quats(t_a, t_q[order], att[order, 1:5])
    description = folder / "description.txt"
    if description.exists():
        for line in description.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "BootTime":
                source["boot_time_s"] = float(value)
    alignment = folder / "timeAlignment.txt"
    if alignment.exists():
        source["mocap_time_offset_s"] = float(alignment.read_text().split()[0])
    return Recording(folder.name, [clean_device(device, t_a, columns)], source)


def _sorted_ns(t_s: np.ndarray) -> np.ndarray:
    return np.round(t_s * 1e9).astype(np.int64)


# -- android-csv


def android_quat(xyzw: np.ndarray) -> np.ndarray:
    """``(w, x, y, z)`` of rotation-vector values ``(x, y, z, w)``; ``w = sqrt(max(0, 1 - x² -
    y² - z²))`` where it is NaN (3-value events)."""
    x, y, z, w = xyzw.T
    w = np.where(np.isnan(w), np.sqrt(np.maximum(0.0, 1.0 - x * x - y * y - z * z)), w)
    return np.stack([w, x, y, z], 1)


def read_android_csv(src: Path, kind: str = "phone") -> list[Recording]:
    """One recording per ``.csv`` file (``src`` a file or a folder of them)."""
    return [_android_file(p, kind or "phone") for p in _files(src, ".csv")]


def _android_file(path: Path, kind: str) -> Recording:
    table = read_table(path, ANDROID_HEADER, width=6, text=(0,), integer=(1,), optional=(5,))
    device = _device(kind, path)
    device.dropped.update(table.dropped)
    by_sensor: dict[str, list[list[Any]]] = {s: [] for s in _ANDROID_SENSORS}
    for row in table.rows:
        name = row[0].removeprefix("android.sensor.").lower()
        if name not in by_sensor:
            device.dropped["other_sensor"] += 1
            continue
        if name != "game_rotation_vector" and row[5] == row[5]:  # a w on a 3-axis sensor
            device.dropped["wrong_field_count"] += 1
            continue
        by_sensor[name].append(row[1:])
    for name in ("accelerometer", "gyroscope"):
        if len(by_sensor[name]) < 2:
            raise EdgeSDKError(f"{path}: fewer than 2 {name} events")
    # int64 nanoseconds kept exact (a float64 holds only 53 bits)
    t_a = np.array([r[0] for r in by_sensor["accelerometer"]], dtype=np.int64)
    t_g = np.array([r[0] for r in by_sensor["gyroscope"]], dtype=np.int64)
    acc = np.array([r[1:] for r in by_sensor["accelerometer"]], dtype=np.float64)
    gyro = np.array([r[1:] for r in by_sensor["gyroscope"]], dtype=np.float64)
    order = np.argsort(t_g, kind="stable")
    t_g, gyro = t_g[order], gyro[order]
    inside = (t_a >= t_g[0]) & (t_a <= t_g[-1])
    if (~inside).any():
        device.dropped["outside_gyro_span"] += int((~inside).sum())
    acc, t_a = acc[inside], t_a[inside]
    columns: dict[str, Any] = {
        "acc_mps2": acc[:, 0:3],
        "gyro_rads": interp_columns(t_a, t_g, gyro[:, 0:3]),
    }
    if len(by_sensor["game_rotation_vector"]) >= 2:
        t_q = np.array([r[0] for r in by_sensor["game_rotation_vector"]], dtype=np.int64)
        rv = np.array([r[1:] for r in by_sensor["game_rotation_vector"]], dtype=np.float64)
        order = np.argsort(t_q, kind="stable")
        columns["quat_wxyz"] = slerp_quats(t_a, t_q[order], android_quat(rv[order]))
    source = {"format": "android-csv", "file": path.name}
    return Recording(path.stem, [clean_device(device, t_a, columns)], source)


# -- ios-csv


def read_ios_csv(src: Path, kind: str = "phone") -> list[Recording]:
    """One recording per ``.csv`` file (``src`` a file or a folder of them)."""
    return [_ios_file(p, kind or "phone") for p in _files(src, ".csv")]


def _ios_file(path: Path, kind: str) -> Recording:
    table = read_table(path, IOS_HEADER, width=len(IOS_HEADER))
    v = np.array(table.rows)
    device = _device(kind, path)
    device.dropped.update(table.dropped)
    unit = np.abs(np.linalg.norm(v[:, 10:14], axis=1) - 1.0) <= 0.01  # docs: unit within 1 %
    if (~unit).any():
        device.dropped["bad_quat"] += int((~unit).sum())
        v = v[unit]
    t_ns = np.round(v[:, 0] * 1e9).astype(np.int64)
    columns = {
        "acc_mps2": -GRAVITY_MPS2 * (v[:, 1:4] + v[:, 4:7]),
        "gyro_rads": v[:, 7:10],
        "quat_wxyz": v[:, [13, 10, 11, 12]],
    }
    source = {"format": "ios-csv", "file": path.name}
    return Recording(path.stem, [clean_device(device, t_ns, columns)], source)

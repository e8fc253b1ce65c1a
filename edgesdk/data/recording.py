"""The take folder: one CSV per device, an optional glasses head pose, and ``meta.json``.

A take folder (format version 1) holds::

    meta.json                  format, source clip, seed, and per device: kind, slot, rate,
                               units, clock, file; for simulated takes the full device spec
                               and the ground truth (heading, clock offset, mount, lever arm)
    {device_id}.csv            t_ns,acc_x,acc_y,acc_z,uacc_x,uacc_y,uacc_z,gyro_x,gyro_y,
                               gyro_z,quat_w,quat_x,quat_y,quat_z
    head_pose.csv              t_ns,pos_x,pos_y,pos_z,quat_w,quat_x,quat_y,quat_z (glasses)

``t_ns`` is an integer (the device's monotonic clock in nanoseconds); floats are written with
Python's shortest round-trip repr, so ``read_take(write_take(take))`` gives back identical
arrays. A device CSV may leave out the ``uacc_*`` columns (e.g. a raw Android recording);
``read_take`` then computes them as ``acc - R(q)^T (0, 0, g)``. A device with no fused
orientation leaves out the ``quat_*`` columns too (``t_ns,acc_*,gyro_*``): its stream then
has ``quat_wxyz = None`` and the runtime estimates the orientation. A device's ``slot`` may be
``null`` (placement unknown: the runtime detects it); its id is then its kind. Imported
recordings keep what they know about their source at the top level of ``meta.json``
(``IMPORT_KEYS``: ``source``, ``activity_labels``, ``dropped``, ...); ``read_take`` returns
those, and ``extra``, in ``Take.meta``. Units and frames are in docs/sensors.md.

Example:
    >>> import tempfile
    >>> from edgesdk.data.device_spec import DeviceSpec
    >>> from edgesdk.data.kinematics import tpose_clip
    >>> from edgesdk.data.simulate import simulate_take
    >>> take = simulate_take(tpose_clip(num_frames=15), [DeviceSpec.watch()], seed=3)
    >>> folder = write_take(take, Path(tempfile.mkdtemp()) / "take_0001")
    >>> sorted(p.name for p in folder.iterdir())
    ['meta.json', 'watch_left_wrist.csv']
    >>> back = read_take(folder).streams["watch_left_wrist"]
    >>> bool((back.acc_mps2 == take.streams["watch_left_wrist"].acc_mps2).all())
    True
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.mounts import GRAVITY_MPS2, slot_mount
from edgesdk.data.takes import DeviceStream, HeadPose, Take
from edgesdk.errors import EdgeSDKError
from edgesdk.io import temp_prefix
from edgesdk.reading import read_lines

FORMAT = "edgesdk-take"
FORMAT_VERSION = 1
META_FILE = "meta.json"
HEAD_POSE_FILE = "head_pose.csv"
DEVICE_COLUMNS: tuple[str, ...] = (
    "t_ns",
    "acc_x",
    "acc_y",
    "acc_z",
    "uacc_x",
    "uacc_y",
    "uacc_z",
    "gyro_x",
    "gyro_y",
    "gyro_z",
    "quat_w",
    "quat_x",
    "quat_y",
    "quat_z",
)
DEVICE_COLUMNS_NO_UACC: tuple[str, ...] = tuple(c for c in DEVICE_COLUMNS if "uacc" not in c)
DEVICE_COLUMNS_RAW: tuple[str, ...] = tuple(c for c in DEVICE_COLUMNS_NO_UACC if "quat" not in c)
# What an importer knows about a recording, kept at the top level of meta.json (docs/sensors.md
# section 7): the source's own fields, activity labels per device (label, t0_ns, t1_ns on that
# device's clock), rows dropped per device and reason, repeated timestamps, where each
# device's orientation came from, and the slots the user gave.
IMPORT_KEYS: tuple[str, ...] = (
    "source",
    "activity_labels",
    "dropped",
    "repeated_timestamps",
    "orientation",
    "user_slots",
)
HEAD_POSE_COLUMNS: tuple[str, ...] = (
    "t_ns",
    "pos_x",
    "pos_y",
    "pos_z",
    "quat_w",
    "quat_x",
    "quat_y",
    "quat_z",
)
DEVICE_UNITS: dict[str, str] = {
    "t_ns": "ns, int64, the device's monotonic clock (not synchronized between devices)",
    "acc": "m/s^2 (specific force, includes gravity), sensor frame",
    "uacc": "m/s^2 (linear acceleration, gravity removed), sensor frame",
    "gyro": "rad/s, sensor frame, right-handed",
    "quat": "wxyz, q_world_sensor, world Z up with the device's own heading",
}
HEAD_POSE_UNITS: dict[str, str] = {
    "t_ns": "ns, int64, the glasses' clock",
    "pos": "m, the glasses' IMU in the glasses' world (Z up, floor at z = 0)",
    "quat": "wxyz, q_world_glasses, same world as the glasses' quat",
}
_QUAT_NORM_TOL = 1e-2


def write_take(take: Take, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write a take folder atomically and return its path.

    Everything is written into a temporary sibling folder that is renamed into place at the
    end, so ``out_dir`` is either absent or complete. An existing ``out_dir`` is an error
    unless ``overwrite`` (then it is replaced; it is deleted only after the new take is
    complete).

    Example:
        >>> import tempfile
        >>> from edgesdk.data.device_spec import DeviceSpec
        >>> from edgesdk.data.kinematics import tpose_clip
        >>> from edgesdk.data.simulate import simulate_take
        >>> take = simulate_take(tpose_clip(), [DeviceSpec.glasses()], seed=0)
        >>> out = write_take(take, Path(tempfile.mkdtemp()) / "t")
        >>> sorted(p.name for p in out.iterdir())
        ['glasses_head.csv', 'head_pose.csv', 'meta.json']
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise EdgeSDKError(f"{out}: already exists (pass overwrite=True to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(f".{out.name}.tmp-"), dir=out.parent))
    try:
        _write_contents(take, tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EdgeSDKError(f"{out}: could not write the take ({exc})") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_contents(take: Take, folder: Path) -> None:
    devices: dict[str, Any] = {}
    for device_id, stream in take.streams.items():
        file = f"{device_id}.csv"
        if stream.quat_wxyz is not None and stream.user_acc_mps2 is not None:
            columns = DEVICE_COLUMNS
            parts = [stream.acc_mps2, stream.user_acc_mps2, stream.gyro_rads, stream.quat_wxyz]
        else:
            columns, parts = DEVICE_COLUMNS_RAW, [stream.acc_mps2, stream.gyro_rads]
        _write_csv(folder / file, columns, stream.t_ns, np.concatenate(parts, 1))
        devices[device_id] = _device_meta(stream, file, columns)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source_clip": take.clip_name,
        "seed": take.seed,
        "devices": devices,
    }
    if take.head_pose is not None:
        pose = take.head_pose
        _write_csv(
            folder / HEAD_POSE_FILE,
            HEAD_POSE_COLUMNS,
            pose.t_ns,
            np.concatenate([pose.pos_m, pose.quat_wxyz], 1),
        )
        meta["head_pose"] = {
            "file": HEAD_POSE_FILE,
            "device": pose.device_id,
            "rate_hz": pose.rate_hz,
            "num_samples": len(pose.t_ns),
            "columns": list(HEAD_POSE_COLUMNS),
            "units": HEAD_POSE_UNITS,
        }
    meta.update({k: v for k, v in take.meta.items() if k in IMPORT_KEYS})
    extra = {k: v for k, v in take.meta.items() if k not in IMPORT_KEYS}
    if extra:
        meta["extra"] = extra
    text = json.dumps(meta, indent=2, allow_nan=False)
    (folder / META_FILE).write_text(text + "\n", encoding="utf-8")


def _device_meta(stream: DeviceStream, file: str, columns: tuple[str, ...]) -> dict[str, Any]:
    spec = stream.spec
    entry: dict[str, Any] = {
        "file": file,
        "kind": spec.kind,
        "slot": spec.slot,
        "rate_hz": spec.sample_rate_hz,
        "num_samples": stream.num_samples,
        "bone": None if spec.slot is None else slot_mount(spec.kind, spec.slot).bone_name,
        "columns": list(columns),
        "units": DEVICE_UNITS,
        "clock": {
            "domain": "device monotonic clock (Android elapsedRealtimeNanos, iOS uptime)",
        },
    }
    simulated = stream.heading_deg is not None or stream.clock_offset_s is not None
    if not simulated and spec == DeviceSpec(spec.kind, spec.slot, rate_hz=spec.rate_hz):
        return entry  # a real device: kind, slot and rate say it all (no simulated clock)
    entry["clock"].update(
        offset_s=stream.clock_offset_s,
        drift_ppm=spec.clock_drift_ppm,
        jitter_std_s=spec.jitter_std_s,
    )
    entry["spec"] = spec.to_dict()
    truth = {
        "heading_deg": stream.heading_deg,
        "clock_offset_s": stream.clock_offset_s,
        "mount_quat_wxyz": stream.mount_quat_wxyz,
        "lever_arm_m": stream.lever_arm_m,
    }
    if any(v is not None for v in truth.values()):
        entry["ground_truth"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in truth.items()
        }
    return entry


def _write_csv(path: Path, columns: tuple[str, ...], t_ns: np.ndarray, values: np.ndarray) -> None:
    if not np.isfinite(values).all():
        raise EdgeSDKError(f"{path.name}: refusing to write NaN or inf values")
    lines = [",".join(columns)]
    lines.extend(
        f"{t}," + ",".join(map(repr, row))
        for t, row in zip(t_ns.tolist(), values.tolist(), strict=True)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_take(take_dir: str | Path) -> Take:
    """Read a take folder written by ``write_take`` (or by a phone app following
    docs/sensors.md); bad or missing files raise ``EdgeSDKError`` naming the file and problem.

    Example:
        >>> read_take("/nonexistent/take")
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: /nonexistent/take/meta.json: missing (not a take folder?)
    """
    folder = Path(take_dir)
    meta_path = folder / META_FILE
    meta = _read_meta(meta_path)
    devices = meta.get("devices")
    if not isinstance(devices, dict):
        raise EdgeSDKError(f"{meta_path}: 'devices' must be an object keyed by device id")
    streams = {}
    for device_id, entry in devices.items():
        streams[device_id] = _read_device(folder, meta_path, device_id, entry)
    head_pose = None
    if meta.get("head_pose") is not None:
        head_pose = _read_head_pose(folder, meta_path, meta["head_pose"])
    seed = meta.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise EdgeSDKError(f"{meta_path}: 'seed' is {_shown(seed)}: expected an integer or null")
    clip_name = meta.get("source_clip")
    if clip_name is not None and not isinstance(clip_name, str):
        raise EdgeSDKError(f"{meta_path}: 'source_clip' is {_shown(clip_name)}: expected a name")
    extra = meta.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise EdgeSDKError(f"{meta_path}: 'extra' is {_shown(extra)}: expected an object")
    return Take(
        streams=streams,
        head_pose=head_pose,
        clip_name=clip_name or "",
        seed=seed,
        meta={**(extra or {}), **{k: meta[k] for k in IMPORT_KEYS if k in meta}},
    )


def _read_meta(meta_path: Path) -> dict[str, Any]:
    if not meta_path.is_file():
        raise EdgeSDKError(f"{meta_path}: missing (not a take folder?)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EdgeSDKError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise EdgeSDKError(f"{meta_path}: must hold a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise EdgeSDKError(
            f"{meta_path}: format_version {version!r} is not supported (this reader: 1 to "
            f"{FORMAT_VERSION})"
        )
    return meta


def _read_device(folder: Path, meta_path: Path, device_id: str, entry: Any) -> DeviceStream:
    where = f"{meta_path} devices.{device_id}"
    if not isinstance(entry, dict):
        raise EdgeSDKError(f"{where}: must be an object")
    if isinstance(entry.get("spec"), dict):
        _check_spec_types(entry["spec"], f"{where}.spec")
        spec = DeviceSpec.from_dict(entry["spec"], where=f"{where}.spec")
    else:
        missing = [k for k in ("kind", "slot", "rate_hz") if k not in entry]
        if missing:
            raise EdgeSDKError(f"{where}: missing {', '.join(missing)}")
        if not isinstance(entry["kind"], str):
            raise EdgeSDKError(f"{where}.kind: expected a name, got {_shown(entry['kind'])}")
        rate_hz = _number(entry["rate_hz"], f"{where}.rate_hz")
        slot = entry["slot"]
        if slot is not None and not isinstance(slot, str):
            raise EdgeSDKError(f"{where}.slot: expected a slot name or null, got {_shown(slot)}")
        spec = DeviceSpec(entry["kind"], slot, rate_hz=rate_hz)
    if spec.device_id != device_id:
        raise EdgeSDKError(f"{where}: kind and slot give id {spec.device_id!r}, not {device_id!r}")
    path = take_file(folder, entry.get("file", f"{device_id}.csv"), f"{where}.file")
    headers = (DEVICE_COLUMNS, DEVICE_COLUMNS_NO_UACC, DEVICE_COLUMNS_RAW)
    columns, t_ns, values = _read_csv(path, headers)
    get = {c: values[:, i] for i, c in enumerate(columns[1:])}
    acc = np.stack([get["acc_x"], get["acc_y"], get["acc_z"]], 1)
    quat: np.ndarray | None = None
    user_acc: np.ndarray | None = None
    if "quat_w" in get:
        quat = np.stack([get["quat_w"], get["quat_x"], get["quat_y"], get["quat_z"]], 1)
        _check_unit_quats(path, quat)
        if "uacc_x" in get:
            user_acc = np.stack([get["uacc_x"], get["uacc_y"], get["uacc_z"]], 1)
        else:
            user_acc = acc - _quat_rows_z(quat) * GRAVITY_MPS2
    truth = entry.get("ground_truth") or {}
    if not isinstance(truth, dict):
        raise EdgeSDKError(f"{where}.ground_truth: expected an object, got {_shown(truth)}")
    return DeviceStream(
        spec=spec,
        t_ns=t_ns,
        acc_mps2=acc,
        user_acc_mps2=user_acc,
        gyro_rads=np.stack([get["gyro_x"], get["gyro_y"], get["gyro_z"]], 1),
        quat_wxyz=quat,
        heading_deg=_opt_float(truth.get("heading_deg"), f"{where}.ground_truth.heading_deg"),
        clock_offset_s=_opt_float(
            truth.get("clock_offset_s"), f"{where}.ground_truth.clock_offset_s"
        ),
        mount_quat_wxyz=_opt_tuple(
            truth.get("mount_quat_wxyz"), 4, f"{where}.ground_truth.mount_quat_wxyz"
        ),
        lever_arm_m=_opt_tuple(truth.get("lever_arm_m"), 3, f"{where}.ground_truth.lever_arm_m"),
    )


def _read_head_pose(folder: Path, meta_path: Path, entry: Any) -> HeadPose:
    if not isinstance(entry, dict) or "rate_hz" not in entry:
        raise EdgeSDKError(f"{meta_path}: 'head_pose' must be an object with rate_hz")
    path = take_file(folder, entry.get("file", HEAD_POSE_FILE), f"{meta_path} head_pose.file")
    device = entry.get("device", "glasses_head")
    if not isinstance(device, str):
        raise EdgeSDKError(f"{meta_path} head_pose.device: expected an id, got {_shown(device)}")
    _, t_ns, values = _read_csv(path, (HEAD_POSE_COLUMNS,))
    _check_unit_quats(path, values[:, 3:7])
    return HeadPose(
        device_id=device,
        t_ns=t_ns,
        pos_m=values[:, :3],
        quat_wxyz=values[:, 3:7],
        rate_hz=_number(entry["rate_hz"], f"{meta_path} head_pose.rate_hz"),
    )


def _read_csv(
    path: Path, headers: tuple[tuple[str, ...], ...]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """``(columns, t_ns int64 [N], values float64 [N, C-1])`` with every problem named."""
    lines = read_lines(path)
    header = tuple(c.strip() for c in lines[0].split(",")) if lines else ()
    if header not in headers:
        expected = " or ".join(",".join(h) for h in headers)
        raise EdgeSDKError(f"{path}: wrong header {','.join(header)!r}, expected {expected!r}")
    rows = [(i, line) for i, line in enumerate(lines[1:], start=2) if line.strip()]
    width = len(header)
    if not rows:
        return header, np.zeros(0, np.int64), np.zeros((0, width - 1))
    body = [line for _, line in rows]
    try:
        t_ns = np.loadtxt(body, delimiter=",", usecols=0, dtype=np.int64, ndmin=1)
        values = np.loadtxt(body, delimiter=",", usecols=range(1, width), ndmin=2)
        if any(line.count(",") != width - 1 for line in body):
            raise ValueError("wrong number of fields")
    except ValueError:
        raise _bad_row_error(path, header, rows) from None
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise EdgeSDKError(
            f"{path}: line {rows[r][0]}: column {header[c + 1]} is {rows[r][1].split(',')[c + 1]}"
        )
    return header, t_ns, values


def _bad_row_error(
    path: Path, header: tuple[str, ...], rows: list[tuple[int, str]]
) -> EdgeSDKError:
    """The error for the first row that does not parse."""
    for number, line in rows:
        fields = line.split(",")
        if len(fields) != len(header):
            return EdgeSDKError(
                f"{path}: line {number}: expected {len(header)} fields, found {len(fields)}"
            )
        for name, text in zip(header, fields, strict=True):
            try:
                int(text) if name == "t_ns" else float(text)
            except ValueError:
                kind = "an integer" if name == "t_ns" else "a number"
                return EdgeSDKError(
                    f"{path}: line {number}: column {name} is not {kind}: {text.strip()!r}"
                )
    return EdgeSDKError(f"{path}: could not parse the rows")


def _check_unit_quats(path: Path, quat: np.ndarray) -> None:
    norm = np.linalg.norm(quat, axis=1)
    bad = np.flatnonzero(np.abs(norm - 1.0) > _QUAT_NORM_TOL)
    if len(bad):
        raise EdgeSDKError(
            f"{path}: data row {bad[0] + 1}: quaternion norm {norm[bad[0]]:.4f} is not 1 "
            f"(expected w,x,y,z of a unit quaternion)"
        )


def _quat_rows_z(quat: np.ndarray) -> np.ndarray:
    """``R(q)^T (0, 0, 1)``: the third row of ``R(q)`` for ``(w, x, y, z)`` quaternions."""
    q = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EdgeSDKError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _opt_float(value: Any, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _opt_tuple(value: Any, size: int, where: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != size:
        raise EdgeSDKError(f"{where}: expected a list of {size} numbers, got {_shown(value)}")
    return tuple(_number(v, where) for v in value)


def _shown(value: Any) -> str:
    """A value from a file, short, for an error line."""
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def take_file(folder: Path, name: Any, where: str) -> Path:
    """A file named in ``meta.json``: a relative path that stays inside the take folder (no
    absolute path, no ``..``, no link out of it); its content is never shown in an error.

    Example:
        >>> take_file(Path("/takes/t1"), "/etc/passwd", "devices.watch.file")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: devices.watch.file: '/etc/passwd' is not a file inside ...
    """
    bad = EdgeSDKError(f"{where}: {str(name)[:80]!r} is not a file inside the take folder {folder}")
    if not isinstance(name, str) or not name or "\x00" in name:
        raise bad
    rel = Path(name)
    if rel.is_absolute() or rel.drive or ".." in rel.parts:
        raise bad
    path = folder / rel
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a link loop
        inside = False
    if not inside:
        raise bad
    return path


def _check_spec_types(spec: dict[str, Any], where: str) -> None:
    """Each field of a device spec against the type of its default, naming the first wrong."""
    for f in dataclasses.fields(DeviceSpec):
        if f.name not in spec:
            continue
        value, default = spec[f.name], f.default
        if value is None:
            ok = "None" in str(f.type)  # e.g. ``float | None``
        elif isinstance(default, str) or f.name in ("kind", "slot"):
            ok = isinstance(value, str)
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int | float) or f.name == "rate_hz":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif default is None or isinstance(default, tuple):
            ok = isinstance(value, list) and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            )
        else:
            ok = True
        if not ok:
            raise EdgeSDKError(f"{where}.{f.name}: wrong type ({_shown(value)})")

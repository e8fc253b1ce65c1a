"""What every importer shares: reading a text table with bad rows dropped and counted, putting
a device's timestamps in order, and turning a recording into a take.

The rules (docs/sensors.md section 9):

- **Refused** with a one-line ``EdgeSDKError`` naming the file (and line): a missing file, a
  wrong header, a file with no usable rows, a device left with fewer than 2 samples.
- **Dropped and counted** per device in ``meta.json`` ``"dropped"``: a row with the wrong
  number of fields (``wrong_field_count``), a field that is not a number
  (``not_numeric``), NaN or inf (``not_finite``), a time more than a second before the latest
  kept one (``time_backwards``: a clock glitch, not jitter), and whatever an importer adds
  (``outside_gyro_span``: an accelerometer sample with no gyroscope sample around it).
- Smaller steps back are jitter: rows are sorted by time (a stable sort).
- **Repeated timestamps** (loggers that stamp in milliseconds deliver several samples in one
  millisecond): the samples sharing a stamp are spread evenly from it to the next distinct
  stamp (the last run by the median sample period), so every sample is kept and times are
  strictly increasing; counted in ``meta.json`` ``"repeated_timestamps"`` (the samples that
  were moved).

Example:
    >>> spread_repeats(np.array([0, 10, 10, 10, 40], dtype=np.int64))
    (array([ 0, 10, 20, 30, 40]), 2)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.mounts import GRAVITY_MPS2
from edgesdk.data.orientation import filter_orientation
from edgesdk.data.slots import SLOT_INDEX, SLOTS
from edgesdk.data.takes import DeviceStream, Take
from edgesdk.errors import EdgeSDKError
from edgesdk.reading import read_lines

BACKWARDS_LIMIT_NS = 1_000_000_000  # a step further back than this is a glitch, not jitter
ORIENTATIONS = ("auto", "filter", "none")


@dataclass
class RawDevice:
    """One device of a recording as an importer read it, in edgesdk's units and frames:
    ``t_ns [N]`` int64 on the device clock (sorted, distinct), ``acc_mps2 [N, 3]`` specific
    force with gravity, ``gyro_rads [N, 3]``, ``quat_wxyz [N, 4]`` (``q_world_sensor``) when the
    device gave a fused orientation, ``labels [N]`` when the source labels samples."""

    name: str
    kind: str
    t_ns: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray
    quat_wxyz: np.ndarray | None = None
    labels: list[str] | None = None
    dropped: Counter[str] = field(default_factory=Counter)
    repeated: int = 0
    file: str = ""


@dataclass
class Recording:
    """One recording (one take to be): its name, devices and what the source says about it."""

    name: str
    devices: list[RawDevice]
    source: dict[str, Any]


@dataclass
class Table:
    """The usable rows of a text table: ``rows`` of floats (or strings for ``text`` columns),
    their 1-based line numbers, and the dropped rows by reason."""

    rows: list[list[Any]]
    lines: list[int]
    dropped: Counter[str]


def read_table(
    path: Path,
    header: Sequence[str] | None,
    *,
    width: int,
    sep: str | None = ",",
    text: Sequence[int] = (),
    integer: Sequence[int] = (),
    optional: Sequence[int] = (),
) -> Table:
    """Read ``path``: its first line must be ``header`` (None: no header line); each further
    line has ``width`` fields separated by ``sep`` (None: whitespace), numbers except the
    columns in ``text``; a column in ``optional`` may be empty (read as NaN, kept). Rows that
    do not parse are dropped and counted (``integer`` columns must be int64 integers); a
    missing file, a wrong header or no usable row
    raise ``EdgeSDKError``."""
    lines = read_lines(path, encoding="utf-8-sig")
    start = 0
    if header is not None:
        got = [c.strip() for c in lines[0].split(sep)] if lines else []
        if got != list(header):
            raise EdgeSDKError(
                f"{path}: line 1: wrong header {','.join(got)!r}, expected {','.join(header)!r}"
            )
        start = 1
    rows: list[list[Any]] = []
    numbers: list[int] = []
    dropped: Counter[str] = Counter()
    text_cols, int_cols, opt_cols = frozenset(text), frozenset(integer), frozenset(optional)
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != width:
            dropped["wrong_field_count"] += 1
            continue
        row: list[Any] = []
        reason = ""
        for i, value in enumerate(fields):
            value = value.strip()
            if i in text_cols:
                row.append(value)
                continue
            if not value and i in opt_cols:
                row.append(math.nan)
                continue
            if i in int_cols:
                try:
                    whole = int(value)
                except ValueError:
                    reason = "not_numeric"
                    break
                if not -(2**63) <= whole < 2**63:
                    reason = "not_numeric"
                    break
                row.append(whole)
                continue
            try:
                number_value = float(value)
            except ValueError:
                reason = "not_numeric"
                break
            if not math.isfinite(number_value):
                reason = "not_finite"
                break
            row.append(number_value)
        if reason:
            dropped[reason] += 1
            continue
        rows.append(row)
        numbers.append(number)
    if not rows:
        why = f" (dropped: {dict(dropped)})" if dropped else ""
        raise EdgeSDKError(f"{path}: no usable rows{why}")
    return Table(rows, numbers, dropped)


def order_times(t_ns: np.ndarray, dropped: Counter[str]) -> np.ndarray:
    """Indices of the rows to keep, in time order: rows more than a second before the latest
    kept time are dropped (``time_backwards``), the rest stably sorted."""
    keep: list[int] = []
    latest: int | None = None
    for i, t in enumerate(t_ns.tolist()):
        if latest is not None and t < latest - BACKWARDS_LIMIT_NS:
            dropped["time_backwards"] += 1
            continue
        keep.append(i)
        latest = t if latest is None else max(latest, t)
    idx = np.asarray(keep, dtype=np.int64)
    return idx[np.argsort(t_ns[idx], kind="stable")]


def spread_repeats(t_ns: np.ndarray) -> tuple[np.ndarray, int]:
    """Sorted ``t_ns`` with each run of equal stamps spread evenly from its stamp to the next
    distinct one (the last run by the median period); and how many samples moved."""
    t = np.asarray(t_ns, dtype=np.int64)
    if len(t) < 2:
        return t.copy(), 0
    starts = np.flatnonzero(np.r_[True, np.diff(t) != 0])
    if len(starts) == len(t):
        return t.copy(), 0
    counts = np.diff(np.r_[starts, len(t)])
    values = t[starts]
    steps = np.diff(values)
    period = int(np.median(steps / counts[:-1])) if len(steps) else 1_000_000
    nexts = np.r_[values[1:], values[-1] + max(1, period) * counts[-1]]
    out = t.copy()
    for s, c, v, nxt in zip(
        starts.tolist(), counts.tolist(), values.tolist(), nexts.tolist(), strict=True
    ):
        if c > 1:
            out[s : s + c] = v + (np.arange(c) * (nxt - v)) // c
    return out, int(len(t) - len(starts))


def clean_device(
    device: RawDevice, t_ns: np.ndarray, columns: Mapping[str, np.ndarray | list[Any] | None]
) -> RawDevice:
    """Order the rows of a device (``order_times``), spread repeated stamps and fill
    ``device``'s arrays from ``columns`` (``acc_mps2``, ``gyro_rads``, ``quat_wxyz``,
    ``labels``)."""
    idx = order_times(t_ns, device.dropped)
    t_sorted, device.repeated = spread_repeats(t_ns[idx])
    if len(t_sorted) < 2:
        raise EdgeSDKError(f"{device.file}: fewer than 2 usable samples")
    device.t_ns = t_sorted
    device.acc_mps2 = np.asarray(columns["acc_mps2"], dtype=np.float64)[idx]
    device.gyro_rads = np.asarray(columns["gyro_rads"], dtype=np.float64)[idx]
    quat = columns.get("quat_wxyz")
    if quat is not None:
        device.quat_wxyz = _unit_quats(np.asarray(quat, dtype=np.float64)[idx])
    labels = columns.get("labels")
    if labels is not None:
        device.labels = [labels[i] for i in idx.tolist()]
    return device


def _unit_quats(quat: np.ndarray) -> np.ndarray:
    q = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)


def interp_columns(t_at: np.ndarray, t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values [M, C]`` at times ``t`` to ``t_at [N]``."""
    t_at_f, t_f = (t_at - t[0]).astype(np.float64), (t - t[0]).astype(np.float64)
    return np.stack([np.interp(t_at_f, t_f, values[:, c]) for c in range(values.shape[1])], 1)


def slerp_quats(t_at: np.ndarray, t: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """``quat [M, 4]`` (w, x, y, z) at times ``t`` slerped to ``t_at [N]`` (inside ``t``'s
    span; held at the ends)."""
    q = quat.copy()
    flips = np.sign(np.sum(q[1:] * q[:-1], 1))
    flips[flips == 0] = 1.0
    q[1:] *= np.cumprod(flips)[:, None]  # sign-continuous
    i = np.clip(np.searchsorted(t, t_at, side="right") - 1, 0, len(t) - 2)
    span = (t[i + 1] - t[i]).astype(np.float64)
    u = np.clip((t_at - t[i]) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
    a, b = q[i], q[i + 1]
    dot = np.clip(np.sum(a * b, 1, keepdims=True), -1.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    wa = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / np.where(small, 1.0, sin))
    wb = np.where(small, u, np.sin(u * theta) / np.where(small, 1.0, sin))
    return _unit_quats(wa * a + wb * b)


def label_segments(t_ns: np.ndarray, labels: Sequence[str]) -> list[list[Any]]:
    """``[[label, t0_ns, t1_ns], ...]``: runs of equal labels, from the run's first sample to
    its last (inclusive).

    Example:
        >>> label_segments(np.array([0, 10, 20, 30]), ["SEATED", "SEATED", "WALKING", "SEATED"])
        [['SEATED', 0, 10], ['WALKING', 20, 20], ['SEATED', 30, 30]]
    """
    out: list[list[Any]] = []
    for t, label in zip(t_ns.tolist(), labels, strict=True):
        if out and out[-1][0] == label:
            out[-1][2] = t
        else:
            out.append([label, t, t])
    return out


def parse_slots(items: Sequence[str]) -> dict[str, str]:
    """``DEVICE=SLOT`` pairs (``--slot phone=right_pocket``) as a dict.

    Example:
        >>> parse_slots(["phone=right_pocket"])
        {'phone': 'right_pocket'}
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, slot = item.partition("=")
        if not sep or not name or slot not in SLOT_INDEX:
            raise EdgeSDKError(
                f"--slot {item!r}: expected DEVICE=SLOT with SLOT one of {', '.join(SLOTS)}"
            )
        out[name] = slot
    return out


def to_take(
    recording: Recording,
    orientation: str = "auto",
    slots: Mapping[str, str] | None = None,
    filter_options: Mapping[str, float] | None = None,
) -> Take:
    """The take of a recording: each device's stream (orientation from the device when it gave
    one and ``orientation`` is ``auto``, from ``ImuFilter`` when it gave none or with
    ``filter``, none with ``none``), its slot from ``slots`` (by device name; else null, to be
    detected) and the import's bookkeeping in ``Take.meta`` (written at the top of meta.json)."""
    if orientation not in ORIENTATIONS:
        raise EdgeSDKError(f"--orientation {orientation!r}: must be one of {ORIENTATIONS}")
    slots = dict(slots or {})
    streams: dict[str, DeviceStream] = {}
    meta: dict[str, Any] = {
        "source": recording.source,
        "dropped": {},
        "repeated_timestamps": {},
        "orientation": {},
    }
    labels: dict[str, list[list[Any]]] = {}
    user_slots: dict[str, str] = {}
    for dev in recording.devices:
        slot = slots.get(dev.name)
        rate_hz = (len(dev.t_ns) - 1) / ((dev.t_ns[-1] - dev.t_ns[0]) * 1e-9)
        spec = DeviceSpec(dev.kind, slot, rate_hz=round(float(rate_hz), 3))
        quat, source = dev.quat_wxyz, "device"
        if orientation == "none":
            quat, source = None, "none"
        elif orientation == "filter" or quat is None:
            quat = filter_orientation(
                dev.t_ns, dev.acc_mps2, dev.gyro_rads, **(filter_options or {})
            )
            source = "filter"
        user_acc = None if quat is None else dev.acc_mps2 - _up_in_sensor(quat) * GRAVITY_MPS2
        stream = DeviceStream(spec, dev.t_ns, dev.acc_mps2, user_acc, dev.gyro_rads, quat)
        did = spec.device_id
        if did in streams:
            raise EdgeSDKError(f"{recording.name}: two devices with the id {did!r}")
        streams[did] = stream
        meta["dropped"][did] = dict(dev.dropped)
        meta["repeated_timestamps"][did] = dev.repeated
        meta["orientation"][did] = source
        if dev.labels is not None:
            labels[did] = label_segments(dev.t_ns, dev.labels)
        if slot is not None:
            user_slots[did] = slot
    unknown = sorted(set(slots) - {d.name for d in recording.devices})
    if unknown:
        names = ", ".join(d.name for d in recording.devices)
        raise EdgeSDKError(
            f"--slot {unknown[0]}=...: {recording.name} has no such device ({names})"
        )
    if labels:
        meta["activity_labels"] = labels
    if user_slots:
        meta["user_slots"] = user_slots
    return Take(streams=streams, clip_name=recording.name, meta=meta)


def _up_in_sensor(quat: np.ndarray) -> np.ndarray:
    """``R(q)^T (0, 0, 1)`` per row."""
    w, x, y, z = quat.T
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1)


Reader = Callable[[Path, str], list[Recording]]

"""``--format sp-sw-har``: the phone + smartwatch activity set of Matey-Sanz, Casteleyn and
Granell (2023, Data in Brief 109809, CC BY 4.0; ``../shared/data/devices/sp-sw-har``).

One take per execution ``sXX_YY``, holding both devices: ``phone`` from ``sXX_YY_sp.csv`` (a
phone in a trouser pocket) and ``watch`` from ``sXX_YY_sw.csv`` (a watch on a wrist), each on
its own clock. Files: ``x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label``, Android
conventions already (m/s² with gravity, +g along the axis pointing up: a phone lying screen
down on a seated thigh reads ``z = -9.8``), rad/s, UNIX milliseconds (``t_ns = ms * 10^6``;
many phone samples share a millisecond: spread, see ``common``). The label of each sample
becomes ``activity_labels``; ``executions_info.csv`` (the phone's orientation in the pocket:
``front``, ``back``, ``front_inv``, ``back_inv``; the turn directions) and
``subjects_info.csv`` (age, gender, height, weight, dominant hand) go into ``source``: ground
truth to check calibration against, never read by the runtime. The devices have no fused
orientation.

``SRC`` is the dataset folder, one subject's folder (``s01``) or one file of an execution's
pair (``s01/s01_01_sp.csv``: both files are read).

Example:
    >>> execution_of(Path("s01/s01_01_sp.csv"))
    's01_01'
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.importers.common import RawDevice, Recording, clean_device, read_table
from edgesdk.errors import EdgeSDKError

HEADER = ("x_acc", "y_acc", "z_acc", "x_gyro", "y_gyro", "z_gyro", "timestamp", "label")
DEVICES = (("sp", "phone", "phone"), ("sw", "watch", "watch"))  # suffix, name, kind
_FILE = re.compile(r"^(s\d+_\d+)_(sp|sw)\.csv$")
_SUBJECT = re.compile(r"^s\d+$")
CITATION = (
    "Matey-Sanz, Casteleyn, Granell (2023), Dataset of inertial measurements of smartphones "
    "and smartwatches for human activity recognition, Data in Brief 109809"
)


def execution_of(path: Path) -> str | None:
    """``sXX_YY`` for ``sXX_YY_sp.csv`` / ``sXX_YY_sw.csv``, else None."""
    m = _FILE.match(path.name)
    return m.group(1) if m else None


def read_sp_sw_har(src: Path, kind: str = "") -> list[Recording]:
    """The recordings under ``src`` (see the module docstring), sorted by execution."""
    if src.is_file():
        execution = execution_of(src)
        if execution is None:
            raise EdgeSDKError(f"{src}: not an sp-sw-har file (sXX_YY_sp.csv or sXX_YY_sw.csv)")
        subjects, root = [src.parent], src.parent.parent
        executions = [execution]
    elif src.is_dir():
        if _SUBJECT.match(src.name):
            subjects, root = [src], src.parent
        else:
            subjects, root = sorted(p for p in src.iterdir() if _SUBJECT.match(p.name)), src
        executions = sorted(
            {e for s in subjects for p in s.glob("s*_*_s[pw].csv") if (e := execution_of(p))}
        )
    else:
        raise EdgeSDKError(f"{src}: missing")
    if not executions:
        raise EdgeSDKError(f"{src}: no sXX_YY_sp.csv / sXX_YY_sw.csv files")
    info = _info(root / "executions_info.csv", "execution_id")
    people = _info(root / "subjects_info.csv", "subject_id")
    recordings = []
    for execution in executions:
        subject = execution.split("_")[0]
        folder = root / subject
        devices = [
            _read_device(folder / f"{execution}_{sfx}.csv", name, k) for sfx, name, k in DEVICES
        ]
        source: dict[str, Any] = {
            "format": "sp-sw-har",
            "dataset": CITATION,
            "licence": "CC BY 4.0",
            "execution": info.get(execution),
            "subject": people.get(subject),
            "files": {d.name: str(Path(subject) / Path(d.file).name) for d in devices},
            "placement": "phone in a trouser pocket, watch on a wrist (which ones: not stated)",
        }
        recordings.append(Recording(execution, devices, source))
    return recordings


def _read_device(path: Path, name: str, kind: str) -> RawDevice:
    table = read_table(path, HEADER, width=8, text=(7,))
    rows = table.rows
    values = np.array([r[:7] for r in rows], dtype=np.float64)
    t_ms = values[:, 6]
    if not np.all(np.abs(t_ms) < 2**53) or not np.all(t_ms == np.round(t_ms)):
        bad = int(np.flatnonzero((np.abs(t_ms) >= 2**53) | (t_ms != np.round(t_ms)))[0])
        raise EdgeSDKError(
            f"{path}: line {table.lines[bad]}: timestamp {rows[bad][6]} is not whole milliseconds"
        )
    t_ns = t_ms.astype(np.int64) * 1_000_000
    device = RawDevice(name, kind, t_ns, values[:, :3], values[:, 3:6], file=str(path))
    device.dropped.update(table.dropped)
    return clean_device(
        device,
        t_ns,
        {"acc_mps2": values[:, 0:3], "gyro_rads": values[:, 3:6], "labels": [r[7] for r in rows]},
    )


def _info(path: Path, key: str) -> dict[str, dict[str, str]]:
    """The rows of an info CSV keyed by ``key`` (empty when the file is not there)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and key not in rows[0]:
        raise EdgeSDKError(f"{path}: line 1: no {key!r} column")
    return {r[key]: {k: v for k, v in r.items() if k != key} for r in rows}

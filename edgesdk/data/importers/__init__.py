"""``edgesdk data import``: real phone and watch recordings into take folders.

Each format's reader turns its files into ``Recording``s (devices in edgesdk's units and
frames, docs/sensors.md); ``to_take`` makes each a ``Take`` (orientation from the device, from
``ImuFilter`` or none; slots from the user or null, to be detected) and ``write_take`` writes
it atomically. Every source is read before the first take is written, so bad input stops the
import with nothing written; each take folder is complete or absent.

Formats (``FORMATS``): ``sp-sw-har`` (``sp_sw_har``), ``coremotion-txt``, ``android-csv``,
``ios-csv`` (``mobile``).

Example:
    >>> import tempfile
    >>> src = Path(tempfile.mkdtemp()) / "walk.csv"
    >>> _ = src.write_text("sensor,timestamp_ns,x,y,z,w\\n" + "".join(
    ...     f"accelerometer,{i * 10**7},0,0,9.81,\\ngyroscope,{i * 10**7},0,0,0,\\n"
    ...     for i in range(50)))
    >>> summary = import_recordings(src, "android-csv", src.parent / "takes")
    >>> summary["takes"], summary["samples"]
    (1, {'walk': {'phone': 50}})
    >>> from edgesdk.data.recording import read_take
    >>> read_take(src.parent / "takes" / "walk").meta["orientation"]
    {'phone': 'filter'}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgesdk.data.importers.common import ORIENTATIONS, Reader, parse_slots, to_take
from edgesdk.data.importers.mobile import read_android_csv, read_coremotion_txt, read_ios_csv
from edgesdk.data.importers.sp_sw_har import read_sp_sw_har
from edgesdk.data.mounts import KINDS
from edgesdk.data.recording import write_take
from edgesdk.errors import EdgeSDKError

FORMATS: dict[str, Reader] = {
    "sp-sw-har": read_sp_sw_har,
    "coremotion-txt": read_coremotion_txt,
    "android-csv": read_android_csv,
    "ios-csv": read_ios_csv,
}

__all__ = ["FORMATS", "ORIENTATIONS", "import_recordings", "parse_slots"]


def import_recordings(
    src: str | Path,
    fmt: str,
    out: str | Path,
    *,
    slots: Mapping[str, str] | None = None,
    orientation: str = "auto",
    kind: str = "",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Import every recording under ``src`` in format ``fmt`` into ``out/<name>/`` take
    folders; a summary: takes written, samples per take and device, dropped rows and repeated
    timestamps summed per device name.

    ``slots``: ``{device name: slot}`` (e.g. ``{"phone": "right_pocket"}``; the device's id
    becomes ``phone_right_pocket``); ``orientation``: ``auto`` (the device's fused quaternion
    when it has one, else ``ImuFilter``), ``filter`` (always ``ImuFilter``) or ``none`` (no
    quaternion columns: the runtime filters live); ``kind``: the device kind for one-device
    formats (default phone); ``overwrite``: replace existing take folders.
    """
    if fmt not in FORMATS:
        raise EdgeSDKError(f"--format {fmt!r}: must be one of {', '.join(FORMATS)}")
    if kind and kind not in KINDS:
        raise EdgeSDKError(f"--kind {kind!r}: must be one of {', '.join(KINDS)}")
    if orientation not in ORIENTATIONS:
        raise EdgeSDKError(f"--orientation {orientation!r}: must be one of {ORIENTATIONS}")
    out = Path(out)
    recordings = FORMATS[fmt](Path(src), kind)
    names = [r.name for r in recordings]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise EdgeSDKError(f"{src}: two recordings named {dup[0]!r} (one take folder each)")
    takes = [to_take(r, orientation, slots) for r in recordings]
    if not overwrite:
        existing = [n for n in names if (out / n).exists()]
        if existing:
            raise EdgeSDKError(f"{out / existing[0]}: already exists (pass --overwrite)")
    samples: dict[str, dict[str, int]] = {}
    dropped: dict[str, dict[str, int]] = {}
    repeated: dict[str, int] = {}
    for name, take in zip(names, takes, strict=True):
        write_take(take, out / name, overwrite=overwrite)
        samples[name] = {d: s.num_samples for d, s in take.streams.items()}
        for d, counts in take.meta["dropped"].items():
            for reason, n in counts.items():
                dropped.setdefault(d, {})
                dropped[d][reason] = dropped[d].get(reason, 0) + n
        for d, n in take.meta["repeated_timestamps"].items():
            repeated[d] = repeated.get(d, 0) + n
    return {
        "takes": len(takes),
        "out": str(out),
        "samples": samples,
        "dropped": dropped,
        "repeated_timestamps": repeated,
    }

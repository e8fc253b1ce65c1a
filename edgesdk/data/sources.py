"""Where motion data lives, and loading it whatever its format (BVH, ASF/AMC).

``default_data_dir()`` is, in order: the ``EDGESDK_DATA`` environment variable; the shared
mocap set at ``../shared/data/mocap`` beside the repository; else the few CMU clips bundled
with the package (``edgesdk/assets/cmu``, CMU Graphics Lab, free for research and commercial
use), so examples and tests run anywhere.

A data folder's motion files are its ``*.bvh`` and ``*.amc`` files (each ``.amc`` with its
``.asf`` skeleton beside it, ``edgesdk.data.asf_amc``); ``load_motion`` reads either as a
``Clip`` on the 22-joint layout, so a folder mixing both is one training set.

Example:
    >>> clips = load_dir(bundled_data_dir(), fps=30.0, limit=2)
    >>> [c.name for c in clips], clips[0].fps
    (['002_01', '002_02'], 30.0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from edgesdk.data import asf_amc, bvh
from edgesdk.data.clip import Clip
from edgesdk.errors import EdgeSDKError

MOTION_SUFFIXES = (".bvh", ".amc")

ENV_VAR = "EDGESDK_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_MOCAP_DIR = _REPO_ROOT.parent / "shared" / "data" / "mocap"


def bundled_data_dir() -> Path:
    """The package's own small sample set (CMU clips with their index and attribution).

    Example:
        >>> (bundled_data_dir() / "cmu" / "cmu-index.csv").is_file()
        True
    """
    return Path(__file__).resolve().parents[1] / "assets"


def default_data_dir() -> Path:
    """The motion data folder: ``$EDGESDK_DATA``, else ``../shared/data/mocap``, else bundled.

    Example:
        >>> default_data_dir().is_dir()
        True
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise EdgeSDKError(f"{ENV_VAR}={override}: not a folder")
        return path
    if SHARED_MOCAP_DIR.is_dir():
        return SHARED_MOCAP_DIR
    return bundled_data_dir()


def list_bvh(data_dir: str | Path) -> list[Path]:
    """Every ``*.bvh`` under ``data_dir`` (recursive), sorted by path.

    Example:
        >>> [p.name for p in list_bvh(bundled_data_dir())][:2]
        ['002_01.bvh', '002_02.bvh']
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise EdgeSDKError(f"{root}: data folder not found")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file())


def list_motion_files(data_dir: str | Path) -> list[Path]:
    """Every motion file (``*.bvh``, ``*.amc``) under ``data_dir`` (recursive), sorted by path.

    Example:
        >>> len(list_motion_files(bundled_data_dir())) == len(list_bvh(bundled_data_dir()))
        True
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise EdgeSDKError(f"{root}: data folder not found")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MOTION_SUFFIXES and p.is_file())


def skeleton_files(files: Iterable[str | Path]) -> list[Path]:
    """The ``.asf`` skeletons the ``.amc`` files among ``files`` use (sorted, each once): part
    of the data's identity, since a changed skeleton changes every clip on it.

    Example:
        >>> skeleton_files(list_bvh(bundled_data_dir()))
        []
    """
    amc = [Path(f) for f in files if Path(f).suffix.lower() == ".amc"]
    return sorted({asf_amc.find_asf(f) for f in amc})


def load_motion(path: str | Path, fps: float | None = None) -> Clip:
    """Read a ``.bvh`` or ``.amc`` file as a ``Clip`` (22 joints, metres, Y up), resampled to
    ``fps`` (None keeps the file's rate).

    Example:
        >>> load_motion(bundled_data_dir() / "cmu" / "002_03.bvh", fps=30.0).fps
        30.0
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".bvh":
        return bvh.load_clip(path, fps=fps)
    if suffix == ".amc":
        return asf_amc.load_clip(path, fps=fps)
    raise EdgeSDKError(f"{path}: not a motion file (expected .bvh or .amc)")


def motion_info(path: str | Path) -> dict[str, object]:
    """``clip_info`` of a ``.bvh`` or ``.amc`` file (length, rig, joint mapping, body size,
    labels).

    Example:
        >>> motion_info(bundled_data_dir() / "cmu" / "002_03.bvh")["rig"]
        'cmu-iclone'
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".bvh":
        return bvh.clip_info(path)
    if suffix == ".amc":
        return asf_amc.clip_info(path)
    raise EdgeSDKError(f"{path}: not a motion file (expected .bvh or .amc)")


def source_name(path: str | Path, data_dir: str | Path) -> str:
    """The dataset a file belongs to: its first folder under ``data_dir`` ("cmu", ...).

    Example:
        >>> source_name("/data/mocap/cmu/002_03.bvh", "/data/mocap")
        'cmu'
    """
    rel = Path(path).resolve().relative_to(Path(data_dir).resolve())
    return rel.parts[0] if len(rel.parts) > 1 else ""


def load_dir(
    data_dir: str | Path, fps: float | None = 30.0, limit: int | None = None
) -> list[Clip]:
    """Load every motion file (BVH and ASF/AMC) under ``data_dir`` (sorted; the first
    ``limit`` when given), resampled to ``fps`` (None keeps each file's rate).

    Example:
        >>> [c.rig for c in load_dir(bundled_data_dir(), limit=1)]
        ['cmu-iclone']
    """
    paths = list_motion_files(data_dir)
    if limit is not None:
        paths = paths[: max(limit, 0)]
    return [load_motion(p, fps=fps) for p in paths]


def data_summary(clips: Iterable[Clip], data_dir: str | Path | None = None) -> dict[str, object]:
    """What a result was measured on, for results files: ``{"clips": N, "minutes": M,
    "formats": {"bvh": n, ...}, "sources": {folder: {"clips": n, "minutes": m}}}``, a clip's
    source being its first folder under ``data_dir`` (its file's folder when None).

    Example:
        >>> data_summary(load_dir(bundled_data_dir(), limit=2))  # doctest: +NORMALIZE_WHITESPACE
        {'clips': 2, 'minutes': 0.09, 'formats': {'bvh': 2},
         'sources': {'cmu': {'clips': 2, 'minutes': 0.09}}}
    """
    return duration_summary(((c.source or c.name, c.duration_s) for c in clips), data_dir)


def provenance_not_mocap(source: str, why: str) -> dict[str, object]:
    """The top-level ``data`` and ``protocol`` of a results file that reads no mocap: ``source``
    says what it reads (real device recordings, exported artifacts, mutated files), ``why``
    why no evaluation protocol applies.

    Example:
        >>> provenance_not_mocap("exported artifacts", "operator timing, no accuracy")["protocol"]
        'not applicable: operator timing, no accuracy'
    """
    return {
        "data": {"mocap_clips": 0, "source": source},
        "protocol": f"not applicable: {why}",
    }


def duration_summary(
    files: Iterable[tuple[str | Path, float]], data_dir: str | Path | None = None
) -> dict[str, object]:
    """``data_summary`` from ``(file, duration_s)`` pairs (e.g. ``clip_info`` results).

    Example:
        >>> duration_summary([("m/hdm05/a.amc", 90.0), ("m/cmu/b.bvh", 30.0)], "m")["sources"]
        {'cmu': {'clips': 1, 'minutes': 0.5}, 'hdm05': {'clips': 1, 'minutes': 1.5}}
    """
    per_source: dict[str, list[float]] = {}
    formats: dict[str, int] = {}
    for path, duration_s in files:
        path = Path(path)
        name = source_name(path, data_dir) if data_dir is not None else path.parent.name
        per_source.setdefault(name or ".", []).append(duration_s)
        fmt = path.suffix.lower().lstrip(".")
        formats[fmt] = formats.get(fmt, 0) + 1
    seconds = [s for durations in per_source.values() for s in durations]
    return {
        "clips": len(seconds),
        "minutes": round(sum(seconds) / 60.0, 2),
        "formats": dict(sorted(formats.items())),
        "sources": {
            name: {"clips": len(d), "minutes": round(sum(d) / 60.0, 2)}
            for name, d in sorted(per_source.items())
        },
    }

"""The clip cache: parsed clips in a plain ``.npz`` (numbers only, read without pickle).

One file per data fingerprint and importer version. Its ``header`` entry is JSON (as bytes):
the format name and version, the fingerprint, and per clip its name, source, rig, frame
rate, frame count and labels; the arrays hold every clip's frames end to end. A file that
cannot be read, is not this format, belongs to other data, or disagrees with itself is
reported in one warning line and rebuilt: the cache is never trusted with code (``np.load``
runs with ``allow_pickle=False``), and never a reason for a traceback.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from edgesdk.data.bvh import load_clip
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_01.bvh", fps=30.0)
    >>> path = Path(tempfile.mkdtemp()) / "clips.npz"
    >>> _ = write_cache(path, [clip], "f" * 64)
    >>> read_cache(path, "f" * 64)[0].num_frames == clip.num_frames
    True
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.data.clip import Clip, Labels
from edgesdk.errors import EdgeSDKError
from edgesdk.io import atomic_path

FORMAT = "edgesdk-clip-cache"
VERSION = 2
_ARRAYS = ("R_world_joint", "global_pos_m")
_ZIP_MAGIC = b"PK\x03\x04"


class CacheError(Exception):
    """The cache file is unusable (the message says why); the caller rebuilds it."""


def write_cache(path: Path, clips: list[Clip], fingerprint: str) -> Path:
    """Write ``clips`` to ``path`` atomically."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": fingerprint,
        "clips": [
            {
                "name": c.name,
                "source": c.source,
                "rig": c.rig,
                "fps": c.fps,
                "frames": c.num_frames,
                "labels": {
                    "content": c.labels.content,
                    "style": c.labels.style,
                    "description": c.labels.description,
                },
            }
            for c in clips
        ],
    }
    arrays: dict[str, Any] = {
        "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        "R_world_joint": np.concatenate([c.R_world_joint for c in clips]).astype(np.float32),
        "global_pos_m": np.concatenate([c.global_pos_m for c in clips]).astype(np.float32),
        "offsets_m": np.stack([c.offsets_m for c in clips]).astype(np.float32),
        "mapped": np.array([c.mapped for c in clips], dtype=bool),
    }
    with atomic_path(path, suffix=".npz") as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
    return path


def read_cache(path: Path, fingerprint: str) -> list[Clip]:
    """The clips stored at ``path``.

    Raises:
        CacheError: anything that makes the file unusable, with the reason.
    """
    try:
        with path.open("rb") as f:
            magic = f.read(4)
        if magic != _ZIP_MAGIC:
            raise CacheError("not an .npz archive")
        with np.load(path, allow_pickle=False) as archive:
            missing = {"header", "offsets_m", "mapped", *_ARRAYS} - set(archive.files)
            if missing:
                raise CacheError(f"missing {sorted(missing)}")
            header = json.loads(archive["header"].tobytes().decode())
            _check_header(header, fingerprint)
            arrays = {key: archive[key] for key in ("offsets_m", "mapped", *_ARRAYS)}
    except CacheError:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        AttributeError,
        TypeError,
        MemoryError,
        zipfile.BadZipFile,
    ) as exc:
        # ValueError covers an object array (it would need pickle), bad JSON and bad UTF-8.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CacheError(first) from None
    return _clips(header["clips"], arrays)


def _check_header(header: Any, fingerprint: str) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CacheError(f"not an {FORMAT} file")
    if header.get("version") != VERSION:
        raise CacheError(f"version {header.get('version')!r}, expected {VERSION}")
    if header.get("fingerprint") != fingerprint:
        raise CacheError("written for other data (fingerprint differs)")
    entries = header.get("clips")
    if not isinstance(entries, list) or not entries:
        raise CacheError("no clips listed")
    for e in entries:
        ok = isinstance(e, dict) and all(
            isinstance(e.get(k), str) for k in ("name", "source", "rig")
        )
        ok = ok and isinstance(e.get("frames"), int) and e["frames"] > 0
        ok = ok and isinstance(e.get("fps"), int | float) and isinstance(e.get("labels"), dict)
        if not ok:
            raise CacheError(f"bad clip entry {str(e)[:60]}")


def _clips(entries: list[dict[str, Any]], arrays: dict[str, np.ndarray]) -> list[Clip]:
    total = sum(int(e["frames"]) for e in entries)
    shapes = {
        "R_world_joint": (total, NUM_JOINTS, 3, 3),
        "global_pos_m": (total, NUM_JOINTS, 3),
        "offsets_m": (len(entries), NUM_JOINTS, 3),
        "mapped": (len(entries), NUM_JOINTS),
    }
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise CacheError(f"'{key}' has shape {arrays[key].shape}, expected {shape}")
        wanted = np.bool_ if key == "mapped" else np.float32
        if arrays[key].dtype != wanted:
            raise CacheError(f"'{key}' has dtype {arrays[key].dtype}")
    clips, start = [], 0
    for i, e in enumerate(entries):
        stop = start + int(e["frames"])
        labels = e["labels"]
        try:
            clips.append(
                Clip(
                    name=e["name"],
                    fps=float(e["fps"]),
                    R_world_joint=arrays["R_world_joint"][start:stop],
                    global_pos_m=arrays["global_pos_m"][start:stop],
                    offsets_m=arrays["offsets_m"][i],
                    labels=Labels(
                        **{k: str(labels.get(k, "")) for k in ("content", "style", "description")}
                    ),
                    source=e["source"],
                    rig=e["rig"],
                    mapped=tuple(bool(m) for m in arrays["mapped"][i]),
                )
            )
        except EdgeSDKError as exc:  # NaN, a bad frame rate: the Clip checks say which
            raise CacheError(str(exc)) from None
        start = stop
    return clips


def warn_rebuild(path: Path, reason: str) -> None:
    """The one line printed when a cache file is unusable and rebuilt."""
    print(
        f"edgesdk: warning: {path}: unusable clip cache ({reason}); rebuilding it", file=sys.stderr
    )

"""Where motion data lives: the shared mocap folder, an override, or the bundled CMU samples.

``default_data_dir()`` is, in order: the ``EDGESDK_DATA`` environment variable; the shared
mocap set at ``../shared/data/mocap`` beside the repository; else the few CMU clips bundled
with the package (``edgesdk/assets/cmu``, CMU Graphics Lab, free for research and commercial
use), so examples and tests run anywhere.

Example:
    >>> clips = load_dir(bundled_data_dir(), fps=30.0, limit=2)
    >>> [c.name for c in clips], clips[0].fps
    (['002_01', '002_02'], 30.0)
"""

from __future__ import annotations

import os
from pathlib import Path

from edgesdk.data.bvh import load_clip
from edgesdk.data.clip import Clip
from edgesdk.errors import EdgeSDKError

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
    """Load every BVH under ``data_dir`` (sorted; the first ``limit`` when given), resampled
    to ``fps`` (None keeps each file's rate).

    Example:
        >>> [c.rig for c in load_dir(bundled_data_dir(), limit=1)]
        ['cmu-iclone']
    """
    paths = list_bvh(data_dir)
    if limit is not None:
        paths = paths[: max(limit, 0)]
    return [load_clip(p, fps=fps) for p in paths]

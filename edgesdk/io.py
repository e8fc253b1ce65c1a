"""Atomic file output: a reader sees the old file or the new one, never half of one.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "summary.json"
    >>> _ = write_json_atomic(out, {"mpjpe_mm": 41.5})
    >>> out.read_text().strip()[:10]
    '{\\n  "mpjpe'
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgesdk.errors import EdgeSDKError


@contextmanager
def atomic_path(path: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise EdgeSDKError(f"{path}: the folder {path.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: Path | str, data: Any) -> Path:
    """Write ``data`` as indented JSON (keys in insertion order) atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def cache_dir() -> Path:
    """Where edgesdk keeps what it can rebuild: ``$EDGESDK_CACHE`` or ``~/.cache/edgesdk``."""
    return Path(os.environ.get("EDGESDK_CACHE", Path.home() / ".cache" / "edgesdk"))


# Temporary folders of atomic writes: ``.NAME.tmp-PID-XXXX`` (a take) and ``.export-PID-XXXX``.
TEMP_PATTERNS = (".*.tmp-*", ".export-*")
STALE_AFTER_S = 600.0


def temp_prefix(kind: str) -> str:
    """The prefix of a temporary folder made by this process: ``kind`` then the pid, so that a
    later run can tell a live run's folder from one left by a killed run."""
    return f"{kind}{os.getpid()}-"


def clean_stale_temp(parent: Path | str, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary folders of killed runs in ``parent`` (``TEMP_PATTERNS``, untouched
    for ``older_than_s`` and not held by a live process) and say so in one line.

    Example:
        >>> import tempfile
        >>> parent = Path(tempfile.mkdtemp())
        >>> (parent / ".export-999999999-abcd").mkdir()
        >>> os.utime(parent / ".export-999999999-abcd", (0, 0))
        >>> [p.name for p in clean_stale_temp(parent)]  # and a line on stderr
        ['.export-999999999-abcd']
    """
    parent = Path(parent)
    if not parent.is_dir():
        return []
    now = time.time()
    removed = []
    for pattern in TEMP_PATTERNS:
        for path in sorted(parent.glob(pattern)):
            try:
                if not path.is_dir() or path.is_symlink():
                    continue
                if now - path.stat().st_mtime < older_than_s:
                    continue
            except OSError:
                continue
            pid = _owner_pid(path.name)
            if pid is not None and _alive(pid):
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (", ..." if len(removed) > 3 else "")
        print(
            f"edgesdk: removed {len(removed)} temporary folder(s) left by interrupted runs in "
            f"{parent} ({names})",
            file=sys.stderr,
        )
    return removed


def _owner_pid(name: str) -> int | None:
    match = re.search(r"(?:\.tmp-|^\.export-)(\d+)-", name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's), or cannot tell: leave it
    return True

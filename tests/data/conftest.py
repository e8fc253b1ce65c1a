"""Fixtures for the data tests: the shared mocap set (skipped when absent), its README's table,
and the bundled clips."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgesdk.data.sources import MOTION_SUFFIXES

# ../shared/data/mocap beside the repository (tests/data/conftest.py -> repo root -> parent).
MOCAP_DIR = Path(__file__).resolve().parents[2].parent / "shared/data/mocap"
SOURCES = ("bandai-namco-1", "bandai-namco-2", "cmu")


@pytest.fixture(scope="session")
def mocap_dir() -> Path:
    """The shared mocap set; tests that need it skip when it is not beside the repository."""
    if not MOCAP_DIR.is_dir():
        pytest.skip(f"shared mocap set not found at {MOCAP_DIR} (../shared/data/mocap)")
    return MOCAP_DIR


def sample_files(mocap_dir: Path, source: str, count: int) -> list[Path]:
    """``count`` motion files of one source, spread evenly over its sorted file list."""
    files = sorted(p for p in (mocap_dir / source).iterdir() if p.suffix in MOTION_SUFFIXES)
    step = max(1, len(files) // count)
    return files[::step][:count]


@dataclass(frozen=True)
class ReadmeRow:
    """One row of the mocap README's table of folders."""

    clips: int
    minutes: float
    fps: float


# | `cmu/` | 47 | 6.2 | 60 Hz | ...
_ROW_RE = re.compile(r"^\|\s*`([^`/]+)/`\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*Hz\s*\|")
_TOTAL_RE = re.compile(r"In all:\s*(\d+) clips,\s*([\d.]+) minutes")


def readme_table(mocap_dir: Path) -> tuple[dict[str, ReadmeRow], int]:
    """The mocap README's table (folder -> clips, minutes, rate) and its "In all" clip count,
    so that tests follow the data's description rather than numbers copied from it."""
    text = (mocap_dir / "README.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): ReadmeRow(int(m.group(2)), float(m.group(3)), float(m.group(4)))
        for m in map(_ROW_RE.match, text.splitlines())
        if m
    }
    total = _TOTAL_RE.search(text)
    assert rows and total, f"{mocap_dir / 'README.md'}: no table of folders or 'In all' line"
    return rows, int(total.group(1))

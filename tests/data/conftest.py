"""Fixtures for the data tests: the shared mocap set (skipped when absent) and the bundled clips."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    """``count`` BVH files of one source, spread evenly over its sorted file list."""
    files = sorted((mocap_dir / source).glob("*.bvh"))
    step = max(1, len(files) // count)
    return files[::step][:count]

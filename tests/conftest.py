"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.data.sources import bundled_data_dir


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    """The CMU clips bundled with the package (real BVH), for calibration and held-out data."""
    return bundled_data_dir() / "cmu"

"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.data.sources import bundled_data_dir
from tests.small_models import TinyExports


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    """The CMU clips bundled with the package (real BVH), for calibration and held-out data."""
    return bundled_data_dir() / "cmu"


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory) -> TinyExports:
    """The small student's artifacts, exported on first use and shared by the session."""
    return TinyExports(tmp_path_factory.mktemp("tiny-exports"))


@pytest.fixture(scope="session")
def synth_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A take folder written by ``data synth`` from a bundled CMU clip (glasses, left watch,
    phone in the right pocket)."""
    from edgesdk.data.synth import parse_devices, synthesize_dir

    root = tmp_path_factory.mktemp("synth-take")
    devices = parse_devices("glasses:head,watch:left_wrist,phone:right_pocket")
    clip = bundled_data_dir() / "cmu" / "005_01.bvh"
    (take,) = synthesize_dir(clip, root, devices, seed=0, progress=False)
    return take

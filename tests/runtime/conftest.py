"""Fixtures of the runtime tests: the bundled CMU clips and a small exported student."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.sources import bundled_data_dir
from edgesdk.export.export import export_model
from edgesdk.train import checkpoint
from edgesdk.train.data import load_clips_cached
from tests.small_models import small_student


@pytest.fixture(scope="session")
def clips() -> dict[str, Clip]:
    loaded, _ = load_clips_cached(bundled_data_dir() / "cmu", progress=False)
    return {c.name: c for c in loaded}


@pytest.fixture(scope="session")
def walk(clips: dict[str, Clip]) -> Clip:
    """A 5 s level walk (CMU 05_01)."""
    return clips["005_01"]


@pytest.fixture(scope="session")
def ego_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ego-ckpt")
    return checkpoint.save(
        small_student("ego4o-student"), root / "ego", data={"fingerprint": "test"}
    )


@pytest.fixture(scope="session")
def ego_onnx(ego_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ego4o-student (1 x 16 GRU, random output layer) exported to ONNX fp32."""
    return export_model(
        ego_ckpt, "onnx", "fp32", tmp_path_factory.mktemp("ego-onnx"), progress=False
    )

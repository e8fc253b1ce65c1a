"""Fixtures for the export tests: small students with random (not zero) output layers, saved
as checkpoints, and the bundled CMU clips as calibration and held-out data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edgesdk.data.sources import bundled_data_dir
from edgesdk.models import create_model, list_models
from edgesdk.train import checkpoint

STUDENTS = [n for n in list_models("*-student")]


def small_student(name: str, seed: int = 0) -> torch.nn.Module:
    """A 1 x 16 GRU student whose output layer is random: a fresh student outputs a constant
    standing pose (its last layer starts at zero), which any artifact would match."""
    torch.manual_seed(seed)
    model = create_model(name, hidden=16, layers=1)
    last = model.head[-1]  # type: ignore[index]
    torch.nn.init.normal_(last.weight, std=0.1)
    torch.nn.init.normal_(last.bias, std=0.05)
    return model


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    return bundled_data_dir() / "cmu"


@pytest.fixture(scope="session")
def student_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("students")
    return {
        n: checkpoint.save(small_student(n), root / n, data={"fingerprint": "test"})
        for n in STUDENTS
    }

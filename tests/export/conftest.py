"""Fixtures for the export tests: small students with random (not zero) output layers, saved
as checkpoints (the bundled CMU clips, ``cmu_dir``, come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.models import list_models
from edgesdk.train import checkpoint

from ..small_models import small_student

STUDENTS = list_models(role="student", scale="small")  # each family's default student


@pytest.fixture(scope="session")
def student_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("students")
    return {
        n: checkpoint.save(small_student(n), root / n, data={"fingerprint": "test"})
        for n in STUDENTS
    }

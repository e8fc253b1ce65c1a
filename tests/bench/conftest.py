"""Fixtures for the benchmark tests: a small streaming student (random last layer) whose
teacher is a small eager model, the student's ONNX artifact, and one harness run over both on
the bundled CMU clips (shared by the tests that read its results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from edgesdk.bench.harness import BenchConfig, run_bench, write_results
from edgesdk.export.export import export_model
from edgesdk.models import create_model
from edgesdk.train import checkpoint

from ..small_models import small_student

STUDENT = "same-student"
TEACHER = "mlp-baseline"


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``teacher`` (eager, non-streaming) and ``student`` distilled from it (per its meta)."""
    root = tmp_path_factory.mktemp("bench-ckpts")
    torch.manual_seed(0)
    teacher = checkpoint.save(create_model(TEACHER), root / "teacher", data={"fingerprint": "t"})
    train = {"teacher_path": str(teacher), "teacher_model": TEACHER}
    student = checkpoint.save(small_student(STUDENT), root / "student", {"fingerprint": "t"}, train)
    return {"teacher": teacher, "student": student}


@pytest.fixture(scope="session")
def onnx_artifact(ckpts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-onnx")
    return export_model(ckpts["student"], "onnx", "fp32", out, progress=False)


@pytest.fixture(scope="session")
def bench_run(
    ckpts: dict[str, Path], cmu_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One harness run: the student on ONNX fp32 (its teacher added from its meta), 1 window
    per device combination, 100 timed calls at 1 and 2 threads, peak RSS in a subprocess."""
    root = tmp_path_factory.mktemp("bench-run")
    cfg = BenchConfig(
        models=[ckpts["student"]],
        backends=["onnx"],
        precisions=["fp32"],
        data=cmu_dir,
        windows=1,
        threads=(1, 2),
        artifacts_dir=root / "artifacts",
        command="pytest bench_run",
    )
    results = run_bench(cfg)
    path = write_results(root / "bench.json", results)
    return {"results": results, "json": path, "config": cfg}

"""Adding a backend is its module plus one table entry: ``tests/export/pt2_target.py`` (a
torch.export ``.pt2`` program, exported and run back in this process) is registered from here,
without editing edgesdk, and export, validate, the bench harness and the CLI all take it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgesdk.bench.harness import BenchConfig, run_bench
from edgesdk.cli import build_parser, main
from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import export_model
from edgesdk.export.manifest import read_manifest
from edgesdk.export.runners import open_runner
from edgesdk.export.validate import validate
from edgesdk.targets import TARGETS, Target, names, register_target, target_for_path

from . import pt2_target


@pytest.fixture
def pt2() -> Iterator[Target]:
    """The .pt2 target in the table for one test (the other tests iterate over the table)."""
    registered = register_target(pt2_target.TARGET)
    try:
        yield registered
    finally:
        del TARGETS[registered.name]


def test_registered_target_is_in_the_table_and_the_cli(pt2: Target) -> None:
    assert names()[-1] == "pt2" and target_for_path("m-fp32.pt2") is pt2
    assert pt2.runner is pt2_target.Pt2Runner and pt2.exporter is pt2_target.export
    parser = build_parser()
    args = parser.parse_args(["export", "--model", "m", "--backend", "pt2", "--out", "o"])
    assert args.backend == "pt2"
    bench = parser.parse_args(["bench", "--artifact", "a.pt2", "--json", "b.json"])
    assert "pt2" in bench.backends  # the default: every backend that predicts here
    with pytest.raises(EdgeSDKError, match="already registered"):
        register_target(pt2)
    with pytest.raises(SystemExit):  # gone from the choices once it is gone from the table
        del TARGETS["pt2"]
        try:
            build_parser().parse_args(["export", "--model", "m", "--backend", "pt2", "--out", "o"])
        finally:
            TARGETS["pt2"] = pt2


def test_registered_target_exports_validates_and_benches(
    pt2: Target, student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    ckpt = student_ckpts["same-student"]
    path = export_model(
        ckpt, "pt2", None, tmp_path / "out", calib_dir=cmu_dir, validate_windows=2, progress=False
    )
    assert path.name == "same-student-fp32.pt2"
    manifest = read_manifest(path)
    assert manifest["backend"] == "pt2" and manifest["precision"] == "fp32"
    assert manifest["quantization"]["recipe"].startswith("fp32 (torch.export program")
    numerics = manifest["numerics"]
    assert numerics["ran"] and numerics["passed"] and numerics["frames"] >= 60
    assert max(numerics["max_abs_error"].values()) < 1e-4

    report = validate(path, cmu_dir, max_windows=1)
    assert report["backend"] == "pt2" and report["ran"] and report["passed"]
    assert main(["validate", str(path), "--data", str(cmu_dir), "--windows", "1", "--quiet"]) == 0
    assert type(open_runner(path)) is pt2_target.Pt2Runner

    with pytest.raises(EdgeSDKError, match="--precision int8: the pt2 backend takes fp32"):
        export_model(ckpt, "pt2", "int8", tmp_path / "int8", progress=False)

    assert "pt2" in BenchConfig().backends
    cfg = BenchConfig(
        models=[ckpt],
        backends=["pt2"],
        data=cmu_dir,
        windows=1,
        threads=(1,),
        artifacts_dir=tmp_path / "bench",
        add_teachers=False,
        rss=False,
    )
    results = run_bench(cfg)
    entry = results["models"]["same-student"]
    assert set(entry) & {"fp32", "int8"} == {"fp32"}  # the table: no int8 for pt2
    (fig,) = entry["fp32"]["pt2"].values()
    assert "error" not in fig, fig
    assert fig["export"] == "exported" and fig["latency_ms"]["1"]["p50_ms"] > 0
    assert fig["accuracy"]["finite"] and abs(fig["accuracy"]["mpjpe_delta_mm"]) < 0.01

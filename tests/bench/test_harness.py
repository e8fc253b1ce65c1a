"""The harness: results layout, teachers measured beside students, reuse, torch-free mode."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgesdk.bench.checkpoints import artifact_for
from edgesdk.bench.harness import EAGER, FORMAT, BenchConfig, add_ratios, cases, run_bench
from edgesdk.bench.latency import cpu_device
from edgesdk.errors import EdgeSDKError


def test_results_layout(bench_run: dict[str, Any]) -> None:
    r = bench_run["results"]
    assert r["format"] == FORMAT and r["command"] == "pytest bench_run"
    assert json.loads(bench_run["json"].read_text()) == r
    assert set(r["models"]) == {"same-student", "mlp-baseline"}
    assert r["protocol"] == {"devices": "realistic", "head": "slam", "text": "none"}
    assert r["data"]["clips"] == sum(r["data"]["split"].values()) > 0
    device = cpu_device()
    student = r["models"]["same-student"]
    assert (student["kind"], student["teacher"]) == ("student", "mlp-baseline")
    assert student["cost"]["params"] > 0 and student["cost"]["gflops_per_s"] > 0
    fig = student["fp32"]["onnx"][device]
    assert fig["export"] == "exported" and fig["bytes"] == Path(fig["artifact"]).stat().st_size
    assert fig["streaming"] and fig["frames_per_call"] == 1
    for n in ("1", "2"):
        lat = fig["latency_ms"][n]
        assert lat["calls"] == 100 and lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"]
    assert 0 < fig["baseline_rss_mb"] < fig["peak_rss_mb"]
    acc = fig["accuracy"]
    assert acc["finite"] and acc["windows_per_combination"] == 1
    assert acc["combinations"] == len(acc["per_combination"]) > 1
    assert "head+left_wrist" in acc["per_combination"]
    mean = sum(c["mpjpe_mm"] for c in acc["per_combination"].values()) / acc["combinations"]
    assert acc["mpjpe_mm"] == pytest.approx(mean)
    assert abs(acc["mpjpe_delta_mm"]) < 0.01  # fp32 ONNX matches eager


def test_teacher_measured_eager_and_ratio_from_the_same_run(bench_run: dict[str, Any]) -> None:
    r = bench_run["results"]
    device = cpu_device()
    teacher = r["models"]["mlp-baseline"]
    assert teacher["kind"] == "teacher" and teacher["cost"]["gflops_per_s"] > 0
    tfig = teacher["fp32"][EAGER][device]
    # mlp-baseline takes any length: its artifact / eager call is one second (30 frames).
    assert tfig["device"] == "cpu" and tfig["frames_per_call"] == 30
    assert set(tfig["latency_ms"]) == {"1", "2"} and tfig["accuracy"]["finite"]
    sfig = r["models"]["same-student"]["fp32"]["onnx"][device]
    for n in ("1", "2"):
        expected = sfig["latency_ms"][n]["p50_ms"] / tfig["latency_ms"][n]["p50_ms"]
        assert sfig["latency_ratio_to_teacher"][n] == pytest.approx(expected)
    assert sfig["teacher"] == "mlp-baseline"
    kinds = sorted((c["kind"], c["backend"]) for c in cases(r))
    assert kinds[:2] == [("student", "onnx"), ("teacher", EAGER)]


def test_same_weights_reuse_the_artifact(bench_run: dict[str, Any], ckpts: dict[str, Path]) -> None:
    cfg = bench_run["config"]
    path, how = artifact_for(ckpts["student"], "onnx", "fp32", cfg)
    assert how == "reused"
    fig = bench_run["results"]["models"]["same-student"]["fp32"]["onnx"][cpu_device()]
    assert path == Path(fig["artifact"])


def test_failed_export_is_recorded_and_the_run_goes_on(
    ckpts: dict[str, Path], tmp_path: Path
) -> None:
    cfg = BenchConfig(
        models=[ckpts["student"]],
        backends=["onnx"],
        precisions=["int8"],  # int8 needs calibration data: none given
        artifacts_dir=tmp_path,
        add_teachers=False,
        rss=False,
    )
    fig = run_bench(cfg)["models"]["same-student"]["int8"]["onnx"][cpu_device()]
    assert "needs --calib" in fig["error"] and "latency_ms" not in fig


@pytest.mark.parametrize(
    "change,message",
    [
        ({"calls": 50}, "--calls 50: at least 100"),
        ({"threads": (0,)}, "--threads"),
        ({"windows": 0}, "--windows 0"),
        ({"backends": ["tensorrt"]}, "--backends 'tensorrt': unknown"),
        ({"precisions": ["int4"]}, "--precisions 'int4': unknown"),
        ({"models": ["/nonexistent"]}, "/nonexistent: not a checkpoint folder"),
        ({"models": [], "artifacts": []}, "nothing to measure"),
    ],
)
def test_bad_config(ckpts: dict[str, Path], change: dict[str, Any], message: str) -> None:
    cfg = BenchConfig(**{"models": [ckpts["student"]], **change})
    with pytest.raises(EdgeSDKError, match=message.replace("(", r"\(")):
        run_bench(cfg)


def test_artifact_alone_needs_no_torch(onnx_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.json"
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "from edgesdk.cli import main\n"
        f"rc = main(['bench', '--artifact', {str(onnx_artifact)!r}, '--json', {str(out)!r},"
        " '--threads', '1', '--quiet'])\n"
        "assert 'torch' not in [m.split('.')[0] for m, v in sys.modules.items() if v]\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    (fig,) = [c["figures"] for c in cases(r)]
    assert fig["latency_ms"]["1"]["calls"] == 100 and fig["bytes"] > 0
    assert fig["peak_rss_mb"] > 0 and "accuracy" not in fig
    assert math.isfinite(fig["latency_ms"]["1"]["p99_ms"])


def test_ratios_to_cpu_and_cuda_teachers() -> None:
    lat = {"1": {"p50_ms": 0.5}, "2": {"p50_ms": 0.4}}
    models: dict[str, Any] = {
        "t": {
            "kind": "teacher",
            "model": "t-small",
            "fp32": {
                EAGER: {
                    "cpu": {"latency_ms": {"1": {"p50_ms": 10.0}, "2": {"p50_ms": 8.0}}},
                    "cuda (H100)": {"latency_ms": {"1": {"p50_ms": 2.0}}},
                }
            },
        },
        "s": {
            "kind": "student",
            "teacher": "t-small",
            "int8": {"onnx": {"cpu": {"latency_ms": lat}}},
        },
        "lone": {
            "kind": "artifact",
            "teacher": None,
            "fp32": {"onnx": {"cpu": {"latency_ms": lat}}},
        },
    }
    add_ratios(models, "cpu")
    fig = models["s"]["int8"]["onnx"]["cpu"]
    assert fig["latency_ratio_to_teacher"] == {"1": 0.05, "2": 0.05}
    assert fig["latency_ratio_to_teacher_cuda"] == 0.25
    assert (fig["teacher"], fig["teacher_cuda_device"]) == ("t-small", "cuda (H100)")
    assert "latency_ratio_to_teacher" not in models["lone"]["fp32"]["onnx"]["cpu"]


def test_artifact_without_manifest_is_bad_input(tmp_path: Path) -> None:
    bare = tmp_path / "m.onnx"
    bare.write_bytes(b"x")
    with pytest.raises(EdgeSDKError, match="no manifest beside it"):
        run_bench(BenchConfig(artifacts=[bare]))
    with pytest.raises(EdgeSDKError, match="unknown artifact type"):
        run_bench(BenchConfig(artifacts=[tmp_path / "m.bin"]))

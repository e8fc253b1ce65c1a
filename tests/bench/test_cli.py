"""``bench`` / ``report`` commands: exit codes, the budgets check and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from edgesdk.bench.cli import junit_reports
from edgesdk.cli import main


def _budgets(tmp_path: Path, max_bytes: int) -> Path:
    path = tmp_path / f"budgets-{max_bytes}.yaml"
    path.write_text(f"defaults:\n  max_artifact_bytes: {max_bytes}\n")
    return path


def _bench(tmp_path: Path, artifact: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "bench.json"
    args = ["bench", "--artifact", str(artifact), "--json", str(out), "--threads", "1"]
    return main([*args, "--no-rss", "--quiet", *extra]), out


def test_bench_check_passes_within_budget(onnx_artifact: Path, tmp_path: Path) -> None:
    xml = tmp_path / "bench.xml"
    budgets = _budgets(tmp_path, 10_000_000)
    rc, out = _bench(tmp_path, onnx_artifact, "--check", str(budgets), "--junit", str(xml))
    assert rc == 0
    results = json.loads(out.read_text())
    assert results["budgets"]["violations"] == []
    assert results["command"].startswith("edgesdk bench --artifact")
    suite = ET.parse(xml).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    (case,) = suite.iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("edgesdk.bench.same-student", "onnx-fp32")


def test_bench_check_fails_on_a_violation(
    onnx_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xml = tmp_path / "bench.xml"
    rc, out = _bench(
        tmp_path, onnx_artifact, "--check", str(_budgets(tmp_path, 1000)), "--junit", str(xml)
    )
    assert rc == 1
    (v,) = json.loads(out.read_text())["budgets"]["violations"]
    assert v["budget"] == "max_artifact_bytes" and v["value"] > 1000
    assert "budget: same-student onnx fp32" in capsys.readouterr().err
    suite = ET.parse(xml).getroot()
    assert suite.get("failures") == "1"
    (failure,) = suite.iter("failure")
    assert "max_artifact_bytes" in (failure.get("message") or "")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--calls", "10"], "argument --calls: 10 is not an integer >= 100"),
        (["--windows", "-1"], "argument --windows: -1 is not an integer >= 0"),
        (["--check", "/nonexistent/b.yaml"], "no such budgets file"),
        (["--junit", "/nonexistent/dir/x.xml"], "--junit /nonexistent/dir/x.xml"),
    ],
)
def test_bad_input_exits_2(
    onnx_artifact: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    rc, out = _bench(tmp_path, onnx_artifact, *extra)
    assert rc == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgesdk") and message in err[0]


def test_report_command(bench_run: dict[str, Any], tmp_path: Path) -> None:
    assert main(["report", "--results", str(bench_run["json"]), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").is_file() and (tmp_path / "pareto.png").is_file()
    assert main(["report", "--results", str(tmp_path / "none.json"), "--out", "x"]) == 2


def test_junit_reports_one_case_per_model_backend_precision(bench_run: dict[str, Any]) -> None:
    reports = junit_reports(bench_run["results"])
    names = sorted((r["model"], r["backend"], r["precision"]) for r in reports)
    assert names == [("mlp-baseline", "eager", "fp32"), ("same-student", "onnx", "fp32")]
    assert all(r["passed"] for r in reports)
    student = next(r for r in reports if r["model"] == "same-student")
    assert student["latency_ratio_to_teacher"] > 0 and student["mpjpe_mm"] > 0
    broken = json.loads(json.dumps(bench_run["results"]))
    fig = next(iter(broken["models"]["same-student"]["fp32"]["onnx"].values()))
    fig["accuracy"]["finite"] = False
    (bad,) = [r for r in junit_reports(broken) if not r["passed"]]
    assert "non-finite" in bad["reason"]

"""The report: Markdown and the three PNG plots, from real harness results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgesdk.bench.report import FILES, pareto_front, points, report
from edgesdk.errors import EdgeSDKError

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_markdown_and_plots(bench_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report"
    written = report(bench_run["json"], out)
    assert [p.name for p in written] == list(FILES)
    md = (out / "report.md").read_text()
    assert "| same-student | onnx | fp32 |" in md and "| mlp-baseline | eager | fp32 |" in md
    assert "| same-student |" in md.split("GFLOPs/s | ratio |")[1]  # the compute table
    for name in FILES[1:]:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, name
        assert f"]({name})" in md
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_points_and_pareto_front(bench_run: dict[str, Any]) -> None:
    pts = points(bench_run["results"])
    assert {p["kind"] for p in pts} == {"student", "teacher"}
    synthetic = [
        {"label": "a", "latency_ms": 1.0, "mpjpe_mm": 90.0},
        {"label": "b", "latency_ms": 2.0, "mpjpe_mm": 95.0},  # slower and worse than a
        {"label": "c", "latency_ms": 10.0, "mpjpe_mm": 70.0},
        {"label": "d", "latency_ms": 0.5, "mpjpe_mm": 120.0},
    ]
    assert [p["label"] for p in pareto_front(synthetic)] == ["d", "a", "c"]


def test_report_rejects_bad_results(tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError, match="no such results file"):
        report(tmp_path / "none.json", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"figures": []}))
    with pytest.raises(EdgeSDKError, match="not benchmark results"):
        report(bad, tmp_path)
    bad.write_text("{")
    with pytest.raises(EdgeSDKError, match="corrupt JSON"):
        report(bad, tmp_path)

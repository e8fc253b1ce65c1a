"""The quantization table: one harness run over every ONNX int8 scheme of the small student;
each scheme measured like the chosen one, its speed ratio to fp32 from the same run, and the
report's table per student. (No timing assertions: speed targets live in the benchmarks.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgesdk.bench.harness import BenchConfig, run_bench
from edgesdk.bench.report import markdown
from edgesdk.quantize.schemes import SCHEMES, chosen

from .conftest import STUDENT


@pytest.fixture(scope="module")
def scheme_run(
    ckpts: dict[str, Path], cmu_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    cfg = BenchConfig(
        models=[ckpts["student"]],
        backends=["onnx"],
        precisions=["fp32", "int8"],
        data=cmu_dir,
        windows=1,
        threads=(1, 2),
        artifacts_dir=tmp_path_factory.mktemp("scheme-run"),
        add_teachers=False,
        rss=False,
        schemes=True,
        command="pytest scheme_run",
    )
    return run_bench(cfg)


def test_every_scheme_is_measured_and_the_chosen_one_is_the_int8_entry(
    scheme_run: dict[str, Any],
) -> None:
    entry = scheme_run["models"][STUDENT]
    device = next(iter(entry["fp32"]["onnx"]))
    fp32 = entry["fp32"]["onnx"][device]
    by_scheme = entry["schemes"]["onnx"]
    assert set(by_scheme) == set(SCHEMES["onnx"])
    assert entry["int8"]["onnx"][device]["scheme"] == chosen("onnx", STUDENT)
    assert entry["int8"]["onnx"][device] is by_scheme[chosen("onnx", STUDENT)][device]
    for name, devices in by_scheme.items():
        fig = devices[device]
        assert "error" not in fig, fig
        assert fig["scheme"] == name and fig["claims_speed"] == SCHEMES["onnx"][name].claims_speed
        assert fig["load_avg_1m"] >= 0.0
        for n in ("1", "2"):  # the ratio is the paired timing's (fp32 and schemes in turns)
            assert fig["paired_latency_ms"][n]["calls"] == fp32["paired_latency_ms"][n]["calls"]
            paired = fig["paired_latency_ms"][n]["p50_ms"] / fp32["paired_latency_ms"][n]["p50_ms"]
            assert fig["latency_ratio_to_fp32"][n] == pytest.approx(paired)
    assert "load_avg_at_start" in scheme_run["machine"]


def test_quantization_table_and_report(scheme_run: dict[str, Any]) -> None:
    entry = scheme_run["models"][STUDENT]
    table = entry["quantization"]["onnx"]
    assert table["chosen"] == chosen("onnx", STUDENT)
    assert set(table["schemes"]) == set(SCHEMES["onnx"]) and table["fp32"]["bytes"] > 0
    for row in table["schemes"].values():
        assert row["bytes"] < table["fp32"]["bytes"]  # every int8 scheme is smaller
        assert set(row["p50_ms"]) == set(row["p99_ms"]) == {"1", "2"}
        assert row["within_gate"] == (row["mpjpe_delta_mm"] <= 3.0)
    fastest = table["fastest_within_gate"]
    # by the paired timing's p50 (fp32 and the schemes in turns), at the first thread count
    within = {k: r["paired_p50_ms"]["1"] for k, r in table["schemes"].items() if r["within_gate"]}
    assert fastest == min(within, key=within.__getitem__)
    ratios = table["int8_vs_fp32_p50"]
    assert table["int8_pays"] == all(r <= 1.0 for r in ratios.values())
    text = markdown(scheme_run)
    assert f"### {STUDENT}" in text
    for name in ("fp32", *SCHEMES["onnx"]):
        assert f"| onnx | {name} |" in text

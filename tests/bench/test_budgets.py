"""Budgets: a figure outside its budget (or not measured) is a violation; inside, none."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edgesdk.bench.budgets import check, load_budgets, parse_budgets
from edgesdk.errors import EdgeSDKError

BUDGETS = Path(__file__).resolve().parents[2] / "benchmarks" / "budgets.yaml"


def figure(bytes_: int = 400_000, ratio: float = 0.02, delta: float = 0.5) -> dict[str, Any]:
    return {
        "bytes": bytes_,
        "latency_ms": {"1": {"p50_ms": 0.2}, "2": {"p50_ms": 0.3}},
        "latency_ratio_to_teacher": {"1": ratio, "2": ratio * 3},
        "accuracy": {"mpjpe_mm": 80.0, "mpjpe_delta_mm": delta},
    }


def results(**int8: Any) -> dict[str, Any]:
    return {
        "models": {
            "same-student": {
                "kind": "student",
                "model": "same-student",
                "teacher": "same-small",
                "fp32": {"onnx": {"cpu": figure(1_100_000, 0.02, 0.0)}},
                "int8": {"onnx": {"cpu": figure(**int8)}},
            },
            "same-small": {
                "kind": "teacher",
                "model": "same-small",
                "fp32": {"eager": {"cpu": figure(10**9, 1.0, 99.0)}},  # never budgeted
            },
        }
    }


LIMITS = {
    "latency_threads": 1,
    "defaults": {
        "max_latency_ratio_to_teacher": 0.1,
        "max_artifact_bytes": 2_000_000,
        "max_int8_mpjpe_delta_mm": 3.0,
    },
}


def test_within_budget_passes() -> None:
    assert check(results(), LIMITS) == []


@pytest.mark.parametrize(
    "figures,budget,value",
    [
        ({"ratio": 0.15}, "max_latency_ratio_to_teacher", 0.15),
        ({"bytes_": 2_000_001}, "max_artifact_bytes", 2_000_001),
        ({"delta": 3.2}, "max_int8_mpjpe_delta_mm", 3.2),
    ],
)
def test_each_budget_fails_on_its_figure(
    figures: dict[str, Any], budget: str, value: float
) -> None:
    (v,) = check(results(**figures), LIMITS)
    assert (v.model, v.backend, v.precision, v.budget) == ("same-student", "onnx", "int8", budget)
    assert v.value == pytest.approx(value) and budget in str(v)


def test_ratio_uses_the_budgets_thread_count() -> None:
    r = results(ratio=0.05)  # 2 threads: 0.15
    assert check(r, LIMITS) == []
    (v,) = check(r, {**LIMITS, "latency_threads": 2})
    assert v.value == pytest.approx(0.15)


def test_delta_budget_is_for_int8_only() -> None:
    r = results()
    r["models"]["same-student"]["fp32"]["onnx"]["cpu"]["accuracy"]["mpjpe_delta_mm"] = 9.0
    assert check(r, LIMITS) == []


def test_missing_figures_are_violations() -> None:
    r = results()
    fig = r["models"]["same-student"]["int8"]["onnx"]["cpu"]
    del fig["latency_ratio_to_teacher"], fig["accuracy"]
    violations = check(r, LIMITS)
    assert [v.budget for v in violations] == [
        "max_latency_ratio_to_teacher",
        "max_int8_mpjpe_delta_mm",
    ]
    assert all(v.value is None and "not measured" in str(v) for v in violations)
    r["models"]["same-student"]["int8"]["onnx"]["cpu"] = {"error": "ValueError: boom"}
    assert {v.reason for v in check(r, LIMITS)} == {"ValueError: boom"}


def test_per_student_budget_overrides_the_default() -> None:
    tight = copy.deepcopy(LIMITS)
    tight["students"] = {"same-student": {"max_artifact_bytes": 500_000}}
    assert [(v.precision, v.budget) for v in check(results(), tight)] == [
        ("fp32", "max_artifact_bytes")
    ]


@pytest.mark.parametrize(
    "data,message",
    [
        ({"defaults": {"max_latency_ms": 1}}, "defaults.max_latency_ms: unknown budget"),
        ({"defaults": {"max_artifact_bytes": -1}}, "not a non-negative number"),
        ({"students": {"s": {"max_artifact_bytes": "big"}}}, "students.s.max_artifact_bytes"),
        ({"latency_threads": 0}, "latency_threads 0"),
        ({"budget": {}}, "unknown key 'budget'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_budgets(data: Any, message: str) -> None:
    with pytest.raises(EdgeSDKError, match=message):
        parse_budgets(data)


def test_repository_budgets_file_parses(tmp_path: Path) -> None:
    budgets = load_budgets(BUDGETS)
    assert budgets["latency_threads"] == 1
    assert set(budgets["defaults"]) == {
        "max_latency_ratio_to_teacher",
        "max_artifact_bytes",
        "max_int8_mpjpe_delta_mm",
    }
    bad = tmp_path / "b.yaml"
    bad.write_text("defaults: [unclosed\n")
    with pytest.raises(EdgeSDKError, match="not valid YAML"):
        load_budgets(bad)
    with pytest.raises(EdgeSDKError, match="no such budgets file"):
        load_budgets(tmp_path / "missing.yaml")


def _int8_speed(ratio: float | None, claims: bool) -> dict[str, Any]:
    r = results()
    fig = r["models"]["same-student"]["int8"]["onnx"]["cpu"]
    fig.update(claims_speed=claims, scheme="dynamic")
    if ratio is not None:
        fig["latency_ratio_to_fp32"] = {"1": ratio, "2": ratio * 2}
    return r


SPEED = {**LIMITS, "max_int8_to_fp32_latency_ratio": 1.0}


def test_int8_slower_than_fp32_violates_where_its_scheme_claims_speed() -> None:
    assert check(_int8_speed(0.8, claims=True), SPEED) == []
    assert check(_int8_speed(1.0, claims=True), SPEED) == []  # as fast passes
    (v,) = check(_int8_speed(1.25, claims=True), SPEED)
    assert (v.budget, v.precision, v.value, v.limit) == (
        "max_int8_to_fp32_latency_ratio",
        "int8",
        1.25,
        1.0,
    )
    # a scheme for size only is not checked, and without the budget nothing is
    assert check(_int8_speed(1.25, claims=False), SPEED) == []
    assert check(_int8_speed(1.25, claims=True), LIMITS) == []
    # claimed but not measured (no fp32 of that runtime timed): a violation, saying why
    (v,) = check(_int8_speed(None, claims=True), SPEED)
    assert v.value is None and "no fp32 artifact" in str(v)


def test_int8_speed_budget_reads_the_budget_thread_count_and_spares_fp32() -> None:
    r = _int8_speed(0.9, claims=True)  # 1 thread 0.9, 2 threads 1.8
    assert check(r, SPEED) == []
    (v,) = check(r, {**SPEED, "latency_threads": 2})
    assert v.value == pytest.approx(1.8)
    fp32 = r["models"]["same-student"]["fp32"]["onnx"]["cpu"]
    fp32.update(claims_speed=True, latency_ratio_to_fp32={"1": 5.0})
    assert check(r, SPEED) == []


def test_int8_speed_budget_is_a_number() -> None:
    with pytest.raises(EdgeSDKError, match="max_int8_to_fp32_latency_ratio 'fast'"):
        parse_budgets({**SPEED, "max_int8_to_fp32_latency_ratio": "fast"})
    assert load_budgets(BUDGETS)["max_int8_to_fp32_latency_ratio"] == 1.0

"""Budgets for students, checked on a benchmark's results.

A budgets file (YAML, ``benchmarks/budgets.yaml``) sets per student, as ratios rather than
absolute times so that it holds on any machine:

    latency_threads: 1                  # thread count of the latency ratio compared
    defaults:
      max_latency_ratio_to_teacher: 0.1 # student artifact p50 / teacher eager p50, same run
      max_artifact_bytes: 2000000
      max_int8_mpjpe_delta_mm: 3.0      # int8 artifact MPJPE minus eager fp32 (mean of combos)
    students:
      same-student: {max_artifact_bytes: 1500000}
    max_int8_to_fp32_latency_ratio: 1.0  # int8 p50 / the same runtime's fp32 p50, same run

The last one holds for every student figure whose int8 scheme claims speed
(``edgesdk.quantize.schemes``; a scheme for size only is not checked): int8 must not be
slower than fp32 in that runtime.

Every student figure (model x backend x precision x device) is checked against the defaults
updated by its own entry. A budgeted figure that is missing (not measured, or the export or
run failed) is a violation too: a budget that cannot be checked does not pass.

Example:
    >>> r = {"models": {"s": {"kind": "student", "model": "s", "int8": {"onnx": {"cpu": {
    ...     "bytes": 500, "latency_ratio_to_teacher": {"1": 0.05},
    ...     "accuracy": {"mpjpe_delta_mm": 4.0}}}}}}}
    >>> b = {"defaults": {"max_artifact_bytes": 1000, "max_int8_mpjpe_delta_mm": 3.0}}
    >>> [str(v) for v in check(r, b)]
    ['s onnx int8 on cpu: max_int8_mpjpe_delta_mm: 4.000 > 3.0']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgesdk.bench.harness import cases
from edgesdk.errors import EdgeSDKError

LIMITS = ("max_latency_ratio_to_teacher", "max_artifact_bytes", "max_int8_mpjpe_delta_mm")
SPEED = "max_int8_to_fp32_latency_ratio"  # top level: every student, where int8 claims speed
TOP = ("latency_threads", "defaults", "students", SPEED)


@dataclass(frozen=True)
class Violation:
    """One figure outside its budget (``value`` None: the figure was not measured)."""

    model: str
    backend: str
    precision: str
    device: str
    budget: str
    value: float | None
    limit: float
    reason: str = ""

    def __str__(self) -> str:
        where = f"{self.model} {self.backend} {self.precision} on {self.device}"
        if self.value is None:
            return f"{where}: {self.budget}: not measured ({self.reason or 'no figure'})"
        return f"{where}: {self.budget}: {self.value:.3f} > {self.limit}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": str(self)}


def _limits(where: str, values: Any) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise EdgeSDKError(f"{where}: expected a mapping of budgets, got {values!r}")
    for k, v in values.items():
        if k not in LIMITS:
            raise EdgeSDKError(f"{where}.{k}: unknown budget (one of {', '.join(LIMITS)})")
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise EdgeSDKError(f"{where}.{k}: {v!r} is not a non-negative number")
    return {k: float(v) for k, v in values.items()}


def parse_budgets(data: Any, source: str = "budgets") -> dict[str, Any]:
    """Budgets from parsed YAML, validated; unknown keys and bad values raise EdgeSDKError."""
    if not isinstance(data, dict):
        raise EdgeSDKError(f"{source}: expected a mapping at the top, got {type(data).__name__}")
    for k in data:
        if k not in TOP:
            raise EdgeSDKError(f"{source}: unknown key {k!r} (one of {', '.join(TOP)})")
    threads = data.get("latency_threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise EdgeSDKError(f"{source}: latency_threads {threads!r} is not a thread count >= 1")
    students = data.get("students") or {}
    if not isinstance(students, dict):
        raise EdgeSDKError(f"{source}: students must map student names to budgets")
    speed = data.get(SPEED)
    if speed is not None and (
        isinstance(speed, bool) or not isinstance(speed, int | float) or speed < 0
    ):
        raise EdgeSDKError(f"{source}: {SPEED} {speed!r} is not a non-negative number")
    return {
        "latency_threads": threads,
        **({SPEED: float(speed)} if speed is not None else {}),
        "defaults": _limits(f"{source}: defaults", data.get("defaults")),
        "students": {k: _limits(f"{source}: students.{k}", v) for k, v in students.items()},
    }


def load_budgets(path: Path | str) -> dict[str, Any]:
    """Read and validate a budgets YAML file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise EdgeSDKError(f"{path}: no such budgets file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise EdgeSDKError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_budgets(data, str(path))


def _figure(fig: dict[str, Any], budget: str, threads: str) -> float | None:
    if budget == "max_latency_ratio_to_teacher":
        value = fig.get("latency_ratio_to_teacher", {}).get(threads)
    elif budget == "max_artifact_bytes":
        value = fig.get("bytes")
    elif budget == SPEED:
        value = fig.get("latency_ratio_to_fp32", {}).get(threads)
    else:
        value = fig.get("accuracy", {}).get("mpjpe_delta_mm")
    return None if value is None else float(value)


def check(results: dict[str, Any], budgets: dict[str, Any]) -> list[Violation]:
    """Every student figure outside its budget, in the order of the results."""
    budgets = parse_budgets(budgets)
    threads = str(budgets["latency_threads"])
    out: list[Violation] = []
    for c in cases(results):
        if c["kind"] == "teacher":
            continue
        limits = {
            **budgets["defaults"],
            **budgets["students"].get(c["name"], {}),
            **budgets["students"].get(c["model"], {}),
        }
        fig = c["figures"]
        # int8 not slower than fp32, where its scheme claims speed (a scheme for size only,
        # or an int8 artifact measured without its scheme, makes no such claim)
        if SPEED in budgets and c["precision"] == "int8" and fig.get("claims_speed"):
            limits[SPEED] = budgets[SPEED]
        for budget, limit in limits.items():
            if budget == "max_int8_mpjpe_delta_mm" and c["precision"] != "int8":
                continue
            value = _figure(fig, budget, threads)
            if value is not None and value <= limit:
                continue
            reason = fig.get("error", "")
            if value is None and not reason and budget == "max_latency_ratio_to_teacher":
                reason = f"no teacher measured at {threads} thread(s) in this run"
            elif value is None and not reason and budget == "max_int8_mpjpe_delta_mm":
                reason = "no accuracy (run with --data)"
            elif value is None and not reason and budget == SPEED:
                reason = f"no fp32 artifact of this runtime timed at {threads} thread(s)"
            where = (c["model"], c["backend"], c["precision"], c["device"])
            out.append(Violation(*where, budget, value, limit, reason))
    return out

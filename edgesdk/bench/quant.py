"""The quantization table of a benchmark: per student and runtime, fp32 and every int8
scheme side by side (size, p50 / p99 per frame at each thread count, MPJPE delta, speed
ratio to fp32), the chosen scheme, the fastest within the gate, and whether int8 pays.

Figures come from one run (``edgesdk.bench.harness``): a student entry's ``schemes`` hold
every int8 scheme's figures (``schemes -> backend -> scheme -> device -> figures``); its
``int8`` the chosen scheme's. ``add_speed_ratios`` writes each int8 figure's p50 over the
same runtime's fp32 p50 at the same thread count (``latency_ratio_to_fp32``); ``table`` is
the summary ``bench.json`` stores under each student's ``quantization``.

Example:
    >>> fp = {"bytes": 1000, "latency_ms": {"1": {"p50_ms": 0.2, "p99_ms": 0.3}}}
    >>> q = {"bytes": 300, "latency_ms": {"1": {"p50_ms": 0.1, "p99_ms": 0.2}},
    ...      "accuracy": {"mpjpe_delta_mm": 0.4}, "scheme": "dynamic", "claims_speed": True}
    >>> e = {"kind": "student", "fp32": {"onnx": {"cpu": fp}}, "int8": {"onnx": {"cpu": q}},
    ...      "schemes": {"onnx": {"dynamic": {"cpu": q}}}}
    >>> add_speed_ratios(e)
    >>> t = table(e, "cpu")["onnx"]
    >>> t["chosen"], t["fastest_within_gate"], t["int8_vs_fp32_p50"], t["int8_pays"]
    ('dynamic', 'dynamic', {'1': 0.5}, True)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

GATE_MM = 3.0
ROUNDS = 10  # paired timing: blocks per artifact, interleaved


def paired_latency(
    artifacts: Mapping[str, Path | str],
    threads: Sequence[int],
    calls: int,
    feeds: Sequence[Sequence[Any]] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: {threads: figures}}``: the artifacts of one runtime timed in turns, one block
    of ``calls / ROUNDS`` calls each per round, so that the load of other jobs on a shared
    CPU falls on all of them alike (each artifact its own continuous stream of state)."""
    from edgesdk.bench.latency import example_feed, percentiles, state_indices
    from edgesdk.export.manifest import read_manifest
    from edgesdk.export.runners import open_runner

    block = max(1, calls // ROUNDS)
    out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in artifacts}
    for n in threads:
        runs: dict[str, Any] = {}
        for name, path in artifacts.items():
            io = read_manifest(path)["io"]
            runs[name] = (open_runner(path, threads=n).run, state_indices(io))
            feeds = feeds or [example_feed(io)]
        assert feeds is not None
        times: dict[str, list[float]] = {name: [] for name in artifacts}
        previous: dict[str, Any] = {}
        for r in range(ROUNDS + 1):  # round 0: warm-up, not kept
            for name, (run, state) in runs.items():
                for i in range(block):
                    feed = list(feeds[(r * block + i) % len(feeds)])
                    for out_i, in_i in state if name in previous else ():
                        feed[in_i] = previous[name][out_i]
                    start = time.perf_counter()
                    previous[name] = run(feed)
                    if r:
                        times[name].append((time.perf_counter() - start) * 1000.0)
        for name in artifacts:
            out[name][str(n)] = {"calls": len(times[name]), **percentiles(times[name])}
    return out


def _p(fig: dict[str, Any], threads: str, key: str) -> float | None:
    lat = fig.get("latency_ms", {}).get(threads)
    return None if lat is None else float(lat[key])


def _ratios(fig: dict[str, Any], fp32: dict[str, Any]) -> dict[str, float]:
    """int8 p50 / fp32 p50 per thread count: from the paired timing when both have one (the
    fairer comparison on a shared CPU), else from their own timings."""
    key = "paired_latency_ms" if "paired_latency_ms" in fig and "paired_latency_ms" in fp32 else ""
    out = {}
    for n in fig.get(key or "latency_ms", {}):
        if key:
            mine = fig[key][n]["p50_ms"]
            base = fp32[key].get(n, {}).get("p50_ms")
        else:
            mine, base = _p(fig, n, "p50_ms"), _p(fp32, n, "p50_ms")
        if mine is not None and base:
            out[n] = mine / base
    return out


def add_speed_ratios(entry: dict[str, Any]) -> None:
    """Each int8 figure's (chosen and every scheme) p50 over its runtime's fp32 p50, per
    thread count, as ``latency_ratio_to_fp32``."""
    for backend, devices in entry.get("fp32", {}).items():
        for device, fp32 in devices.items():
            figs = [entry.get("int8", {}).get(backend, {}).get(device)]
            figs += [d.get(device) for d in entry.get("schemes", {}).get(backend, {}).values()]
            for fig in figs:
                if fig and "latency_ms" in fig and "latency_ms" in fp32:
                    fig["latency_ratio_to_fp32"] = _ratios(fig, fp32)


def _row(fig: dict[str, Any]) -> dict[str, Any]:
    acc = fig.get("accuracy", {})
    delta = acc.get("mpjpe_delta_mm")
    paired = fig.get("paired_latency_ms", {})
    row: dict[str, Any] = {
        "bytes": fig.get("bytes"),
        "p50_ms": {n: _p(fig, n, "p50_ms") for n in fig.get("latency_ms", {})},
        "p99_ms": {n: _p(fig, n, "p99_ms") for n in fig.get("latency_ms", {})},
        "paired_p50_ms": {n: v["p50_ms"] for n, v in paired.items()},
        "mpjpe_delta_mm": delta,
        "within_gate": delta is not None and delta <= GATE_MM,
    }
    for key in ("latency_ratio_to_fp32", "claims_speed", "load_avg_1m", "error"):
        if key in fig:
            row[key] = fig[key]
    return row


def table(entry: dict[str, Any], device: str, threads: str = "1") -> dict[str, Any]:
    """Per backend: fp32's row, each scheme's row, the chosen scheme, the fastest scheme
    within the gate at p50 (``threads``; the paired timing's when measured), and whether the
    chosen one is at least as fast as fp32 at p50 at every thread count (``int8_pays``)."""
    out: dict[str, Any] = {}
    for backend, by_scheme in entry.get("schemes", {}).items():
        fp32 = entry.get("fp32", {}).get(backend, {}).get(device)
        chosen = entry.get("int8", {}).get(backend, {}).get(device, {})
        rows = {name: _row(d[device]) for name, d in by_scheme.items() if device in d}
        speed = {
            n: r["paired_p50_ms"].get(threads, r["p50_ms"].get(threads)) for n, r in rows.items()
        }
        ok = [(speed[n], n) for n, r in rows.items() if r["within_gate"] and speed[n] is not None]
        ratio = chosen.get("latency_ratio_to_fp32", {})
        out[backend] = {
            "fp32": _row(fp32) if fp32 else None,
            "schemes": rows,
            "chosen": chosen.get("scheme"),
            "fastest_within_gate": min(ok)[1] if ok else None,
            "int8_vs_fp32_p50": ratio,
            "int8_pays": bool(ratio) and all(r <= 1.0 for r in ratio.values()),
        }
    return out

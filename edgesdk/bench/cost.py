"""Cost of a model per second of motion: parameters, FLOPs and CPU time.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as
2 FLOPs. It counts no FLOPs for LSTMs (none of our teachers has one; a GRU is counted), so
recurrent layers, when a model has them, must be added analytically with the same 2 x
multiply-add convention. A model's forward runs on one window of ``spec.window`` frames;
figures per second of motion divide by the window's duration. For autoregressive decoders
(Head2Body) the cost grows faster than linearly with the window, so the window is reported.

Example:
    >>> from edgesdk.models import create_model
    >>> cost = model_cost(create_model("mlp-baseline"), time_runs=3)
    >>> cost["params"] > 0 and cost["gflops_per_s"] > 0
    True
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from edgesdk.models.base import MotionModel


def count_flops(fn: Callable[..., Any], inputs: tuple[Tensor, ...]) -> int:
    """FLOPs of one call (2 per multiply-add), by FlopCounterMode."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return int(counter.get_total_flops())


def time_call_ms(
    fn: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    runs: int = 20,
    warmup: int = 3,
    threads: int = 1,
) -> dict[str, float]:
    """Median / p90 wall time of one call on ``threads`` CPU threads, in milliseconds."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            for _ in range(warmup):
                fn(*inputs)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                fn(*inputs)
                times.append((time.perf_counter() - start) * 1000.0)
    finally:
        torch.set_num_threads(previous)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}


def _window_s(model: MotionModel) -> float:
    return (model.spec.window or 1) / model.spec.fps


def model_cost(model: nn.Module, time_runs: int = 10, threads: int = 1) -> dict[str, Any]:
    """Parameters, GFLOPs and CPU ms of a model's forward, per window and per 1 s of motion."""
    assert isinstance(model, MotionModel)
    model = model.eval()
    inputs = model.example_inputs(batch_size=1)
    window_s = _window_s(model)
    flops = count_flops(model, inputs)
    timing = time_call_ms(model, inputs, runs=time_runs, threads=threads)
    out: dict[str, Any] = {
        "params": model.num_parameters(),
        "window_frames": model.spec.window,
        "window_s": window_s,
        "gflops_per_window": flops / 1e9,
        "gflops_per_s": flops / 1e9 / window_s,
        "cpu_ms_per_window": timing["median_ms"],
        "cpu_ms_per_s": timing["median_ms"] / window_s,
        "cpu_threads": threads,
    }
    parts = getattr(model, "submodules_for_cost", None)
    if callable(parts):
        out["parts_per_1s"] = {
            name: {
                "gflops": count_flops(module, part_inputs) / 1e9,
                "cpu_ms": time_call_ms(
                    module, part_inputs, runs=max(3, time_runs // 2), threads=threads
                )["median_ms"],
            }
            for name, (module, part_inputs) in parts(seconds=1.0).items()
        }
    return out


def flops_and_params(model: nn.Module) -> dict[str, Any]:
    """Parameters and GFLOPs of a model's forward per window and per 1 s of motion, without
    timing (``model_cost`` without the CPU time).

    Example:
        >>> from edgesdk.models import create_model
        >>> cost = flops_and_params(create_model("mlp-baseline"))
        >>> cost["gflops_per_s"] == cost["gflops_per_window"] / cost["window_s"]
        True
    """
    assert isinstance(model, MotionModel)
    model = model.eval()
    flops = count_flops(model, model.example_inputs(batch_size=1))
    window_s = _window_s(model)
    return {
        "params": model.num_parameters(),
        "window_frames": model.spec.window,
        "window_s": window_s,
        "gflops_per_window": flops / 1e9,
        "gflops_per_s": flops / 1e9 / window_s,
    }

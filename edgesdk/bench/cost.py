"""Cost of a model per second of motion: parameters, FLOPs and CPU time.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as
2 FLOPs in matrix products and convolutions (pointwise ops, biases and activations are not
counted). It counts nothing for ``nn.LSTM`` (a GRU decomposes into counted matrix products),
so every LSTM called inside ``count_flops`` is added analytically with the same convention:
``2 x 4H x (I + H)`` per frame, layer and direction (``lstm_flops``). A model's forward runs
on the frames of one call (``spec.window``, or ``spec.context`` for a model re-run over a
sliding window for every output frame); figures per second of motion multiply by the calls per
second: ``fps / window`` for a window, ``fps`` for a sliding window (it pays its whole window
for every pose), as a streaming student's forward over a window equals its steps. For
autoregressive decoders (Head2Body) the cost grows faster than linearly with the window, so
the window is reported.

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
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

from edgesdk.models.base import MotionModel


def lstm_flops(lstm: nn.LSTM, x: Tensor | PackedSequence) -> int:
    """FLOPs (2 per multiply-add) of an ``nn.LSTM``'s input and recurrent matrix products
    over the input ``x``: per frame, layer and direction ``2 x 4H x (I + H)`` with ``I`` the
    layer's input width (the gates' pointwise ops not counted, as for every other layer).

    Example:
        >>> lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, bidirectional=True)
        >>> per_frame = 2 * 4 * 32 * ((16 + 32) + (64 + 32)) * 2  # two layers, two directions
        >>> lstm_flops(lstm, torch.zeros(1, 10, 16)) == 10 * per_frame
        True
    """
    if lstm.proj_size:
        raise ValueError("lstm_flops: LSTMs with proj_size are not counted")
    if isinstance(x, PackedSequence):
        steps = int(x.data.shape[0])  # frames summed over the batch
    elif x.dim() == 2:  # unbatched [T, I]
        steps = int(x.shape[0])
    else:
        steps = int(x.shape[0] * x.shape[1])
    dirs = 2 if lstm.bidirectional else 1
    H = lstm.hidden_size
    per_step = sum(
        2 * 4 * H * ((lstm.input_size if layer == 0 else H * dirs) + H) * dirs
        for layer in range(lstm.num_layers)
    )
    return per_step * steps


def count_flops(fn: Callable[..., Any], inputs: tuple[Tensor, ...]) -> int:
    """FLOPs of one call (2 per multiply-add): FlopCounterMode's count plus every
    ``nn.LSTM`` called, counted by ``lstm_flops``."""
    lstm_total = 0

    def add_lstm(module: nn.Module, args: tuple[Any, ...]) -> None:
        nonlocal lstm_total
        if isinstance(module, nn.LSTM):
            lstm_total += lstm_flops(module, args[0])

    handle = register_module_forward_pre_hook(add_lstm)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            fn(*inputs)
    finally:
        handle.remove()
    return int(counter.get_total_flops()) + lstm_total


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
    """Seconds of motion one call of the forward pays for: its window, or one frame for a
    sliding-window model (one call per output frame)."""
    if model.spec.context is not None:
        return 1.0 / model.spec.fps
    return (model.spec.window or 1) / model.spec.fps


def _frames_per_call(model: MotionModel) -> int:
    return model.spec.context or model.spec.window or 1


def model_cost(model: nn.Module, time_runs: int = 10, threads: int = 1) -> dict[str, Any]:
    """Parameters, GFLOPs and CPU ms of a model's forward, per window and per 1 s of motion."""
    assert isinstance(model, MotionModel)
    out = flops_and_params(model)  # puts the model in eval mode
    window_s = out["window_s"]
    inputs = model.example_inputs(batch_size=1)
    timing = time_call_ms(model, inputs, runs=time_runs, threads=threads)
    out["cpu_ms_per_window"] = timing["median_ms"]
    out["cpu_ms_per_s"] = timing["median_ms"] / window_s
    out["cpu_threads"] = threads
    parts = model.submodules_for_cost(seconds=1.0)
    if parts:
        out["parts_per_1s"] = {
            name: {
                "gflops": count_flops(module, part_inputs) / 1e9,
                "cpu_ms": time_call_ms(
                    module, part_inputs, runs=max(3, time_runs // 2), threads=threads
                )["median_ms"],
            }
            for name, (module, part_inputs) in parts.items()
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
        "frames_per_call": _frames_per_call(model),
        "calls_per_s": 1.0 / window_s,
        "window_s": window_s,
        "gflops_per_window": flops / 1e9,
        "gflops_per_s": flops / 1e9 / window_s,
    }

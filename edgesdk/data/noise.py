"""The random errors of a virtual device, drawn from a seeded generator: white noise, bias
random walks, the device clock (offset, drift, jitter) and bursty sample drops. numpy only.

Example:
    >>> rng = np.random.default_rng(0)
    >>> float(random_walk(rng, 1.0, (5,), 0.01)[0]), int(drop_mask(rng, 100, 0.0, 1.0).sum())
    (0.0, 0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from edgesdk.data.mounts import Vec3

if TYPE_CHECKING:
    from edgesdk.data.device_spec import DeviceSpec


def white_noise(rng: np.random.Generator, std: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0.0, std, shape) if std > 0 else np.zeros(shape)


def random_walk(
    rng: np.random.Generator, std_per_sqrt_s: float, shape: tuple[int, ...], dt_s: float
) -> np.ndarray:
    """A walk that starts at 0 with variance ``std^2 t`` at time ``t``."""
    if std_per_sqrt_s <= 0:
        return np.zeros(shape)
    steps = rng.normal(0.0, std_per_sqrt_s * math.sqrt(dt_s), shape)
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def bias_walk(
    rng: np.random.Generator, initial: Vec3, rw_per_sqrt_s: float, n: int, dt_s: float
) -> np.ndarray:
    return np.asarray(initial, dtype=np.float64) + random_walk(rng, rw_per_sqrt_s, (n, 3), dt_s)


def device_clock(
    t_true_s: np.ndarray, offset_s: float, spec: DeviceSpec, rng: np.random.Generator, jitter: bool
) -> np.ndarray:
    local_s = t_true_s * (1.0 + spec.clock_drift_ppm * 1e-6)
    if jitter:
        local_s = local_s + white_noise(rng, spec.jitter_std_s, local_s.shape)
    # The offset is added in integer nanoseconds so large offsets keep nanosecond resolution.
    return np.int64(round(offset_s * 1e9)) + np.round(local_s * 1e9).astype(np.int64)


def drop_mask(rng: np.random.Generator, n: int, prob: float, burst_len: float) -> np.ndarray:
    """True where a sample is lost: alternating runs of kept and lost samples, both geometric
    (a two-state Gilbert chain), lost runs of mean ``burst_len``, a fraction ``prob`` lost."""
    if prob <= 0 or n == 0:
        return np.zeros(n, dtype=bool)
    mean_keep = burst_len * (1.0 - prob) / prob  # >= 1, checked by DeviceSpec
    start_dropping = bool(rng.random() < prob)
    chunks: list[np.ndarray] = []
    total = 0
    while total < n + 1:
        pairs = max(16, int(2 * n / (mean_keep + burst_len)) + 1)
        runs = np.stack(
            [rng.geometric(1.0 / mean_keep, pairs), rng.geometric(1.0 / burst_len, pairs)], 1
        ).ravel()  # keep, drop, keep, drop, ...
        chunks.append(runs)
        total += int(runs.sum()) - (int(runs[0]) if len(chunks) == 1 and start_dropping else 0)
    lengths = np.concatenate(chunks)
    states = np.tile([False, True], len(lengths) // 2)
    if start_dropping:  # the geometric runs are memoryless: start inside a burst
        lengths, states = lengths[1:], states[1:]
    return np.repeat(states, lengths)[:n]

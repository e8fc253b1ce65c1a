"""Config values from files and command lines, checked before a model is built.

A checkpoint's ``config.json`` (or a ``--set`` override) can hold anything: ``fps: 0``, which
divides by zero later, or ``hidden: 1e6``, which asks for terabytes. ``checked_model`` checks
each value against the type of the default config's field (an integer field takes an integer,
a float a finite number), bounds sizes, builds the model on the ``meta`` device first (no
memory) to bound its parameter count and check its spec, and only then builds it.

Example:
    >>> checked_model("mlp-baseline", {"hidden": 64}, "config.json").config.hidden
    64
    >>> checked_model("mlp-baseline", {"hidden": 1e6}, "config.json")
    Traceback (most recent call last):
    ...
    edgesdk.errors.EdgeSDKError: config.json: 'hidden' is 1000000.0: expected an integer
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from edgesdk.errors import EdgeSDKError
from edgesdk.models.registry import create_model

MAX_SIZE = 65536  # any integer size of a config (widths, vocabularies, codebooks, steps)
MAX_COUNT = 256  # layers, depths, heads
MAX_ELEMENTS = 1_000_000_000  # parameters and buffers of one model (4 GB in fp32)
MAX_FPS = 1000.0
MAX_WINDOW = 100_000  # frames
_COUNT_SUFFIXES = ("layers", "depth", "heads")


def check_values(default: Any, values: dict[str, Any], where: str) -> None:
    """Each value against its field in ``default`` (a config dataclass): type and range."""
    fields = {f.name: getattr(default, f.name) for f in dataclasses.fields(default)}
    for key, value in values.items():
        if key not in fields:
            continue  # build_config names unknown fields
        _check_value(key, fields[key], value, where)


def _check_value(key: str, default: Any, value: Any, where: str) -> None:
    def bad(what: str) -> EdgeSDKError:
        return EdgeSDKError(f"{where}: '{key}' is {str(value)[:40]}: {what}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("expected true or false")
    elif isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("expected an integer")
        if "seed" in key:
            if not -(2**63) <= value < 2**63:
                raise bad("expected a 64-bit integer")
            return
        limit = MAX_COUNT if key.endswith(_COUNT_SUFFIXES) else MAX_SIZE
        if not 0 <= value <= limit:
            raise bad(f"expected an integer in [0, {limit}]")
    elif isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad("expected a number")
        if not math.isfinite(value):
            raise bad("expected a finite number")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise bad("expected a string")
    elif isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise bad("expected a list")
        for i, item in enumerate(value):
            if isinstance(item, float) and not math.isfinite(item):
                raise bad(f"item {i} is not finite")


def checked_model(name: str, values: dict[str, Any], where: str) -> nn.Module:
    """``create_model(name, **values)`` after checking the values, the size and the spec."""
    if not isinstance(name, str):
        raise EdgeSDKError(f"{where}: 'model' is {name!r}: expected a model name")
    with torch.device("meta"):
        default = create_model(name).config  # type: ignore[union-attr]
    check_values(default, values, where)
    try:
        with torch.device("meta"):
            shell = create_model(name, **values)
    except EdgeSDKError:
        raise
    except (ValueError, TypeError, AssertionError, RuntimeError, ZeroDivisionError) as exc:
        raise EdgeSDKError(f"{where}: the config does not build {name} ({_first(exc)})") from None
    elements = sum(t.numel() for t in (*shell.parameters(), *shell.buffers()))
    if elements > MAX_ELEMENTS:
        raise EdgeSDKError(
            f"{where}: the config makes {name} of {elements:.3g} parameters "
            f"(limit {MAX_ELEMENTS:.0e})"
        )
    spec = getattr(shell, "spec", None)
    if spec is not None:
        if not (math.isfinite(spec.fps) and 0 < spec.fps <= MAX_FPS):
            raise EdgeSDKError(
                f"{where}: frame rate {spec.fps}: must be a number in (0, {MAX_FPS:g}]"
            )
        if spec.window is not None and not 0 < spec.window <= MAX_WINDOW:
            raise EdgeSDKError(f"{where}: window {spec.window}: must be in [1, {MAX_WINDOW}]")
    return create_model(name, **values)


def check_finite(model: nn.Module, where: str) -> None:
    """NaN or inf in any floating parameter or buffer is an error naming the tensor."""
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise EdgeSDKError(f"{where}: NaN or inf in '{key}'")


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__

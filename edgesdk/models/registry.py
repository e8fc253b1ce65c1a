"""The model registry: every teacher and student is built by name (as in timm).

A model file defines blocks, the model, its default configs, and three-line variant functions
decorated with ``@register_model``; the variant's name is the function name with ``_`` turned
into ``-``. ``create_model(name, **overrides)`` is the one way in.

Example:
    >>> from edgesdk.models import create_model, list_models
    >>> "head2body-small" in list_models()
    True
    >>> model = create_model("head2body-small")
    >>> model.config.name
    'head2body-small'
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from edgesdk.errors import EdgeSDKError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_FAMILIES: dict[str, str] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(fn: F) -> F:
    """Register a builder ``fn(**overrides) -> nn.Module`` under its name with ``-`` for ``_``."""
    name = fn.__name__.replace("_", "-")
    if name in _BUILDERS:
        raise ValueError(f"model {name!r} is registered twice")
    _BUILDERS[name] = fn
    _FAMILIES[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, sorted."""
    return sorted(n for n in _BUILDERS if fnmatch.fnmatch(n, pattern))


def model_family(name: str) -> str:
    """The model file a variant comes from (e.g. ``"ego4o"``)."""
    return _FAMILIES[name]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model; ``overrides`` replace fields of its default config."""
    if name not in _BUILDERS:
        known = ", ".join(list_models())
        raise EdgeSDKError(f"unknown model {name!r}; registered models: {known}")
    return _BUILDERS[name](**overrides)


C = TypeVar("C")


def build_config(default: C, overrides: dict[str, Any]) -> C:
    """``dataclasses.replace`` with a clear error for a field the config does not have."""
    fields = {f.name for f in dataclasses.fields(default)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - fields)
    if unknown:
        name = getattr(default, "name", type(default).__name__)
        raise EdgeSDKError(
            f"model {name}: unknown config field(s) {unknown}; known: {sorted(fields)}"
        )
    return dataclasses.replace(default, **overrides)  # type: ignore[type-var]

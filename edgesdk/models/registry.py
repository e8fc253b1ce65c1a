"""The model registry: every teacher, student, baseline and peer is built by name (as in timm).

A model file defines blocks, the model, its default configs, and three-line variant functions
decorated with ``@register_model``; the variant's name is the function name with ``_`` turned
into ``-``. ``create_model(name, **overrides)`` is the one way in.

A variant may carry metadata, as timm's tags: ``@register_model(role="peer", streaming=False,
scale="paper", reference="...")``. ``model_info(name)`` returns it without building the model
and ``list_models(pattern, **tags)`` filters on it, so code that needs "every peer" or "every
paper-scale variant" asks the registry instead of keeping a list of names.

Example:
    >>> from edgesdk.models import create_model, list_models, model_info
    >>> "head2body-small" in list_models()
    True
    >>> model = create_model("head2body-small")
    >>> model.config.name
    'head2body-small'
    >>> model_info("head2body-small").family
    'head2body'
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from torch import nn

from edgesdk.errors import EdgeSDKError

ROLES = ("", "teacher", "student", "baseline", "peer")
SCALES = ("", "paper", "small", "tiny")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of a variant without building it. Fields a variant does not
    declare keep their defaults (``""`` / ``None``: not declared)."""

    name: str
    family: str  # the model file it comes from
    role: str = ""  # teacher | student | baseline | peer
    # paper (published layer sizes) | small (a CPU-sized config; a family's default student)
    # | tiny (a smaller student)
    scale: str = ""
    streaming: bool | None = None  # True: called once per frame with an explicit state
    reference: str = ""  # the publication it re-implements
    # A student's teacher family (its small / paper variants); a baseline's: the teacher
    # family whose inputs it reads.
    teacher: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_INFO: dict[str, ModelInfo] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def _register(fn: F, tags: dict[str, Any]) -> F:
    name = fn.__name__.replace("_", "-")
    if name in _BUILDERS:
        raise ValueError(f"model {name!r} is registered twice")
    info = ModelInfo(name=name, family=fn.__module__.rsplit(".", 1)[-1], **tags)
    if info.role not in ROLES or info.scale not in SCALES:
        raise ValueError(f"model {name!r}: role must be one of {ROLES}, scale one of {SCALES}")
    _BUILDERS[name] = fn
    _INFO[name] = info
    return fn


@overload
def register_model(fn: F) -> F: ...
@overload
def register_model(fn: None = None, **tags: Any) -> Callable[[F], F]: ...
def register_model(fn: F | None = None, **tags: Any) -> F | Callable[[F], F]:
    """Register a builder ``fn(**overrides) -> nn.Module`` under its name with ``-`` for ``_``;
    as ``@register_model(**tags)`` with ``ModelInfo`` fields (role, scale, streaming, ...)."""
    if fn is not None:
        return _register(fn, tags)
    return lambda f: _register(f, tags)


def list_models(pattern: str = "*", **tags: Any) -> list[str]:
    """Registered names matching a shell-style pattern and every given ``ModelInfo`` field,
    sorted (e.g. ``list_models(role="peer", scale="small")``)."""
    unknown = set(tags) - {f.name for f in dataclasses.fields(ModelInfo)}
    if unknown:
        raise EdgeSDKError(f"list_models: unknown tag(s) {sorted(unknown)}")
    return sorted(
        n
        for n, info in _INFO.items()
        if fnmatch.fnmatch(n, pattern) and all(getattr(info, k) == v for k, v in tags.items())
    )


@dataclass(frozen=True)
class Pair:
    """A teacher family with the variants the pipeline and benchmarks train together."""

    family: str  # the teacher's family, e.g. "same"
    teacher: str  # its CPU-sized teacher, e.g. "same-small"
    paper: str  # its paper-scale teacher ("" when it has none)
    student: str  # its default student, e.g. "same-student"
    baselines: tuple[str, ...]  # the baselines that read the teacher's inputs


def teacher_student_pairs() -> list[Pair]:
    """Every teacher family that has a small teacher and a default student (``role="student",
    scale="small"``, ``teacher=family``), in the order the students are registered.

    Example:
        >>> [p.student for p in teacher_student_pairs()][:2]
        ['ego4o-student', 'same-student']
    """
    pairs = []
    for student, info in _INFO.items():
        if info.role != "student" or info.scale != "small":
            continue
        teachers = list_models(role="teacher", scale="small", family=info.teacher)
        if not teachers:
            continue
        paper = list_models(role="teacher", scale="paper", family=info.teacher)
        baselines = list_models(role="baseline", teacher=info.teacher)
        pairs.append(
            Pair(info.teacher, teachers[0], paper[0] if paper else "", student, tuple(baselines))
        )
    return pairs


def model_info(name: str) -> ModelInfo:
    """The registry's metadata of a variant."""
    if name not in _INFO:
        raise EdgeSDKError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _INFO[name]


def model_family(name: str) -> str:
    """The model file a variant comes from (e.g. ``"ego4o"``)."""
    return _INFO[name].family


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

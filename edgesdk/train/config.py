"""The configs of a training and a distillation run, and the CLI options generated from them.

A field that the command line sets carries its option in its metadata (``option(...)``: help,
parser, choices); ``add_config_arguments`` adds one argparse option per such field and
``config_from_args`` builds the config back from the parsed namespace, so every option is
defined once, beside the field it sets. Fields shared by both runs live in ``RunConfig``.
torch-free: ``edgesdk --help`` and the runtime-only install build the parser from these.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_config_arguments(parser, TrainConfig)
    >>> args = parser.parse_args(["--model", "mlp-baseline", "--data", "d", "--out", "o",
    ...                           "--quiet", "--set", "hidden=64"])
    >>> config = config_from_args(TrainConfig, args)
    >>> config.model, config.progress, config.overrides, config.epochs
    ('mlp-baseline', False, {'hidden': 64}, 10)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from edgesdk.cliargs import non_negative_int, positive_float, positive_int, seed_int, unit_float
from edgesdk.data.device_model import DEVICE_MODES, HEAD_MODES
from edgesdk.errors import EdgeSDKError


def parse_pairs(items: Sequence[str], flag: str = "--set") -> dict[str, object]:
    """``key=value`` pairs; values are parsed as JSON when they can be (numbers, booleans)."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EdgeSDKError(f"{flag} {item!r}: expected key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def parse_int_pairs(items: Sequence[str], flag: str, least: int = 0) -> dict[str, int]:
    """``name=N`` pairs with N an integer of at least ``least``."""
    out: dict[str, int] = {}
    for key, value in parse_pairs(items).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise EdgeSDKError(f"{flag} {key}={value!r}: expected an integer >= {least}")
        out[key] = value
    return out


@dataclass(frozen=True)
class Option:
    """How a config field appears on the command line."""

    help: str = ""
    flag: str = ""  # the option's name when it is not ``--field-name``
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    # Repeated ``KEY=VALUE`` items: the metavar, and the parser of the list into the value.
    metavar: str | None = None
    pairs: Callable[[Sequence[str], str], dict[str, Any]] | None = None
    negate: bool = False  # a switch that sets a True-by-default field to False (--quiet)


def cli(**option: Any) -> dict[str, Option]:
    """Field metadata: the field is set by a CLI option (``Option``'s fields as keywords)."""
    return {"cli": Option(**option)}


def option(default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field with an immutable (or no) default set by a CLI option; a field with
    a factory takes ``field(default_factory=..., metadata=cli(...))``."""
    return field(default=default, metadata=cli(**kw))


def _flag(f: dataclasses.Field[Any]) -> str:
    opt: Option = f.metadata["cli"]
    return opt.flag or "--" + f.name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, config: type) -> None:
    """One option per field of the ``config`` dataclass that carries ``option(...)``."""
    for f in dataclasses.fields(config):
        opt: Option | None = f.metadata.get("cli")
        if opt is None:
            continue
        kw: dict[str, Any] = {"dest": f.name, "help": opt.help or None}
        if opt.negate or f.type in (bool, "bool"):
            kw["action"] = "store_true"
        elif opt.pairs is not None:
            kw.update(action="append", default=[], metavar=opt.metavar)
        else:
            required = f.default is dataclasses.MISSING
            kw.update(type=opt.type, choices=opt.choices, required=required)
            if not required:
                kw["default"] = f.default
        parser.add_argument(_flag(f), **kw)


C = TypeVar("C")


def config_from_args(config: type[C], args: argparse.Namespace, **fixed: Any) -> C:
    """The ``config`` dataclass from a namespace parsed by ``add_config_arguments``;
    ``fixed`` sets fields the command line does not."""
    values: dict[str, Any] = dict(fixed)
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        opt: Option | None = f.metadata.get("cli")
        if opt is None:
            continue
        value = getattr(args, f.name)
        if opt.negate:
            value = not value
        elif opt.pairs is not None:
            value = opt.pairs(value, _flag(f))
        values[f.name] = value
    return config(**values)


def _repeats(items: Sequence[str], flag: str) -> dict[str, int]:
    return parse_int_pairs(items, flag, least=1)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What a training and a distillation run both depend on."""

    data: str = option(help="folder of .bvh/.amc files")
    out: str = option(help="checkpoint folder to write")
    epochs: int = option(10, type=non_negative_int, help="epochs per training stage")
    batch_size: int = option(32, type=positive_int)
    lr: float = option(1e-3, type=positive_float)
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    seed: int = option(0, type=seed_int)
    limit: int | None = option(None, type=positive_int, help="at most this many clips")
    resume: bool = option(False, help="continue from --out")
    overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata=cli(
            flag="--set",
            metavar="KEY=VALUE",
            pairs=parse_pairs,
            help="override a field of the trained model's config (VALUE as JSON when it parses)",
        ),
    )
    max_batches: int | None = option(
        None, type=positive_int, help="at most this many batches per epoch (brief runs)"
    )
    progress: bool = option(True, flag="--quiet", negate=True, help="no progress bars")
    # What the windows' inputs look like (edgesdk.data.device_model): real devices through
    # the runtime, glasses' SLAM head trajectory; "clean" / "mocap" for ideal inputs.
    devices: str = option(
        "realistic",
        choices=DEVICE_MODES,
        help="window inputs from real devices through the runtime, or clean kinematics",
    )
    head: str = option(
        "slam",
        choices=HEAD_MODES,
        help="head trajectory from glasses' SLAM (drift, mount error) or the mocap head",
    )


def run_fields(config: RunConfig) -> dict[str, Any]:
    """The ``RunConfig`` fields of a train or distill config, to build the other kind."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(RunConfig)}


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RunConfig):
    """Everything a training run depends on; saved in the checkpoint's ``config.json``."""

    model: str = option(help="a registered model name")
    stage_epochs: dict[str, int] = field(
        default_factory=dict,
        metadata=cli(
            metavar="STAGE=N", pairs=parse_int_pairs, help="epochs of one stage (e.g. vqvae=25)"
        ),
    )
    oversample: dict[str, int] = field(
        default_factory=dict,
        metadata=cli(
            metavar="FOLDER=N",
            pairs=_repeats,
            help="windows of clips in this source folder N times per epoch (e.g. hdm05=4)",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class DistillConfig(RunConfig):
    """Everything a distillation run depends on; saved in the checkpoint's ``config.json``."""

    teacher: str = option(help="teacher checkpoint folder")
    student: str = option(help="a registered student, e.g. same-student")
    alpha: float = option(
        0.5,
        type=unit_float,
        help="weight of the teacher's targets vs ground truth (0: ground truth only)",
    )
    privileged: bool = option(
        False, help="the teacher reads the window's clean inputs and the true description"
    )

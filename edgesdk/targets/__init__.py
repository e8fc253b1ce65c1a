"""The target table: every backend edgesdk exports to and runs, one entry each.

A target is a device runtime's artifact format: its name (``--backend``), file suffix,
precisions (and which of them need calibration data), the Python modules its exporter and its
runner import (with install hints), the human name of its files, the identifier its files
carry, and where it can predict. Everything that knows backends reads this table: export,
validate, the runners, bench, the CLI (choices and help) and the pipeline. This module
imports no torch (nor any runtime), so the edge-board runtime reads it too.

Each target's code is its own module (``module``: ``edgesdk.targets.onnx`` and so on),
imported only when first needed. A target module defines:

- ``export(sig, precision, calib, out[, quant]) -> recipe``: writes the artifact (torch is
  imported inside: the runner lives in the same module and must not need it);
- ``Runner``: an ``edgesdk.export.runners.Runner`` subclass that loads and runs the artifact;
- optionally ``check_file(path, head, size)``: more header checks before a native loader sees
  the file, and ``check_spec(artifact, sig)``: what ``edgesdk validate`` checks where the
  target cannot predict (Core ML off macOS).

Adding a backend is its module plus one ``register_target`` call (here, or from outside
edgesdk: ``tests/export/test_new_target.py`` adds one from a test).

Example:
    >>> target("onnx").suffix
    '.onnx'
    >>> target_for_path("exports/same-student-int8.pte").name
    'executorch'
    >>> names()
    ('executorch', 'coreml', 'tflite', 'onnx')
    >>> target("coreml").predicts_on
    ('Darwin',)
    >>> target("tensorrt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    edgesdk.errors.EdgeSDKError: --backend 'tensorrt': unknown (one of executorch, coreml, ...)
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgesdk.errors import EdgeSDKError


@dataclass(frozen=True)
class Target:
    """One backend: what export, validate, the runners, bench and the CLI know of it."""

    name: str  # the --backend value, the manifest's "backend"
    suffix: str  # the artifact's file suffix
    label: str  # how an error names its files: "not {label} file" ("an ExecuTorch .pte")
    module: str  # the target's own module (dotted): export, Runner, optional hooks
    precisions: tuple[str, ...]
    default_precision: str
    calibrated: tuple[str, ...] = ()  # precisions that need calibration data (--calib)
    export_tools: tuple[str, ...] = ()  # Python modules the exporter imports (all needed)
    run_tools: tuple[str, ...] = ()  # Python modules the runner can use (any one, first best)
    install: Mapping[str, str] = field(default_factory=dict, hash=False)  # module -> hint
    packages: tuple[str, ...] = ()  # distributions whose versions a manifest records
    folder: str = ""  # the artifact is a folder holding this file (else it is one file)
    flatbuffer_id: tuple[str, str] | None = None  # bytes 4-8: regex, and how to say it
    predicts_on: tuple[str, ...] = ()  # platform.system() values where it predicts; (): all
    not_here: str = ""  # why it cannot predict elsewhere

    def predicts_here(self) -> bool:
        """Whether this OS can run the artifact (Core ML: macOS only)."""
        return not self.predicts_on or platform.system() in self.predicts_on

    def why_not_here(self) -> str:
        """Empty where the target predicts on this OS, else the reason it does not."""
        return "" if self.predicts_here() else self.not_here

    def can_run_here(self) -> bool:
        """It predicts on this OS and one of its runner's modules is installed."""
        return self.predicts_here() and any(_installed(m) for m in self.run_tools)

    def code(self) -> ModuleType:
        """The target's own module (imported on first use)."""
        return importlib.import_module(self.module)

    @property
    def exporter(self) -> Callable[..., str]:
        """``export`` of the target's module (see the module docstring)."""
        function: Callable[..., str] = self.code().export
        return function

    @property
    def runner(self) -> Any:
        """``Runner`` of the target's module: a class, ``Runner(path, threads)``."""
        return self.code().Runner

    def hook(self, name: str) -> Callable[..., Any] | None:
        """An optional function of the target's module (``check_file``, ``check_spec``)."""
        found = getattr(self.code(), name, None)
        return found if callable(found) else None

    def check_export_tools(self) -> None:
        """A one-line error with an install hint when an exporter's module is missing."""
        for module in self.export_tools:
            require(module, f"the {self.name} exporter")


TARGETS: dict[str, Target] = {}


def register_target(t: Target) -> Target:
    """Add ``t`` to the table (a new backend: its module plus this call).

    Raises:
        EdgeSDKError: a name or suffix already taken, or precisions that do not add up.
    """
    if t.name in TARGETS:
        raise EdgeSDKError(f"target {t.name!r}: already registered")
    taken = {o.suffix: o.name for o in TARGETS.values()}
    if t.suffix in taken:
        raise EdgeSDKError(f"target {t.name!r}: suffix {t.suffix} is {taken[t.suffix]}'s")
    if t.default_precision not in t.precisions or not set(t.calibrated) <= set(t.precisions):
        raise EdgeSDKError(
            f"target {t.name!r}: default {t.default_precision!r} and calibrated "
            f"{list(t.calibrated)} must be among its precisions {list(t.precisions)}"
        )
    TARGETS[t.name] = t
    return t


def target(name: str, option: str = "--backend") -> Target:
    """The target called ``name``; ``option`` is how an error names the value.

    Raises:
        EdgeSDKError: an unknown name, as one line naming the choices.
    """
    if name not in TARGETS:
        raise EdgeSDKError(f"{option} {name!r}: unknown (one of {', '.join(TARGETS)})")
    return TARGETS[name]


def target_for_path(path: Path | str) -> Target:
    """The target of an artifact, from its suffix.

    Raises:
        EdgeSDKError: a suffix no target has, as one line naming the file.
    """
    suffix = Path(path).suffix
    for t in TARGETS.values():
        if t.suffix == suffix:
            return t
    raise EdgeSDKError(
        f"{path}: unknown artifact type {suffix!r} (expected one of {', '.join(suffixes())})"
    )


def names() -> tuple[str, ...]:
    """Every target's name, in table order."""
    return tuple(TARGETS)


def suffixes() -> tuple[str, ...]:
    """Every target's artifact suffix, in table order."""
    return tuple(t.suffix for t in TARGETS.values())


def runnable_here() -> tuple[str, ...]:
    """The targets that predict on this OS (bench's default backends)."""
    return tuple(t.name for t in TARGETS.values() if t.predicts_here())


def precisions() -> tuple[str, ...]:
    """Every precision some target takes, widest first (fp32, fp16, int8, pal4)."""
    seen = dict.fromkeys(p for t in TARGETS.values() for p in t.precisions)
    return tuple(sorted(seen, key=lambda p: -_bits(p)))


def packages() -> tuple[str, ...]:
    """The distributions whose versions a manifest records, in table order."""
    return tuple(dict.fromkeys(p for t in TARGETS.values() for p in t.packages))


def install_hint(module: str) -> str:
    """How to install a target's Python module (``pip install MODULE`` when none is given)."""
    for t in TARGETS.values():
        if module in t.install:
            return t.install[module]
    return f"pip install {module}"


def require(module: str, what: str) -> None:
    """A one-line error with an install hint when ``module`` is missing."""
    if not _installed(module):
        raise EdgeSDKError(
            f"{what} needs the Python module {module}, which is not installed: "
            f"{install_hint(module)}"
        )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _bits(precision: str) -> int:
    digits = re.search(r"\d+$", precision)
    return int(digits.group()) if digits else 0


register_target(
    Target(
        name="executorch",
        suffix=".pte",
        label="an ExecuTorch .pte",
        module="edgesdk.targets.executorch",
        precisions=("fp32", "int8"),
        default_precision="fp32",
        calibrated=("int8",),
        export_tools=("executorch",),
        run_tools=("executorch",),
        install={"executorch": "pip install executorch==1.5.1"},
        packages=("executorch",),
        flatbuffer_id=(r"ET\d\d", "'ET' and two digits"),
    )
)
register_target(
    Target(
        name="coreml",
        suffix=".mlpackage",
        label="an .mlpackage",
        module="edgesdk.targets.coreml",
        precisions=("fp16", "fp32", "int8", "pal4"),
        default_precision="fp16",
        calibrated=(),  # weights only: int8 and pal4 need no calibration data
        export_tools=("coremltools",),
        run_tools=("coremltools",),
        install={"coremltools": "pip install coremltools==9.0"},
        packages=("coremltools",),
        folder="Manifest.json",
        predicts_on=("Darwin",),
        not_here="Core ML prediction needs macOS",
    )
)
register_target(
    Target(
        name="tflite",
        suffix=".tflite",
        label="a LiteRT .tflite",
        module="edgesdk.targets.tflite",
        precisions=("fp32", "int8"),
        default_precision="fp32",
        calibrated=("int8",),
        export_tools=("litert_torch",),
        run_tools=("ai_edge_litert", "tflite_runtime"),
        install={"ai_edge_litert": "pip install ai-edge-litert==2.3.0 (or tflite-runtime)"},
        packages=("litert-torch", "ai-edge-litert"),
        flatbuffer_id=("TFL3", "'TFL3'"),
    )
)
register_target(
    Target(
        name="onnx",
        suffix=".onnx",
        label="an ONNX",
        module="edgesdk.targets.onnx",
        precisions=("fp32", "int8"),
        default_precision="fp32",
        calibrated=("int8",),
        export_tools=("onnxscript", "onnxruntime"),
        run_tools=("onnxruntime",),
        install={"onnxruntime": "pip install onnxruntime==1.32.0"},
        packages=("onnx", "onnxscript", "onnxruntime"),
        # a protobuf without a magic number: its parser raises cleanly
    )
)

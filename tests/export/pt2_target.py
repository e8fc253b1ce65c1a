"""A backend added from outside edgesdk, as a new backend is added: this module (its exporter
and its runner) plus one table entry (``TARGET``, registered by
``tests/export/test_new_target.py``).

The format is a real one: a ``torch.export`` program saved with ``torch.export.save`` (a
``.pt2`` archive: the graph as JSON, the weights as raw bytes) and run back in this process
from ``torch.export.load``. It takes fp32 only and needs no calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.export.backends import NO_QUANT, Calibration, Quant
from edgesdk.export.runners import Runner as BaseRunner
from edgesdk.targets import Target

NAME = "pt2"

TARGET = Target(
    name=NAME,
    suffix=".pt2",
    label="a torch.export .pt2",
    module=__name__,
    precisions=("fp32",),
    default_precision="fp32",
    export_tools=("torch",),
    run_tools=("torch",),
    packages=("torch",),
)


def export(sig: Any, precision: str, calib: Calibration, out: Path, quant: Quant = NO_QUANT) -> str:
    """``torch.export`` the signature's module on its example inputs and save the program."""
    import torch

    program = torch.export.export(sig.module, sig.example())
    torch.export.save(program, str(out))
    return "fp32 (torch.export program, torch.export.save)"


class Pt2Runner(BaseRunner):
    """The saved program's module, called with torch tensors made from the numpy inputs."""

    backend = NAME

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        import torch

        self._torch = torch
        torch.set_num_threads(threads)
        self.module = torch.export.load(str(path)).module()

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(x, np.float32)) for x in inputs]
        with torch.no_grad():
            out = self.module(*args)
        return [np.asarray(o.numpy(), np.float32) for o in out]


Runner = Pt2Runner

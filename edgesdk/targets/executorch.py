"""ExecuTorch (``.pte``, XNNPACK-delegated): the exporter, the runner and the header check.

The table entry is in ``edgesdk.targets``. ExecuTorch's loader aborts the whole process on
some corrupt programs, so a program is first loaded in a child process (``probe_pte``) unless
it was checked on this machine before or written by ``edgesdk export`` here.

Example:
    >>> from edgesdk.targets import target
    >>> target("executorch").runner is ExecuTorchRunner
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.backends import NO_QUANT, Calibration, Quant, kept_note, scheme_name
from edgesdk.export.runners import Runner as BaseRunner
from edgesdk.export.runners import TensorIO
from edgesdk.io import cache_dir
from edgesdk.targets import require

if TYPE_CHECKING:
    from edgesdk.models.signature import ExportSignature

NAME = "executorch"


def export(
    sig: ExportSignature, precision: str, calib: Calibration, out: Path, quant: Quant = NO_QUANT
) -> str:
    """Lower ``sig`` to XNNPACK and write the program to ``out``; int8 by PT2E."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edgesdk.quantize import pt2e

    example = sig.example()
    module = sig.module
    recipe = "fp32, XNNPACK-delegated"
    if precision == "int8":
        name = scheme_name(NAME, sig, quant)
        dynamic = name != "static"
        bits = 4 if name == "dynamic-4w" else 8
        module, _ = pt2e.quantize_pt2e(
            sig.module, example, calib, "xnnpack", dynamic, quant.keep_float, bits
        )
        base = pt2e.RECIPE if name == "static" else pt2e.DYNAMIC_RECIPE
        if bits == 4:
            base += "; weights 4-bit per-channel symmetric ([-8, 7])"
        recipe = f"{name}: {base} (XNNPACKQuantizer), XNNPACK-delegated{kept_note(quant)}"
    program = torch.export.export(module, example)
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    out.write_bytes(lowered.to_executorch().buffer)
    mark_pte_checked(out)  # written here, by ExecuTorch's own exporter
    return recipe


class ExecuTorchRunner(BaseRunner):
    backend = NAME

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        require("executorch", f"{path}: running a .pte")
        import torch  # executorch's Python runtime takes torch tensors
        from executorch.runtime import Runtime

        self._torch = torch
        torch.set_num_threads(threads)
        probe_pte(path)
        self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        args = [self._torch.from_numpy(np.ascontiguousarray(x, np.float32)) for x in inputs]
        return [np.asarray(o.numpy(), np.float32) for o in self.method.execute(args)]

    def io(self) -> tuple[TensorIO, TensorIO]:
        meta = self.method.metadata
        ins = [meta.input_tensor_meta(i).sizes() for i in range(meta.num_inputs())]
        outs = [meta.output_tensor_meta(i).sizes() for i in range(meta.num_outputs())]
        return [(None, tuple(s)) for s in ins], [(None, tuple(s)) for s in outs]


# Loads a .pte and runs it once on zeros; a crash shows as the child's signal.
_PTE_PROBE = """
import sys, torch
from executorch.runtime import Runtime
method = Runtime.get().load_program(sys.argv[1]).load_method("forward")
meta = method.metadata
args = [torch.zeros(tuple(meta.input_tensor_meta(i).sizes())) for i in range(meta.num_inputs())]
method.execute(args)
"""


def probe_pte(path: Path) -> None:
    """Load and run a .pte once in a child process before this process loads it.

    ExecuTorch's loader aborts the whole process (SIGABRT) on some corrupt programs (a flipped
    bit in an operator name is enough) instead of raising. A program that passed is
    remembered by its sha256 (an empty marker file under ``edgesdk.io.cache_dir()``), so the
    child runs once per program and machine; ``edgesdk export`` marks the programs it writes.

    Raises:
        EdgeSDKError: the child crashed or failed (one line, naming the file).
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    marker = cache_dir() / "pte-checked" / digest
    if marker.is_file():
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PTE_PROBE, str(path)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise EdgeSDKError(f"{path}: the executorch runtime did not load it within 300 s") from None
    if done.returncode < 0:
        raise EdgeSDKError(
            f"{path}: the executorch runtime crashes on it (signal {-done.returncode}): a "
            "corrupt program; export it again"
        )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        last = lines[-1][:200] if lines else f"exit status {done.returncode}"
        raise EdgeSDKError(f"{path}: the executorch runtime cannot load it ({last})")
    _mark_checked(digest)


def mark_pte_checked(path: Path) -> None:
    """Remember a .pte this process wrote itself (``edgesdk export``) as checked."""
    _mark_checked(hashlib.sha256(path.read_bytes()).hexdigest())


def _mark_checked(digest: str) -> None:
    marker = cache_dir() / "pte-checked" / digest
    with contextlib.suppress(OSError):  # no cache folder: checked again next time
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def check_file(path: Path, head: bytes, size: int) -> None:
    """An extended header (``eh00``) that claims more bytes than the file has: truncated."""
    if head[8:12] == b"eh00" and len(head) >= 32:
        needed = max(int.from_bytes(head[16:24], "little"), int.from_bytes(head[24:32], "little"))
        if needed > size:
            raise EdgeSDKError(
                f"{path}: truncated (its header says {needed} bytes or more, the file has {size})"
            )


Runner = ExecuTorchRunner

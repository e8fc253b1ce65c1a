"""The ingest and fusion path imports numpy only: no torch, no scipy (an edge board)."""

from __future__ import annotations

import subprocess
import sys

RUNTIME = (
    "edgesdk.runtime",
    "edgesdk.runtime.session",
    "edgesdk.runtime.udp",
    "edgesdk.runtime.run_command",
    "edgesdk.targets",  # the target table and every target's module (runner and exporter)
    "edgesdk.targets.executorch",
    "edgesdk.targets.coreml",
    "edgesdk.targets.tflite",
    "edgesdk.targets.onnx",
    "edgesdk.export.runners",
)
# What the runtime shares with the simulator: the mount table, takes, specs, rotations.
SHARED = (
    "edgesdk.data.mounts",
    "edgesdk.data.takes",
    "edgesdk.data.device_spec",
    "edgesdk.data.simulate",
    "edgesdk.body.rotations_numpy",
    "edgesdk.runtime.npose",
    "edgesdk.input_kinds",
)
CODE = """
import sys
import {modules}
assert "torch" not in sys.modules and "scipy" not in sys.modules, sorted(
    m for m in sys.modules if m.split(".")[0] in ("torch", "scipy"))
print("ok")
"""


def _import_in_fresh_python(modules: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    code = CODE.format(modules=", ".join(modules))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_runtime_core_needs_no_torch() -> None:
    out = _import_in_fresh_python(RUNTIME)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_mount_table_rotations_and_input_kinds_need_no_torch_or_scipy() -> None:
    out = _import_in_fresh_python(SHARED)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"

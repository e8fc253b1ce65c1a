"""The ingest and fusion path imports numpy only: no torch, no scipy (an edge board)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import edgesdk.runtime, edgesdk.runtime.session, edgesdk.runtime.udp, edgesdk.runtime.cli
assert "torch" not in sys.modules and "scipy" not in sys.modules, sorted(
    m for m in sys.modules if m.split(".")[0] in ("torch", "scipy"))
print("ok")
"""


def test_runtime_core_needs_no_torch() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"

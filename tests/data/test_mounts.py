"""The one mount table: numpy only, and its views agree with it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from edgesdk.data.mounts import (
    DEFAULT_KIND,
    HEAD_LEVER_M,
    SLOT_KINDS,
    SLOT_MOUNTS,
    nominal_mount,
    slot_kind,
)
from edgesdk.data.slots import SLOTS

CODE = """
import sys
import edgesdk.data.mounts, edgesdk.data.takes, edgesdk.data.device_spec, edgesdk.data.simulate
import edgesdk.body.rotations_numpy, edgesdk.runtime.npose
assert "torch" not in sys.modules and "scipy" not in sys.modules, sorted(
    m for m in sys.modules if m.split(".")[0] in ("torch", "scipy"))
print("ok")
"""


def test_the_mount_table_and_rotations_need_no_torch_or_scipy() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_views_of_the_table() -> None:
    assert set(SLOT_KINDS) == set(SLOTS)
    for slot, kinds in SLOT_KINDS.items():
        assert kinds[0] == DEFAULT_KIND[slot]
        assert set(kinds) == {k for k, s in SLOT_MOUNTS if s == slot}
    assert slot_kind("earbuds", "head") == "earbuds"
    assert slot_kind("phone", "head") == "glasses"  # a phone cannot sit on the head
    assert np.array_equal(
        nominal_mount(None, "left_wrist"), SLOT_MOUNTS["watch", "left_wrist"].R_bone_sensor
    )
    assert HEAD_LEVER_M["glasses"].tolist() == list(SLOT_MOUNTS["glasses", "head"].offset_m)

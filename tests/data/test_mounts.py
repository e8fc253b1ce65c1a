"""The one mount table and its views agree (that it imports no torch or scipy:
tests/runtime/test_imports.py)."""

from __future__ import annotations

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

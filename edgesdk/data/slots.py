"""The five body slots a wearable can sit in, in the order every model input uses."""

from __future__ import annotations

SLOTS: tuple[str, ...] = ("head", "left_wrist", "right_wrist", "left_pocket", "right_pocket")
SLOT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}

"""The five body slots a wearable can sit in, in the order every model input uses."""

from __future__ import annotations

SLOTS: tuple[str, ...] = ("head", "left_wrist", "right_wrist", "left_pocket", "right_pocket")
SLOT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}


def check_slot(slot: str) -> str:
    """``slot`` when it is one of ``SLOTS``; else ``ValueError`` naming the choices.

    Example:
        >>> check_slot("head")
        'head'
    """
    if slot not in SLOT_INDEX:
        raise ValueError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    return slot

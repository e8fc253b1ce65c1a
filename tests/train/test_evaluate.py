"""Which device combinations a model is evaluated on, from its spec."""

from __future__ import annotations

import pytest

from edgesdk.data.slots import SLOT_INDEX
from edgesdk.models import create_model
from edgesdk.train.data import window_config_for
from edgesdk.train.evaluate import combinations_for, combo_name


@pytest.mark.parametrize(
    ("name", "count", "required"),
    [("mlp-baseline", 25, ()), ("head2body-small", 1, ("head",)), ("same-small", 11, ("head",))],
)
def test_combinations_follow_the_spec(name: str, count: int, required: tuple[str, ...]) -> None:
    model = create_model(name)
    combos = combinations_for(model)
    assert len(combos) == count and len(set(combos)) == count
    assert all(1 <= len(c) <= 3 for c in combos)
    assert all(SLOT_INDEX[s] in c for c in combos for s in required)
    assert window_config_for(model).require_slots == tuple(SLOT_INDEX[s] for s in required)
    if name == "mlp-baseline":
        assert combo_name(combos[0]) == "head" and combo_name(combos[-1]).count("+") == 2

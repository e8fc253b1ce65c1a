"""A guard for refactors of model code: every registered variant, built with a fixed seed,
gives the same outputs, losses and state-dict keys as the reference recorded in
``reference_outputs.json``.

The reference was written by ``python -m tests.models.test_numbers_unchanged`` on the code
before the shared blocks moved to ``edgesdk.models.layers``; rerun it only when a change is
meant to change a model's numbers (and say so in the commit). A tensor is summarised by its
sum and its sum of absolute values (float64), which any change of weights, init order or
maths moves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from edgesdk.models import create_model, list_models, model_info
from edgesdk.models.base import MotionModel
from tests.models.conftest import make_batch

REFERENCE = Path(__file__).with_name("reference_outputs.json")
TEXTS = ["walk active", "basketball - forward dribble"]


def _summary(t: torch.Tensor) -> list[float]:
    t = t.detach().double()
    return [t.sum().item(), t.abs().sum().item()]


def fingerprint(name: str) -> dict[str, Any]:
    """State-dict keys, eval outputs on ``example_inputs``, and (for CPU-sized variants) each
    stage's loss in training mode on a fixed batch."""
    torch.manual_seed(0)
    model = create_model(name)
    assert isinstance(model, MotionModel)
    out: dict[str, Any] = {"keys": sorted(model.state_dict())}
    model.eval()
    with torch.no_grad():
        outputs = model(*model.example_inputs(batch_size=2))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    out["forward"] = [_summary(t) for t in outputs]
    if model_info(name).scale == "paper":
        return out
    model.prepare(TEXTS)
    model.train()
    losses = {}
    for stage in model.stages:
        torch.manual_seed(1)
        loss, _ = model.loss(make_batch(batch=2, time=32), stage)
        losses[stage] = loss.item()
    out["loss"] = losses
    out["weights"] = _summary(
        torch.cat([v.flatten().double() for v in model.state_dict().values()])
    )
    return out


def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


@pytest.mark.parametrize("name", sorted(_reference()))
def test_numbers_unchanged(name: str) -> None:
    torch.set_num_threads(1)
    ref = _reference()[name]
    got = fingerprint(name)
    assert got["keys"] == ref["keys"], name
    flat = [x for pair in got["forward"] for x in pair]
    assert flat == pytest.approx([x for pair in ref["forward"] for x in pair], rel=1e-5), name
    assert ("loss" in got) == ("loss" in ref), name
    if "loss" in ref:
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-5, abs=1e-6), name
        assert got["weights"] == pytest.approx(ref["weights"], rel=1e-6), name


def test_reference_covers_every_family() -> None:
    families = {model_info(n).family for n in list_models()}
    assert families <= {model_info(n).family for n in _reference()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    names = sys.argv[1:] or list_models()
    ref = _reference() if REFERENCE.is_file() else {}
    for n in names:
        ref[n] = fingerprint(n)
        print(n, ref[n]["forward"][0], ref[n].get("loss"), flush=True)
    REFERENCE.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")

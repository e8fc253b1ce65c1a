"""The students' activity head: off by default, step == sequence for its outputs, the
description table from ``prepare``, a loss that trains it, export signature and step export."""

from __future__ import annotations

import doctest

import pytest
import torch

import edgesdk.models.activity_head as head_module
from edgesdk.data.activity import ACTIVITIES
from edgesdk.models import create_model
from edgesdk.models.signature import signature_for
from edgesdk.models.students_core import StreamingStudent
from edgesdk.models.text import TextEncoder
from tests.models.test_students import STUDENTS, T, frame_inputs, smooth_batch

TEXTS = ["normal walk", "active run", "squat", "normal walk"]


def _student(name: str, **overrides: object) -> StreamingStudent:
    torch.manual_seed(0)
    model = create_model(name, **{"activity": True, **overrides})
    assert isinstance(model, StreamingStudent)
    return model


def _prepared(name: str) -> StreamingStudent:
    """With the table of ``TEXTS`` embedded by the hashed bag of words (no model download
    needed in tests: ``prepare`` uses the default encoder, monkeypatched below)."""
    model = _student(name)
    model.prepare(TEXTS)
    return model.eval()


@pytest.fixture(autouse=True)
def hashed_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesdk.models.text as text

    monkeypatch.setattr(text, "default_text_encoder", lambda b=None: TextEncoder("hashed-bow"))


def test_off_by_default_and_initialized_as_before() -> None:
    torch.manual_seed(0)
    plain = create_model("ego4o-student")
    with_head = _student("ego4o-student")
    assert plain.activity_head is None and len(signature_for(plain).outputs) == 6
    for (name, a), (_, b) in zip(
        plain.state_dict().items(), with_head.state_dict().items(), strict=False
    ):
        assert torch.equal(a, b), name  # the head is built last: same pose weights


@pytest.mark.parametrize("name", STUDENTS)
def test_step_equals_sequence_with_the_head(name: str) -> None:
    model = _prepared(name)
    inputs = model.inputs(smooth_batch(batch=2))
    with torch.no_grad():
        seq, _ = model.run(inputs)
        state = None
        for t in range(T):
            out, state = model.step(*frame_inputs(inputs, model, t), state=state)
            assert len(out) == 6
            prob, emb = out[4], out[5]
            torch.testing.assert_close(
                prob, torch.softmax(seq["activity_logit"][:, t], -1), atol=1e-5, rtol=0
            )
            torch.testing.assert_close(emb, seq["activity_emb"][:, t], atol=1e-5, rtol=0)
            torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2), atol=1e-4, rtol=0)
    names = [t.name for t in signature_for(model).outputs]
    assert names[4:6] == ["activity_prob", "activity_emb"]


def test_prepare_keeps_the_table_in_config_and_weights() -> None:
    model = _prepared("ego4o-student")
    head = model.activity_head
    assert head is not None
    assert model.config.activity_descriptions == ("active run", "normal walk", "squat")
    assert model.config.activity_labels == ACTIVITIES
    assert model.config.activity_text_backend == "hashed-bow"
    assert tuple(head.desc_emb.shape) == (3, 384)
    assert model.prepare(["x"]) is True
    plain = create_model("same-student")
    assert isinstance(plain, StreamingStudent) and plain.prepare(TEXTS) is False


def test_the_loss_trains_the_class_and_the_description() -> None:
    model = _prepared("same-student").train()
    batch = smooth_batch(batch=4)
    batch["text"] = ["normal walk", "squat", "active run", "not in the table"]
    batch["activity"] = torch.tensor([1, 10, 2, 0])[:, None].expand(-1, T)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first: dict[str, float] = {}
    for _ in range(40):
        loss, logs = model.loss(batch, "main")
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first or logs
    assert {"activity_ce", "activity_acc", "desc_nce", "desc_top1"} <= set(logs)
    assert logs["activity_ce"] < 0.5 * first["activity_ce"]
    assert logs["desc_top1"] == 1.0  # each window's frames retrieve its own description


def test_balance_weighs_rare_classes_more() -> None:
    from edgesdk.models.activity_head import ActivityHead

    batch = {"activity": torch.tensor([[1] * 9 + [3]])}  # walk 9 frames, turn 1
    logits = torch.zeros(1, 10, len(ACTIVITIES))
    logits[..., 1] = 2.0  # sure of walk: the turn frame costs most
    emb = torch.zeros(1, 10, 8)
    plain = ActivityHead(4, ACTIVITIES, (), 8).train()
    balanced = ActivityHead(4, ACTIVITIES, (), 8, balance=0.5).train()
    ce_plain = plain.loss(logits, emb, batch)[0]
    ce_balanced = balanced.loss(logits, emb, batch)[0]
    assert ce_balanced > ce_plain
    assert balanced.seen[1] == 10 and balanced.seen[3] == 2  # counted (from one each)
    assert "seen" not in balanced.state_dict()  # a training statistic, not a weight


def test_step_exports_with_the_head() -> None:
    from edgesdk.quantize.pt2e import output_layers

    model = _prepared("ego4o-student")
    sig = signature_for(model)
    args = sig.example()
    program = torch.export.export(sig.module, args)
    with torch.no_grad():
        for a, b in zip(sig.module(*args), program.module()(*args), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # int8 keeps both output projections (pose and activity) in fp32
    graph = program.module()
    assert len(output_layers(graph)) == 2  # type: ignore[arg-type]
    plain = signature_for(_student("ego4o-student", activity=False))
    plain_graph = torch.export.export(plain.module, plain.example()).module()
    assert len(output_layers(plain_graph)) == 1  # type: ignore[arg-type]


def test_documented() -> None:
    assert doctest.testmod(head_module).failed == 0

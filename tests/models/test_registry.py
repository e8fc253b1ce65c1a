"""Every registered model, for free: build, forward, backward of every stage, torch.export.

Paper-scale teachers (over 5 M parameters) are built and counted, and run forward on a short
input; the full set of checks runs on every CPU-sized variant.
"""

from __future__ import annotations

import pytest
import torch

from edgesdk.errors import EdgeSDKError
from edgesdk.models import create_model, list_models, model_info, teacher_student_pairs
from edgesdk.models.base import MotionModel
from tests.models.conftest import make_batch

PAPER_SCALE_PARAMS = 5_000_000


def _build(name: str) -> MotionModel:
    torch.manual_seed(0)
    model = create_model(name)
    assert isinstance(model, MotionModel)
    return model


@pytest.mark.parametrize("name", list_models())
def test_config_and_spec(name: str) -> None:
    model = _build(name)
    assert model.config.name == name
    assert model.spec.inputs and model.spec.outputs
    out_names = {t.name for t in model.spec.outputs}
    assert {"R_world_joint_6d", "pos_rel_m"} <= out_names
    assert model.num_parameters() > 0


@pytest.mark.parametrize("name", list_models())
def test_forward_matches_spec(name: str) -> None:
    model = _build(name).eval()
    with torch.no_grad():
        outputs = model(*model.example_inputs(batch_size=2))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == len(model.spec.outputs)
    for tensor, spec in zip(outputs, model.spec.outputs, strict=True):
        assert tensor.shape[0] == 2 and tensor.shape[-1] == spec.shape[-1], spec.name
        assert torch.isfinite(tensor).all(), spec.name


@pytest.mark.parametrize("name", list_models())
def test_every_stage_trains(name: str) -> None:
    model = _build(name)
    if model.num_parameters() > PAPER_SCALE_PARAMS:
        pytest.skip(f"{name} is paper-scale ({model.num_parameters() / 1e6:.1f} M parameters)")
    batch = make_batch(batch=2, time=32)
    prepare = getattr(model, "prepare", None)
    if callable(prepare):
        prepare(["walk active", "basketball - forward dribble"])
    model.train()
    for stage in model.stages:
        model.zero_grad()
        loss, logs = model.loss(batch, stage)
        assert loss.ndim == 0 and torch.isfinite(loss), (stage, logs)
        loss.backward()
        trained = list(model.stage_parameters(stage))
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trained), stage
    prediction = model.eval().predict(batch)
    assert prediction["pos_rel_m"].shape == (2, 32, 22, 3)
    assert prediction["R_world_joint_6d"].shape == (2, 32, 22, 6)


@pytest.mark.parametrize("name", list_models())
def test_torch_export(name: str) -> None:
    model = _build(name).eval()
    if model.num_parameters() > PAPER_SCALE_PARAMS:
        pytest.skip(f"{name} is paper-scale: export is tested on its small config")
    inputs = model.example_inputs(batch_size=1)
    exported = torch.export.export(model, inputs)
    with torch.no_grad():
        ref = model(*inputs)
        got = exported.module()(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = got if isinstance(got, tuple) else (got,)
    for a, b in zip(ref, got, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_unknown_model_and_field_give_clear_errors() -> None:
    with pytest.raises(EdgeSDKError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(EdgeSDKError, match="unknown config field"):
        create_model("mlp-baseline", not_a_field=3)


def test_every_model_declares_its_role_and_streaming() -> None:
    """Metadata a user filters on (``list_models(role=...)``) is declared by every variant, and
    a student names a teacher family that is registered."""
    for name in list_models():
        info = model_info(name)
        assert info.role, f"{name}: no role"
        assert info.streaming is not None, f"{name}: streaming not declared"
        if info.role == "student":
            assert list_models(role="teacher", scale="small", pattern=f"{info.teacher}-*"), name
        if info.role in ("teacher", "peer"):
            assert info.scale in ("paper", "small"), name


@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).scale != "paper"])
def test_streaming_tag_matches_the_spec(name: str) -> None:
    assert model_info(name).streaming == create_model(name).spec.streaming


def test_pairs_come_from_the_registry_tags() -> None:
    """Each family's small teacher, paper teacher, default student and baselines, as the
    pipeline and benchmarks read them, agree with the variants' own tags."""
    pairs = teacher_student_pairs()
    assert len({p.family for p in pairs}) == len(pairs) >= 1
    for p in pairs:
        assert (model_info(p.teacher).role, model_info(p.teacher).scale) == ("teacher", "small")
        assert model_info(p.teacher).family == p.family
        assert not p.paper or model_info(p.paper).scale == "paper"
        student = model_info(p.student)
        assert (student.role, student.scale, student.teacher) == ("student", "small", p.family)
        assert all(model_info(b).role == "baseline" for b in p.baselines)
    students = list_models(role="student", scale="small")
    assert sorted(p.student for p in pairs) == students

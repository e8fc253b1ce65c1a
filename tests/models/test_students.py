"""Streaming students: shapes, step == sequence, state spec, yaw invariance, causality, every
device subset with devices coming and going, FLOPs, export (runs in seconds)."""

from __future__ import annotations

import doctest
import math
from itertools import combinations
from typing import Any

import pytest
import torch
from torch import Tensor

import edgesdk.models.students as students_module
import edgesdk.models.students_core as core_module
from edgesdk.bench.cost import count_flops, model_cost
from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.models import create_model, list_models, teacher_student_pairs
from edgesdk.models.base import resolve_dim
from edgesdk.models.students_core import StreamingStudent
from tests.models.conftest import make_batch

STUDENTS = [p.student for p in teacher_student_pairs()]
T = 16
HR = 8


def _student(name: str) -> StreamingStudent:
    torch.manual_seed(0)
    model = create_model(name)
    assert isinstance(model, StreamingStudent)
    return model.eval()


def _randomize(model: StreamingStudent) -> StreamingStudent:
    """A fresh student outputs a constant pose (its last layer starts at zero): give that
    layer weights so that every test sees inputs reach the outputs."""
    g = torch.Generator().manual_seed(1)
    last = model.head[-1]
    with torch.no_grad():
        last.weight.copy_(0.05 * torch.randn(last.weight.shape, generator=g))
    return model


def smooth_batch(batch: int = 2, time: int = T, seed: int = 0) -> dict[str, Any]:
    """``make_batch``'s layout with smooth device motion (turning, bobbing, swinging), as a
    body moves, and devices coming and going."""
    out = make_batch(batch, time, seed)
    g = torch.Generator().manual_seed(seed + 1)
    t = torch.arange(time * HR, dtype=torch.float32) / (30.0 * HR)

    def wave(*shape: int) -> Tensor:
        amp = torch.randn(*shape, 3, generator=g)
        phase = 6.0 * torch.rand(*shape, 3, generator=g)
        return amp[..., None, :] * torch.sin(2.0 * t[:, None] + phase[..., None, :])  # [*, 8T, 3]

    aa = 0.3 * wave(batch, 5) + torch.tensor([0.0, 1.0, 0.0]) * 2.0 * torch.rand(batch, 5, 1, 1)
    R = axis_angle_to_matrix(aa)  # [B, 5, 8T, 3, 3]
    acc = 2.0 * wave(batch, 5)
    imu = torch.cat([acc, matrix_to_6d(R)], -1)[:, :, ::HR].transpose(1, 2)  # [B, T, 5, 9]
    out["imu"] = imu * out["mask"][..., None]
    head_pos = torch.stack([0.8 * t, 1.6 + 0.02 * torch.sin(9 * t), 0.5 * t], -1)
    head_pos = head_pos + 0.05 * wave(batch)
    out["head"] = torch.cat([head_pos, matrix_to_6d(R[:, 0])], -1)[:, ::HR]
    gyro = 0.5 * wave(batch)
    out["head_imu_hr"] = torch.cat([acc[:, 0], gyro, matrix_to_6d(R[:, 0])], -1)
    return out


def frame_inputs(inputs: tuple[Tensor, ...], model: StreamingStudent, t: int) -> list[Tensor]:
    frame = []
    for x, spec in zip(inputs, model.spec.inputs, strict=True):
        if "time" in spec.shape:
            frame.append(x.select(spec.shape.index("time"), t))
        elif f"{HR}*time" in spec.shape:
            frame.append(x[:, HR * t : HR * (t + 1)])
        else:
            frame.append(x)
    return frame


@pytest.mark.parametrize("name", STUDENTS)
def test_spec_shapes_and_size(name: str) -> None:
    model = _student(name)
    spec = model.spec
    assert spec.streaming and [s.name for s in spec.state] == ["gru_h", "prev"]
    assert [t.name for t in spec.outputs] == ["R_world_joint_6d", "pos_rel_m"]
    assert "normalization" in spec.notes.lower() and spec.fps == 30.0
    assert 100_000 <= model.num_parameters() <= 300_000
    batch = smooth_batch()
    out = model.predict(batch)
    expected = {"R_world_joint_6d": 6, "pos_rel_m": 3}
    for key, last in expected.items():
        assert out[key].shape == (2, T, 22, last), key
    assert out["root_vel_mps"].shape == (2, T, 3) and out["contact"].shape == (2, T, 2)
    assert torch.equal(out["pos_rel_m"][..., 0, :], torch.zeros(2, T, 3))
    R = rot6d_to_matrix(out["R_world_joint_6d"])
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand_as(R), atol=1e-5)
    R6, pos = model(*model.inputs(batch))
    assert torch.equal(R6, out["R_world_joint_6d"]) and torch.equal(pos, out["pos_rel_m"])


@pytest.mark.parametrize("name", STUDENTS)
def test_step_equals_sequence_and_state_matches_spec(name: str) -> None:
    model = _randomize(_student(name))
    inputs = model.inputs(smooth_batch(batch=3))
    with torch.no_grad():
        seq, last_state = model.run(inputs)
        state = None
        for t in range(T):
            (R6, pos, vel, contact), state = model.step(
                *frame_inputs(inputs, model, t), state=state
            )
            for spec, s in zip(model.spec.state, state, strict=True):
                assert tuple(s.shape) == tuple(resolve_dim(d, 3, 1) for d in spec.shape)
            torch.testing.assert_close(R6, seq["R_world_joint_6d"][:, t], atol=1e-5, rtol=0)
            torch.testing.assert_close(pos, seq["pos_rel_m"][:, t], atol=1e-5, rtol=0)
            torch.testing.assert_close(vel, seq["root_vel_mps"][:, t], atol=1e-5, rtol=0)
            torch.testing.assert_close(
                contact, torch.sigmoid(seq["contact_logit"][:, t]), atol=1e-5, rtol=0
            )
    assert state is not None
    for a, b in zip(state, last_state, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    # A stream cut in two chunks (the second from the first's state) equals the whole.
    half = tuple(x[:, : x.shape[1] // 2] if x.ndim > 2 else x for x in inputs)
    rest = tuple(x[:, x.shape[1] // 2 :] if x.ndim > 2 else x for x in inputs)
    with torch.no_grad():
        _, mid = model.run(half)
        second, _ = model.run(rest, mid)
    torch.testing.assert_close(
        second["pos_rel_m"], seq["pos_rel_m"][:, T // 2 :], atol=1e-5, rtol=0
    )


def _yaw_world(batch: dict[str, Any], angle: float, shift: tuple[float, float]) -> dict[str, Any]:
    """The same motion in a world turned by ``angle`` about +Y and shifted horizontally."""
    Ry = axis_angle_to_matrix(torch.tensor([0.0, angle, 0.0]))

    def turn(v: Tensor) -> Tensor:
        return v @ Ry.T

    def turn_6d(d6: Tensor) -> Tensor:
        return torch.cat([turn(d6[..., :3]), turn(d6[..., 3:])], -1)

    out = dict(batch)
    imu = batch["imu"]
    out["imu"] = torch.cat([turn(imu[..., :3]), turn_6d(imu[..., 3:])], -1)
    head = batch["head"]
    move = torch.tensor([shift[0], 0.0, shift[1]])
    out["head"] = torch.cat([turn(head[..., :3]) + move, turn_6d(head[..., 3:])], -1)
    hr = batch["head_imu_hr"]
    out["head_imu_hr"] = torch.cat([turn(hr[..., :3]), hr[..., 3:6], turn_6d(hr[..., 6:])], -1)
    return out


@pytest.mark.parametrize("name", STUDENTS)
def test_invariant_to_world_yaw(name: str) -> None:
    model = _randomize(_student(name))
    batch = smooth_batch()
    ref = model.predict(batch)
    Ry = axis_angle_to_matrix(torch.tensor([0.0, 2.0, 0.0]))
    turned = model.predict(_yaw_world(batch, 2.0, (3.0, -1.5)))
    R_ref = Ry @ rot6d_to_matrix(ref["R_world_joint_6d"])
    torch.testing.assert_close(
        rot6d_to_matrix(turned["R_world_joint_6d"]), R_ref, atol=1e-4, rtol=0
    )
    torch.testing.assert_close(turned["pos_rel_m"], ref["pos_rel_m"] @ Ry.T, atol=1e-4, rtol=0)
    torch.testing.assert_close(
        turned["root_vel_mps"], ref["root_vel_mps"] @ Ry.T, atol=1e-4, rtol=0
    )
    torch.testing.assert_close(turned["contact"], ref["contact"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", STUDENTS)
def test_causal(name: str) -> None:
    """Changing frames after t leaves the outputs up to t unchanged."""
    model = _randomize(_student(name))
    batch = smooth_batch()
    t = 6
    changed = dict(batch)
    for key in ("imu", "mask", "head"):
        changed[key] = batch[key].clone()
        changed[key][:, t + 1 :] = torch.randn_like(batch[key][:, t + 1 :])
    changed["head_imu_hr"] = batch["head_imu_hr"].clone()
    changed["head_imu_hr"][:, HR * (t + 1) :] = 5.0
    a, b = model.predict(batch), model.predict(changed)
    for key in ("R_world_joint_6d", "pos_rel_m"):
        assert torch.equal(a[key][:, : t + 1], b[key][:, : t + 1]), key
        assert not torch.allclose(a[key][:, t + 1 :], b[key][:, t + 1 :]), key


def _subset_masks(time: int) -> Tensor:
    """``[31, T, 5]``: every non-empty subset of the 5 slots, with one of its devices leaving
    a third of the way in and, for subsets of 1-4 slots, another device joining at two
    thirds."""
    masks = []
    for k in range(1, 6):
        for subset in combinations(range(5), k):
            m = torch.zeros(time, 5)
            m[:, list(subset)] = 1.0
            if k > 1:
                m[time // 3 :, subset[-1]] = 0.0
            if k < 5:
                joiner = next(s for s in range(5) if s not in subset)
                m[2 * time // 3 :, joiner] = 1.0
            masks.append(m)
    return torch.stack(masks)


@pytest.mark.parametrize("name", ["ego4o-student", "same-student"])
def test_every_device_subset_with_devices_coming_and_going(name: str) -> None:
    model = _randomize(_student(name))
    masks = _subset_masks(T)
    batch = smooth_batch(batch=len(masks))
    batch["mask"] = masks
    batch["imu"] = batch["imu"] * masks[..., None]
    inputs = model.inputs(batch)
    with torch.no_grad():
        seq, _ = model.run(inputs)
        state = None
        for t in range(T):
            (_, pos, _, _), state = model.step(*frame_inputs(inputs, model, t), state=state)
            torch.testing.assert_close(pos, seq["pos_rel_m"][:, t], atol=1e-5, rtol=0)
    for value in seq.values():
        assert torch.isfinite(value).all()
    # What the devices say reaches the output: a different right wrist changes the pose.
    other = dict(batch)
    other["imu"] = batch["imu"].clone()
    other["imu"][..., 2, :3] += 3.0 * masks[..., 2, None]
    moved = (model.predict(other)["pos_rel_m"] - seq["pos_rel_m"]).abs().amax((1, 2, 3))
    has_right_wrist = masks[..., 2].amax(1) > 0
    assert (moved[has_right_wrist] > 0).all() and (moved[~has_right_wrist] == 0).all()


def test_ego4o_student_reads_text_only_when_given() -> None:
    model = _randomize(_student("ego4o-student"))
    batch = smooth_batch()
    batch["text_mask"] = torch.tensor([1.0, 0.0])
    a = model.predict(batch)["pos_rel_m"]
    b = model.predict({**batch, "text_emb": batch["text_emb"] + 1.0})["pos_rel_m"]
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])
    no_text = {k: v for k, v in batch.items() if k not in ("text_emb", "text_mask")}
    torch.testing.assert_close(model.predict(no_text)["pos_rel_m"][1], a[1])
    # forward and step take the IMUs alone too (no text).
    torch.testing.assert_close(model(batch["imu"], batch["mask"])[1][1], a[1])
    (_, pos, _, _), _ = model.step(batch["imu"][:, 0], batch["mask"][:, 0])
    torch.testing.assert_close(pos[1], a[1, 0], atol=1e-5, rtol=0)


def test_head2body_student_reads_the_8_samples_of_each_frame() -> None:
    model = _randomize(_student("head2body-student"))
    batch = smooth_batch()
    base = model.predict(batch)["pos_rel_m"]
    for sample in range(HR):  # any sample of frame 5 changes frame 5, not frame 4
        changed = {**batch, "head_imu_hr": batch["head_imu_hr"].clone()}
        changed["head_imu_hr"][:, 5 * HR + sample, 3:6] += 1.0  # the gyro of that sample
        out = model.predict(changed)["pos_rel_m"]
        assert torch.equal(out[:, :5], base[:, :5]) and not torch.allclose(out[:, 5], base[:, 5])


def test_distill_loss_mixes_teacher_and_ground_truth() -> None:
    model = _randomize(_student("same-student"))
    batch = make_batch(time=T)
    gt_loss, gt_logs = model.distill_loss(batch, None, 0.0)
    assert "teacher" not in gt_logs
    assert model.loss(batch, "main")[0].item() == pytest.approx(gt_loss.item())
    truth = {"R_world_joint_6d": batch["R_world_joint_6d"], "pos_rel_m": batch["pos_m"]}
    truth["pos_rel_m"] = truth["pos_rel_m"] - truth["pos_rel_m"][..., :1, :]
    same, _ = model.distill_loss(batch, truth, 0.7)  # a teacher that is the truth
    assert same.item() == pytest.approx(gt_loss.item(), rel=1e-5)
    other = {k: v + 0.3 for k, v in truth.items()}
    assert model.distill_loss(batch, other, 0.0)[0].item() == pytest.approx(gt_loss.item())
    # alpha = 1: the pose terms are the teacher's alone (velocity, contact stay ground truth).
    loss, logs = model.distill_loss(batch, other, 1.0)
    assert math.isfinite(logs["teacher"]) and logs["teacher"] != pytest.approx(logs["gt"])
    assert loss.item() - gt_loss.item() == pytest.approx(logs["teacher"] - logs["gt"], rel=1e-4)


@pytest.mark.parametrize("name", STUDENTS)
def test_flops_per_second_of_motion(name: str) -> None:
    model = _student(name)
    cost = model_cost(model, time_runs=1)
    assert cost["gflops_per_s"] < 0.05, cost
    # Per frame through ``step`` (what the device runs) too, text included for Ego4o.
    frame = frame_inputs(model.example_inputs(batch_size=1), model, 0)
    state = model.init_state(1)
    flops = count_flops(lambda *x: model.step(*x, state=state), tuple(frame))
    assert flops * model.spec.fps / 1e9 < 0.05


@pytest.mark.parametrize("name", STUDENTS)
def test_export_forward_and_step(name: str) -> None:
    model = _randomize(_student(name))
    inputs = model.example_inputs(batch_size=1)
    exported = torch.export.export(model, inputs)
    with torch.no_grad():
        for a, b in zip(model(*inputs), exported.module()(*inputs), strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    step = model.step_module().eval()
    frame = tuple(frame_inputs(inputs, model, 0))
    args = (*frame, *model.init_state(1))
    program = torch.export.export(step, args)
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("gru" in op for op in ops), ops  # plain linear / pointwise ops
    with torch.no_grad():
        want = step(*args)
        got = program.module()(*args)
    assert len(want) == 6
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_registered_and_documented() -> None:
    assert set(STUDENTS) <= set(list_models("*-student"))
    for module in (students_module, core_module):
        assert doctest.testmod(module).failed == 0

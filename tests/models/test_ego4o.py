"""Ego4o teacher: features, stages, export, test-time optimization, captioning, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgesdk.body.fk import forward_kinematics
from edgesdk.body.heading import heading_cos_sin, yaw_matrix
from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import template_offsets
from edgesdk.data.clip import Clip
from edgesdk.data.kinematics import virtual_imu
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import target_positions_rel
from edgesdk.models.ego4o import Ego4oModel, ego4o_small
from edgesdk.models.ego4o_parts import tokenize
from edgesdk.models.ego4o_vqvae import FEATURE_DIM, MotionFeatures
from edgesdk.models.registry import create_model, list_models
from edgesdk.models.text import TextEncoder
from tests.models.conftest import make_batch

TEXTS = ["active walk", "basketball - forward dribble", "dance - expressive arms, pirouette"]


@pytest.fixture
def model() -> Ego4oModel:
    torch.manual_seed(0)
    m = ego4o_small()
    m.prepare(TEXTS)
    return m


def _train(model: Ego4oModel, batch: dict, stage: str, steps: int, lr: float) -> list[float]:
    model.train()
    opt = torch.optim.Adam(model.stage_parameters(stage), lr=lr)
    losses = []
    for _ in range(steps):
        loss, _ = model.loss(batch, stage)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def _smooth_batch(time: int = 32, seed: int = 0) -> dict:
    """``make_batch`` with smooth (sinusoidal) targets: white-noise poses cannot be rebuilt
    through a x4 temporal bottleneck, real motion mostly can."""
    batch = make_batch(time=time, seed=seed)
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(time).float()[None, :, None, None] / 30.0
    amp = 0.5 * torch.randn(2, 1, 22, 3, generator=g)
    freq = 0.5 + torch.rand(2, 1, 22, 3, generator=g)
    wave = torch.sin(6.28 * freq * t + 6.28 * torch.rand(2, 1, 22, 3, generator=g))
    pos = 0.3 * torch.randn(2, 1, 22, 3, generator=g) + 0.1 * wave
    pos[..., 1] += 1.0
    batch["R_world_joint_6d"] = matrix_to_6d(axis_angle_to_matrix(amp * wave))
    batch["pos_m"] = pos
    return batch


def test_registered() -> None:
    assert {"ego4o", "ego4o-small"} <= set(list_models("ego4o*"))


def test_motion_features_round_trip() -> None:
    batch = make_batch(time=32)
    feats = MotionFeatures(fps=30.0)
    x, heading = feats.encode(batch["R_world_joint_6d"], batch["pos_m"], batch["contact"])
    assert x.shape == (2, 32, FEATURE_DIM)
    out = feats.decode(x, heading)
    assert torch.allclose(out["R_world_joint_6d"], batch["R_world_joint_6d"], atol=1e-5)
    assert torch.allclose(out["pos_rel_m"], target_positions_rel(batch), atol=1e-5)
    root = batch["pos_m"][:, :, 0]
    expected = root - root[:, :1] * torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(out["root_pos_m"], expected, atol=1e-4)
    assert torch.equal(out["contact"], batch["contact"])
    # Canonical frame: the pelvis heads along +Z at the first frame.
    canon = rot6d_to_matrix(x[:, 0, feats.rot_idx[0]])
    assert torch.allclose(heading_cos_sin(canon), torch.tensor([1.0, 0.0]).expand(2, 2), atol=1e-5)


@pytest.mark.parametrize("tilt", [(0.0, 0.0, 0.0), (1.5708, 0.0, 0.0), (-1.5708, 0.0, 0.0),
                                  (0.0, 0.0, 1.5708), (0.4, 0.0, -0.3)])  # fmt: skip
def test_heading_survives_lying_down(tilt: tuple[float, float, float]) -> None:
    yaw = torch.tensor([0.0, 1.0, -2.5, 3.0])
    R_yaw = yaw_matrix(torch.stack([yaw.cos(), yaw.sin()], -1))
    R = R_yaw @ axis_angle_to_matrix(torch.tensor(tilt))
    heading = heading_cos_sin(R)
    assert torch.allclose(heading, torch.stack([yaw.cos(), yaw.sin()], -1), atol=1e-5)


@pytest.mark.parametrize("stage", ["vqvae", "encoder", "caption"])
def test_every_stage_forward_backward(model: Ego4oModel, stage: str) -> None:
    batch = make_batch(time=32)
    model.train()
    loss, logs = model.loss(batch, stage)
    assert loss.ndim == 0 and torch.isfinite(loss) and logs
    loss.backward()
    trained = {id(p) for p in model.stage_parameters(stage)}
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.stage_parameters(stage))
    # Frozen parts get no gradient (the VQ-VAE decoder is frozen through functional_call).
    for p in model.parameters():
        if id(p) not in trained:
            assert p.grad is None


def test_prediction_turns_with_the_world(model: Ego4oModel) -> None:
    """Inputs are read in a frame of their own, so turning the world about the vertical
    turns the prediction and leaves the codes unchanged, whichever slots are present."""
    batch = make_batch(time=16)
    batch["mask"][0, :, 0] = 0  # sample 0 has no head device: another slot is the reference
    batch["mask"][1, :5, 1:] = 0
    batch["imu"] = batch["imu"] * batch["mask"][..., None]
    R = axis_angle_to_matrix(torch.tensor([0.0, -1.2, 0.0]))
    acc, c1, c2 = batch["imu"].split(3, -1)
    turned = {**batch, "imu": torch.cat([acc @ R.T, c1 @ R.T, c2 @ R.T], -1)}
    out, out_turned = model.predict(batch), model.predict(turned)
    assert torch.equal(out["code_indices"], out_turned["code_indices"])
    R_pred = rot6d_to_matrix(out["R_world_joint_6d"])
    assert torch.allclose(rot6d_to_matrix(out_turned["R_world_joint_6d"]), R @ R_pred, atol=1e-4)
    assert torch.allclose(out_turned["pos_rel_m"], out["pos_rel_m"] @ R.T, atol=1e-4)


def test_code_selection_hard_is_the_argmax_code_and_soft_the_mean(model: Ego4oModel) -> None:
    logits = torch.randn(1, 6, 3, model.config.num_codes)
    codebook_z = model.vqvae.quantizer.lookup(logits.argmax(-1))
    soft = model.select_codes(logits)
    assert not torch.allclose(soft, codebook_z)
    hard = ego4o_small(code_selection="hard")
    hard.load_state_dict(model.state_dict())
    assert torch.equal(hard.select_codes(logits), codebook_z)
    # A confident encoder decodes the same either way.
    assert torch.allclose(model.select_codes(logits * 1e4), codebook_z, atol=1e-5)
    with pytest.raises(EdgeSDKError, match="code_selection"):
        ego4o_small(code_selection="sample")


def test_stage_parameters_partition_the_model(model: Ego4oModel) -> None:
    ids = [id(p) for s in model.stages for p in model.stage_parameters(s)]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    with pytest.raises(EdgeSDKError, match="unknown stage"):
        model.stage_parameters("distill")


def test_predict_shapes_and_time_check(model: Ego4oModel) -> None:
    out = model.predict(make_batch(time=32))
    assert out["R_world_joint_6d"].shape == (2, 32, 22, 6)
    assert out["pos_rel_m"].shape == (2, 32, 22, 3)
    assert float(out["pos_rel_m"][..., 0, :].abs().max()) == 0.0
    assert out["code_indices"].shape == (2, 6, 8)
    with pytest.raises(EdgeSDKError, match="multiple of 4"):
        model.predict(make_batch(time=30))


def test_export_matches_eager(model: Ego4oModel) -> None:
    model.eval()
    inputs = model.example_inputs()
    assert [tuple(t.shape) for t in inputs] == [
        (1, 60, 5, 9), (1, 60, 5), (1, 384), (1,), (1, 512), (1,)
    ]  # fmt: skip
    program = torch.export.export(model, inputs)
    for got, want in zip(program.module()(*inputs), model(*inputs), strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_vqvae_stage_reduces_reconstruction(model: Ego4oModel) -> None:
    batch = _smooth_batch(seed=1)
    losses = _train(model, batch, "vqvae", steps=30, lr=2e-3)
    assert losses[-1] < 0.5 * losses[0]
    assert bool(model.vqvae.quantizer.initialized)


def test_encoder_stage_learns_codes(model: Ego4oModel) -> None:
    batch = _smooth_batch(seed=2)
    _train(model, batch, "vqvae", steps=5, lr=2e-3)
    codebook = model.vqvae.quantizer.codebook.clone()
    losses = _train(model, batch, "encoder", steps=30, lr=2e-3)
    assert losses[-1] < losses[0]
    assert torch.equal(model.vqvae.quantizer.codebook, codebook)  # frozen after its stage


def test_test_time_optimization_lowers_imu_energy(model: Ego4oModel) -> None:
    batch = make_batch(time=32)
    before = model.imu_energy(batch, model.predict(batch))
    refined = model.test_time_optimize(batch, steps=20, lr=0.02)
    after = model.imu_energy(batch, refined)
    assert refined["R_world_joint_6d"].shape == (2, 32, 22, 6)
    assert bool((after < before).all()), (before, after)
    assert all(p.grad is None for p in model.parameters())


def test_imu_energy_is_near_zero_for_the_motion_that_made_the_imus(model: Ego4oModel) -> None:
    """The sensor model (bones, lever arms, mounts) agrees with ``edgesdk.data.mounts``."""
    T = 60
    t = torch.arange(T, dtype=torch.float64)[:, None, None] / 30.0
    aa = 0.4 * torch.sin(2 * torch.pi * 0.8 * t + torch.linspace(0, 3, 22)[None, :, None])
    local = axis_angle_to_matrix(aa * torch.tensor([1.0, 0.3, 0.5], dtype=torch.float64))
    root = torch.cat([0.8 * t[:, 0], 0.9 + 0.02 * torch.sin(6 * t[:, 0]), 0.1 * t[:, 0]], -1)
    R_world_joint, pos = forward_kinematics(local, template_offsets().double(), root)
    clip = Clip("sway", 30.0, R_world_joint.float().numpy(), pos.float().numpy(),
                template_offsets().numpy())  # fmt: skip
    imu = [virtual_imu(clip, slot) for slot in SLOTS]
    acc = torch.from_numpy(np.stack([d["acc_world_mps2"] for d in imu], 1)).float()
    R_sensor = torch.from_numpy(np.stack([d["R_world_sensor"] for d in imu], 1)).float()
    batch = {"imu": torch.cat([acc, matrix_to_6d(R_sensor)], -1)[None], "mask": torch.ones(1, T, 5)}
    truth = {
        "R_world_joint_6d": matrix_to_6d(R_world_joint.float())[None],
        "pos_rel_m": (pos - pos[:, :1]).float()[None],
        "root_pos_m": pos[:, 0].float()[None],
    }
    assert float(model.imu_energy(batch, truth)) < 0.01
    bent = dict(
        truth, R_world_joint_6d=matrix_to_6d(R_world_joint.float() @ local[0, 5].float())[None]
    )
    assert float(model.imu_energy(batch, bent)) > 0.1


def test_caption_decodes_vocabulary_words_and_closes_the_loop(model: Ego4oModel) -> None:
    batch = make_batch(time=32)
    batch["text"] = TEXTS[:2]
    losses = _train(model, batch, "caption", steps=30, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    vocab = set(model.vocabulary)
    descriptions = model.describe(batch)
    assert any(descriptions)
    assert all(w in vocab for d in descriptions for w in tokenize(d))

    # The vocabulary lives in the state dict: a fresh model rebuilds it.
    fresh = ego4o_small()
    fresh.load_state_dict(model.state_dict())
    assert fresh.vocabulary == model.vocabulary
    assert fresh.describe(batch) == descriptions

    # Closed loop: the sample without a description gets the generated one as its text.
    encoder = TextEncoder(backend="hashed-bow")
    out, generated = model.closed_loop(batch, text_encoder=encoder)
    assert generated == descriptions
    assert out["pos_rel_m"].shape == (2, 32, 22, 3)
    plain = model.predict(batch)
    assert torch.allclose(out["heading"][0], plain["heading"][0])  # had text: unchanged
    if descriptions[1]:
        assert not torch.allclose(out["heading"][1], plain["heading"][1])


def test_text_and_image_change_the_output(model: Ego4oModel) -> None:
    batch = make_batch(time=32)
    batch["text_mask"] = torch.ones(2)
    with_text = model.predict(batch)["pos_rel_m"]
    without = model.predict({**batch, "text_mask": torch.zeros(2)})["pos_rel_m"]
    assert not torch.allclose(with_text, without)
    image = torch.randn(2, model.config.image_dim)
    with_image = model.predict({**batch, "image_feat": image, "image_mask": torch.ones(2)})
    assert not torch.allclose(with_image["pos_rel_m"], with_text)
    # A masked-out image is the same as none at all.
    masked = model.predict({**batch, "image_feat": image, "image_mask": torch.zeros(2)})
    assert torch.allclose(masked["pos_rel_m"], with_text)


def test_paper_config_builds_and_counts_parameters() -> None:
    model = create_model("ego4o")
    assert isinstance(model, Ego4oModel)
    cfg = model.config
    assert (cfg.num_codes, cfg.code_dim, cfg.d_model, cfg.num_heads) == (512, 512, 512, 8)
    assert 50e6 < model.num_parameters() < 150e6
    small = create_model("ego4o-small", num_layers=1)
    assert (
        isinstance(small, Ego4oModel)
        and small.config.num_layers == 1
        and small.num_parameters() < 5e6
    )
    with pytest.raises(EdgeSDKError, match="unknown config field"):
        create_model("ego4o-small", layers=3)


def test_spec_declares_forward_io(model: Ego4oModel) -> None:
    names = [t.name for t in model.spec.inputs]
    assert names == ["imu", "mask", "text_emb", "text_mask", "image_feat", "image_mask"]
    assert [t.name for t in model.spec.outputs] == ["R_world_joint_6d", "pos_rel_m"]
    assert model.spec.window == 60 and model.spec.fps == 30.0
    R6, pos = model(*model.example_inputs(batch_size=2))
    assert R6.shape == (2, 60, 22, 6) and pos.shape == (2, 60, 22, 3)
    assert torch.allclose(matrix_to_6d(rot6d_to_matrix(R6)), R6, atol=1e-5)

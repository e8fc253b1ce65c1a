"""Head2Body teacher: stages, decoding, export, and the pieces' invariants (runs in seconds)."""

from __future__ import annotations

import pytest
import torch

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import target_positions_rel
from edgesdk.models.head2body import (
    HEAD2BODY,
    Head2Body,
    features_to_pose,
    head2body,
    head2body_small,
    pose_to_features,
)
from edgesdk.models.registry import create_model, list_models
from tests.models.conftest import make_batch


@pytest.fixture
def model() -> Head2Body:
    torch.manual_seed(0)
    return head2body_small()


@pytest.mark.parametrize("stage", ["pretrain", "vqposer", "tokens"])
def test_every_stage_trains_its_parameters(model: Head2Body, stage: str) -> None:
    loss, logs = model.loss(make_batch(time=32), stage)
    assert loss.ndim == 0 and torch.isfinite(loss) and logs["loss"] == pytest.approx(loss.item())
    loss.backward()
    trained = {id(p) for p in model.stage_parameters(stage)}
    assert trained
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.stage_parameters(stage))
    # Nothing outside the stage gets a gradient (the tokens stage must not move the VQ-VAE).
    others = [p for p in model.parameters() if id(p) not in trained]
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in others)


def test_pretrain_false_drops_the_stage() -> None:
    model = head2body_small(pretrain=False)
    assert model.stages == ("vqposer", "tokens") and model.rq_head is None
    with pytest.raises(EdgeSDKError, match="unknown stage"):
        model.loss(make_batch(time=16), "pretrain")


def test_predict_shapes_and_valid_pose(model: Head2Body) -> None:
    out = model.eval().predict(make_batch(time=32))
    assert out["R_world_joint_6d"].shape == (2, 32, 22, 6)
    assert out["pos_rel_m"].shape == (2, 32, 22, 3)
    assert out["tokens"].shape == (2, 32) and out["tokens"].max() < model.config.codebook_size
    assert torch.equal(out["pos_rel_m"][..., 0, :], torch.zeros(2, 32, 3))
    R = rot6d_to_matrix(out["R_world_joint_6d"])
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand_as(R), atol=1e-5)


def test_forward_matches_predict_and_spec(model: Head2Body) -> None:
    model.eval()
    batch = make_batch(time=16)
    R_world_joint_6d, pos_rel_m = model(batch["head_imu_hr"])
    predicted = model.predict(batch)
    assert torch.allclose(R_world_joint_6d, predicted["R_world_joint_6d"])
    assert torch.allclose(pos_rel_m, predicted["pos_rel_m"])
    assert [t.name for t in model.spec.outputs] == ["R_world_joint_6d", "pos_rel_m"]
    assert model.spec.inputs[0].shape == ("batch", "8*time", 12)
    (x,) = model.example_inputs(batch_size=2)
    assert x.shape == (2, 8 * model.config.window, 12)


def test_head_imu_length_is_checked(model: Head2Body) -> None:
    batch = make_batch(time=16)
    batch["head_imu_hr"] = batch["head_imu_hr"][:, :-3]
    with pytest.raises(EdgeSDKError, match="8 per frame"):
        model.loss(batch, "vqposer")


def test_export_matches_eager() -> None:
    # The greedy loop unrolls once per frame; 4 frames keep the test fast, the graph is alike.
    torch.manual_seed(0)
    model = head2body_small(window=4).eval()
    inputs = model.example_inputs()
    exported = torch.export.export(model, inputs)
    with torch.no_grad():
        for eager, traced in zip(model(*inputs), exported.module()(*inputs), strict=True):
            assert eager.shape[:2] == (1, 4)
            assert torch.allclose(eager, traced, atol=1e-5)


def test_vqposer_stage_reduces_reconstruction_loss(model: Head2Body) -> None:
    batch = make_batch(time=32)
    opt = torch.optim.Adam(model.stage_parameters("vqposer"), lr=2e-3)
    curve = []
    for _ in range(30):
        loss, logs = model.loss(batch, "vqposer")
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(logs["rot_mse"] + logs["pos_mse"])
    assert curve[-1] < 0.6 * curve[0], curve
    # The deterministic round trip (no codebook update) is as good as the last training step.
    round_trip = model.eval().reconstruct(batch)
    assert round_trip["tokens"].shape == (2, 32)
    pos_mse = (round_trip["pos_rel_m"] - target_positions_rel(batch)).pow(2).mean().item()
    assert pos_mse < 22 / 21 * 1.5 * logs["pos_mse"]


def test_vq_codebook_moves_only_in_the_vqposer_stage(model: Head2Body) -> None:
    quantizer = model.vq_poser.vqvae.quantizer
    before = quantizer.codebook.clone()
    model.loss(make_batch(time=16), "tokens")
    assert torch.equal(quantizer.codebook, before)
    model.loss(make_batch(time=16), "vqposer")
    assert not torch.equal(quantizer.codebook, before) and bool(quantizer.initialized)


def test_bestrq_labels_are_fixed_by_the_seed() -> None:
    x = make_batch(time=16)["head_imu_hr"].reshape(2, 16, 96)
    torch.manual_seed(1)
    a = head2body_small().rq_quantizer
    torch.manual_seed(2)
    b = head2body_small().rq_quantizer
    c = head2body_small(rq_seed=7).rq_quantizer
    assert a is not None and b is not None and c is not None
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))
    assert a(x).shape == (2, 16) and int(a(x).min()) >= 0 and int(a(x).max()) < 512


def test_pretrain_loss_is_finite_and_masks_some_frames(model: Head2Body) -> None:
    loss, logs = model.loss(make_batch(time=32), "pretrain")
    assert torch.isfinite(loss) and 0.0 < logs["masked"] < 1.0


def test_teacher_forcing_agrees_with_greedy_decoding(model: Head2Body) -> None:
    model.eval()
    transformer = model.vq_poser.transformer
    with torch.no_grad():
        feats, _ = model.encode_imu(make_batch(time=12)["head_imu_hr"])
        tokens, logits = transformer.generate(feats)
        forced = transformer(feats, tokens)
        assert torch.equal(forced.argmax(-1), tokens)
        assert torch.allclose(forced, logits, atol=1e-5)
        memory = transformer.encode(feats)
        start = torch.full_like(tokens[:, :1], transformer.start)
        for t in (0, 5, 11):
            prefix = torch.cat([start, tokens[:, :t]], 1)
            step = transformer.logits(prefix, memory)[:, -1]
            assert torch.allclose(step, forced[:, t], atol=1e-5)


def _turn_world(head_imu_hr: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """The same head motion seen from a world turned by ``R`` (gyro is in the sensor frame)."""
    acc, gyro, c1, c2 = head_imu_hr.split(3, -1)
    return torch.cat([acc @ R.T, gyro, c1 @ R.T, c2 @ R.T], -1)


def test_encoder_is_blind_to_the_world_heading(model: Head2Body) -> None:
    model.eval()
    hr = make_batch(time=12)["head_imu_hr"]
    R = axis_angle_to_matrix(torch.tensor([0.0, 2.1, 0.0]))
    with torch.no_grad():
        feats, R_world_heading = model.encode_imu(hr)
        feats_turned, R_turned = model.encode_imu(_turn_world(hr, R))
        assert torch.allclose(feats, feats_turned, atol=1e-4)
        assert torch.allclose(R_turned, R @ R_world_heading, atol=1e-5)
        # So the whole prediction turns with the world.
        R6, pos = model(hr)
        R6_turned, pos_turned = model(_turn_world(hr, R))
    assert torch.allclose(pos_turned, pos @ R.T, atol=1e-4)
    assert torch.allclose(rot6d_to_matrix(R6_turned), R @ rot6d_to_matrix(R6), atol=1e-4)


def test_token_dropout_masks_teacher_forced_inputs_in_training_only(model: Head2Body) -> None:
    transformer = model.vq_poser.transformer
    transformer.scheduled_sampling = 0.0
    feats = torch.randn(2, 10, model.config.enc_dim)
    tokens = torch.randint(0, model.config.codebook_size, (2, 10))
    seen: list[torch.Tensor] = []
    hook = transformer.token_emb.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    model.train()
    transformer(feats, tokens)
    model.eval()
    transformer(feats, tokens)
    hook.remove()
    assert (seen[0] == transformer.mask_token).any()
    assert not (seen[1] == transformer.mask_token).any()
    assert torch.equal(seen[1][:, 1:], tokens[:, :-1])


def test_scheduled_sampling_feeds_back_own_predictions() -> None:
    torch.manual_seed(0)
    model = head2body_small(dropout=0.0)  # so that the training pass predicts as eval does
    transformer = model.vq_poser.transformer
    transformer.token_dropout, transformer.scheduled_sampling = 0.0, 0.99
    feats = torch.randn(2, 10, model.config.enc_dim)
    tokens = torch.randint(0, model.config.codebook_size, (2, 10))
    seen: list[torch.Tensor] = []
    hook = transformer.token_emb.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    model.train()
    transformer(feats, tokens)
    hook.remove()
    first, second = seen  # the gradient-free teacher-forced pass, then the trained one
    assert torch.equal(first[:, 1:], tokens[:, :-1])
    model.eval()
    with torch.no_grad():
        own = transformer(feats, tokens).argmax(-1)
    assert (second[:, 1:] == own[:, :-1]).float().mean() > 0.9


def test_recon_weight_adds_the_soft_decoded_pose_error() -> None:
    torch.manual_seed(0)
    plain = head2body_small(dropout=0.0, token_dropout=0.0)
    recon = head2body_small(dropout=0.0, token_dropout=0.0, recon_weight=2.0)
    recon.load_state_dict(plain.state_dict())
    batch = make_batch(time=16)
    _, logs0 = plain.loss(batch, "tokens")
    loss1, logs1 = recon.loss(batch, "tokens")
    assert "recon_mse" not in logs0 and logs1["recon_mse"] > 0
    assert logs1["ce"] == pytest.approx(logs0["ce"], rel=1e-5)
    assert loss1.item() == pytest.approx(logs1["ce"] + 2.0 * logs1["recon_mse"], rel=1e-5)
    # The reconstruction term reaches the token logits through the pose decoder, which the
    # stage leaves frozen (the trainer sets requires_grad by stage_parameters).
    grads = []
    for m in (plain, recon):
        stage = {id(p) for p in m.stage_parameters("tokens")}
        for p in m.parameters():
            p.requires_grad_(id(p) in stage)
        loss = m.loss(batch, "tokens")[0]
        loss.backward()
        grads.append(m.vq_poser.transformer.head.weight.grad)
        assert all(p.grad is None for p in m.vq_poser.vqvae.parameters())
    assert not torch.allclose(grads[0], grads[1])
    with pytest.raises(EdgeSDKError, match="recon_weight"):
        head2body_small(recon_weight=-1.0)


def test_vq_pos_weight_scales_the_position_term() -> None:
    torch.manual_seed(0)
    light = head2body_small(dropout=0.0, vq_pos_weight=1.0)
    heavy = head2body_small(dropout=0.0)  # the default, 10
    heavy.load_state_dict(light.state_dict())
    batch = make_batch(time=16)
    results = []
    for m in (light, heavy):
        torch.manual_seed(1)  # the codebook's first-batch initialization draws samples
        results.append(m.loss(batch, "vqposer"))
    (loss1, logs1), (loss10, logs10) = results
    assert logs10["pos_mse"] == pytest.approx(logs1["pos_mse"], rel=1e-5) and logs1["pos_mse"] > 0
    assert loss10.item() - loss1.item() == pytest.approx(9.0 * logs1["pos_mse"], rel=1e-4)


def test_token_selection_soft_and_hard(model: Head2Body) -> None:
    model.eval()
    hr = make_batch(time=6)["head_imu_hr"]
    hard = head2body_small(token_selection="hard").eval()
    hard.load_state_dict(model.state_dict())
    with torch.no_grad():
        soft_pose, hard_pose = model(hr)[1], hard(hr)[1]
        tokens = model.predict({"head_imu_hr": hr, "mask": torch.ones(2, 6, 5)})["tokens"]
        R_world_heading = model.encode_imu(hr)[1]
        from_tokens = features_to_pose(model.vq_poser.vqvae.detokenize(tokens), R_world_heading)
    assert torch.allclose(hard_pose, from_tokens[1], atol=1e-5)
    assert not torch.allclose(soft_pose, hard_pose, atol=1e-4)
    with pytest.raises(EdgeSDKError, match="token_selection"):
        head2body_small(token_selection="beam")


def test_pose_features_round_trip_through_the_heading_frame() -> None:
    batch = make_batch(time=8)
    R_world_heading = heading_rotation(rot6d_to_matrix(batch["head"][..., 3:]))
    x = pose_to_features(batch["R_world_joint_6d"], target_positions_rel(batch), R_world_heading)
    assert x.shape == (2, 8, 195)
    R_world_joint_6d, pos_rel_m = features_to_pose(x, R_world_heading)
    assert torch.allclose(R_world_joint_6d, batch["R_world_joint_6d"], atol=1e-5)
    assert torch.allclose(pos_rel_m, target_positions_rel(batch), atol=1e-5)


def test_heading_is_the_yaw_of_the_device() -> None:
    yaw = torch.tensor([0.0, 1.0, 0.0]) * 2.5
    pitch = torch.tensor([1.0, 0.0, 0.0]) * 0.7
    R_yaw = axis_angle_to_matrix(yaw)
    assert torch.allclose(heading_rotation(R_yaw @ axis_angle_to_matrix(pitch)), R_yaw, atol=1e-6)
    # An absent device (all-zero 6D) gets the identity rather than NaNs.
    assert torch.equal(heading_rotation(rot6d_to_matrix(torch.zeros(6))), torch.eye(3))
    assert matrix_to_6d(heading_rotation(torch.eye(3))).tolist() == [1, 0, 0, 0, 1, 0]


def test_registry_and_paper_config() -> None:
    assert {"head2body", "head2body-small"} <= set(list_models("head2body*"))
    built = create_model("head2body-small", codebook_size=64)
    assert isinstance(built, Head2Body) and built.config.codebook_size == 64
    with pytest.raises(EdgeSDKError, match="unknown config field"):
        create_model("head2body-small", codebook=64)
    paper = head2body()
    assert paper.config == HEAD2BODY
    n = paper.num_parameters()
    print(f"head2body parameters: {n / 1e6:.1f} M")
    assert 60e6 < n < 90e6
    assert paper.vq_poser.vqvae.quantizer.codebook.shape == (512, 512)
    assert len(paper.imu_encoder.conformer.blocks) == 6
    assert len(paper.vq_poser.transformer.encoder) == len(paper.vq_poser.transformer.decoder) == 3

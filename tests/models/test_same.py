"""SAME teacher: shapes, the image slots, the fusion's projections, the ground term, frame
invariance, causality, and a short fit (runs in seconds)."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from torch import nn

import edgesdk.models.same as same_module
from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.errors import EdgeSDKError
from edgesdk.models.registry import list_models
from edgesdk.models.same import (
    GLOBAL_FEATURES,
    MODALITIES,
    SAME,
    ModalityAwareAttention,
    Same,
    TemporalRefiner,
    ground_penetration,
    same_small,
)
from tests.models.conftest import make_batch


@pytest.fixture
def model() -> Same:
    torch.manual_seed(0)
    return same_small().eval()


def test_registered_with_the_paper_sizes() -> None:
    assert {"same", "same-small"} <= set(list_models("same*"))
    c = SAME
    assert (c.temporal_layers, c.temporal_heads, c.temporal_ff, c.temporal_window) == (
        3,
        8,
        256,
        32,
    )
    names = [t.name for t in same_small().spec.inputs]
    assert names == ["imu", "mask", "head", "image_feat", "image_mask"]


def test_predict_shapes_and_valid_pose(model: Same) -> None:
    out = model.predict(make_batch(time=16))
    for key, last in [("R_world_joint_6d", 6), ("pos_rel_m", 3), ("pos_m", 3)]:
        assert out[key].shape == (2, 16, 22, last), key
    assert out["R_head_joint_6d"].shape == (2, 16, 22, 6)
    assert out["pos_head_m"].shape == (2, 16, 22, 3)
    assert torch.equal(out["pos_rel_m"][..., 0, :], torch.zeros(2, 16, 3))
    R = rot6d_to_matrix(out["R_world_joint_6d"])
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand_as(R), atol=1e-5)
    R6, pos_rel = model(*model.inputs(make_batch(time=16)))
    assert torch.allclose(R6, out["R_world_joint_6d"]) and torch.allclose(pos_rel, out["pos_rel_m"])


def _with_images(batch: dict, feat: torch.Tensor, mask: float) -> dict:
    B, T = batch["imu"].shape[:2]
    return {**batch, "image_feat": feat, "image_mask": torch.full((B, T, 2), mask)}


def test_image_features_are_read_when_present_and_ignored_when_masked(model: Same) -> None:
    batch = make_batch(time=16)
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(2, 16, 2, model.config.image_dim, generator=g)
    absent = model.predict(batch)["pos_rel_m"]  # no image keys: both views absent
    present = model.predict(_with_images(batch, feat, 1.0))["pos_rel_m"]
    masked = model.predict(_with_images(batch, feat, 0.0))["pos_rel_m"]
    masked_big = model.predict(_with_images(batch, 1e6 * feat, 0.0))["pos_rel_m"]
    assert (present - absent).abs().max() > 1e-4
    assert torch.equal(masked, absent) and torch.equal(masked_big, absent)
    # One view masked: the other still counts, the masked one does not.
    left_only = {**_with_images(batch, feat, 1.0)}
    left_only["image_mask"] = left_only["image_mask"].clone()
    left_only["image_mask"][..., 1] = 0.0
    swapped = {**left_only, "image_feat": torch.cat([feat[..., :1, :], -feat[..., 1:, :]], -2)}
    a, b = model.predict(left_only)["pos_rel_m"], model.predict(swapped)["pos_rel_m"]
    assert torch.equal(a, b) and (a - absent).abs().max() > 1e-4


def test_fusion_has_one_query_projection_and_key_values_per_modality(model: Same) -> None:
    layers = model.decoder.layers
    assert len(layers) == model.config.fusion_layers
    for layer in layers:
        attn = layer.cross_attn
        assert isinstance(attn, ModalityAwareAttention)
        linears = {n for n, m in attn.named_modules() if isinstance(m, nn.Linear)}
        per_modality = {f"{kv}.{m}" for kv in "kv" for m in MODALITIES}
        assert linears == {"q", "out"} | per_modality
        weights = [attn.k[m].weight for m in MODALITIES] + [attn.v[m].weight for m in MODALITIES]
        assert len({w.data_ptr() for w in weights}) == 2 * len(MODALITIES)
    # Functionally: a modality's key projection changes the output only through its tokens.
    attn = layers[0].cross_attn
    x = torch.randn(3, 22, model.config.dim)
    tokens = {
        m: torch.randn(3, n, model.config.dim) for m, n in zip(MODALITIES, (5, 1, 2), strict=True)
    }
    before = attn(x, tokens)
    with torch.no_grad():
        attn.k["image"].weight.add_(0.5)
    assert (attn(x, tokens) - before).abs().max() > 1e-4


def test_ground_penetration_formula() -> None:
    pos = torch.rand(4, 22, 3)
    pos[..., 1] += 0.05  # every joint above the floor
    assert ground_penetration(pos).item() == 0.0
    pos[1, 7, 1] = -0.2  # frame 1: one joint 20 cm below the floor
    pos[3, :, 1] -= 2.0  # frame 3: the whole body sunk; the lowest joint counts
    low = pos[3, :, 1].min().item()
    expected = (math.tanh(-0.2) ** 2 + math.tanh(low) ** 2) / 4
    assert ground_penetration(pos).item() == pytest.approx(expected, rel=1e-6)
    assert ground_penetration(pos, floor_y=-10.0).item() == 0.0


def _yaw_and_shift(batch: dict, yaw: float, shift: tuple[float, float, float]) -> dict:
    """The same motion in a world turned about +Y and moved horizontally."""
    R = axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0]))
    t = torch.tensor(shift)
    imu = batch["imu"]
    turned = [(R @ imu[..., i : i + 3, None])[..., 0] for i in (0, 3, 6)]
    head = batch["head"]
    head_R = R @ rot6d_to_matrix(head[..., 3:])
    head = torch.cat([(R @ head[..., :3, None])[..., 0] + t, matrix_to_6d(head_R)], -1)
    return {**batch, "imu": torch.cat(turned, -1), "head": head}


def test_stage1_is_invariant_to_world_yaw_and_shift(model: Same) -> None:
    batch = make_batch(time=16)
    moved = _yaw_and_shift(batch, yaw=2.1, shift=(3.0, 0.0, -1.5))
    assert not torch.allclose(moved["imu"], batch["imu"])
    local = model.stage1(*model.inputs(batch))[-1]
    local_moved = model.stage1(*model.inputs(moved))[-1]
    assert torch.allclose(local, local_moved, atol=1e-4)
    # Stage 2's world pose turns with the world.
    R = axis_angle_to_matrix(torch.tensor([0.0, 2.1, 0.0]))
    out, out_moved = model.predict(batch), model.predict(moved)
    assert torch.allclose(
        (R @ out["pos_rel_m"][..., None])[..., 0], out_moved["pos_rel_m"], atol=1e-4
    )
    R_world = R @ rot6d_to_matrix(out["R_world_joint_6d"])
    assert torch.allclose(R_world, rot6d_to_matrix(out_moved["R_world_joint_6d"]), atol=1e-4)


def test_output_is_causal_and_attention_spans_the_window(model: Same) -> None:
    batch = make_batch(time=40)
    later = {**batch, "imu": batch["imu"].clone(), "head": batch["head"].clone()}
    later["imu"][:, 20:] += 1.0
    later["head"][:, 20:, :3] += 0.3
    a, b = model.predict(batch)["pos_rel_m"], model.predict(later)["pos_rel_m"]
    assert torch.allclose(a[:, :20], b[:, :20], atol=1e-6)
    assert (a[:, 20:] - b[:, 20:]).abs().max() > 1e-4
    # Stage 2: each attention layer lets frame t read frames t - 31 .. t.
    bias = model.refiner.attention_bias(40, torch.device("cpu"))
    i = torch.arange(40)
    in_window = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - 32)
    assert torch.equal(torch.isfinite(bias), in_window.expand_as(bias))
    one_layer = TemporalRefiner(dim=16, heads=2, ff=32, depth=1, window=32, dropout=0.0)
    with torch.no_grad():
        one_layer.out.weight.normal_()  # zero at initialization
        feats = torch.randn(1, 40, GLOBAL_FEATURES)
        moved = feats.clone()
        moved[:, 3] += 1.0
        delta = (one_layer(feats) - one_layer(moved)).abs().amax((0, 2, 3))
    assert delta[:3].max() == 0 and delta[3:35].min() > 0 and delta[35:].max() == 0


def test_loss_terms_and_a_short_fit() -> None:
    torch.manual_seed(0)
    model = same_small()
    batch = make_batch(batch=2, time=16)
    with pytest.raises(EdgeSDKError, match="unknown stage"):
        model.loss(batch, "pretrain")
    opt = torch.optim.Adam(model.stage_parameters("main"), lr=3e-3)
    curve = []
    for _ in range(20):
        loss, logs = model.loss(batch, "main")
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        assert logs["loss"] == pytest.approx(loss.item())
    assert curve[-1] < 0.5 * curve[0], curve
    c = model.config
    expected = c.lambda_local * logs["local"] + c.lambda_global * logs["global"]
    assert logs["loss"] == pytest.approx(expected + c.lambda_ground * logs["ground"], rel=1e-4)


def test_module_doctests() -> None:
    result = doctest.testmod(same_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0

"""The re-implemented peers (MobilePoser, IMUPoser, PIP, HMD-Poser), for every model the
registry tags ``role="peer"``: sizes, shapes, a training step, the streaming scheme each
declares (a streaming peer's ``step`` equals its ``forward``; a sliding-window peer emits the
frame its window says, seeing no further), export to ONNX, and the analytic LSTM FLOPs.
Build, forward, every stage's backward and ``torch.export`` are in test_registry.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from edgesdk.bench.cost import count_flops, flops_and_params, lstm_flops
from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import export_model
from edgesdk.export.manifest import read_manifest
from edgesdk.models import create_model, list_models, model_info
from edgesdk.models.base import MotionModel
from edgesdk.models.signature import emitted, signature_for, sliding_inputs
from edgesdk.quantize.calibration import eager_calls
from edgesdk.train import checkpoint
from tests.models.conftest import make_batch

PEERS = list_models(role="peer")
SMALL = list_models(role="peer", scale="small")
STREAMING = list_models(role="peer", scale="small", streaming=True)
SLIDING = list_models(role="peer", scale="small", streaming=False)
# Parameters of the published sizes, counted by hand from the papers' layer sizes (22 SMPL
# joints, our 5 slots); MobilePoser's paper states 6.7 M.
PUBLISHED_PARAMS_M = {"mobileposer": 6.66, "imuposer": 10.73, "pip": 5.78, "hmdposer": 13.54}


def _build(name: str) -> MotionModel:
    torch.manual_seed(0)
    model = create_model(name)
    assert isinstance(model, MotionModel)
    return model


def _inputs(model: MotionModel, batch: dict) -> tuple[torch.Tensor, ...]:  # type: ignore[type-arg]
    names = [t.name for t in model.spec.inputs]
    return tuple(batch[n] for n in names)


def test_the_registry_knows_the_four_peers_at_two_sizes() -> None:
    assert [f"{n}-small" for n in sorted(PUBLISHED_PARAMS_M)] == SMALL
    assert set(PEERS) == {*SMALL, *PUBLISHED_PARAMS_M}
    assert set(STREAMING) == {"hmdposer-small", "pip-small"}
    for name in PEERS:
        info = model_info(name)
        assert info.reference and info.streaming is _build(name).spec.streaming
        assert info.family == name.removesuffix("-small")
    with pytest.raises(EdgeSDKError, match="unknown tag"):
        list_models(colour="red")


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS_M))
def test_published_sizes(name: str) -> None:
    params = _build(name).num_parameters()
    assert params / 1e6 == pytest.approx(PUBLISHED_PARAMS_M[name], abs=0.01)
    assert _build(f"{name}-small").num_parameters() < params / 8


@pytest.mark.parametrize("name", SMALL)
def test_predict_shapes_and_a_training_step_lowers_the_loss(name: str) -> None:
    model = _build(name)
    batch = make_batch(batch=2, time=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    torch.manual_seed(1)
    losses = []
    for _ in range(6):
        loss, logs = model.loss(batch, "main")
        assert torch.isfinite(loss), logs
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    out = model.eval().predict(batch)
    assert out["R_world_joint_6d"].shape == (2, 32, 22, 6)
    assert out["pos_rel_m"].shape == (2, 32, 22, 3)
    assert torch.equal(out["pos_rel_m"][..., 0, :], torch.zeros(2, 32, 3))  # pelvis at 0


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_peer_step_equals_forward_and_is_causal(name: str) -> None:
    model = _build(name).eval()
    batch = make_batch(batch=2, time=12)
    inputs = _inputs(model, batch)
    with torch.no_grad():
        rot6d, pos = model(*inputs)
        state = None
        for t in range(12):
            (rot_t, pos_t, vel_t, contact_t), state = model.step(  # type: ignore[operator]
                *(x[:, t] for x in inputs), state=state
            )
            torch.testing.assert_close(pos_t, pos[:, t], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(rot_t, rot6d[:, t], atol=1e-5, rtol=1e-4)
            assert vel_t.shape == (2, 3) and contact_t.shape == (2, 2)
        changed = tuple(x.clone() for x in inputs)
        changed[0][:, 8:] += 1.0  # the future of frame 7
        _, pos_changed = model(*changed)
    torch.testing.assert_close(pos_changed[:, :8], pos[:, :8])
    assert not torch.allclose(pos_changed[:, 8:], pos[:, 8:])


@pytest.mark.parametrize("name", SLIDING)
def test_sliding_peer_emits_its_window_frame_and_sees_no_further(name: str) -> None:
    model = _build(name).eval()
    spec = model.spec
    assert spec.context == 45 and spec.lookahead == 4 and spec.emit_index == 40
    batch = make_batch(batch=1, time=20)
    out = model.predict(batch)
    sig = signature_for(model)
    inputs = _inputs(model, batch)
    with torch.no_grad():
        for t in (0, 7, 19):
            window = sliding_inputs(sig, inputs, t)
            assert window[0].shape[1] == 45
            _, pos = model(*window)
            torch.testing.assert_close(out["pos_rel_m"][:, t], pos[:, 40], atol=1e-5, rtol=1e-4)
    calls = eager_calls(sig, inputs)
    assert len(calls) == 20
    pos_calls = torch.cat([emitted(sig, ref[1]) for _, ref in calls], 1)
    torch.testing.assert_close(pos_calls, out["pos_rel_m"], atol=1e-5, rtol=1e-4)
    changed = {**batch, "imu": batch["imu"].clone()}
    changed["imu"][:, 12:] += 1.0  # more than the 4 frames of look-ahead after frame 7
    again = model.predict(changed)
    torch.testing.assert_close(again["pos_rel_m"][:, :8], out["pos_rel_m"][:, :8])
    assert not torch.allclose(again["pos_rel_m"][:, 8], out["pos_rel_m"][:, 8])


@pytest.mark.parametrize("name", SMALL)
def test_small_peer_exports_to_onnx_and_matches_eager(name: str, tmp_path: Path) -> None:
    model = _build(name)
    ckpt = checkpoint.save(model, tmp_path / name, data={"fingerprint": "test"})
    path = export_model(ckpt, "onnx", "fp32", tmp_path / "out", progress=False)
    manifest = read_manifest(path)
    mode = manifest["io"]["mode"]
    assert mode.startswith("step" if model.spec.streaming else "sliding window (45 frames")
    errors = manifest["numerics"]["max_abs_error_example_input"]
    assert max(errors.values()) < 1e-3


def test_lstm_flops_against_a_hand_count() -> None:
    # nn.LSTM(10, 20, 2 layers, bidirectional) over 7 frames of a batch of 3: per frame and
    # direction, layer 1 multiplies [x (10), h (20)] by 4 x 20 gates, layer 2 [x (40), h (20)]
    # by 4 x 20: 2 x 80 x 30 + 2 x 80 x 60 = 14,400 FLOPs; x 2 directions x 7 x 3 = 604,800.
    lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)
    x = torch.randn(3, 7, 10)
    assert lstm_flops(lstm, x) == 604_800

    class Net(nn.Module):  # a Linear (counted by FlopCounterMode) around the LSTM
        def __init__(self) -> None:
            super().__init__()
            self.lstm, self.out = lstm, nn.Linear(40, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.lstm(x)[0])

    assert count_flops(Net(), (x,)) == 604_800 + 2 * 40 * 5 * 21
    # The same convention is what FlopCounterMode gives a GRU (3 gates instead of 4).
    gru = nn.GRU(10, 20, batch_first=True)
    assert count_flops(gru, (x,)) == 2 * 3 * 20 * (10 + 20) * 21


def test_a_sliding_window_pays_its_whole_window_per_pose() -> None:
    model = _build("mobileposer")
    cost = flops_and_params(model)
    per_call = count_flops(model.eval(), model.example_inputs(batch_size=1))
    assert cost["frames_per_call"] == 45 and cost["calls_per_s"] == pytest.approx(30.0)
    assert cost["gflops_per_s"] == pytest.approx(per_call * 30 / 1e9)
    # The paper's figure, 6.7 M parameters and ~0.6 GFLOPs per pose at 45 frames per call.
    assert 0.55 < per_call / 1e9 < 0.65

"""IMUPoser (Mollyn et al., CHI 2023): whatever subset of phone / watch / earbud IMUs is worn
-> full body, with one bidirectional LSTM.

Re-implemented from the paper and the layer sizes of its public code (nothing copied):
Linear(60 -> 512) + ReLU -> 2-layer bidirectional LSTM(512) -> Linear, over the IMUs of the 5
slots zero-filled where a device is absent (acceleration / 30 and the 3 x 3 orientation per
slot, world frame). It outputs the 22 joints' global rotations (6D) and, here, their
pelvis-relative positions from the same last layer (IMUPoser supervises positions through SMPL
forward kinematics; FK through a template body does not fit this data's rigs, so the
positions are predicted, as every model here does).

Streaming scheme: IMUPoser's code evaluates whole sequences offline and publishes no live
window; it is given its successor's (MobilePoser, same group): the network is re-run over 45
frames, 40 past and 5 "future", for every output frame, emitting frame 40 (4 frames of
look-ahead; ``spec.context``, ``spec.lookahead``). Losses as our students' (rotation MSE + 10
x position MSE); 22 SMPL joints; 30 Hz (theirs: 25 Hz).

Example:
    >>> from edgesdk.models import create_model
    >>> model = create_model("imuposer-small").eval()
    >>> rot6d, pos = model(*model.example_inputs(batch_size=2))
    >>> tuple(rot6d.shape), model.spec.context
    ((2, 45, 22, 6), 45)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.models.base import ModelSpec, pose_outputs, target_positions_rel
from edgesdk.models.peer_layers import (
    IMU_FEATURES,
    NUM_SLOTS,
    LinearLSTM,
    SlidingWindowModel,
    imu_features,
    imu_inputs,
)
from edgesdk.models.registry import build_config, register_model

REFERENCE = "IMUPoser (Mollyn, Arakawa, Goel, Harrison, Ahuja; CHI 2023)"
ROT_OUT = NUM_JOINTS * 6
POS_OUT = (NUM_JOINTS - 1) * 3


@dataclass(frozen=True)
class IMUPoserConfig:
    name: str = "imuposer"
    fps: float = 30.0
    window: int = 60  # training / evaluation windows (the students'); a call reads 45
    past: int = 40
    future: int = 5  # the emitted frame and the 4 after it
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.2
    pos_weight: float = 10.0


class IMUPoser(SlidingWindowModel):
    """Linear -> bi-LSTM -> Linear; ``run`` is one call over any number of frames."""

    def __init__(self, config: IMUPoserConfig) -> None:
        super().__init__()
        self.config = c = config
        self.net = LinearLSTM(
            NUM_SLOTS * IMU_FEATURES, ROT_OUT + POS_OUT, c.hidden, c.layers, True, c.dropout
        )
        self.spec = ModelSpec(
            inputs=imu_inputs(),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            context=c.past + c.future,
            lookahead=c.future - 1,  # the emitted frame is the first of the 'future' ones
            notes=f"{REFERENCE}, re-implemented: Linear -> bi-LSTM {c.layers} x {c.hidden} -> "
            f"Linear, re-run over {c.past} past + {c.future} future frames for every output "
            f"frame (frame {c.past} of each call is the pose; the scheme of its successor "
            "MobilePoser). Inputs: acceleration / 30 and the 3 x 3 orientation per slot, "
            "world frame, zeros where absent.",
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        return batch["imu"], batch["mask"]

    def run(self, *inputs: Tensor) -> dict[str, Tensor]:
        imu, mask = inputs
        y, _ = self.net(imu_features(imu, mask))
        R = rot6d_to_matrix(y[..., :ROT_OUT].unflatten(-1, (NUM_JOINTS, 6)))
        pos = y[..., ROT_OUT:].unflatten(-1, (NUM_JOINTS - 1, 3))
        return {
            "R_world_joint_6d": matrix_to_6d(R),
            "pos_rel_m": torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2),
        }

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        out = self.run(*self.inputs(batch))
        rot = F.mse_loss(out["R_world_joint_6d"], batch["R_world_joint_6d"])
        pos = F.mse_loss(out["pos_rel_m"], target_positions_rel(batch))
        return rot + self.config.pos_weight * pos, {"rot": rot.item(), "pos": pos.item()}


def _create(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> IMUPoser:
    return IMUPoser(build_config(IMUPoserConfig(name=name), {**defaults, **overrides}))


@register_model(role="peer", scale="paper", streaming=False, reference=REFERENCE)
def imuposer(**overrides: Any) -> IMUPoser:
    """IMUPoser at its published size (bi-LSTM 2 x 512): 10.6 M parameters."""
    return _create("imuposer", {}, overrides)


@register_model(role="peer", scale="small", streaming=False, reference=REFERENCE)
def imuposer_small(**overrides: Any) -> IMUPoser:
    """IMUPoser at a quarter of its width (bi-LSTM 2 x 128), trained here on CPU."""
    return _create("imuposer-small", {"hidden": 128}, overrides)

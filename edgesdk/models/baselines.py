"""Baselines the teachers must beat: a per-frame 2-layer MLP on exactly the inputs a teacher
reads.

``mlp-baseline`` reads the 5 IMU slots and their presence mask (what Ego4o and its student
read); ``mlp-baseline-same`` adds the head's 6DoF pose (SAME: the IMUs and the head pose,
the head always present); ``mlp-baseline-headpose`` reads the head's 6DoF trajectory alone
(MotionGRPO); ``mlp-baseline-head`` reads the high-rate head IMU (Head2Body), 8 samples
stacked per output frame. None looks at other frames: they measure how much the teachers
gain from temporal context and their architectures.

Example:
    >>> from edgesdk.models import create_model
    >>> model = create_model("mlp-baseline")
    >>> rot6d, pos = model(*model.example_inputs(batch_size=2))
    >>> tuple(pos.shape)
    (2, 1, 22, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.models.base import (
    ModelSpec,
    MotionModel,
    TensorSpec,
    pose_outputs,
    target_positions_rel,
)
from edgesdk.models.registry import build_config, register_model

HEAD_HR_FACTOR = 8
HEAD_HR_CHANNELS = 12


@dataclass(frozen=True)
class MLPBaselineConfig:
    name: str = "mlp-baseline"
    # "imu" (5 slots + mask), "imu_head" (+ head 6DoF), "head" (head 6DoF) or "head_imu_hr"
    inputs: str = "imu"
    hidden: int = 256
    dropout: float = 0.1


class MLPBaseline(MotionModel):
    """Two hidden layers from one frame's inputs to 22 global 6D rotations and positions."""

    def __init__(self, config: MLPBaselineConfig) -> None:
        super().__init__()
        self.config = config
        imu_specs = (
            TensorSpec(
                "imu",
                ("batch", "time", 5, 9),
                units="m/s^2 | 6D",
                description="acc_world_mps2 + R_world_sensor 6D per slot",
            ),
            TensorSpec("mask", ("batch", "time", 5), description="1 where present"),
        )
        head_spec = TensorSpec(
            "head", ("batch", "time", 9), units="m, 6D", description="head 6DoF pose"
        )
        inputs: tuple[TensorSpec, ...]
        if config.inputs == "imu":
            in_dim, inputs = 5 * 9 + 5, imu_specs
        elif config.inputs == "imu_head":
            in_dim, inputs = 5 * 9 + 5 + 9, (*imu_specs, head_spec)
        elif config.inputs == "head":
            in_dim, inputs = 9, (head_spec,)
        elif config.inputs == "head_imu_hr":
            in_dim = HEAD_HR_FACTOR * HEAD_HR_CHANNELS
            inputs = (
                TensorSpec(
                    "head_imu_hr",
                    ("batch", "8*time", HEAD_HR_CHANNELS),
                    units="m/s^2 | rad/s | 6D",
                    description="head IMU at 8x 30 Hz",
                ),
            )
        else:
            raise ValueError(
                f"inputs must be 'imu', 'imu_head', 'head' or 'head_imu_hr', got {config.inputs!r}"
            )
        head_only = config.inputs in ("head", "head_imu_hr")
        self.spec = ModelSpec(
            inputs=inputs,
            outputs=pose_outputs(),
            slots=("head",) if head_only else ModelSpec.slots,
            required_slots=("head",) if config.inputs == "imu_head" else (),
        )
        self.net = nn.Sequential(
            nn.Linear(in_dim, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
            nn.GELU(),
            nn.Linear(config.hidden, NUM_JOINTS * 9),
        )

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        if self.config.inputs == "imu":
            imu, mask = inputs
            x = torch.cat([imu.flatten(-2), mask], -1)
        elif self.config.inputs == "imu_head":
            imu, mask, head = inputs
            x = torch.cat([imu.flatten(-2), mask, head], -1)
        elif self.config.inputs == "head":
            (x,) = inputs
        else:
            (hr,) = inputs
            B, T8, C = hr.shape
            x = hr.reshape(B, T8 // HEAD_HR_FACTOR, HEAD_HR_FACTOR * C)
        out = self.net(x).unflatten(-1, (NUM_JOINTS, 9))
        return out[..., :6], out[..., 6:]

    def _inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        if self.config.inputs == "imu":
            return batch["imu"], batch["mask"]
        if self.config.inputs == "imu_head":
            return batch["imu"], batch["mask"], batch["head"]
        if self.config.inputs == "head":
            return (batch["head"],)
        return (batch["head_imu_hr"],)

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        rot6d, pos = self(*self._inputs(batch))
        loss_rot = F.mse_loss(rot6d, batch["R_world_joint_6d"])
        loss_pos = F.mse_loss(pos, target_positions_rel(batch))
        loss = loss_rot + 10.0 * loss_pos
        return loss, {"rot": loss_rot.item(), "pos": loss_pos.item()}

    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        rot6d, pos = self(*self._inputs(batch))
        return {"R_world_joint_6d": rot6d, "pos_rel_m": pos}


def _create_mlp(variant: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> MLPBaseline:
    config = build_config(MLPBaselineConfig(name=variant), {**defaults, **overrides})
    return MLPBaseline(config)


@register_model(role="baseline", streaming=False, teacher="ego4o")
def mlp_baseline(**overrides: Any) -> MLPBaseline:
    return _create_mlp("mlp-baseline", {}, overrides)


@register_model(role="baseline", streaming=False, teacher="head2body")
def mlp_baseline_head(**overrides: Any) -> MLPBaseline:
    return _create_mlp("mlp-baseline-head", {"inputs": "head_imu_hr"}, overrides)


@register_model(role="baseline", streaming=False, teacher="same")
def mlp_baseline_same(**overrides: Any) -> MLPBaseline:
    return _create_mlp("mlp-baseline-same", {"inputs": "imu_head"}, overrides)


@register_model(role="baseline", streaming=False, teacher="motiongrpo")
def mlp_baseline_headpose(**overrides: Any) -> MLPBaseline:
    return _create_mlp("mlp-baseline-headpose", {"inputs": "head"}, overrides)

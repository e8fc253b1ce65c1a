"""MobilePoser (Xu et al., UIST 2024): any subset of phone / watch / earbud IMUs -> full body.

Re-implemented from the paper and the layer sizes of its public code (nothing copied). Four
networks, each Linear -> 2-layer LSTM -> Linear (``peer_layers.LinearLSTM``) over the IMUs of
the 5 slots, zero-filled where a device is absent (acceleration / 30 and the 3 x 3
orientation per slot, world frame, 60 values):

    joints    bi-LSTM(256): IMUs -> 21 joint positions (pelvis-relative, world orientation)
    pose      bi-LSTM(256): joints + IMUs -> global rotations of 16 joints (6D); the other 6
              (ankles, feet, wrists) turn with their parent
    contact   bi-LSTM(64):  joints + IMUs -> left / right foot-ground contact logits
    velocity  LSTM(256):    joints + IMUs -> the 22 joints' velocities (m/s)

Streaming scheme (the paper's): for every output frame the four networks are re-run over a
45-frame window, 40 past frames and 5 "future" ones, and the pose of the window's frame 40
(the first of the five, as their online code takes it) is emitted: 4 frames (133 ms at 30 Hz)
of delay and the whole window's compute per pose (``spec.context`` / ``spec.lookahead``). At a
stream's start the first frame fills the past.

What differs from the paper: no physics optimizer (the paper's optional post-processing);
translation from contact and velocity not integrated (MPJPE here is pelvis-relative);
positions are the joints network's own (FK through a template body does not fit this data's
rigs); the velocity LSTM restarts from zeros every call (their online code carries its state
from one window to the next); losses as our students' (rotation MSE + 10 x position MSE, 0.1
x velocity MSE, 0.1 x contact BCE); 22 SMPL joints (no hands); 30 Hz (theirs: 25 Hz).
Training feeds the later networks the true joints plus noise (4 cm; velocity 2.5 cm), as
theirs.

Example:
    >>> import torch
    >>> from edgesdk.models import create_model
    >>> model = create_model("mobileposer-small").eval()
    >>> imu, mask = model.example_inputs(batch_size=2)
    >>> rot6d, pos = model(imu, mask)  # one call: the 45-frame window
    >>> tuple(pos.shape), model.spec.context, model.spec.lookahead
    ((2, 45, 22, 3), 45, 4)
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
    REDUCED,
    LinearLSTM,
    SlidingWindowModel,
    full_global_rotations,
    imu_features,
    imu_inputs,
    joint_velocity_mps,
)
from edgesdk.models.registry import build_config, register_model

REFERENCE = "MobilePoser (Xu, Mollyn, Ahuja; UIST 2024)"
POS_OUT = (NUM_JOINTS - 1) * 3


@dataclass(frozen=True)
class MobilePoserConfig:
    name: str = "mobileposer"
    fps: float = 30.0
    window: int = 60  # training / evaluation windows (the students'); a call reads 45
    past: int = 40
    future: int = 5  # the emitted frame and the 4 after it
    hidden: int = 256  # joints, pose and velocity LSTMs
    contact_hidden: int = 64
    layers: int = 2
    dropout: float = 0.2
    joint_noise_m: float = 0.04  # on the true joints fed to pose and contact in training
    velocity_noise_m: float = 0.025  # on those fed to velocity
    pos_weight: float = 10.0
    vel_weight: float = 0.1
    contact_weight: float = 0.1


class MobilePoser(SlidingWindowModel):
    """The four networks; ``run`` is one call over any number of frames."""

    def __init__(self, config: MobilePoserConfig) -> None:
        super().__init__()
        self.config = c = config
        n_imu = NUM_SLOTS * IMU_FEATURES
        n_in = POS_OUT + n_imu
        self.joints = LinearLSTM(n_imu, POS_OUT, c.hidden, c.layers, True, c.dropout)
        self.pose = LinearLSTM(n_in, len(REDUCED) * 6, c.hidden, c.layers, True, c.dropout)
        self.contact = LinearLSTM(n_in, 2, c.contact_hidden, c.layers, True, c.dropout)
        self.velocity = LinearLSTM(n_in, NUM_JOINTS * 3, c.hidden, c.layers, False, c.dropout)
        self.spec = ModelSpec(
            inputs=imu_inputs(),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            context=c.past + c.future,
            lookahead=c.future - 1,  # the emitted frame is the first of the 'future' ones
            notes=f"{REFERENCE}, re-implemented: joints bi-LSTM {c.layers} x {c.hidden} -> "
            f"pose bi-LSTM (+ contact bi-LSTM {c.contact_hidden}, velocity LSTM), re-run over "
            f"{c.past} past + {c.future} future frames for every output frame (frame "
            f"{c.past} of each call is the pose); no physics optimizer. Inputs: acceleration "
            "/ 30 and the 3 x 3 orientation per slot, world frame, zeros where absent.",
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        return batch["imu"], batch["mask"]

    def run(self, *inputs: Tensor, joints_in: Tensor | None = None) -> dict[str, Tensor]:
        """All outputs of one call; ``joints_in`` (training) replaces the predicted joints as
        the later networks' input (for pose/contact and for velocity, ``[2, B, T, 63]``)."""
        imu, mask = inputs
        x = imu_features(imu, mask)
        joints, _ = self.joints(x)
        feed = (joints, joints) if joints_in is None else (joints_in[0], joints_in[1])
        z = torch.cat([feed[0], x], -1)
        pose, _ = self.pose(z)
        contact, _ = self.contact(z)
        vel, _ = self.velocity(torch.cat([feed[1], x], -1))
        R = full_global_rotations(rot6d_to_matrix(pose.unflatten(-1, (len(REDUCED), 6))))
        pos = joints.unflatten(-1, (NUM_JOINTS - 1, 3))
        return {
            "R_world_joint_6d": matrix_to_6d(R),
            "pos_rel_m": torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2),
            "contact_logit": contact,
            "joint_vel_mps": vel.unflatten(-1, (NUM_JOINTS, 3)),
        }

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        c = self.config
        target = target_positions_rel(batch)[..., 1:, :].flatten(-2)
        noisy = torch.stack(
            [target + torch.randn_like(target) * s for s in (c.joint_noise_m, c.velocity_noise_m)]
        )
        out = self.run(*self.inputs(batch), joints_in=noisy if self.training else None)
        loss_joints = F.mse_loss(out["pos_rel_m"][..., 1:, :].flatten(-2), target)
        reduced = list(REDUCED)
        R6 = out["R_world_joint_6d"][..., reduced, :]
        loss_pose = F.mse_loss(R6, batch["R_world_joint_6d"][..., reduced, :])
        vel = F.mse_loss(out["joint_vel_mps"], joint_velocity_mps(batch["pos_m"], c.fps))
        bce = F.binary_cross_entropy_with_logits(out["contact_logit"], batch["contact"])
        loss = loss_pose + c.pos_weight * loss_joints + c.vel_weight * vel
        loss = loss + c.contact_weight * bce
        logs = {"pose": loss_pose.item(), "joints": loss_joints.item(), "vel": vel.item()}
        return loss, {**logs, "contact": bce.item()}

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out = super().predict(batch)
        out["contact"] = torch.sigmoid(out.pop("contact_logit"))
        return out


def _create(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> MobilePoser:
    return MobilePoser(build_config(MobilePoserConfig(name=name), {**defaults, **overrides}))


@register_model(role="peer", scale="paper", streaming=False, reference=REFERENCE)
def mobileposer(**overrides: Any) -> MobilePoser:
    """MobilePoser at its published sizes (LSTMs 256, contact 64): 6.6 M parameters."""
    return _create("mobileposer", {}, overrides)


@register_model(role="peer", scale="small", streaming=False, reference=REFERENCE)
def mobileposer_small(**overrides: Any) -> MobilePoser:
    """MobilePoser at a quarter of its width (LSTMs 64, contact 16), trained here on CPU."""
    return _create("mobileposer-small", {"hidden": 64, "contact_hidden": 16}, overrides)

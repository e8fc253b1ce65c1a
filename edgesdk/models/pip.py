"""TransPose / PIP (Yi et al., SIGGRAPH 2021 / CVPR 2022): causal LSTM stages carrying their
state from frame to frame, the recurrent peer closest to our students.

Re-implemented from the papers and the layer sizes of PIP's public code (nothing copied). Five
networks, each Linear -> 2-layer unidirectional LSTM -> Linear (``peer_layers.LinearLSTM``),
over the IMUs of the 5 slots (acceleration / 30 and the 3 x 3 orientation per slot, world
frame, zeros where a device is absent):

    leaf      LSTM(256), initial state from the first pose: IMUs -> 5 leaf joints (ankles, neck,
              wrists), pelvis-relative positions
    joints    LSTM(256): leaf joints + IMUs -> 21 joint positions (the position output)
    pose      LSTM(256): joints + IMUs -> global rotations of 16 joints (6D); ankles, feet and
              wrists turn with their parent
    velocity  LSTM(256), initial state from zero velocity: joints + IMUs -> joint velocities
    contact   LSTM(64): joints + IMUs -> left / right foot contact logits

Streaming: one call per frame, every LSTM's ``(h, c)`` carried as explicit state (``step``);
``forward`` over a window from a fresh state gives the same numbers. PIP regresses the initial
states of its leaf and velocity LSTMs from the first frame's pose, which it knows from a
calibration pose; no oracle pose is given here, so they are regressed from the standing rest
pose (a learned initial state). The exported state is each LSTM's deviation from its initial
state, so zeros start a stream, as for every model here.

What changes from their 6 Xsens IMUs (pelvis, forearms, lower legs, head): here 1-3 of 5
consumer slots (head, wrists, trouser pockets on the thighs) come and go, zero-filled; with no
pelvis IMU the inputs stay in the world frame (PIP expresses them in the pelvis IMU's frame)
and the pelvis rotation is predicted (PIP reads it from that IMU); no physics optimizer; no
translation; losses as our students' (rotation MSE + 10 x position MSE on leaf and joints, 0.1
x velocity MSE, 0.1 x contact BCE); training feeds the later stages true joints plus noise
(leaf 4 cm, joints 2.5 cm), as TransPose; 30 Hz (theirs: 60 Hz).

Example:
    >>> import torch
    >>> from edgesdk.models import create_model
    >>> model = create_model("pip-small").eval()
    >>> imu, mask = model.example_inputs(batch_size=2)
    >>> with torch.no_grad():
    ...     rot6d, pos = model(imu, mask)
    ...     (rot6d_t, pos_t, vel_t, contact_t), state = model.step(imu[:, 0], mask[:, 0])
    >>> torch.allclose(pos_t, pos[:, 0], atol=1e-5), [tuple(s.shape) for s in state][:2]
    (True, [(2, 4, 2, 64), (2, 4, 2, 64)])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.models.base import (
    ModelSpec,
    MotionModel,
    TensorSpec,
    pose_outputs,
    target_positions_rel,
)
from edgesdk.models.peer_layers import (
    IMU_FEATURES,
    LEAF,
    NUM_SLOTS,
    REDUCED,
    LinearLSTM,
    full_global_rotations,
    imu_features,
    imu_inputs,
    joint_velocity_mps,
)
from edgesdk.models.registry import build_config, register_model
from edgesdk.models.students_core import standing_pose_rel

REFERENCE = "TransPose / PIP (Yi et al.; SIGGRAPH 2021, CVPR 2022)"
POS_OUT = (NUM_JOINTS - 1) * 3
LEAF_OUT = len(LEAF) * 3
MAIN = ("leaf", "joints", "pose", "velocity")  # the LSTMs of width ``hidden``, in state order
PIPState = tuple[Tensor, Tensor, Tensor, Tensor]  # lstm_h, lstm_c, contact_h, contact_c


@dataclass(frozen=True)
class PIPConfig:
    name: str = "pip"
    fps: float = 30.0
    window: int = 60  # training / evaluation windows; any length streams
    hidden: int = 256
    contact_hidden: int = 64
    layers: int = 2
    dropout: float = 0.4
    leaf_noise_m: float = 0.04  # on the true leaf joints fed to ``joints`` in training
    joint_noise_m: float = 0.025  # on the true joints fed to the later stages
    pos_weight: float = 10.0
    vel_weight: float = 0.1
    contact_weight: float = 0.1


class InitNet(nn.Module):
    """PIP's regression of an LSTM's initial ``(h, c)`` from a first output."""

    def __init__(self, out_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.net = nn.Sequential(
            nn.Linear(out_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden * layers),
            nn.ReLU(),
            nn.Linear(hidden * layers, 2 * layers * hidden),
        )

    def forward(self, first: Tensor) -> tuple[Tensor, Tensor]:
        """``first [out]`` -> ``(h, c)``, each ``[layers, hidden]``."""
        h, c = self.net(first).view(2, self.layers, self.hidden)
        return h, c


class PIP(MotionModel):
    """The five stages; ``run`` over a sequence from a state, ``step`` over one frame."""

    def __init__(self, config: PIPConfig) -> None:
        super().__init__()
        self.config = c = config
        n_imu = NUM_SLOTS * IMU_FEATURES
        self.leaf = LinearLSTM(n_imu, LEAF_OUT, c.hidden, c.layers, False, c.dropout)
        self.joints = LinearLSTM(n_imu + LEAF_OUT, POS_OUT, c.hidden, c.layers, False, c.dropout)
        n_in = n_imu + POS_OUT
        self.pose = LinearLSTM(n_in, len(REDUCED) * 6, c.hidden, c.layers, False, c.dropout)
        self.velocity = LinearLSTM(n_in, NUM_JOINTS * 3, c.hidden, c.layers, False, c.dropout)
        self.contact = LinearLSTM(n_in, 2, c.contact_hidden, c.layers, False, c.dropout)
        self.leaf_init = InitNet(LEAF_OUT, c.hidden, c.layers)
        self.velocity_init = InitNet(NUM_JOINTS * 3, c.hidden, c.layers)
        rest = standing_pose_rel()
        self.register_buffer("rest_leaf", rest[list(LEAF)].flatten(), persistent=False)
        self.rest_leaf: Tensor
        self.spec = ModelSpec(
            inputs=imu_inputs(),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            streaming=True,
            state=self._state_specs(),
            notes=f"{REFERENCE}, re-implemented: leaf -> joints -> pose (+ velocity, contact) "
            f"unidirectional LSTMs {c.layers} x {c.hidden} carrying their state frame to "
            "frame; step(imu [batch, 5, 9], mask [batch, 5], state) -> (R_world_joint_6d, "
            "pos_rel_m, root_vel_mps, contact probability), new state; forward over [batch, "
            "time] from zeros equals stepping. No physics optimizer. Inputs: acceleration / 30 "
            "and the 3 x 3 orientation per slot, world frame, zeros where absent.",
        )

    def _state_specs(self) -> tuple[TensorSpec, ...]:
        c = self.config
        main = ("batch", len(MAIN), c.layers, c.hidden)
        contact = ("batch", c.layers, c.contact_hidden)
        offset = "minus its initial state; zeros at the start of a stream"
        return (
            TensorSpec("lstm_h", main, description=f"h of the {', '.join(MAIN)} LSTMs {offset}"),
            TensorSpec("lstm_c", main, description=f"c of those LSTMs {offset}"),
            TensorSpec("contact_h", contact, description="h of the contact LSTM (zeros: start)"),
            TensorSpec("contact_c", contact, description="c of the contact LSTM"),
        )

    # -- state

    def initial_states(self) -> list[tuple[Tensor, Tensor]]:
        """``(h, c)`` ``[layers, hidden]`` at a stream's start for each of ``MAIN``."""
        zeros = self.rest_leaf.new_zeros(self.config.layers, self.config.hidden)
        leaf = self.leaf_init(self.rest_leaf)
        velocity = self.velocity_init(self.rest_leaf.new_zeros(NUM_JOINTS * 3))
        return [leaf, (zeros, zeros), (zeros, zeros), velocity]

    def init_state(self, batch_size: int = 1, like: Tensor | None = None) -> PIPState:
        """Zeros (a stream that has not started), shaped as ``spec.state``."""
        ref = self.rest_leaf if like is None else like
        c = self.config
        main = ref.new_zeros(batch_size, len(MAIN), c.layers, c.hidden)
        contact = ref.new_zeros(batch_size, c.layers, c.contact_hidden)
        return main, main.clone(), contact, contact.clone()

    # -- the two call paths

    def run(
        self,
        imu: Tensor,
        mask: Tensor,
        state: PIPState | None = None,
        stepwise: bool = False,
        truth: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[dict[str, Tensor], PIPState]:
        """All outputs ``[B, T, ...]`` of a sequence from ``state`` (None: a new stream) and
        the state after its last frame. ``truth`` (training): the leaf joints and joints fed
        to the later stages in place of the predicted ones."""
        x = imu_features(imu, mask)
        if state is None:
            state = self.init_state(x.shape[0], x)
        lstm_h, lstm_c, contact_h, contact_c = state
        init = self.initial_states()
        states = [(lstm_h[:, i] + h0, lstm_c[:, i] + c0) for i, (h0, c0) in enumerate(init)]

        def call(net: LinearLSTM, inp: Tensor, st: tuple[Tensor, Tensor]) -> Any:
            if not stepwise:
                return net(inp, st)
            y, new = net.step(inp[:, 0], st)
            return y[:, None], new

        leaf, s_leaf = call(self.leaf, x, states[0])
        joints, s_joints = call(
            self.joints, torch.cat([leaf if truth is None else truth[0], x], -1), states[1]
        )
        z = torch.cat([joints if truth is None else truth[1], x], -1)
        pose, s_pose = call(self.pose, z, states[2])
        vel, s_vel = call(self.velocity, z, states[3])
        contact, s_contact = call(self.contact, z, (contact_h, contact_c))
        new = [s_leaf, s_joints, s_pose, s_vel]
        new_h = torch.stack([s[0] - h0 for s, (h0, _) in zip(new, init, strict=True)], 1)
        new_c = torch.stack([s[1] - c0 for s, (_, c0) in zip(new, init, strict=True)], 1)
        R = full_global_rotations(rot6d_to_matrix(pose.unflatten(-1, (len(REDUCED), 6))))
        pos = joints.unflatten(-1, (NUM_JOINTS - 1, 3))
        out = {
            "R_world_joint_6d": matrix_to_6d(R),
            "pos_rel_m": torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2),
            "leaf_rel_m": leaf.unflatten(-1, (len(LEAF), 3)),
            "joint_vel_mps": vel.unflatten(-1, (NUM_JOINTS, 3)),
            "contact_logit": contact,
        }
        return out, (new_h, new_c, s_contact[0], s_contact[1])

    def forward(self, imu: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """A whole sequence from a fresh state: ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m
        [B, T, 22, 3])``."""
        out, _ = self.run(imu, mask)
        return out["R_world_joint_6d"], out["pos_rel_m"]

    def step(
        self, imu: Tensor, mask: Tensor, state: PIPState | None = None
    ) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], PIPState]:
        """One frame ``imu [B, 5, 9]``, ``mask [B, 5]`` -> ``((R_world_joint_6d [B, 22, 6],
        pos_rel_m [B, 22, 3], root_vel_mps [B, 3], contact [B, 2] probabilities), new
        state)``; ``state=None`` starts a stream."""
        out, new = self.run(imu[:, None], mask[:, None], state, stepwise=True)
        return (
            out["R_world_joint_6d"][:, 0],
            out["pos_rel_m"][:, 0],
            out["joint_vel_mps"][:, 0, 0],
            torch.sigmoid(out["contact_logit"][:, 0]),
        ), new

    def step_module(self) -> nn.Module:
        """``step`` with flat tensors in and out, for export: ``(imu, mask, *state) ->
        (*outputs, *new_state)``."""
        return _StepModule(self)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out, _ = self.run(batch["imu"], batch["mask"])
        out["contact"] = torch.sigmoid(out.pop("contact_logit"))
        return out

    # -- training

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        c = self.config
        target = target_positions_rel(batch)
        leaf_true = target[..., list(LEAF), :].flatten(-2)
        joints_true = target[..., 1:, :].flatten(-2)
        truth = None
        if self.training:
            truth = (
                leaf_true + torch.randn_like(leaf_true) * c.leaf_noise_m,
                joints_true + torch.randn_like(joints_true) * c.joint_noise_m,
            )
        out, _ = self.run(batch["imu"], batch["mask"], truth=truth)
        leaf = F.mse_loss(out["leaf_rel_m"].flatten(-2), leaf_true)
        pos = F.mse_loss(out["pos_rel_m"], target)
        reduced = list(REDUCED)
        rot = F.mse_loss(
            out["R_world_joint_6d"][..., reduced, :], batch["R_world_joint_6d"][..., reduced, :]
        )
        vel = F.mse_loss(out["joint_vel_mps"], joint_velocity_mps(batch["pos_m"], c.fps))
        bce = F.binary_cross_entropy_with_logits(out["contact_logit"], batch["contact"])
        loss = rot + c.pos_weight * (leaf + pos) + c.vel_weight * vel + c.contact_weight * bce
        logs = {"rot": rot.item(), "leaf": leaf.item(), "pos": pos.item(), "vel": vel.item()}
        return loss, {**logs, "contact": bce.item()}


class _StepModule(nn.Module):
    def __init__(self, model: PIP) -> None:
        super().__init__()
        self.model = model

    def forward(self, imu: Tensor, mask: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        outputs, new = self.model.step(imu, mask, (state[0], state[1], state[2], state[3]))
        return (*outputs, *new)


def _create(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> PIP:
    return PIP(build_config(PIPConfig(name=name), {**defaults, **overrides}))


@register_model(role="peer", scale="paper", streaming=True, reference=REFERENCE)
def pip(**overrides: Any) -> PIP:
    """PIP's networks at their published sizes (LSTMs 256, contact 64): 5.8 M parameters."""
    return _create("pip", {}, overrides)


@register_model(role="peer", scale="small", streaming=True, reference=REFERENCE)
def pip_small(**overrides: Any) -> PIP:
    """PIP at a quarter of its width (LSTMs 64, contact 16), trained here on CPU."""
    return _create("pip-small", {"hidden": 64, "contact_hidden": 16}, overrides)

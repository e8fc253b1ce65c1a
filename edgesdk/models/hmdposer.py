"""HMD-Poser (Dai et al., CVPR 2024): a headset's 6DoF pose plus whatever IMUs are worn ->
full body, streaming: per-part LSTMs in time, a transformer across the parts in each frame.

Re-implemented from the paper and the layer sizes of its public code (nothing copied). One
token per body part, each embedded by its own small MLPs (rotation 6D, the rotation since the
previous frame 6D, and position + velocity for the headset or acceleration for an IMU), all
through one LayerNorm; then ``blocks`` times: an LSTM per token (time, causal) and a
``layers``-layer transformer encoder across the tokens of the frame (space); the tokens of a
frame concatenated -> MLP -> the 22 joints' local rotations (6D, turned global by the
skeleton's parents) and pelvis-relative positions. Published: width 256, 2 blocks, 3 layers, 8
heads, feed-forward 2048.

Tokens here: the head's 6DoF pose (the ``head`` input every frame, as SAME and MotionGRPO read
it) and the IMUs of the wrists and trouser pockets (zeros where absent). HMD-Poser's tokens are
the headset, two hand controllers (6DoF), IMUs on the lower legs and pelvis, and the hands in
the headset's frame: with no controllers here the wrists are IMU tokens, the pockets stand in
for the lower legs, and there is no pelvis IMU (5 tokens, not 8). The head IMU slot is not
read (the headset token carries the head). The headset's horizontal position is dropped (its
height and velocity kept) so the model does not depend on where the wearer stands.

Streaming: one call per frame with every LSTM's ``(h, c)`` and the previous frame's head pose
and IMU orientations as explicit state (``step``); ``forward`` over a window from zeros gives
the same numbers. No SMPL shape head (positions are predicted directly: FK through a template
body does not fit this data's rigs); losses as our students' (global rotation MSE + 10 x
position MSE) plus local rotation MSE (HMD-Poser's main term); 30 Hz (theirs: 60 Hz).

Example:
    >>> import torch
    >>> from edgesdk.models import create_model
    >>> model = create_model("hmdposer-small").eval()
    >>> imu, mask, head = model.example_inputs(batch_size=2)
    >>> with torch.no_grad():
    ...     rot6d, pos = model(imu, mask, head)
    ...     (rot6d_t, pos_t, _, _), state = model.step(imu[:, 0], mask[:, 0], head[:, 0])
    >>> torch.allclose(pos_t, pos[:, 0], atol=1e-5), tuple(state[0].shape)
    (True, (2, 2, 5, 64))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.fk import local_to_global
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
    ACC_SCALE,
    imu_inputs,
    lstm_cell,
    rot6d_columns_to_matrix,
)
from edgesdk.models.registry import build_config, register_model

REFERENCE = "HMD-Poser (Dai et al.; CVPR 2024)"
IMU_SLOTS = (1, 2, 3, 4)  # left / right wrist, left / right pocket
TOKENS = 1 + len(IMU_SLOTS)
PREV = 3 + 6 + 6 * len(IMU_SLOTS) + 1  # head position, head 6D, IMU 6Ds, started flag
ROT_OUT = NUM_JOINTS * 6
POS_OUT = (NUM_JOINTS - 1) * 3
HMDState = tuple[Tensor, Tensor, Tensor]  # lstm_h, lstm_c, prev
_LSTM_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class HMDPoserConfig:
    name: str = "hmdposer"
    fps: float = 30.0
    window: int = 60  # training / evaluation windows; any length streams
    hidden: int = 256
    blocks: int = 2
    layers: int = 3
    heads: int = 8
    feedforward: int = 2048
    head_hidden: int = 256  # the output MLP
    dropout: float = 0.1
    pos_weight: float = 10.0


class EncoderLayer(nn.Module):
    """A post-norm transformer encoder layer with ReLU (``nn.TransformerEncoderLayer``'s
    defaults, HMD-Poser's choice), written out so that export sees plain matrix products."""

    def __init__(self, width: int, heads: int, feedforward: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.ff = nn.Sequential(
            nn.Linear(width, feedforward),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(feedforward, width),
        )
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``x [N, tokens, width]``."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v
        x = self.norm1(x + self.drop(self.out(att.transpose(1, 2).flatten(-2))))
        return self.norm2(x + self.drop(self.ff(x)))


def _mlp(features: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, width), nn.LeakyReLU())


class HMDPoser(MotionModel):
    """Token MLPs -> (per-token LSTM -> transformer across tokens) x blocks -> pose MLP."""

    def __init__(self, config: HMDPoserConfig) -> None:
        super().__init__()
        self.config = c = config
        H = c.hidden
        self.head_embed = nn.ModuleList([_mlp(n, H // 4) for n in (6, 6, 3, 3)])
        imu_widths = ((H - 16) // 2, (H - 16) // 2, 16)
        self.imu_embed = nn.ModuleList(
            nn.ModuleList([_mlp(n, w) for n, w in zip((6, 6, 3), imu_widths, strict=True)])
            for _ in IMU_SLOTS
        )
        self.norm = nn.LayerNorm(H, eps=1e-6)
        self.time = nn.ModuleList(
            nn.ModuleList(nn.LSTM(H, H, batch_first=True) for _ in range(TOKENS))
            for _ in range(c.blocks)
        )
        self.space = nn.ModuleList(
            nn.Sequential(
                *(EncoderLayer(H, c.heads, c.feedforward, c.dropout) for _ in range(c.layers))
            )
            for _ in range(c.blocks)
        )
        self.pose_head = nn.Sequential(
            nn.Linear(TOKENS * H, c.head_hidden),
            nn.LeakyReLU(),
            nn.Linear(c.head_hidden, ROT_OUT + POS_OUT),
        )
        self.spec = ModelSpec(
            inputs=(
                *imu_inputs(" (the head slot is not read)"),
                TensorSpec(
                    "head",
                    ("batch", "time", 9),
                    units="m, 6D",
                    description="head 6DoF pose every frame: position (world, floor at y = 0) "
                    "+ R_world_head 6D",
                ),
            ),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            required_slots=("head",),
            streaming=True,
            state=(
                TensorSpec(
                    "lstm_h",
                    ("batch", c.blocks, TOKENS, H),
                    description="h of each block's per-token LSTM; zeros: a new stream",
                ),
                TensorSpec(
                    "lstm_c",
                    ("batch", c.blocks, TOKENS, H),
                    description="c of each block's per-token LSTM",
                ),
                TensorSpec(
                    "prev",
                    ("batch", PREV),
                    description="the previous frame's head position (m) and 6D, the "
                    "wrist and pocket IMUs' 6D (zeros where absent) and a flag, 1 "
                    "after the first frame",
                ),
            ),
            notes=f"{REFERENCE}, re-implemented: tokens head 6DoF + 4 IMUs, {c.blocks} x "
            f"(per-token LSTM {H} -> transformer {c.layers} layers, {c.heads} heads) -> MLP; "
            "step(imu [batch, 5, 9], mask [batch, 5], head [batch, 9], state) -> "
            "(R_world_joint_6d, pos_rel_m, root_vel_mps (zeros: not predicted), contact "
            "(0.5: not predicted)), new state; forward over [batch, time] from zeros equals "
            "stepping.",
        )

    # -- features

    def current(self, imu: Tensor, mask: Tensor, head: Tensor) -> Tensor:
        """What the next frame reads as ``prev``, per frame ``[B, T, PREV]``."""
        present = (mask[..., list(IMU_SLOTS)] > 0.5).to(imu.dtype)[..., None]
        rots = (imu[..., list(IMU_SLOTS), 3:9] * present).flatten(-2)
        return torch.cat([head, rots, torch.ones_like(head[..., :1])], -1)

    def tokens(self, imu: Tensor, mask: Tensor, head: Tensor, prev: Tensor) -> Tensor:
        """Embedded tokens ``[B, T, 5, hidden]``; ``prev [B, T, PREV]`` is each frame's
        previous frame (``current`` of it, zeros before a stream's first frame)."""
        started = prev[..., -1:]
        R_head = rot6d_columns_to_matrix(head[..., 3:9])
        R_prev = rot6d_columns_to_matrix(prev[..., 3:9])
        turned = matrix_to_6d(R_prev.transpose(-1, -2) @ R_head)
        height = head[..., 1:2]
        position = torch.cat([torch.zeros_like(height), height, torch.zeros_like(height)], -1)
        velocity = (head[..., 0:3] - prev[..., 0:3]) * self.config.fps * started
        groups = (head[..., 3:9], turned, position, velocity)
        out = [
            self.norm(torch.cat([m(g) for m, g in zip(self.head_embed, groups, strict=True)], -1))
        ]
        for i, slot in enumerate(IMU_SLOTS):
            present = (mask[..., slot : slot + 1] > 0.5).to(imu.dtype)
            rot = imu[..., slot, 3:9] * present
            R_then = rot6d_columns_to_matrix(prev[..., 9 + 6 * i : 15 + 6 * i])
            turned = matrix_to_6d(R_then.transpose(-1, -2) @ rot6d_columns_to_matrix(rot))
            acc = imu[..., slot, 0:3] * ACC_SCALE * present
            embed = cast(nn.ModuleList, self.imu_embed[i])
            out.append(self.norm(torch.cat([embed[0](rot), embed[1](turned), embed[2](acc)], -1)))
        return torch.stack(out, -2)

    # -- the two call paths

    def init_state(self, batch_size: int = 1, like: Tensor | None = None) -> HMDState:
        ref = self.norm.weight if like is None else like
        c = self.config
        h = ref.new_zeros(batch_size, c.blocks, TOKENS, c.hidden)
        return h, h.clone(), ref.new_zeros(batch_size, PREV)

    def run(
        self,
        imu: Tensor,
        mask: Tensor,
        head: Tensor,
        state: HMDState | None = None,
        stepwise: bool = False,
    ) -> tuple[dict[str, Tensor], HMDState]:
        """All outputs ``[B, T, ...]`` of a sequence from ``state`` (None: a new stream) and
        the state after its last frame."""
        B, T = head.shape[:2]
        lstm_h, lstm_c, prev0 = self.init_state(B, head) if state is None else state
        now = self.current(imu, mask, head)
        prev = prev0[:, None] if T == 1 else torch.cat([prev0[:, None], now[:, :-1]], 1)
        x = self.tokens(imu, mask, head, prev)
        new_h, new_c = [], []
        for b, (lstms, space) in enumerate(zip(self.time, self.space, strict=True)):
            ys = []
            for k, module in enumerate(cast(nn.ModuleList, lstms)):
                lstm = cast(nn.LSTM, module)
                h0, c0 = lstm_h[:, b, k], lstm_c[:, b, k]
                if stepwise:
                    w = [cast(Tensor, getattr(lstm, n + "_l0")) for n in _LSTM_WEIGHTS]
                    y, c = lstm_cell(x[:, 0, k], h0, c0, *w)
                    h, y = y, y[:, None]
                else:
                    y, (h, c) = lstm(x[:, :, k], (h0[None].contiguous(), c0[None].contiguous()))
                    h, c = h[0], c[0]
                ys.append(y)
                new_h.append(h)
                new_c.append(c)
            x = space(torch.stack(ys, -2).flatten(0, 1)).unflatten(0, (B, T))
        y = self.pose_head(x.flatten(-2))
        local = rot6d_to_matrix(y[..., :ROT_OUT].unflatten(-1, (NUM_JOINTS, 6)))
        pos = y[..., ROT_OUT:].unflatten(-1, (NUM_JOINTS - 1, 3))
        out = {
            "R_world_joint_6d": matrix_to_6d(local_to_global(local)),
            "R_local_6d": matrix_to_6d(local),
            "pos_rel_m": torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2),
        }
        shape = (B, self.config.blocks, TOKENS, self.config.hidden)
        state_out = (torch.stack(new_h, 1).view(shape), torch.stack(new_c, 1).view(shape))
        return out, (*state_out, now[:, -1])

    def forward(self, imu: Tensor, mask: Tensor, head: Tensor) -> tuple[Tensor, Tensor]:
        """A whole sequence from a fresh state: ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m
        [B, T, 22, 3])``."""
        out, _ = self.run(imu, mask, head)
        return out["R_world_joint_6d"], out["pos_rel_m"]

    def step(
        self, imu: Tensor, mask: Tensor, head: Tensor, state: HMDState | None = None
    ) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], HMDState]:
        """One frame ``imu [B, 5, 9]``, ``mask [B, 5]``, ``head [B, 9]`` -> ``((R_world_joint_6d
        [B, 22, 6], pos_rel_m [B, 22, 3], root_vel_mps [B, 3] zeros, contact [B, 2] 0.5: not
        predicted), new state)``; ``state=None`` starts a stream."""
        out, new = self.run(imu[:, None], mask[:, None], head[:, None], state, stepwise=True)
        R6, pos = out["R_world_joint_6d"][:, 0], out["pos_rel_m"][:, 0]
        return (R6, pos, pos[:, 0] * 0.0, pos[:, 0, :2] * 0.0 + 0.5), new

    def step_module(self) -> nn.Module:
        """``step`` with flat tensors in and out, for export: ``(imu, mask, head, *state) ->
        (*outputs, *new_state)``."""
        return _StepModule(self)

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
        return batch["imu"], batch["mask"], batch["head"]

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out, _ = self.run(*self.inputs(batch))
        return out

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        out, _ = self.run(*self.inputs(batch))
        rot = F.mse_loss(out["R_world_joint_6d"], batch["R_world_joint_6d"])
        local = F.mse_loss(out["R_local_6d"], batch["R_local_6d"])
        pos = F.mse_loss(out["pos_rel_m"], target_positions_rel(batch))
        loss = rot + local + self.config.pos_weight * pos
        return loss, {"rot": rot.item(), "local": local.item(), "pos": pos.item()}


class _StepModule(nn.Module):
    def __init__(self, model: HMDPoser) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, imu: Tensor, mask: Tensor, head: Tensor, *state: Tensor
    ) -> tuple[Tensor, ...]:
        outputs, new = self.model.step(imu, mask, head, (state[0], state[1], state[2]))
        return (*outputs, *new)


def _create(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> HMDPoser:
    return HMDPoser(build_config(HMDPoserConfig(name=name), {**defaults, **overrides}))


@register_model(role="peer", scale="paper", streaming=True, reference=REFERENCE)
def hmdposer(**overrides: Any) -> HMDPoser:
    """HMD-Poser at its published sizes (width 256, 2 blocks x (LSTM + 3 transformer layers,
    8 heads, feed-forward 2048)), with 5 tokens."""
    return _create("hmdposer", {}, overrides)


@register_model(role="peer", scale="small", streaming=True, reference=REFERENCE)
def hmdposer_small(**overrides: Any) -> HMDPoser:
    """HMD-Poser at a quarter of its width (64, feed-forward 512, 4 heads), trained here."""
    defaults = {"hidden": 64, "feedforward": 512, "heads": 4, "head_hidden": 64}
    return _create("hmdposer-small", defaults, overrides)

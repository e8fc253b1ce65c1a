"""SAME (AAAI 2026): egocentric body pose from sparse IMUs and the head's 6DoF pose in two
stages on two coordinate frames, with stereo image-feature slots.

Stage 1, local frame (the head's): IMU signals turned into the head frame -> a per-sensor MLP
-> a causal TCN (5 IMU tokens per frame); the head pose's tilt, height, velocity and turn ->
MLP -> the same TCN (1 head token); stereo image features -> linear, or a learned absent token
per view (2 image tokens). A modality-aware fusion decoder (the seed's eqs. 7-10): 22 learned
joint queries, N layers of self-attention and of cross-attention with ONE query projection and
per-modality key/value projections; a shared regression head refines the head-frame pose
(6D rotation + position per joint) after every layer.
Stage 2, global frame: the joints turned and moved into the world with the head's 6DoF pose,
then a temporal transformer (each layer: causal attention over 32 frames) refines them ->
``R_world_joint_6d [B, T, 22, 6]``, ``pos_rel_m [B, T, 22, 3]``.

Loss (one stage, end to end): ``lambda_local`` x head-frame joints (every decoder layer) +
``lambda_global`` x world joints + ``lambda_ground`` x ground penetration, the mean over
frames of ``tanh(min(0, h_min))^2``, ``h_min`` the lowest joint's height above the floor (y = 0
in the windows; absolute heights are the head's position plus the joints relative to it).

Frames: the local frame is the head's full rotation at its position, as the paper's camera
frame, so stage 1 is invariant to a yaw and a horizontal shift of the world; gravity reaches it
through the head token (pitch and roll, ``R_heading_head``), the floor through the head's
height. Stage 2 works in the gravity-aligned world relative to each frame's heading and head
position (plus the head's velocity and turn rate), so it turns and moves with the world.

What differs from the paper: no egocentric images exist here, so the depth-guided deformable
stereo attention is not built; ``image_feat`` is a per-frame, per-view feature slot, absent in
all training data. The head pose is the data's ``head`` stream (head joint + 1 cm noise), not
SLAM, and must be given in every frame (the head IMU slot may be absent). The IMU branch's
temporal network is a causal dilated TCN (HMD-Poser: an LSTM), so the whole model is causal.
Loss weights and decoder depth are chosen here.

Example:
    >>> model = same_small().eval()
    >>> imu, mask, head, image_feat, image_mask = model.example_inputs(batch_size=2)
    >>> R_world_joint_6d, pos_rel_m = model(imu, mask, head, image_feat, image_mask)
    >>> tuple(R_world_joint_6d.shape), tuple(pos_rel_m.shape)
    ((2, 60, 22, 6), (2, 60, 22, 3))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.heading import heading_cos_sin, heading_rotation
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import ModelSpec, MotionModel, TensorSpec
from edgesdk.models.layers.attention import MultiHeadAttention, RelativePositionBias
from edgesdk.models.registry import build_config, register_model

NUM_SLOTS = len(SLOTS)
NUM_VIEWS = 2  # stereo: left, right
SLOT_FEATURES = 9  # acc (3, head frame) + R_head_sensor 6D (6)
HEAD_FEATURES = 16  # R_heading_head 6D, height, velocity (head frame), turn R_prev_now 6D
GLOBAL_FEATURES = NUM_JOINTS * 9 + 6  # joints in the heading frame, height, velocity, yaw rate
ACC_SCALE = 0.1  # m/s^2 -> about unit range
MODALITIES = ("imu", "head", "image")
_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


# ----------------------------------------------------------------------------- geometry


def head_pose(head: Tensor) -> tuple[Tensor, Tensor]:
    """``head [..., 9]`` (position + 6D) -> ``(R_world_head [..., 3, 3], p_head [..., 3])``."""
    return rot6d_to_matrix(head[..., 3:9]), head[..., :3]


def rotate(R: Tensor, v: Tensor) -> Tensor:
    """``R [..., 3, 3] @ v [..., 3]``."""
    return (R @ v[..., None])[..., 0]


def imu_to_head_frame(imu: Tensor, R_world_head: Tensor) -> Tensor:
    """``imu [B, T, 5, 9]`` (world) -> the same in the head frame: ``R_head_world @ acc`` and
    ``R_head_world @ R_world_sensor`` (both 6D columns turned; zeros stay zeros)."""
    R_hw = R_world_head.transpose(-1, -2)[:, :, None]
    cols = [rotate(R_hw, imu[..., i : i + 3]) for i in (0, 3, 6)]
    return torch.cat(cols, -1)


def _frame_delta(R: Tensor) -> Tensor:
    """``R_prev^T @ R_now`` per frame ``[B, T, 3, 3]``; the identity at the first frame."""
    prev = torch.cat([R[:, :1], R[:, :-1]], 1)
    return prev.transpose(-1, -2) @ R


def _velocity(p: Tensor, fps: float) -> Tensor:
    """Backward difference ``[B, T, 3]`` (m/s), 0 at the first frame (causal)."""
    return torch.cat([torch.zeros_like(p[:, :1]), p[:, 1:] - p[:, :-1]], 1) * fps


def head_pose_features(R_world_head: Tensor, p_head: Tensor, fps: float) -> Tensor:
    """``[B, T, 16]``, invariant to a world yaw and horizontal shift: the head's tilt
    ``R_heading_head`` (6D), height above the floor, velocity in the head frame, and its turn
    since the previous frame (6D)."""
    R_heading_head = heading_rotation(R_world_head).transpose(-1, -2) @ R_world_head
    vel = rotate(R_world_head.transpose(-1, -2), _velocity(p_head, fps))
    turn = matrix_to_6d(_frame_delta(R_world_head)) - p_head.new_tensor(_IDENTITY_6D)
    return torch.cat([matrix_to_6d(R_heading_head), p_head[..., 1:2], vel, turn], -1)


def ground_penetration(pos_world_m: Tensor, floor_y: float = 0.0) -> Tensor:
    """Mean over frames of ``tanh(min(0, h_min))^2``, ``h_min`` the lowest joint's height
    above the floor; ``pos_world_m [..., 22, 3]`` absolute, Y up.

    Example:
        >>> pos = torch.zeros(2, 22, 3)
        >>> pos[1, :, 1] = -0.5  # frame 0 on the floor, frame 1 half a metre below it
        >>> round(ground_penetration(pos).item(), 4)  # (tanh(-0.5)^2 + 0) / 2
        0.1068
    """
    h_min = pos_world_m[..., 1].amin(-1) - floor_y
    return torch.tanh(h_min.clamp(max=0.0)).pow(2).mean()


# ----------------------------------------------------------------------------- stage 1


class SlotMLP(nn.Module):
    """A two-layer MLP per sensor (own weights per slot), ``[B, T, S, C] -> [B, T, S, D]``."""

    def __init__(self, slots: int, in_dim: int, dim: int) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim))
            for _ in range(slots)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([mlp(x[:, :, i]) for i, mlp in enumerate(self.mlps)], 2)


class CausalTCN(nn.Module):
    """Residual blocks of causal dilated convolutions (kernel 3, dilations 1, 2, 4, ...) over
    ``[N, T, D]``; frame t reads frames t - receptive_field + 1 .. t only."""

    def __init__(self, dim: int, depth: int, dropout: float) -> None:
        super().__init__()
        self.dilations = [2**i for i in range(depth)]
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in self.dilations)
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, 3, dilation=d) for d in self.dilations)
        self.projs = nn.ModuleList(nn.Conv1d(dim, dim, 1) for _ in self.dilations)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        for i, d in enumerate(self.dilations):
            h = F.pad(F.gelu(self.norms[i](x)).transpose(1, 2), (2 * d, 0))
            x = x + self.drop(self.projs[i](F.gelu(self.convs[i](h))).transpose(1, 2))
        return x


class ModalityAwareAttention(nn.Module):
    """Cross-attention from queries to the tokens of several modalities (the seed's eqs.
    7-10): one query projection ``q`` shared by all modalities, a key and a value projection
    per modality (``k[m]``, ``v[m]``), one softmax over all tokens together."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(dim, dim)
        self.k = nn.ModuleDict({m: nn.Linear(dim, dim) for m in MODALITIES})
        self.v = nn.ModuleDict({m: nn.Linear(dim, dim) for m in MODALITIES})
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, tokens: dict[str, Tensor]) -> Tensor:
        q = self._split(self.q(x))  # [N, heads, 22, D / heads]
        k = self._split(torch.cat([self.k[m](tokens[m]) for m in MODALITIES], 1))
        v = self._split(torch.cat([self.v[m](tokens[m]) for m in MODALITIES], 1))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out(y.transpose(1, 2).flatten(-2))

    def _split(self, t: Tensor) -> Tensor:
        return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)


def _mlp(dim: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, hidden),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, dim),
        nn.Dropout(dropout),
    )


class Block(nn.Module):
    """Pre-norm transformer layer: self-attention (with an additive ``bias``), then
    modality-aware cross-attention onto ``tokens`` when ``cross``, then feed-forward."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.self_norm, self.cross_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.cross_attn = ModalityAwareAttention(dim, heads, dropout) if cross else None
        self.ff = _mlp(dim, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, tokens: dict[str, Tensor] | None = None, bias: Tensor | None = None
    ) -> Tensor:
        x = x + self.drop(self.self_attn(self.self_norm(x), bias=bias))
        if self.cross_attn is not None and tokens is not None:
            x = x + self.drop(self.cross_attn(self.cross_norm(x), tokens))
        return x + self.ff(x)


class FusionDecoder(nn.Module):
    """Learned joint queries, ``depth`` fusion layers; after each, the shared regression head
    adds a correction to the pose (6D rotation + position per joint, head frame), which is
    embedded back into the queries for the next layer. Returns every layer's pose."""

    def __init__(self, dim: int, heads: int, ff: int, depth: int, dropout: float) -> None:
        super().__init__()
        self.queries = nn.Parameter(0.02 * torch.randn(NUM_JOINTS, dim))
        init = torch.tensor([*_IDENTITY_6D, 0.0, 0.0, 0.0]).repeat(NUM_JOINTS, 1)
        self.init_pose = nn.Parameter(init)  # [22, 9]
        self.token_norms = nn.ModuleDict({m: nn.LayerNorm(dim) for m in MODALITIES})
        self.layers = nn.ModuleList(Block(dim, heads, ff, dropout, True) for _ in range(depth))
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 9))
        self.pose_embed = nn.Linear(9, dim)

    def forward(self, tokens: dict[str, Tensor]) -> list[Tensor]:
        """``tokens[m] [N, n_m, D]`` (N = batch x frames) -> ``depth`` poses ``[N, 22, 9]``."""
        tokens = {m: self.token_norms[m](t) for m, t in tokens.items()}
        N = tokens["imu"].shape[0]
        x = self.queries.expand(N, -1, -1)
        pose = self.init_pose.repeat(N, 1, 1)  # not a view: FlopCounterMode hooks its input
        poses = []
        for layer in self.layers:
            x = layer(x + self.pose_embed(pose), tokens)
            pose = pose + self.head(x)
            poses.append(pose)
        return poses


# ----------------------------------------------------------------------------- stage 2


class TemporalRefiner(nn.Module):
    """Temporal transformer over per-frame global poses ``[B, T, F]``: in every layer frame t
    attends to frames t - window + 1 .. t (a sliding causal mask, so any T runs; stacked, the
    layers see depth x (window - 1) frames back), with a learned relative position bias.
    Returns a correction ``[B, T, 22, 9]`` (zero at initialization)."""

    def __init__(self, dim: int, heads: int, ff: int, depth: int, window: int, dropout: float):
        super().__init__()
        self.window = window
        self.inp = nn.Linear(GLOBAL_FEATURES, dim)
        self.pos_bias = RelativePositionBias(heads, window - 1)
        self.layers = nn.ModuleList(Block(dim, heads, ff, dropout, False) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, NUM_JOINTS * 9)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def attention_bias(self, T: int, device: torch.device) -> Tensor:
        """``[heads, T, T]``: the relative bias, ``-inf`` outside the causal window."""
        i = torch.arange(T, device=device)
        offset = i[None, :] - i[:, None]  # key - query
        allowed = (offset <= 0) & (offset > -self.window)
        return self.pos_bias(T, device).masked_fill(~allowed, float("-inf"))

    def forward(self, feats: Tensor) -> Tensor:
        x = self.inp(feats)
        bias = self.attention_bias(x.shape[1], x.device)
        for layer in self.layers:
            x = layer(x, bias=bias)
        return self.out(self.norm(x)).unflatten(-1, (NUM_JOINTS, 9))


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class SameConfig:
    """SAME sizes and loss weights; defaults are ``same`` (the seed's stage-2 sizes)."""

    name: str = "same"
    fps: float = 30.0
    window: int = 60  # frames per training window (any length runs)
    dropout: float = 0.1
    image_dim: int = 256  # per-view stereo image feature
    dim: int = 256  # stage-1 token / query width
    tcn_depth: int = 4  # dilations 1, 2, 4, 8: 31 frames of history per token
    fusion_layers: int = 3  # N, the decoder's iterations
    fusion_heads: int = 8
    fusion_ff: int = 1024
    temporal_dim: int = 256
    temporal_layers: int = 3
    temporal_heads: int = 8
    temporal_ff: int = 256
    temporal_window: int = 32  # frames each output frame attends to (itself and 31 before)
    lambda_local: float = 1.0
    lambda_global: float = 1.0
    lambda_ground: float = 1.0
    pos_weight: float = 10.0  # position (m^2) vs 6D rotation squared errors in each term

    def __post_init__(self) -> None:
        if self.temporal_window < 2 or self.fusion_layers < 1:
            raise EdgeSDKError(f"{self.name}: need temporal_window >= 2 and fusion_layers >= 1")


def _spec(c: SameConfig) -> ModelSpec:
    joints = ("batch", "time", NUM_JOINTS)
    return ModelSpec(
        inputs=(
            TensorSpec(
                "imu",
                ("batch", "time", NUM_SLOTS, 9),
                units="m/s^2, 6D",
                description="acc_world_mps2 (no gravity) + R_world_sensor 6D per slot",
            ),
            TensorSpec("mask", ("batch", "time", NUM_SLOTS), description="1 where present"),
            TensorSpec(
                "head",
                ("batch", "time", 9),
                units="m, 6D",
                description="head 6DoF "
                "pose, every frame: position (floor at y = 0) + R_world_head 6D",
            ),
            TensorSpec(
                "image_feat",
                ("batch", "time", NUM_VIEWS, c.image_dim),
                description="stereo (left, right) image features; none in this project",
            ),
            TensorSpec("image_mask", ("batch", "time", NUM_VIEWS), description="1 where given"),
        ),
        outputs=(
            TensorSpec(
                "R_world_joint_6d",
                (*joints, 6),
                units="6D",
                description="global joint rotations, world frame",
            ),
            TensorSpec(
                "pos_rel_m",
                (*joints, 3),
                units="m",
                description="joint positions minus the pelvis, world orientation",
            ),
        ),
        fps=c.fps,
        window=c.window,
        required_slots=("head",),
        notes="needs the head 6DoF pose in every frame (glasses worn); causal: frame t reads "
        f"frames <= t (TCN, then attention over {c.temporal_window} frames per layer)",
    )


class Same(MotionModel):
    """SAME: IMUs + head pose (+ stereo image features) -> full-body pose, in two stages.

    ``forward(imu, mask, head, image_feat, image_mask)`` gives ``(R_world_joint_6d,
    pos_rel_m)``; ``predict(batch)`` adds the absolute ``pos_m`` and stage 1's head-frame
    ``R_head_joint_6d`` and ``pos_head_m``. One training stage, ``"main"``.
    """

    config: SameConfig

    def __init__(self, config: SameConfig) -> None:
        super().__init__()
        self.config = c = config
        self.spec = _spec(c)
        self.imu_mlp = SlotMLP(NUM_SLOTS, SLOT_FEATURES, c.dim)
        self.imu_absent = nn.Parameter(0.02 * torch.randn(NUM_SLOTS, c.dim))
        self.head_mlp = SlotMLP(1, HEAD_FEATURES, c.dim)
        self.tcn = CausalTCN(c.dim, c.tcn_depth, c.dropout)
        self.image_proj = nn.Linear(c.image_dim, c.dim)
        self.view_embed = nn.Parameter(0.02 * torch.randn(NUM_VIEWS, c.dim))
        self.image_absent = nn.Parameter(0.02 * torch.randn(NUM_VIEWS, c.dim))
        self.decoder = FusionDecoder(c.dim, c.fusion_heads, c.fusion_ff, c.fusion_layers, c.dropout)
        self.refiner = TemporalRefiner(
            c.temporal_dim,
            c.temporal_heads,
            c.temporal_ff,
            c.temporal_layers,
            c.temporal_window,
            c.dropout,
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``forward``'s tensors from a batch; no ``image_feat`` means both views absent."""
        imu: Tensor = batch["imu"]
        B, T = imu.shape[:2]
        image_feat, image_mask = batch.get("image_feat"), batch.get("image_mask")
        if image_feat is None:
            image_feat = imu.new_zeros(B, T, NUM_VIEWS, self.config.image_dim)
            image_mask = imu.new_zeros(B, T, NUM_VIEWS)
        elif image_mask is None:
            image_mask = imu.new_ones(B, T, NUM_VIEWS)
        return imu, batch["mask"], batch["head"], image_feat, image_mask

    def tokens(
        self, imu: Tensor, mask: Tensor, head: Tensor, image_feat: Tensor, image_mask: Tensor
    ) -> dict[str, Tensor]:
        """Stage 1's tokens per frame, ``{"imu": [B*T, 5, D], "head": [B*T, 1, D], "image":
        [B*T, 2, D]}``, all in the head frame."""
        B = imu.shape[0]
        R_world_head, p_head = head_pose(head)
        local = imu_to_head_frame(imu, R_world_head)
        local = torch.cat([local[..., :3] * ACC_SCALE, local[..., 3:]], -1)
        present = mask[..., None] > 0.5
        imu_tok = torch.where(present, self.imu_mlp(local), self.imu_absent)  # [B, T, 5, D]
        head_feat = head_pose_features(R_world_head, p_head, self.config.fps)[:, :, None]
        streams = torch.cat([imu_tok, self.head_mlp(head_feat)], 2)  # [B, T, 6, D]
        streams = self.tcn(streams.transpose(1, 2).flatten(0, 1))  # [B*6, T, D]
        streams = streams.unflatten(0, (B, NUM_SLOTS + 1)).transpose(1, 2).flatten(0, 1)
        view_on = image_mask[..., None] > 0.5
        img = self.image_proj(image_feat * view_on) + self.view_embed
        img_tok = torch.where(view_on, img, self.image_absent).flatten(0, 1)
        return {"imu": streams[:, :NUM_SLOTS], "head": streams[:, NUM_SLOTS:], "image": img_tok}

    def stage1(self, *inputs: Tensor) -> list[Tensor]:
        """Every decoder layer's pose in the head frame ``[B, T, 22, 9]`` (6D + position)."""
        B, T = inputs[0].shape[:2]
        return [p.unflatten(0, (B, T)) for p in self.decoder(self.tokens(*inputs))]

    def stage2(self, local: Tensor, head: Tensor) -> dict[str, Tensor]:
        """Head-frame pose ``[B, T, 22, 9]`` -> world pose refined over time: ``R_world_joint
        [B, T, 22, 3, 3]`` and absolute joint positions ``pos_m [B, T, 22, 3]``."""
        R_world_head, p_head = head_pose(head)
        H = heading_rotation(R_world_head)
        H_T = H.transpose(-1, -2)[:, :, None]
        R_heading_head = H_T @ R_world_head[:, :, None]
        rot = matrix_to_6d(R_heading_head @ rot6d_to_matrix(local[..., :6]))
        pos = rotate(R_heading_head, local[..., 6:])  # joints - head, heading frame
        vel = rotate(H.transpose(-1, -2), _velocity(p_head, self.config.fps))
        yaw_rate = heading_cos_sin(_frame_delta(H))
        feats = torch.cat([rot.flatten(-2), pos.flatten(-2), p_head[..., 1:2], vel, yaw_rate], -1)
        refined = torch.cat([rot, pos], -1) + self.refiner(feats)
        R_world_joint = H[:, :, None] @ rot6d_to_matrix(refined[..., :6])
        pos_m = rotate(H[:, :, None], refined[..., 6:]) + p_head[:, :, None]
        return {"R_world_joint": R_world_joint, "pos_m": pos_m}

    def run(self, *inputs: Tensor) -> dict[str, Any]:
        """``predict``'s outputs and ``stage1``, every decoder layer's head-frame pose."""
        poses = self.stage1(*inputs)
        out = self.stage2(poses[-1], inputs[2])
        pos_m = out["pos_m"]
        return {
            "R_world_joint_6d": matrix_to_6d(out["R_world_joint"]),
            "pos_rel_m": pos_m - pos_m[:, :, :1],
            "pos_m": pos_m,
            "R_head_joint_6d": matrix_to_6d(rot6d_to_matrix(poses[-1][..., :6])),
            "pos_head_m": poses[-1][..., 6:],
            "stage1": poses,
        }

    def forward(
        self, imu: Tensor, mask: Tensor, head: Tensor, image_feat: Tensor, image_mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        out = self.run(imu, mask, head, image_feat, image_mask)
        return out["R_world_joint_6d"], out["pos_rel_m"]

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out = self.run(*self.inputs(batch))
        out.pop("stage1")
        return out

    # -- training

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """The one stage, ``"main"``: local + global + ground-penetration terms."""
        if stage not in self.stages:
            raise EdgeSDKError(f"{self.config.name}: unknown stage {stage!r}; {self.stages}")
        c = self.config
        out = self.run(*self.inputs(batch))
        R_world_head, p_head = head_pose(batch["head"])
        R_hw = R_world_head.transpose(-1, -2)[:, :, None]
        R_world_joint = rot6d_to_matrix(batch["R_world_joint_6d"])
        pos_m: Tensor = batch["pos_m"]
        rot_local = matrix_to_6d(R_hw @ R_world_joint)
        pos_local = rotate(R_hw, pos_m - p_head[:, :, None])
        local = torch.stack(
            [
                F.mse_loss(p[..., :6], rot_local) + c.pos_weight * F.mse_loss(p[..., 6:], pos_local)
                for p in out["stage1"]
            ]
        ).mean()
        glob = F.mse_loss(out["R_world_joint_6d"], batch["R_world_joint_6d"])
        glob = glob + c.pos_weight * F.mse_loss(out["pos_m"], pos_m)
        ground = ground_penetration(out["pos_m"])
        loss = c.lambda_local * local + c.lambda_global * glob + c.lambda_ground * ground
        with torch.no_grad():
            target_rel = pos_m - pos_m[:, :, :1]
            mpjpe = (out["pos_rel_m"] - target_rel).norm(dim=-1).mean() * 1000.0
        logs = {"loss": loss.item(), "local": local.item(), "global": glob.item()}
        return loss, {**logs, "ground": ground.item(), "mpjpe_mm": mpjpe.item()}


# ----------------------------------------------------------------------------- configs

SAME = SameConfig()
# No dropout: the windows' random yaw, devices and noise regularize, and on one CPU thread
# dropout's masks cost a fifth of a training step.
SAME_SMALL = SameConfig(
    name="same-small",
    dropout=0.0,
    image_dim=64,
    dim=64,
    fusion_layers=2,
    fusion_heads=4,
    fusion_ff=128,
    temporal_dim=64,
    temporal_layers=3,
    temporal_heads=4,
    temporal_ff=128,
)


def _create_same(default: SameConfig, **overrides: Any) -> Same:
    return Same(build_config(default, overrides))


@register_model(role="teacher", scale="paper", streaming=False)
def same(**overrides: Any) -> Same:
    """The seed's temporal transformer (3 layers, 8 heads, feed-forward 256, window 32); stage 1
    at 256-d with 3 fusion layers (8 heads), widths chosen here."""
    return _create_same(SAME, **overrides)


@register_model(role="teacher", scale="small", streaming=False)
def same_small(**overrides: Any) -> Same:
    """Trains in minutes on 2 CPU cores: 64-d, 2 fusion layers, temporal 3 x 64 (4 heads)."""
    return _create_same(SAME_SMALL, **overrides)

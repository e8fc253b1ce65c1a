"""Head2Body's pose representation and pose VQ-VAE (blocks for ``head2body.py``; also read by
MotionGRPO and the students).

A pose is 195 numbers per frame: the 22 global joint rotations (6D) and the 21 pelvis-relative
joint positions, both in the frame's heading frame (the yaw of the head). The VQ-VAE gives one
token per frame from dilated temporal convolutions, with an EMA codebook.

Example:
    >>> import torch
    >>> vqvae = PoseVQVAE(dim=16, depth=1, num_codes=8, decay=0.99)
    >>> tuple(vqvae.tokenize(torch.randn(2, 5, POSE_FEATURES)).shape)
    (2, 5)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS

ROT_FEATURES = NUM_JOINTS * 6
POSE_FEATURES = ROT_FEATURES + (NUM_JOINTS - 1) * 3  # the pelvis's relative position is 0


# ----------------------------------------------------------------------------- pose features


def pose_to_features(
    R_world_joint_6d: Tensor, pos_rel_m: Tensor, R_world_heading: Tensor
) -> Tensor:
    """``[B, T, 22, 6]``, ``[B, T, 22, 3]``, ``[B, T, 3, 3]`` -> ``[B, T, 195]``: global joint
    rotations (6D) and pelvis-relative positions of the 21 other joints, in the heading frame."""
    R_heading_world = R_world_heading.transpose(-1, -2)[..., None, :, :]
    R_heading_joint = R_heading_world @ rot6d_to_matrix(R_world_joint_6d)
    pos = (R_heading_world @ pos_rel_m[..., 1:, :, None])[..., 0]
    return torch.cat([matrix_to_6d(R_heading_joint).flatten(-2), pos.flatten(-2)], -1)


def features_to_pose(x: Tensor, R_world_heading: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of ``pose_to_features``: ``(R_world_joint_6d, pos_rel_m)`` with valid rotations
    (6D re-orthonormalized) and the pelvis at the origin."""
    lead = x.shape[:-1]
    R = R_world_heading[..., None, :, :]
    R_world_joint = R @ rot6d_to_matrix(x[..., :ROT_FEATURES].reshape(*lead, NUM_JOINTS, 6))
    pos = (R @ x[..., ROT_FEATURES:].reshape(*lead, NUM_JOINTS - 1, 3, 1))[..., 0]
    pos_rel_m = torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2)
    return matrix_to_6d(R_world_joint), pos_rel_m


# ----------------------------------------------------------------------------- pose VQ-VAE


class ResConv1d(nn.Module):
    """``x + conv1x1(relu(dilated_conv3(relu(x))))`` over ``[B, C, T]`` (T2M-GPT's block)."""

    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(dim, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.proj(F.relu(self.conv(F.relu(x))))


class EMAQuantizer(nn.Module):
    """Nearest-code vector quantizer whose codebook follows an exponential moving average of
    the encoder outputs assigned to each code (VQ-VAE-2); gradients pass straight through.

    In training mode ``forward`` also updates the codebook: it is initialized from the first
    batch, and a code whose moving-average usage falls below ``restart_below`` frames per step
    is restarted at a random encoder output of the batch (as in T2M-GPT), so no code stays dead
    and a drifting encoder cannot collapse the codebook onto a few entries.
    """

    restart_below = 1.0
    codebook: Tensor
    ema_count: Tensor
    ema_sum: Tensor
    initialized: Tensor

    def __init__(self, num_codes: int, dim: int, decay: float = 0.99) -> None:
        super().__init__()
        self.num_codes, self.decay = num_codes, decay
        self.register_buffer("codebook", torch.randn(num_codes, dim))
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialized", torch.tensor(False))

    def nearest(self, z: Tensor) -> Tensor:
        """``[..., D] -> [...]`` index of the nearest code (Euclidean)."""
        flat = z.reshape(-1, z.shape[-1])
        dist = (
            flat.pow(2).sum(-1, keepdim=True)
            - 2.0 * flat @ self.codebook.T
            + self.codebook.pow(2).sum(-1)[None]
        )
        return dist.argmin(-1).reshape(z.shape[:-1])

    def lookup(self, index: Tensor) -> Tensor:
        return F.embedding(index, self.codebook)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z [..., D] -> (straight-through z_q, index, commitment loss)``."""
        flat = z.detach().reshape(-1, z.shape[-1])
        if self.training and not bool(self.initialized):
            self._init_from(flat)
        index = self.nearest(z)
        z_q = self.lookup(index)
        if self.training:
            self._update(flat, index.reshape(-1))
        commit = F.mse_loss(z, z_q.detach())
        return z + (z_q - z).detach(), index, commit

    @torch.no_grad()
    def _init_from(self, flat: Tensor) -> None:
        pick = flat[torch.randint(0, flat.shape[0], (self.num_codes,), device=flat.device)]
        self.codebook.copy_(pick + 1e-3 * torch.randn_like(pick))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, flat: Tensor, index: Tensor) -> None:
        onehot = F.one_hot(index, self.num_codes).to(flat.dtype)
        self.ema_count.mul_(self.decay).add_(onehot.sum(0), alpha=1.0 - self.decay)
        self.ema_sum.mul_(self.decay).add_(onehot.T @ flat, alpha=1.0 - self.decay)
        # Laplace smoothing keeps rarely used codes from dividing by ~0.
        n = self.ema_count.sum()
        count = (self.ema_count + 1e-5) / (n + self.num_codes * 1e-5) * n
        self.codebook.copy_(self.ema_sum / count[:, None])
        dead = self.ema_count < self.restart_below
        pick = flat[torch.randint(0, flat.shape[0], (self.num_codes,), device=flat.device)]
        self.codebook.copy_(torch.where(dead[:, None], pick, self.codebook))
        self.ema_sum.copy_(torch.where(dead[:, None], pick, self.ema_sum))
        self.ema_count.copy_(torch.where(dead, torch.ones_like(self.ema_count), self.ema_count))


class PoseVQVAE(nn.Module):
    """One token per frame: dilated temporal convolutions encode ``[B, T, 195]`` pose features
    into ``[B, T, D]``, a codebook quantizes them, a mirrored stack decodes. A token sees
    +-(3^depth + 1)/2 frames (+-14 at depth 3), so it codes a short motion, not a still pose."""

    def __init__(self, dim: int, depth: int, num_codes: int, decay: float) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(POSE_FEATURES, dim, 3, padding=1),
            *[ResConv1d(dim, 3**i) for i in range(depth)],
            nn.ReLU(),
            nn.Conv1d(dim, dim, 1),
        )
        self.quantizer = EMAQuantizer(num_codes, dim, decay)
        self.decoder = nn.Sequential(
            nn.Conv1d(dim, dim, 3, padding=1),
            *[ResConv1d(dim, 3**i) for i in reversed(range(depth))],
            nn.ReLU(),
            nn.Conv1d(dim, POSE_FEATURES, 3, padding=1),
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.transpose(1, 2)).transpose(1, 2)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z.transpose(1, 2)).transpose(1, 2)

    def tokenize(self, x: Tensor) -> Tensor:
        """Pose features ``[B, T, 195]`` -> tokens ``[B, T]`` (no codebook update)."""
        return self.quantizer.nearest(self.encode(x))

    def detokenize(self, tokens: Tensor) -> Tensor:
        """Tokens ``[B, T]`` -> pose features ``[B, T, 195]``."""
        return self.decode(self.quantizer.lookup(tokens))

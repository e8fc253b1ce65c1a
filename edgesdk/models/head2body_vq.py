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
from torch import Tensor, nn

from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.models.layers.conv import res_blocks
from edgesdk.models.layers.quantizers import EMAQuantizer

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


class PoseVQVAE(nn.Module):
    """One token per frame: dilated temporal convolutions encode ``[B, T, 195]`` pose features
    into ``[B, T, D]``, a codebook quantizes them, a mirrored stack decodes. A token sees
    +-(3^depth + 1)/2 frames (+-14 at depth 3), so it codes a short motion, not a still pose."""

    def __init__(self, dim: int, depth: int, num_codes: int, decay: float) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(POSE_FEATURES, dim, 3, padding=1),
            *res_blocks(dim, depth),
            nn.ReLU(),
            nn.Conv1d(dim, dim, 1),
        )
        self.quantizer = EMAQuantizer(num_codes, dim, decay)
        self.decoder = nn.Sequential(
            nn.Conv1d(dim, dim, 3, padding=1),
            *res_blocks(dim, depth, reverse=True),
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

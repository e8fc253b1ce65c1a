"""Ego4o's motion representation and its part-aware VQ-VAE (blocks for ``ego4o.py``).

Motion features (HumanML3D-style, one vector per frame, built from the batch targets): the
window is turned about the vertical so that the pelvis faces +Z at its first frame (the
"heading-canonical" frame; its yaw is kept apart as ``heading = (cos, sin)``). Then, per joint:

- ``rot6d`` (6): the joint's global rotation in the canonical frame, 6D;
- ``pos_rel`` (3): joint minus pelvis position, canonical frame, metres x 4 (zero for the
  pelvis);
- ``vel`` (3): the joint's velocity in the canonical frame (backward difference), m/s x 0.4;

and three scalars: the pelvis height above the floor (m, with the torso) and the left / right
foot contact labels (0/1, with the left / right leg). Joints are grouped by
``edgesdk.body.skeleton.BODY_PARTS``: a part's features are its joints' 12 values each plus
its scalars (head 24, each arm 48, torso 49, each leg 49; 267 in all).

The pelvis's own velocity is the root velocity, so the decoded features also give a root
trajectory (integrated from the first frame) for the test-time IMU objective.

Example:
    >>> import torch
    >>> from edgesdk.body.rotations import matrix_to_6d
    >>> feats = MotionFeatures(fps=30.0)
    >>> R = matrix_to_6d(torch.eye(3).expand(1, 8, 22, 3, 3))
    >>> x, heading = feats.encode(R, torch.rand(1, 8, 22, 3), torch.zeros(1, 8, 2))
    >>> tuple(x.shape), heading.tolist()
    ((1, 8, 267), [[1.0, 0.0]])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edgesdk.body.heading import heading_cos_sin, yaw_matrix
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import BODY_PARTS, NUM_JOINTS
from edgesdk.models.layers.conv import res_blocks
from edgesdk.models.layers.quantizers import PartQuantizer

PART_NAMES: tuple[str, ...] = tuple(BODY_PARTS)
NUM_PARTS = len(PART_NAMES)
FEATURES_PER_JOINT = 12  # rot6d, pos_rel, vel
# Fixed scales that bring positions (std ~0.08 m on the shared mocap) and velocities (std
# ~0.7 m/s) to the spread of the 6D rotations (std ~0.3), so no feature type dominates the loss.
POS_SCALE = 4.0  # per metre
VEL_SCALE = 0.4  # per m/s
DOWNSAMPLE = 4  # two stride-2 convolutions
_PART_SCALARS: dict[str, tuple[str, ...]] = {
    "torso": ("root_height",),
    "left_leg": ("contact_left",),
    "right_leg": ("contact_right",),
}


def _layout() -> tuple[list[list[int]], dict[str, int], list[tuple[int, int]]]:
    """Feature index of every joint value (``[22][12]``), of each scalar, and part slices."""
    joint_idx: list[list[int]] = [[] for _ in range(NUM_JOINTS)]
    scalar_idx: dict[str, int] = {}
    slices: list[tuple[int, int]] = []
    offset = 0
    for part, joints in BODY_PARTS.items():
        start = offset
        for j in joints:
            joint_idx[j] = list(range(offset, offset + FEATURES_PER_JOINT))
            offset += FEATURES_PER_JOINT
        for name in _PART_SCALARS.get(part, ()):
            scalar_idx[name] = offset
            offset += 1
        slices.append((start, offset))
    if any(not idx for idx in joint_idx):
        raise ValueError("BODY_PARTS must cover every joint exactly once")
    return joint_idx, scalar_idx, slices


_JOINT_IDX, _SCALAR_IDX, PART_SLICES = _layout()
FEATURE_DIM = PART_SLICES[-1][1]


class MotionFeatures(nn.Module):
    """Targets <-> per-frame features (see the module docstring); holds only index tables."""

    def __init__(self, fps: float) -> None:
        super().__init__()
        self.fps = fps
        idx = torch.tensor(_JOINT_IDX)
        self.register_buffer("rot_idx", idx[:, :6], persistent=False)
        self.register_buffer("pos_idx", idx[:, 6:9], persistent=False)
        self.register_buffer("vel_idx", idx[:, 9:], persistent=False)
        # Scatter order for encode: the feature slot of each value in the concatenated list.
        scalars = [_SCALAR_IDX[k] for k in ("root_height", "contact_left", "contact_right")]
        order = torch.cat([idx.flatten(), torch.tensor(scalars)])
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        self.rot_idx: Tensor
        self.pos_idx: Tensor
        self.vel_idx: Tensor
        self.inverse: Tensor

    def encode(
        self, R_world_joint_6d: Tensor, pos_m: Tensor, contact: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Targets ``[B, T, 22, 6]``, ``[B, T, 22, 3]``, ``[B, T, 2]`` -> features
        ``[B, T, FEATURE_DIM]`` and the first-frame pelvis heading ``[B, 2]``."""
        R_world_joint = rot6d_to_matrix(R_world_joint_6d)
        heading = heading_cos_sin(R_world_joint[:, 0, 0], eps=1e-3)
        R_canon_world = yaw_matrix(heading).transpose(-1, -2)[:, None, None]
        rot = matrix_to_6d(R_canon_world @ R_world_joint)
        pos = (R_canon_world @ pos_m[..., None])[..., 0]
        rel = (pos - pos[..., :1, :]) * POS_SCALE
        vel = (pos[:, 1:] - pos[:, :-1]) * (self.fps * VEL_SCALE)
        vel = torch.cat([vel[:, :1], vel], 1)
        per_joint = torch.cat([rot, rel, vel], -1)  # [B, T, 22, 12]
        scalars = torch.stack([pos_m[..., 0, 1], contact[..., 0], contact[..., 1]], -1)
        flat = torch.cat([per_joint.flatten(-2), scalars], -1)
        return flat[..., self.inverse], heading

    def decode(self, feat: Tensor, heading: Tensor) -> dict[str, Tensor]:
        """Features ``[B, T, F]`` and heading ``[B, 2]`` -> world-frame motion:
        ``R_world_joint_6d``, ``pos_rel_m`` (pelvis at the origin, world orientation),
        ``root_pos_m`` (pelvis trajectory, horizontally from 0 at the first frame, true
        height) and ``contact`` (decoded foot contact, about 0/1)."""
        R_world_canon = yaw_matrix(heading)[:, None, None]
        R_world_joint = R_world_canon @ rot6d_to_matrix(feat[..., self.rot_idx])
        rel = (R_world_canon @ feat[..., self.pos_idx][..., None])[..., 0] / POS_SCALE
        rel = torch.cat([torch.zeros_like(rel[..., :1, :]), rel[..., 1:, :]], -2)
        root_vel = feat[..., self.vel_idx[0]] / VEL_SCALE  # canonical frame, m/s
        step = torch.cat([torch.zeros_like(root_vel[:, :1]), root_vel[:, 1:]], 1) / self.fps
        travel = torch.cumsum(step, 1)
        height = feat[..., _SCALAR_IDX["root_height"]]
        root = torch.stack([travel[..., 0], height, travel[..., 2]], -1)
        root = (R_world_canon[:, :, 0] @ root[..., None])[..., 0]
        contact = feat[..., [_SCALAR_IDX["contact_left"], _SCALAR_IDX["contact_right"]]]
        return {
            "R_world_joint_6d": matrix_to_6d(R_world_joint),
            "pos_rel_m": rel,
            "root_pos_m": root,
            "contact": contact,
        }


class PartEncoder(nn.Module):
    """One body part's features ``[B, C, T]`` -> latents ``[B, code_dim, T / 4]``."""

    def __init__(self, in_dim: int, width: int, code_dim: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(2):
            layers += [
                nn.Conv1d(width, width, 4, stride=2, padding=1),
                nn.Sequential(*res_blocks(width, depth)),
            ]
        layers.append(nn.Conv1d(width, code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class MotionDecoder(nn.Module):
    """All six parts' latents ``[B, 6 * code_dim, T / 4]`` -> full-body features ``[B, F, T]``."""

    def __init__(self, code_dim: int, width: int, out_dim: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(NUM_PARTS * code_dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(2):
            layers += [
                nn.Sequential(*res_blocks(width, depth, reverse=True)),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(width, width, 3, padding=1),
            ]
        layers += [nn.Conv1d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv1d(width, out_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        out: Tensor = self.net(z)
        return out


class PartVQVAE(nn.Module):
    """Six part encoders and codebooks, one shared decoder; time is downsampled x4."""

    def __init__(
        self, num_codes: int, code_dim: int, width: int, depth: int, ema_decay: float
    ) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(
            PartEncoder(stop - start, width, code_dim, depth) for start, stop in PART_SLICES
        )
        self.quantizer = PartQuantizer(NUM_PARTS, num_codes, code_dim, ema_decay)
        self.decoder = MotionDecoder(code_dim, width, FEATURE_DIM, depth)

    def encode(self, feat: Tensor) -> Tensor:
        """Features ``[B, T, F]`` -> continuous latents ``[B, 6, T / 4, D]``."""
        x = feat.transpose(1, 2)
        z = [enc(x[:, a:b]) for enc, (a, b) in zip(self.encoders, PART_SLICES, strict=True)]
        return torch.stack(z, 1).transpose(2, 3)

    def decode(self, z: Tensor) -> Tensor:
        """Latents ``[B, 6, T / 4, D]`` -> features ``[B, T, F]``."""
        out: Tensor = self.decoder(z.permute(0, 1, 3, 2).flatten(1, 2))
        return out.transpose(1, 2)

    def decode_frozen(self, z: Tensor) -> Tensor:
        """``decode`` with the decoder's weights detached: gradients reach ``z`` only, so
        stages and optimizations that keep the decoder frozen leave no grads on it."""
        params = {k: v.detach() for k, v in self.decoder.named_parameters()}
        x = z.permute(0, 1, 3, 2).flatten(1, 2)
        out: Tensor = torch.func.functional_call(self.decoder, params, (x,))
        return out.transpose(1, 2)

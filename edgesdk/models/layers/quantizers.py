"""Vector quantizers whose codebooks are learned by exponential moving averages (VQ-VAE-2,
T2M-GPT), shared by the motion VQ-VAEs: ``EMAQuantizer`` (one codebook; Head2Body's pose
tokens, read by MotionGRPO) and ``PartQuantizer`` (one codebook per body part; Ego4o).

Both find the nearest code, pass gradients straight through (``straight_through``) and restart
codes that fall out of use at random encoder outputs of the batch. Their EMA rules differ on
purpose and are kept apart rather than merged behind flags, because each family's trained
checkpoints and published numbers come from its own rule: ``EMAQuantizer`` smooths the counts
(Laplace) and restarts dead codes exactly at a latent; ``PartQuantizer`` divides by the raw
count and adds a little noise to a restarted code.

Example:
    >>> import torch
    >>> vq = EMAQuantizer(num_codes=8, dim=4).eval()
    >>> z_q, index, commit = vq(torch.randn(2, 5, 4))
    >>> tuple(z_q.shape), tuple(index.shape), commit.ndim
    ((2, 5, 4), (2, 5), 0)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def straight_through(z: Tensor, z_q: Tensor) -> tuple[Tensor, Tensor]:
    """``(z_q with z's gradient, commitment loss ||z - sg(z_q)||^2)``."""
    commit = F.mse_loss(z, z_q.detach())
    return z + (z_q - z).detach(), commit


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
        z_st, commit = straight_through(z, z_q)
        return z_st, index, commit

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


class Quantized(NamedTuple):
    z_q: Tensor  # [B, P, S, D] straight-through quantized latents
    indices: Tensor  # [B, P, S] code indices
    commit_loss: Tensor  # scalar
    perplexity: Tensor  # scalar, mean over parts


class PartQuantizer(nn.Module):
    """One codebook ``[N, D]`` per part, kept as buffers and learned by EMA (as in T2M-GPT):
    initialized from the first batch's latents; codes used less than once per EMA horizon are
    reset to random latents of the current batch."""

    def __init__(self, num_parts: int, num_codes: int, code_dim: int, decay: float) -> None:
        super().__init__()
        self.num_codes, self.decay = num_codes, decay
        # Random until the first VQ-VAE step replaces it with latents of real motion, so that
        # an untrained model still maps different codes to different motions.
        self.register_buffer("codebook", torch.randn(num_parts, num_codes, code_dim))
        self.register_buffer("code_sum", torch.zeros(num_parts, num_codes, code_dim))
        self.register_buffer("code_count", torch.zeros(num_parts, num_codes))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self.codebook: Tensor
        self.code_sum: Tensor
        self.code_count: Tensor
        self.initialized: Tensor

    def nearest(self, z: Tensor) -> Tensor:
        """``[B, P, S, D]`` -> indices ``[B, P, S]`` of the nearest code of each part."""
        dist = (
            z.pow(2).sum(-1, keepdim=True)
            - 2 * torch.einsum("bpsd,pnd->bpsn", z, self.codebook)
            + self.codebook.pow(2).sum(-1)[None, :, None, :]
        )
        return dist.argmin(-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """Indices ``[B, P, S]`` -> codes ``[B, P, S, D]``."""
        part = torch.arange(indices.shape[1], device=indices.device)[None, :, None]
        return self.codebook[part, indices]

    def mix(self, weights: Tensor) -> Tensor:
        """Soft or one-hot weights ``[B, P, S, N]`` -> codes ``[B, P, S, D]``."""
        return torch.einsum("bpsn,pnd->bpsd", weights, self.codebook)

    def forward(self, z: Tensor, update: bool) -> Quantized:
        flat = z.detach().transpose(0, 1).flatten(1, 2)  # [P, M, D]
        if update and not bool(self.initialized):
            self._reset(flat, torch.ones_like(self.code_count, dtype=torch.bool))
            self.initialized.fill_(True)
        indices = self.nearest(z)
        onehot = F.one_hot(indices, self.num_codes).to(z.dtype)
        if update:
            self._ema(flat, onehot.transpose(0, 1).flatten(1, 2))
        z_q = self.lookup(indices)
        z_st, commit = straight_through(z, z_q)
        probs = onehot.mean((0, 2))  # [P, N]
        perplexity = torch.exp(-(probs * (probs + 1e-10).log()).sum(-1)).mean()
        return Quantized(z_st, indices, commit, perplexity)

    @torch.no_grad()
    def _ema(self, flat: Tensor, onehot: Tensor) -> None:
        self.code_sum.mul_(self.decay).add_(onehot.transpose(1, 2) @ flat, alpha=1 - self.decay)
        self.code_count.mul_(self.decay).add_(onehot.sum(1), alpha=1 - self.decay)
        used = self.code_count >= 1.0
        self.codebook.copy_(self.code_sum / self.code_count.clamp_min(1e-6)[..., None])
        self._reset(flat, ~used)

    @torch.no_grad()
    def _reset(self, flat: Tensor, dead: Tensor) -> None:
        """Codes where ``dead [P, N]`` restart at random latents of this batch."""
        pick = torch.randint(flat.shape[1], dead.shape, device=flat.device)
        fresh = torch.gather(flat, 1, pick[..., None].expand(-1, -1, flat.shape[-1]))
        # A little noise keeps codes reset from the same latent apart.
        fresh = fresh + 1e-3 * torch.randn_like(fresh) * flat.std().clamp_min(1e-6)
        self.codebook.copy_(torch.where(dead[..., None], fresh, self.codebook))
        self.code_sum.copy_(torch.where(dead[..., None], fresh, self.code_sum))
        self.code_count.copy_(torch.where(dead, torch.ones_like(self.code_count), self.code_count))

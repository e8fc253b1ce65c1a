"""MotionGRPO's diffusion pieces: invariant head conditioning, the cosine noise schedule, the
x0-prediction transformer denoiser and the DDIM / SDE sampler.

The sampler's step from timestep ``t`` to ``t_prev`` (``-1``: the clean sample) with the
denoiser's ``x0_hat`` is DDIM's update written as one Gaussian transition

    x_prev ~ N(A x_t + B x0_hat, sigma^2 I),
    sigma = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev),
    A = sqrt(1 - a_prev - sigma^2) / sqrt(1 - a_t),  B = sqrt(a_prev) - A sqrt(a_t),

(``a`` = alpha_bar): ``eta = 0`` is deterministic DDIM, ``eta = 1`` the DDPM-like ancestral
SDE. GRPO reads the log-probability of each sampled transition under this Gaussian.

Example:
    >>> abar = cosine_alphas_cumprod(1000)
    >>> sampling_timesteps(1000, 4)
    [999, 749, 499, 249]
    >>> A, B, sigma = ddim_coeffs(abar, 249, -1, eta=1.0)
    >>> (round(A, 6), round(B, 6), sigma)
    (0.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.errors import EdgeSDKError
from edgesdk.models.head2body_vq import POSE_FEATURES
from edgesdk.models.layers.transformer import TransformerLayer, sinusoidal_positions

COND_FEATURES = 28

# ----------------------------------------------------------------------------- conditioning


def head_conditioning(head: Tensor, fps: float) -> tuple[Tensor, Tensor]:
    """``head [B, T, 9]`` -> invariant conditioning ``[B, T, 28]`` and ``R_world_heading
    [B, T, 3, 3]`` (the head's yaw per frame)."""
    p, R = head[..., :3], rot6d_to_matrix(head[..., 3:9])
    H = heading_rotation(R)
    Ht = H.transpose(-1, -2)
    R_prev = torch.cat([R[:, :1], R[:, :-1]], 1)
    dp = torch.cat([torch.zeros_like(p[:, :1]), p[:, 1:] - p[:, :-1]], 1)
    H0t = Ht[:, :1]
    feats = [
        matrix_to_6d(Ht @ R),  # tilt: pitch and roll
        p[..., 1:2],  # height above the floor (y = 0)
        matrix_to_6d(R_prev.transpose(-1, -2) @ R),  # turn since the previous frame
        (R_prev.transpose(-1, -2) @ dp[..., None])[..., 0] * fps,
        (Ht @ dp[..., None])[..., 0] * fps,
        (H0t @ (p - p[:, :1])[..., None])[..., 0],  # pose relative to the first frame
        matrix_to_6d(H0t @ R),
    ]
    return torch.cat(feats, -1), H


# ----------------------------------------------------------------------------- diffusion


def cosine_alphas_cumprod(timesteps: int, s: float = 0.008) -> list[float]:
    """``alpha_bar_t`` for t = 0 .. timesteps-1 (Nichol & Dhariwal 2021, betas clipped at
    0.999)."""
    f = [math.cos((t / timesteps + s) / (1 + s) * math.pi / 2) ** 2 for t in range(timesteps + 1)]
    out, prod = [], 1.0
    for t in range(timesteps):
        prod *= 1.0 - min(1.0 - f[t + 1] / f[t], 0.999)
        out.append(prod)
    return out


def sampling_timesteps(timesteps: int, steps: int) -> list[int]:
    """``steps`` evenly spaced timesteps, descending: ``[T-1, ..., T/steps - 1]``."""
    if not 1 <= steps <= timesteps:
        raise EdgeSDKError(f"sampling steps must be in 1..{timesteps}, got {steps}")
    return [(steps - i) * timesteps // steps - 1 for i in range(steps)]


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """``[N]`` timesteps -> ``[N, dim]`` sinusoidal features."""
    half = dim // 2
    freq = torch.exp(-math.log(1e4) * torch.arange(half, device=t.device, dtype=t.dtype) / half)
    angle = t[:, None] * freq
    return torch.cat([torch.sin(angle), torch.cos(angle)], -1)


class Denoiser(nn.Module):
    """x0-prediction transformer: ``(x_t [N, T, 195], t [N], cond [N, T, 28]) -> x0_hat``.

    Each frame's token is the sum of the projected noisy pose, the projected condition, the
    timestep embedding and a sinusoidal position; bidirectional pre-norm layers follow."""

    def __init__(self, dim: int, depth: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.dim = dim
        self.x_proj = nn.Linear(POSE_FEATURES, dim)
        self.cond_proj = nn.Sequential(
            nn.Linear(COND_FEATURES, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.t_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.layers = nn.ModuleList(
            TransformerLayer(dim, heads, dropout, cross=False) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, POSE_FEATURES)

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        h = self.x_proj(x_t) + self.cond_proj(cond)
        h = h + self.t_mlp(timestep_embedding(t, self.dim))[:, None]
        h = h + sinusoidal_positions(h.shape[1], self.dim, h)
        for layer in self.layers:
            h = layer(h)
        return self.head(self.norm(h))


class Transition(NamedTuple):
    """One stochastic sampler step ``x_t -> x_prev ~ N(mean, sigma^2 I)``."""

    t: int
    t_prev: int
    x_t: Tensor
    x_prev: Tensor
    mean: Tensor
    sigma: float


def ddim_coeffs(abar: list[float], t: int, t_prev: int, eta: float) -> tuple[float, float, float]:
    """``(A, B, sigma)`` of the step ``x_prev ~ N(A x_t + B x0_hat, sigma^2 I)``."""
    a_t = abar[t]
    a_prev = abar[t_prev] if t_prev >= 0 else 1.0
    sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
    A = math.sqrt(max(1 - a_prev - sigma**2, 0.0)) / math.sqrt(1 - a_t)
    return A, math.sqrt(a_prev) - A * math.sqrt(a_t), sigma


def run_sampler(
    net: nn.Module,
    abar: list[float],
    cond: Tensor,
    x: Tensor,
    steps: int,
    eta: float,
    generator: torch.Generator | None = None,
    record: bool = False,
) -> tuple[Tensor, list[Transition]]:
    """From ``x`` (noise at t = T-1) to x0 in ``steps`` denoiser passes; with ``record``, also
    the stochastic transitions (those with sigma > 0; the last step to t = 0 has none)."""
    ts = sampling_timesteps(len(abar), steps)
    transitions: list[Transition] = []
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        A, B, sigma = ddim_coeffs(abar, t, t_prev, eta)
        t_in = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
        mean = A * x + B * net(x, t_in, cond)
        if sigma > 0:
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            x_prev = mean + sigma * z
            if record:
                transitions.append(Transition(t, t_prev, x, x_prev, mean, sigma))
        else:
            x_prev = mean
        x = x_prev
    return x, transitions

"""Transformer pieces shared by the token and diffusion models: a pre-norm layer (self-,
optional cross-attention, feed-forward), its feed-forward, and fixed sinusoidal positions.

Example:
    >>> import torch
    >>> layer = TransformerLayer(dim=16, heads=4, dropout=0.0, cross=True)
    >>> tuple(layer(torch.randn(2, 5, 16), memory=torch.randn(2, 7, 16), causal=True).shape)
    (2, 5, 16)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from edgesdk.models.layers.attention import MultiHeadAttention


class FeedForward(nn.Module):
    """Pre-norm position-wise MLP with swish (the Conformer's) or GELU."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0, act: str = "silu") -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, mult * dim),
            nn.SiLU() if act == "silu" else nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mult * dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def sinusoidal_positions(length: int, dim: int, like: Tensor) -> Tensor:
    """``[length, dim]`` fixed sine/cosine positions (Vaswani et al.), interleaved."""
    pos = torch.arange(length, device=like.device, dtype=like.dtype)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=like.device, dtype=like.dtype) * (-math.log(1e4) / dim)
    )
    return torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], -1).flatten(-2)


class TransformerLayer(nn.Module):
    """Pre-norm layer: self-attention (causal for the decoder), cross-attention to the
    encoder's output when ``cross``, feed-forward."""

    def __init__(self, dim: int, heads: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.cross_norm = nn.LayerNorm(dim) if cross else None
        self.cross_attn = MultiHeadAttention(dim, heads, dropout) if cross else None
        self.ff = FeedForward(dim, dropout=dropout, act="gelu")
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor | None = None, causal: bool = False) -> Tensor:
        x = x + self.drop(self.self_attn(self.self_norm(x), causal=causal))
        if self.cross_attn is not None and self.cross_norm is not None:
            x = x + self.drop(self.cross_attn(self.cross_norm(x), context=memory))
        return x + self.ff(x)

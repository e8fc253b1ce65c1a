"""Conformer blocks for IMU streams, and BEST-RQ masked pre-training pieces.

A Conformer (Gulati et al., Interspeech 2020) layer is a macaron sandwich: half-step
feed-forward, self-attention, a convolution module, half-step feed-forward, LayerNorm. The
input stage follows wav2vec 2.0: GroupNorm, strided 1-D convolutions that bring a high-rate
sensor stream down to the frame rate, GroupNorm. BEST-RQ (Chiu et al., ICML 2022) pre-trains
such an encoder with labels from a frozen random-projection quantizer of the input, predicted
at masked frames.

Head2Body (``edgesdk.models.head2body``) uses these for its head-IMU encoder; the blocks are
generic so other teachers can reuse them.

Example:
    >>> import torch
    >>> enc = Conformer(dim=32, depth=2, heads=4, conv_kernel=7)
    >>> feats = ConvFeatureExtractor(in_channels=12, dim=32)(torch.randn(2, 64, 12))
    >>> tuple(enc(feats).shape)
    (2, 8, 32)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.models.layers.attention import MultiHeadAttention, RelativePositionBias
from edgesdk.models.layers.transformer import FeedForward


class ConvModule(nn.Module):
    """LayerNorm, pointwise conv + GLU, depthwise conv, BatchNorm, swish, pointwise conv."""

    def __init__(self, dim: int, kernel: int, dropout: float = 0.0) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv kernel must be odd to keep the length, got {kernel}")
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.batch_norm = nn.BatchNorm1d(dim)
        self.pointwise_out = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        y = F.glu(self.pointwise_in(self.norm(x).transpose(1, 2)), dim=1)
        y = F.silu(self.batch_norm(self.depthwise(y)))
        return self.drop(self.pointwise_out(y).transpose(1, 2))


class ConformerBlock(nn.Module):
    """``x + FF/2, x + MHSA, x + Conv, x + FF/2, LayerNorm`` over ``[B, T, D]``."""

    def __init__(self, dim: int, heads: int, conv_kernel: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.ff1 = FeedForward(dim, dropout=dropout)
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.attn_drop = nn.Dropout(dropout)
        self.conv = ConvModule(dim, conv_kernel, dropout)
        self.ff2 = FeedForward(dim, dropout=dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, pos_bias: Tensor) -> Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn_drop(self.attn(self.attn_norm(x), bias=pos_bias))
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class Conformer(nn.Module):
    """A stack of Conformer blocks sharing one relative-position bias: ``[B, T, D] -> same``."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        conv_kernel: int = 31,
        dropout: float = 0.0,
        max_offset: int = 64,
    ) -> None:
        super().__init__()
        self.pos_bias = RelativePositionBias(heads, max_offset)
        self.blocks = nn.ModuleList(
            ConformerBlock(dim, heads, conv_kernel, dropout) for _ in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        bias = self.pos_bias(x.shape[1], x.device).to(x.dtype)
        for block in self.blocks:
            x = block(x, bias)
        return x


class ConvFeatureExtractor(nn.Module):
    """GroupNorm, three stride-2 1-D convolutions (8x fewer steps), GroupNorm: ``[B, 8T, C_in]
    -> [B, T, dim]``.

    The GroupNorms have one group, so they remove only a per-window offset and scale and keep
    the relative size of every channel (a per-channel norm would erase a constant posture).
    ``mask [B, 8T]`` (True = masked) replaces the normalized input by N(0, 0.1^2) noise, as
    BEST-RQ does to its masked frames.
    """

    downsample = 8

    def __init__(self, in_channels: int, dim: int, kernel: int = 5) -> None:
        super().__init__()
        self.in_norm = nn.GroupNorm(1, in_channels)
        # kernel 5, padding 2, stride 2 halves any even length exactly: 8T -> 4T -> 2T -> T.
        self.convs = nn.ModuleList(
            nn.Conv1d(c, dim, kernel, stride=2, padding=kernel // 2)
            for c in (in_channels, dim, dim)
        )
        self.out_norm = nn.GroupNorm(1, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        y = self.in_norm(x.transpose(1, 2))
        if mask is not None:
            y = torch.where(mask[:, None, :], 0.1 * torch.randn_like(y), y)
        for conv in self.convs:
            y = F.gelu(conv(y))
        return self.out_norm(y).transpose(1, 2)


class RandomProjectionQuantizer(nn.Module):
    """BEST-RQ's frozen target maker: stacked input frames, standardized per channel over the
    window, projected by a fixed random matrix; the label is the nearest code of a fixed random
    codebook on the unit sphere.

    Both tensors come from ``seed`` (not the global RNG) and are buffers, so labels are the same
    for every model built with the same seed and are saved with checkpoints.

    Example:
        >>> x = torch.randn(2, 10, 96)
        >>> labels = RandomProjectionQuantizer(in_dim=96, num_codes=64, seed=0)(x)
        >>> again = RandomProjectionQuantizer(in_dim=96, num_codes=64, seed=0)(x)
        >>> tuple(labels.shape), bool((labels == again).all())
        ((2, 10), True)
    """

    proj: Tensor
    codebook: Tensor

    def __init__(self, in_dim: int, num_codes: int, code_dim: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        proj = nn.init.xavier_uniform_(torch.empty(in_dim, code_dim), generator=g)
        codebook = F.normalize(torch.randn(num_codes, code_dim, generator=g), dim=-1)
        self.register_buffer("proj", proj)
        self.register_buffer("codebook", codebook)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """``[B, T, in_dim] -> [B, T]`` integer labels."""
        x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1e-5)
        z = F.normalize(x @ self.proj, dim=-1)
        # On the unit sphere the nearest code is the one with the largest dot product.
        return (z @ self.codebook.T).argmax(-1)


def span_mask(
    batch: int,
    frames: int,
    start_prob: float,
    span: int,
    device: torch.device | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``[batch, frames]`` bool mask of spans of ``span`` frames starting with ``start_prob`` at
    each frame; every row gets at least one span so that every window yields a loss.

    Example:
        >>> m = span_mask(3, 40, 0.05, 8, generator=torch.Generator().manual_seed(0))
        >>> bool(m.any(1).all())
        True
    """
    starts = torch.rand(batch, frames, generator=generator) < start_prob
    forced = torch.randint(0, max(frames - span, 0) + 1, (batch,), generator=generator)
    none = ~starts.any(1)
    starts[none, forced[none]] = True
    # Frame t is masked when a span starts within the previous `span` frames.
    padded = F.pad(starts.float()[:, None], (span - 1, 0))
    return F.max_pool1d(padded, span, stride=1)[:, 0].bool().to(device)

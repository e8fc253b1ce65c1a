"""Multi-head attention and a learned relative-position bias, shared by the transformer
families (Ego4o's encoder and captioner, Head2Body's token transformer and Conformer, SAME,
MotionGRPO's denoiser).

Example:
    >>> import torch
    >>> attn = MultiHeadAttention(dim=16, heads=4)
    >>> tuple(attn(torch.randn(2, 5, 16), context=torch.randn(2, 7, 16)).shape)
    (2, 5, 16)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.models.layers.legacy import accept_renamed_keys


class MultiHeadAttention(nn.Module):
    """Self- or cross-attention over ``[B, L, D]`` with an optional additive bias or a causal
    mask; scaled dot-product attention does the work, so it exports as one op."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        accept_renamed_keys(self, {"proj": "out"})  # Ego4o's checkpoints before the move

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        bias: Tensor | None = None,
        causal: bool = False,
    ) -> Tensor:
        B, L, D = x.shape
        context = x if context is None else context
        q = self.q(x).view(B, L, self.heads, -1).transpose(1, 2)
        k, v = self.kv(context).view(B, context.shape[1], 2, self.heads, -1).unbind(2)
        y = F.scaled_dot_product_attention(
            q,
            k.transpose(1, 2),
            v.transpose(1, 2),
            attn_mask=bias,
            is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(B, L, D))


class RelativePositionBias(nn.Module):
    """A learned per-head bias for each clipped frame offset ``j - i`` (Shaw et al. 2018).

    Shared by all layers of a stack; clipping at ``max_offset`` frames lets a model trained on
    short windows run on longer ones.
    """

    def __init__(self, heads: int, max_offset: int) -> None:
        super().__init__()
        self.max_offset = max_offset
        self.table = nn.Embedding(2 * max_offset + 1, heads)
        nn.init.zeros_(self.table.weight)

    def forward(self, length: int, device: torch.device) -> Tensor:
        """``[heads, length, length]`` additive attention bias."""
        pos = torch.arange(length, device=device)
        offset = (pos[None, :] - pos[:, None]).clamp(-self.max_offset, self.max_offset)
        return self.table(offset + self.max_offset).permute(2, 0, 1)

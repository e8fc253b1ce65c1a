"""The dilated residual 1-D convolution block of T2M-GPT's motion VQ-VAE, shared by Ego4o's
part VQ-VAE and Head2Body's pose VQ-VAE.

Example:
    >>> import torch
    >>> blocks = res_blocks(width=8, depth=3)
    >>> [b.conv.dilation[0] for b in blocks], tuple(blocks[0](torch.randn(2, 8, 20)).shape)
    ([1, 3, 9], (2, 8, 20))
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.models.layers.legacy import accept_renamed_keys


class ResBlock1d(nn.Module):
    """``x + conv1x1(relu(dilated_conv3(relu(x))))`` over ``[B, C, T]``."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(width, width, 1)
        accept_renamed_keys(self, {"conv1": "conv", "conv2": "proj"})  # Ego4o's, before the move

    def forward(self, x: Tensor) -> Tensor:
        return x + self.proj(F.relu(self.conv(F.relu(x))))


def res_blocks(width: int, depth: int, reverse: bool = False) -> list[ResBlock1d]:
    """``depth`` blocks with dilations 1, 3, 9, ... (reversed for a decoder): the receptive
    field grows fast enough to see a whole window."""
    dilations = [3**i for i in range(depth)]
    if reverse:
        dilations.reverse()
    return [ResBlock1d(width, d) for d in dilations]

"""A streaming student's understanding head: what the wearer is doing, every frame, beside
the pose.

From the same per-frame features the pose head reads (the GRU's output plus the frame's
embedding) a small MLP gives

- ``activity_logit [B, T, K]``: one of the merged classes of ``edgesdk.data.activity``
  (``step`` and the exported artifact give their softmax, ``activity_prob``), trained with
  cross-entropy against the per-frame labels of the windows, each class weighted by its
  frequency so far to the power ``-balance`` (0: unweighted; rare classes such as turn
  weigh more with 0.5);
- ``activity_emb [B, T, D]``: a unit vector in the text encoder's space (all-MiniLM-L6-v2,
  384-d), trained contrastively against the training descriptions (InfoNCE over the table of
  every training description, temperature ``TAU``), so its nearest description is the text.
  The table (``descriptions``, embedded by the encoder the student trained with) is kept in
  the model (a buffer) and copied into the exported artifact's manifest, so a runtime without
  torch can name the nearest description, and a model that reads text can be fed it back.

Costs per frame (GRU 2 x 128): 128 x 128 + 128 x (K + 384) multiply-adds, about a quarter of
the pose model's.

Example:
    >>> head = ActivityHead(32, ("idle", "walk"), ("normal walk", "squat"), text_dim=8)
    >>> logits, emb = head(torch.zeros(1, 5, 32))
    >>> tuple(logits.shape), tuple(emb.shape), round(float(emb[0, 0].detach().norm()), 3)
    ((1, 5, 2), (1, 5, 8), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.models.base import TensorSpec

TAU = 0.05  # InfoNCE temperature of the description embedding
LABEL_SMOOTHING = 0.05
_EPS = 1e-6


def activity_outputs(num_classes: int, text_dim: int) -> tuple[TensorSpec, ...]:
    """The tensors ``step`` adds after the pose outputs (batch 1)."""
    return (
        TensorSpec(
            "activity_prob",
            (1, num_classes),
            description="probability of each activity class (the manifest's activity.classes)",
        ),
        TensorSpec(
            "activity_emb",
            (1, text_dim),
            description="unit vector in the text encoder's space; its nearest description "
            "(the manifest's activity.descriptions) says what the wearer is doing",
        ),
    )


class ActivityHead(nn.Module):
    """Per-frame activity logits and description embedding from the student's features."""

    def __init__(
        self,
        hidden: int,
        labels: Sequence[str],
        descriptions: Sequence[str],
        text_dim: int,
        balance: float = 0.0,
    ) -> None:
        super().__init__()
        self.labels, self.descriptions = tuple(labels), tuple(descriptions)
        self.text_dim, self.balance = text_dim, balance
        self.mlp = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, len(labels) + text_dim)
        )
        self.register_buffer("desc_emb", torch.zeros(len(descriptions), text_dim))
        self.desc_emb: Tensor
        # frames of each class seen in this training run (for ``balance``; one each at start)
        self.register_buffer("seen", torch.ones(len(labels)), persistent=False)
        self.seen: Tensor
        self._index = {d: i for i, d in enumerate(self.descriptions)}

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """``features [B, T, H]`` -> logits ``[B, T, K]`` and unit embeddings ``[B, T, D]``."""
        out = self.mlp(features)
        logits, emb = out[..., : len(self.labels)], out[..., len(self.labels) :]
        # x / sqrt(sum x^2 + eps): plain ops that every exporter and int8 quantizer takes
        emb = emb * torch.rsqrt(emb.pow(2).sum(-1, keepdim=True) + _EPS)
        return logits, emb

    def set_table(self, embeddings: Tensor) -> None:
        """The descriptions' embeddings ``[N, D]`` (their order)."""
        if tuple(embeddings.shape) != tuple(self.desc_emb.shape):
            raise ValueError(f"table {tuple(embeddings.shape)} != {tuple(self.desc_emb.shape)}")
        self.desc_emb.copy_(F.normalize(embeddings.float(), dim=-1))

    def loss(
        self, logits: Tensor, emb: Tensor, batch: dict[str, Any]
    ) -> tuple[Tensor, Tensor, dict[str, float]]:
        """Cross-entropy against ``batch["activity"] [B, T]`` and InfoNCE of each window's
        frames against its description's row of the table (windows whose description is not
        in it, e.g. held-out clips, add nothing). Returns (ce, nce, logs)."""
        target: Tensor = batch["activity"].to(logits.device)
        weight = None
        if self.balance > 0:
            if self.training:
                self.seen += torch.bincount(target.flatten(), minlength=len(self.labels))
            freq = self.seen / self.seen.sum()
            weight = freq.pow(-self.balance)
            weight = weight / (freq * weight).sum()  # 1 on average over the frames seen
        ce = F.cross_entropy(
            logits.flatten(0, 1),
            target.flatten(),
            weight=weight,
            label_smoothing=LABEL_SMOOTHING,
        )
        with torch.no_grad():
            acc = (logits.argmax(-1) == target).float().mean()
        logs = {"activity_ce": ce.item(), "activity_acc": acc.item()}
        texts: Sequence[str] = batch.get("text") or ()
        rows = torch.tensor([self._index.get(t, -1) for t in texts], device=emb.device)
        nce = emb.new_zeros(())
        if len(self.descriptions) and rows.numel() and bool((rows >= 0).any()):
            keep = rows >= 0
            sim = emb[keep] @ self.desc_emb.T / TAU  # [b, T, N]
            row_t = rows[keep][:, None].expand(-1, emb.shape[1])
            nce = F.cross_entropy(sim.flatten(0, 1), row_t.flatten())
            with torch.no_grad():
                top1 = (sim.argmax(-1) == row_t).float().mean()
            logs.update(desc_nce=nce.item(), desc_top1=top1.item())
        return ce, nce, logs

    def nearest(self, emb: Tensor) -> Tensor:
        """Index of the nearest description of each embedding ``[..., D]`` -> ``[...]``."""
        return (emb @ self.desc_emb.T).argmax(-1)

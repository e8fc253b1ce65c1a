"""Small models shared by the export, runtime and bench tests."""

from __future__ import annotations

import torch

from edgesdk.models import create_model


def small_student(name: str, seed: int = 0) -> torch.nn.Module:
    """A 1 x 16 GRU student whose output layer is random: a fresh student outputs a constant
    standing pose (its last layer starts at zero), which any artifact would match."""
    torch.manual_seed(seed)
    model = create_model(name, hidden=16, layers=1)
    last = model.head[-1]  # type: ignore[index]
    torch.nn.init.normal_(last.weight, std=0.1)
    torch.nn.init.normal_(last.bias, std=0.05)
    return model

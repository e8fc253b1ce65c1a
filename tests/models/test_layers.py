"""The shared blocks of ``edgesdk.models.layers``: checkpoints written before a family's block
moved there (under its former attribute names) still load, strictly, with the same outputs."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from edgesdk.models import create_model
from edgesdk.models.base import MotionModel
from edgesdk.models.layers.attention import MultiHeadAttention
from edgesdk.models.layers.conv import ResBlock1d
from edgesdk.train import checkpoint

# Ego4o's names before the move: its attention's output projection was ``proj``, its residual
# block's convolutions ``conv1`` / ``conv2``.
LEGACY = {MultiHeadAttention: {"out": "proj"}, ResBlock1d: {"conv": "conv1", "proj": "conv2"}}


def _legacy_names(model: torch.nn.Module) -> dict[str, str]:
    """Current state-dict key -> the key the same tensor had before the move."""
    names: dict[str, str] = {}
    for prefix, module in model.named_modules():
        for child, old in LEGACY.get(type(module), {}).items():
            for suffix in ("weight", "bias"):
                names[f"{prefix}.{child}.{suffix}"] = f"{prefix}.{old}.{suffix}"
    return names


def test_ego4o_checkpoint_with_former_key_names_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("ego4o-small")
    assert isinstance(model, MotionModel)
    ckpt = checkpoint.save(model, tmp_path / "ckpt", {"fingerprint": "test"})
    weights = ckpt / checkpoint.WEIGHTS
    renames = _legacy_names(model)
    saved = load_file(str(weights))
    assert set(renames) <= set(saved)
    save_file({renames.get(k, k): v for k, v in saved.items()}, str(weights))
    assert any(re.search(r"attn\.proj\.weight$", k) for k in load_file(str(weights)))

    loaded = checkpoint.load(ckpt)
    inputs = model.example_inputs(batch_size=2)
    with torch.no_grad():
        expected = model.eval()(*inputs)
        got = loaded(*inputs)
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

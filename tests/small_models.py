"""Small models shared by the export, runtime and bench tests."""

from __future__ import annotations

from pathlib import Path

import torch

from edgesdk.models import create_model


def small_student(name: str, seed: int = 0, **overrides: object) -> torch.nn.Module:
    """A 1 x 16 GRU student whose output layer is random: a fresh student outputs a constant
    standing pose (its last layer starts at zero), which any artifact would match."""
    torch.manual_seed(seed)
    model = create_model(name, hidden=16, layers=1, **overrides)
    last = model.head[-1]  # type: ignore[index]
    torch.nn.init.normal_(last.weight, std=0.1)
    torch.nn.init.normal_(last.bias, std=0.05)
    return model


class TinyExports:
    """A small student (1 x 16 GRU, random last layer) and its fp32 artifacts, each exported
    the first time a test asks for it: ``exports["onnx"]`` (also "tflite", "executorch") is
    the artifact path, its manifest beside it; ``exports["checkpoint"]`` the checkpoint."""

    def __init__(self, root: Path) -> None:
        from edgesdk.train import checkpoint

        self.root = root
        ckpt = checkpoint.save(small_student("same-student"), root / "ckpt", {"fingerprint": "t"})
        self._paths: dict[str, Path] = {"checkpoint": ckpt}

    def __getitem__(self, key: str) -> Path:
        if key not in self._paths:
            from edgesdk.export.export import export_model

            ckpt = self._paths["checkpoint"]
            self._paths[key] = export_model(ckpt, key, "fp32", self.root / key, progress=False)
        return self._paths[key]

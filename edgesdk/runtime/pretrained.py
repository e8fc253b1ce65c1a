"""The pretrained default model that ships with edgesdk: one streaming student for any one to
three devices (phone, watch, glasses), int8, in LiteRT and ONNX, with its manifest and model
card (``edgesdk/assets/models/default/MODEL_CARD.md``: training data and its licence, the
command that trained it, its held-out figures).

The weights are trained on motion capture released under CC BY-NC 4.0 (Bandai-Namco), so
they are for **non-commercial use**; the model card says what else went in.

Example:
    >>> default_model().suffix in (".tflite", ".onnx")
    True
"""

from __future__ import annotations

from pathlib import Path

from edgesdk.errors import EdgeSDKError
from edgesdk.targets import target_for_path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "assets" / "models" / "default"
MODEL_CARD = DEFAULT_DIR / "MODEL_CARD.md"
# The artifacts that ship in DEFAULT_DIR, the fastest here first; the target table says what
# runs each.
_BUNDLED = (".tflite", ".onnx")


def default_model(prefer: str | None = None) -> Path:
    """The bundled artifact to run: int8 LiteRT when its runtime is installed (the
    fastest here), else int8 ONNX. ``prefer``: ``.tflite`` or ``.onnx``."""
    order = [prefer] if prefer else list(_BUNDLED)
    for suffix in order:
        if suffix not in _BUNDLED:
            raise EdgeSDKError(f"prefer={prefer!r}: must be one of {sorted(_BUNDLED)}")
        found = sorted(DEFAULT_DIR.glob(f"*{suffix}"))
        if found and target_for_path(found[0]).can_run_here():
            return found[0]
    raise EdgeSDKError(
        f"{DEFAULT_DIR}: no bundled model this install can run (needs ai-edge-litert or "
        'onnxruntime: pip install "edgesdk[runtime]")'
    )

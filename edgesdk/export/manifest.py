"""The manifest beside every artifact (``ARTIFACT.json``): the pose model card.

It names the model and its teacher, the artifact's tensors in call order with units and the
state fed back, rates, frames and slots, the skeleton, the normalization the model applies
inside, the precision and quantization recipe, the calibration data's fingerprint, the tool
versions, the file's size and hash, and the numerics measured against eager PyTorch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

from edgesdk.errors import EdgeSDKError

FORMAT = "edgesdk-manifest/1"
TOOLS = (
    "edgesdk",
    "torch",
    "executorch",
    "coremltools",
    "litert-torch",
    "ai-edge-litert",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "numpy",
)


def manifest_path(artifact: Path | str) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def artifact_digest(path: Path) -> tuple[int, str]:
    """Size in bytes and sha256 of a file, or of a folder's files (an .mlpackage)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    size = 0
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        data = f.read_bytes()
        size += len(data)
        h.update(data)
    return size, h.hexdigest()


def read_manifest(artifact: Path | str) -> dict[str, Any]:
    path = manifest_path(artifact)
    if not path.is_file():
        raise EdgeSDKError(
            f"{artifact}: no manifest beside it ({path.name}); export it with `edgesdk export`"
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EdgeSDKError(f"{path}: corrupt JSON ({exc.msg} at line {exc.lineno})") from None
    if data.get("format") != FORMAT:
        raise EdgeSDKError(f"{path}: not an edgesdk manifest (format {data.get('format')!r})")
    return data

"""The manifest beside every artifact (``ARTIFACT.json``): the pose model card.

It names the model and its teacher, the artifact's tensors in call order with units and the
state fed back, rates, frames and slots, the skeleton, the normalization the model applies
inside, the precision and quantization recipe, the calibration data's fingerprint, the tool
versions, the file's size and hash, the numerics measured against eager PyTorch, and for a
student with an activity head its classes and description table (``activity_table``).

``read_manifest`` checks a manifest before anything uses it: its fields' types and ranges
(``fps`` finite and positive, tensor shapes positive and bounded, state pairs naming real
tensors) and that the artifact beside it is the one it describes: its size and ``sha256``
(of the file's bytes, as ``sha256sum`` prints it; an ``.mlpackage`` folder hashes each
file's relative path and bytes). Any mismatch is one error line. Manifests of the first
format (``edgesdk-manifest/1``, whose hash also covered the file name) are still checked
with that hash.

Example:
    >>> import tempfile
    >>> art = Path(tempfile.mkdtemp()) / "m-fp32.onnx"
    >>> _ = art.write_bytes(b"not a model")
    >>> artifact_digest(art)[1] == hashlib.sha256(b"not a model").hexdigest()
    True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import platform
import re
from pathlib import Path
from typing import Any

from edgesdk import targets
from edgesdk.errors import EdgeSDKError
from edgesdk.export.activity_table import ActivityTable

FORMAT = "edgesdk-manifest/2"  # 2: sha256 of the file's bytes (1: of its name and bytes)
_LEGACY_FORMAT = "edgesdk-manifest/1"
MAX_FPS = 1000.0
MAX_DIM = 1_000_000  # one tensor dimension
MAX_ELEMENTS = 100_000_000  # one tensor
MAX_TENSORS = 64


def manifest_path(artifact: Path | str) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def tool_versions() -> dict[str, str]:
    """The versions of Python and of the tools an artifact is made and run with (edgesdk,
    torch, each target's packages in table order, numpy)."""
    out = {"python": platform.python_version()}
    for name in dict.fromkeys(("edgesdk", "torch", *targets.packages(), "numpy")):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def artifact_digest(path: Path) -> tuple[int, str]:
    """Size in bytes and sha256 of a file's bytes (``sha256sum``), or of a folder's files (an
    .mlpackage: each file's path relative to the folder, then its bytes)."""
    return _digest(Path(path), with_names=Path(path).is_dir())


def _digest(path: Path, with_names: bool) -> tuple[int, str]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    size = 0
    for f in files:
        if with_names:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with f.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                h.update(chunk)
    return size, h.hexdigest()


def read_manifest(artifact: Path | str, verify: bool = True) -> dict[str, Any]:
    """The manifest beside ``artifact``, checked (fields, and with ``verify`` the artifact's
    size and hash).

    Raises:
        EdgeSDKError: no manifest, corrupt JSON, a field of the wrong type or out of range
            (naming it), or an artifact that is not the one the manifest describes.
    """
    artifact = Path(artifact)
    path = manifest_path(artifact)
    if not path.is_file():
        raise EdgeSDKError(
            f"{artifact}: no manifest beside it ({path.name}); export it with `edgesdk export`"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise EdgeSDKError(f"{path}: corrupt JSON ({type(exc).__name__}{where})") from None
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, _LEGACY_FORMAT):
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise EdgeSDKError(f"{path}: not an edgesdk manifest (format {str(found)[:60]!r})")
    check_manifest(data, path)
    if verify:
        _check_artifact(artifact, data, path)
    return data


def _check_artifact(artifact: Path, data: dict[str, Any], path: Path) -> None:
    if not artifact.exists():
        raise EdgeSDKError(f"{artifact}: no such artifact")
    legacy = data["format"] == _LEGACY_FORMAT
    size, digest = _digest(artifact, with_names=legacy or artifact.is_dir())
    if size != data["file_size_bytes"] or digest != data["sha256"]:
        what = (
            f"{size} bytes, not {data['file_size_bytes']}"
            if size != data["file_size_bytes"]
            else f"sha256 {digest[:12]}..., not {data['sha256'][:12]}..."
        )
        raise EdgeSDKError(
            f"{artifact}: not the artifact {path.name} describes ({what}): changed or corrupt; "
            "export it again"
        )


def check_manifest(data: dict[str, Any], path: Path | str) -> None:
    """Types and ranges of the fields the runtime and the tools read (see the module doc)."""

    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            value = _get(data, field)
            shown = json.dumps(value)[:60] if value is not _MISSING else "missing"
            raise EdgeSDKError(f"{path}: '{field}' is {shown}: {what}")

    for field in ("artifact", "model"):
        value = data.get(field)
        need(isinstance(value, str) and 0 < len(value) <= 256, field, "expected a name")
    backends, precisions = targets.names(), targets.precisions()
    need(data.get("backend") in backends, "backend", f"expected one of {backends}")
    need(data.get("precision") in precisions, "precision", f"expected one of {precisions}")
    size: Any = data.get("file_size_bytes")
    need(_is_int(size) and size >= 0, "file_size_bytes", "expected a byte count")
    digest: Any = data.get("sha256")
    need(
        isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest) is not None,
        "sha256",
        "expected 64 hex digits",
    )
    rates: Any = data.get("rates")
    need(isinstance(rates, dict), "rates", "expected an object")

    fps: Any = rates.get("fps")
    need(
        _is_number(fps) and 0 < fps <= MAX_FPS,
        "rates.fps",
        f"expected a finite number in (0, {MAX_FPS:g}]",
    )
    window: Any = rates.get("window")
    need(
        window is None or (_is_int(window) and 0 < window <= MAX_DIM),
        "rates.window",
        "expected a positive frame count or null",
    )
    io: Any = data.get("io")
    need(isinstance(io, dict), "io", "expected an object")

    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    for kind in ("inputs", "outputs"):
        tensors: Any = io.get(kind)
        need(
            isinstance(tensors, list) and 0 < len(tensors) <= MAX_TENSORS,
            f"io.{kind}",
            f"expected a list of 1 to {MAX_TENSORS} tensors",
        )
        shapes[kind] = {}
        for i, t in enumerate(tensors):
            where = f"io.{kind}[{i}]"
            need(isinstance(t, dict) and isinstance(t.get("name"), str), where, "no name")
            name = t["name"]
            need(0 < len(name) <= 128 and name not in shapes[kind], f"{where}.name", "bad name")
            shape: Any = t.get("shape")
            need(
                isinstance(shape, list)
                and 0 < len(shape) <= 8
                and all(_is_int(d) and 0 < d <= MAX_DIM for d in shape)
                and math.prod(shape) <= MAX_ELEMENTS,
                f"{where}.shape",
                f"expected 1 to 8 dimensions in [1, {MAX_DIM}], at most {MAX_ELEMENTS} elements",
            )
            shapes[kind][name] = tuple(shape)
    state: Any = io.get("state", [])
    need(isinstance(state, list), "io.state", "expected a list")
    for i, pair in enumerate(state):
        where = f"io.state[{i}]"
        ok = isinstance(pair, dict) and all(
            isinstance(pair.get(k), str) for k in ("output", "input")
        )
        ok = ok and pair["output"] in shapes["outputs"] and pair["input"] in shapes["inputs"]
        need(ok, where, "expected an output and an input of io")
        same = shapes["outputs"][pair["output"]] == shapes["inputs"][pair["input"]]
        need(same, where, "the state output and input have different shapes")
    if "activity" in data:
        table = ActivityTable.from_manifest(data["activity"], path)
        prob, emb = (shapes["outputs"].get(n) for n in ("activity_prob", "activity_emb"))
        need(
            prob is not None and prob[-1] == len(table.classes),
            "activity.classes",
            "expected one class per value of the activity_prob output",
        )
        need(
            emb is not None and emb[-1] == table.dim,
            "activity.embedding_dim",
            "expected the width of the activity_emb output",
        )


_MISSING = object()


def _get(data: dict[str, Any], field: str) -> Any:
    value: Any = data
    for part in re.split(r"\.|\[", field):
        part = part.rstrip("]")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

"""Checkpoint folders: weights, the resolved config, the spec and the data fingerprint.

A checkpoint folder holds:
    model.safetensors   the weights (and buffers)
    config.json         {"model": name, "family": ..., "config": {...}, "spec": {...},
                         "data": {fingerprint}, "train": {...}, "edgesdk_version": ...}
    train_state.safetensors   optimizer state and progress, for ``--resume`` (optional;
                        tensors in safetensors, the rest JSON: ``edgesdk.train.state``)

``load(dir)`` rebuilds the exact model from ``config.json`` and the weights. Every file is
written atomically, so an interrupted run leaves the previous checkpoint intact.

Example:
    >>> from edgesdk.models import create_model
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = save(create_model("mlp-baseline"), d, data={"fingerprint": "none"})
    >>> load(d).config.name
    'mlp-baseline'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

import edgesdk
from edgesdk.errors import EdgeSDKError
from edgesdk.io import atomic_path, write_json_atomic
from edgesdk.models import create_model, model_family
from edgesdk.models.base import MotionModel
from edgesdk.models.limits import check_finite, checked_model
from edgesdk.reading import read_json
from edgesdk.train import state as train_state_file
from edgesdk.train.state import LEGACY_TRAIN_STATE, TRAIN_STATE

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen dataclass config as JSON-ready data."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(default: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Overrides that rebuild a config from JSON (lists back to tuples where the field is one)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(default):
        if f.name in values and f.name != "name":
            v = values[f.name]
            out[f.name] = _to_tuple(v) if isinstance(getattr(default, f.name), tuple) else v
    return out


def _to_tuple(v: Any) -> Any:
    return tuple(_to_tuple(x) for x in v) if isinstance(v, list) else v


def fingerprint_files(paths: Iterable[Path], extra: dict[str, Any] | None = None) -> str:
    """SHA-256 over file names, sizes and contents (and ``extra`` settings): the data identity."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode())
        h.update(str(p.stat().st_size).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    if extra:
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def save(
    model: nn.Module,
    out_dir: Path | str,
    data: dict[str, Any],
    train: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder (created if missing); returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config: Any = model.config
    spec = model.spec.to_dict() if isinstance(model, MotionModel) else {}
    with atomic_path(out / WEIGHTS) as tmp:
        # save_model de-duplicates tied weights (e.g. a captioner's embedding and output head).
        save_model(model, str(tmp), metadata={"model": config.name})
    meta = {
        "model": config.name,
        "family": model_family(config.name),
        "config": config_to_dict(config),
        "spec": spec,
        "data": data,
        "train": train or {},
        "edgesdk_version": edgesdk.__version__,
        "torch_version": torch.__version__,
    }
    write_json_atomic(out / CONFIG, meta)
    if train_state is not None:
        train_state_file.save_train_state(train_state, out / TRAIN_STATE)
        (out / LEGACY_TRAIN_STATE).unlink(missing_ok=True)  # superseded; never read
    return out


def read_meta(ckpt_dir: Path | str) -> dict[str, Any]:
    """The checkpoint's ``config.json``."""
    path = Path(ckpt_dir) / CONFIG
    if not path.is_file():
        raise EdgeSDKError(f"{ckpt_dir}: not a checkpoint folder (no {CONFIG})")
    meta: dict[str, Any] = read_json(path)
    return meta


def load(ckpt_dir: Path | str, **overrides: Any) -> MotionModel:
    """Rebuild the model saved in ``ckpt_dir`` (config, vocabulary and weights), in eval mode;
    ``overrides`` change inference-time config fields (e.g. Ego4o's ``code_selection``).

    Raises:
        EdgeSDKError: a config value of the wrong type or out of range (``edgesdk.models.limits``:
            sizes, parameter count, frame rate), weights that do not fit or hold NaN or inf.
    """
    meta = read_meta(ckpt_dir)
    where = str(Path(ckpt_dir) / CONFIG)
    name, values = meta.get("model"), meta.get("config")
    if not isinstance(name, str) or not isinstance(values, dict):
        raise EdgeSDKError(f"{where}: expected 'model' (a name) and 'config' (an object)")
    with torch.device("meta"):  # the default config only: nothing allocated
        default = create_model(name).config  # type: ignore[union-attr]
    saved = config_from_dict(default, values)
    model = checked_model(name, {**saved, **overrides}, where)
    weights = Path(ckpt_dir) / WEIGHTS
    if not weights.is_file():
        raise EdgeSDKError(f"{ckpt_dir}: no {WEIGHTS}")
    try:
        missing, unexpected = load_model(model, str(weights), strict=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise EdgeSDKError(f"{weights}: unreadable weights ({str(exc).splitlines()[0]})") from None
    if missing or unexpected:
        raise EdgeSDKError(
            f"{weights}: weights do not match model {meta['model']} "
            f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})"
        )
    check_finite(model, str(weights))
    if not isinstance(model, MotionModel):
        raise EdgeSDKError(f"{ckpt_dir}: {meta['model']} is not a motion model")
    return model.eval()


def load_train_state(ckpt_dir: Path | str) -> dict[str, Any] | None:
    """Optimizer state and progress saved for resuming, or None when there is none.

    Raises:
        EdgeSDKError: a corrupt state, or only a ``train_state.pt`` of an older version (a
            pickle, which is refused: unpickling a file can run code).
    """
    path = Path(ckpt_dir) / TRAIN_STATE
    if not path.is_file():
        legacy = Path(ckpt_dir) / LEGACY_TRAIN_STATE
        if legacy.exists():
            raise train_state_file.legacy_error(legacy)
        return None
    return train_state_file.load_train_state(path)


def restore_optimizer(
    opt: torch.optim.Optimizer, state: dict[str, Any], ckpt_dir: Path | str
) -> None:
    """Load a saved optimizer state into ``opt``; one error line when it does not fit."""
    try:
        opt.load_state_dict(state["optimizer"])
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EdgeSDKError(
            f"{Path(ckpt_dir) / TRAIN_STATE}: optimizer state does not fit this model ({first})"
        ) from None

"""The train state for ``--resume``, stored without pickle: tensors in safetensors, the rest JSON.

``train_state.safetensors`` holds every tensor of the state (the optimizer's moments and step
counts) and, in its header's metadata, the structure and scalars as JSON (history, stage,
param groups) with each tensor replaced by ``{"__tensor__": key}``. Loading it never runs
code, unlike the ``torch.save`` pickle (``train_state.pt``) that older versions wrote: such a
file is refused, not read.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / TRAIN_STATE
    >>> optimizer = {"state": {0: {"step": torch.ones(())}}, "param_groups": [{"params": [0]}]}
    >>> _ = save_train_state({"stage": "main", "history": [], "optimizer": optimizer}, path)
    >>> load_train_state(path)["optimizer"]["state"][0]["step"]
    tensor(1.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from edgesdk.errors import EdgeSDKError
from edgesdk.io import atomic_path

TRAIN_STATE = "train_state.safetensors"
LEGACY_TRAIN_STATE = "train_state.pt"  # a torch.save pickle: never loaded
FORMAT = "edgesdk-train-state"
VERSION = "1"


def save_train_state(state: dict[str, Any], path: Path | str) -> Path:
    """Write ``state`` (nested dicts, lists, tuples, numbers, strings and tensors) atomically."""
    tensors: dict[str, torch.Tensor] = {}
    structure = json.dumps(_encode(state, tensors))
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(
            tensors, str(tmp), metadata={"format": FORMAT, "version": VERSION, "state": structure}
        )
    return path


def load_train_state(path: Path | str) -> dict[str, Any]:
    """Read a train state written by ``save_train_state``.

    Raises:
        EdgeSDKError: an unreadable or foreign file, or one whose structure is not a train state.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise EdgeSDKError(f"{path}: not an edgesdk train state (no '{FORMAT}' header)")
            if meta.get("version") != VERSION:
                raise EdgeSDKError(
                    f"{path}: train state version {meta.get('version')!r}, this edgesdk reads "
                    f"{VERSION!r}"
                )
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
        structure = json.loads(meta.get("state", ""))
        state = _decode(structure, tensors, path)
    except EdgeSDKError:
        raise
    except json.JSONDecodeError as exc:
        raise EdgeSDKError(f"{path}: corrupt train state ({exc.msg})") from None
    except RecursionError:
        raise EdgeSDKError(f"{path}: corrupt train state (nested too deeply)") from None
    except Exception as exc:  # safetensors raises its own SafetensorError, and OSError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EdgeSDKError(f"{path}: unreadable train state ({first})") from None
    _check_shape(state, path)
    return state


def legacy_error(path: Path) -> EdgeSDKError:
    """The error for a ``train_state.pt`` of an older version: it is a pickle, so not read."""
    return EdgeSDKError(
        f"{path}: a pickled train state from an older edgesdk, not loaded because unpickling "
        f"a file can run code; --resume needs {TRAIN_STATE} (start the run again without --resume)"
    )


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(x, tensors) for x in obj]}
    if isinstance(obj, list):
        return [_encode(x, tensors) for x in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    raise TypeError(f"train state: cannot store a {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], path: Path) -> Any:
    if isinstance(obj, list):
        return [_decode(x, tensors, path) for x in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "__tensor__":
            if not isinstance(value, str) or value not in tensors:
                raise EdgeSDKError(f"{path}: corrupt train state (no tensor {value!r})")
            return tensors[value]
        if key == "__float__":
            if value not in ("nan", "inf", "-inf"):
                raise EdgeSDKError(f"{path}: corrupt train state (float {value!r})")
            return float(value)
        if key == "__tuple__" and isinstance(value, list):
            return tuple(_decode(x, tensors, path) for x in value)
        if key == "__items__" and isinstance(value, list):
            out: dict[Any, Any] = {}
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise EdgeSDKError(f"{path}: corrupt train state (bad item {pair!r:.40})")
                k = _decode(pair[0], tensors, path)
                if not (k is None or isinstance(k, bool | int | float | str)):
                    raise EdgeSDKError(f"{path}: corrupt train state (key {k!r:.40})")
                out[k] = _decode(pair[1], tensors, path)
            return out
    if any(k.startswith("__") for k in obj):
        raise EdgeSDKError(f"{path}: corrupt train state (unknown entry {sorted(obj)[0]!r:.40})")
    return {k: _decode(v, tensors, path) for k, v in obj.items()}


def _check_shape(state: Any, path: Path) -> None:
    """The parts the trainer reads: a history list of dicts, a stage name, an optimizer dict."""
    if not isinstance(state, dict):
        raise EdgeSDKError(f"{path}: corrupt train state (not a mapping)")
    history = state.get("history")
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("stage"), str) and isinstance(h.get("epoch"), int)
        for h in history
    ):
        raise EdgeSDKError(f"{path}: corrupt train state ('history' is not a list of epochs)")
    if not isinstance(state.get("stage"), str):
        raise EdgeSDKError(f"{path}: corrupt train state ('stage' is not a name)")
    optimizer = state.get("optimizer")
    if not (
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("state"), dict)
        and isinstance(optimizer.get("param_groups"), list)
    ):
        raise EdgeSDKError(f"{path}: corrupt train state ('optimizer' is not an optimizer state)")

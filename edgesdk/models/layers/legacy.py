"""Loading checkpoints saved before a block moved to ``edgesdk.models.layers``.

Where two families had the same block under different attribute names, the shared block keeps
one set of names and renames the other family's keys as a state dict is loaded, so every
checkpoint written before the move still loads (strictly) into the shared block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn


def accept_renamed_keys(module: nn.Module, renames: Mapping[str, str]) -> None:
    """Let ``module`` load a state dict whose direct children are named by ``renames``'s keys
    (old name -> current name)."""

    def hook(_module: nn.Module, state_dict: dict[str, Any], prefix: str, *_args: Any) -> None:
        for old, new in renames.items():
            for key in [k for k in state_dict if k.startswith(f"{prefix}{old}.")]:
                rest = key[len(prefix) + len(old) :]
                state_dict.setdefault(f"{prefix}{new}{rest}", state_dict.pop(key))

    module.register_load_state_dict_pre_hook(hook)

"""The resume state is safetensors + JSON; a pickled ``train_state.pt`` is refused, never run."""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgesdk.errors import EdgeSDKError
from edgesdk.models import create_model
from edgesdk.train import checkpoint
from edgesdk.train.state import LEGACY_TRAIN_STATE, TRAIN_STATE, load_train_state, save_train_state


class _Payload:
    """Unpickling this creates a folder: the harmless stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _optimizer_state() -> dict[str, object]:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    for _ in range(2):
        model(torch.randn(5, 3)).sum().backward()
        opt.step()
    return opt.state_dict()


def test_round_trip_is_exact(tmp_path: Path) -> None:
    opt = _optimizer_state()
    history = [{"stage": "main", "epoch": 0, "train_loss": 0.5, "val_loss": math.nan}]
    path = save_train_state(
        {"history": history, "stage": "main", "optimizer": opt}, tmp_path / TRAIN_STATE
    )
    back = load_train_state(path)
    assert back["stage"] == "main" and math.isnan(back["history"][0]["val_loss"])
    assert back["optimizer"]["param_groups"] == opt["param_groups"]  # tuples and None kept
    assert isinstance(back["optimizer"]["param_groups"][0]["betas"], tuple)
    assert set(back["optimizer"]["state"]) == {0, 1, 2, 3}  # integer keys kept
    for key, entry in opt["state"].items():  # type: ignore[attr-defined]
        for name, value in entry.items():
            torch.testing.assert_close(back["optimizer"]["state"][key][name], value)
    fresh = torch.optim.AdamW(
        torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).parameters()
    )
    fresh.load_state_dict(back["optimizer"])


def test_checkpoint_writes_no_pickle(tmp_path: Path) -> None:
    (tmp_path / LEGACY_TRAIN_STATE).write_bytes(b"old")
    state = {"history": [], "stage": "main", "optimizer": _optimizer_state()}
    checkpoint.save(create_model("mlp-baseline", hidden=8), tmp_path, {}, train_state=state)
    assert (tmp_path / TRAIN_STATE).read_bytes()[8:9] == b"{"  # a safetensors JSON header
    assert not (tmp_path / LEGACY_TRAIN_STATE).exists()  # the superseded pickle is gone
    assert checkpoint.load_train_state(tmp_path) is not None


def test_a_planted_pickle_is_refused_and_does_not_run(tmp_path: Path) -> None:
    """The old format was read with torch.load(weights_only=False): this payload ran."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    ran = tmp_path / "ran"
    (ckpt / LEGACY_TRAIN_STATE).write_bytes(pickle.dumps(_Payload(ran)))
    pickle.loads((ckpt / LEGACY_TRAIN_STATE).read_bytes())  # the payload works when unpickled
    assert ran.is_dir()
    ran.rmdir()
    argv = ["train", "--model", "mlp-baseline", "--data", str(tmp_path), "--out", str(ckpt)]
    done = subprocess.run(
        [sys.executable, "-m", "edgesdk.cli", *argv, "--resume", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "train_state.pt" in lines[0] and "pickle" in lines[0], lines
    assert not ran.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 7, b"garbage" * 20, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......"],
)
def test_corrupt_state_is_one_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / TRAIN_STATE).write_bytes(content)
    with pytest.raises(EdgeSDKError, match=r"train_state\.safetensors: "):
        checkpoint.load_train_state(tmp_path)


def test_foreign_or_reshaped_state_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / TRAIN_STATE
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(EdgeSDKError, match="not an edgesdk train state"):
        load_train_state(path)
    save_train_state({"history": "all", "stage": "main", "optimizer": {}}, path)
    with pytest.raises(EdgeSDKError, match="'history'"):
        load_train_state(path)


def test_optimizer_of_another_model_is_one_error(tmp_path: Path) -> None:
    state = {"history": [], "stage": "main", "optimizer": _optimizer_state()}
    save_train_state(state, tmp_path / TRAIN_STATE)
    loaded = checkpoint.load_train_state(tmp_path)
    assert loaded is not None
    opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())
    with pytest.raises(EdgeSDKError, match="optimizer state does not fit"):
        checkpoint.restore_optimizer(opt, loaded, tmp_path)

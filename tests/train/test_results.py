"""Results-file helpers: evaluations cached beside a checkpoint, headlines, paired figures."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import edgesdk.train.data as train_data
from edgesdk.data.sources import bundled_data_dir
from edgesdk.train import results
from edgesdk.train.data import load_train_data
from edgesdk.train.results import data_block, evaluation, headline, paired, seeds_block
from edgesdk.train.trainer import TrainConfig, train

DATA = bundled_data_dir()


@pytest.fixture(autouse=True, scope="module")
def _setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESDK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.setattr(train_data, "load_clips", functools.partial(train_data.load_clips, workers=1))
        yield


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    torch.set_num_threads(1)
    return [
        train(
            TrainConfig(
                model="mlp-baseline",
                data=str(DATA),
                out=str(root / f"mlp{seed}"),
                epochs=1,
                seed=seed,
                progress=False,
                overrides={"hidden": 32},
            )
        )
        for seed in (0, 1)
    ]


def test_evaluation_is_cached_and_keyed_by_weights(
    two_runs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_train_data(DATA, progress=False)
    first = evaluation(two_runs[0], DATA, data)
    assert first is not None and len(list((two_runs[0] / "evaluations").glob("*.json"))) == 1
    assert evaluation(two_runs[1], DATA, data, cached_only=True) is None

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluated again")

    monkeypatch.setattr(results, "evaluate_checkpoint", fail)
    assert evaluation(two_runs[0], DATA, data) == first
    with pytest.raises(AssertionError, match="evaluated again"):
        evaluation(two_runs[1], DATA, data)


def test_headline_paired_and_seeds(two_runs: list[Path]) -> None:
    data = load_train_data(DATA, progress=False)
    a, b = (evaluation(r, DATA, data) for r in two_runs)
    assert a is not None and b is not None
    h = headline(a)
    assert h["protocol"] == {"devices": "realistic", "head": "slam", "text": "none"}
    lo, hi = h["ci95_mpjpe_mm"]
    assert lo <= h["overall"]["mpjpe_mm"] <= hi
    assert h["clean"]["protocol"]["devices"] == "clean" and "realism_cost_mpjpe_mm" in h
    diff = paired(a, b)
    expected = a["overall"]["mpjpe_mm"] - b["overall"]["mpjpe_mm"]
    assert diff["difference_mm"] == pytest.approx(expected, abs=0.01)
    assert paired(a, a)["ci95_mm"] == [0.0, 0.0]
    spread = seeds_block({0: h, 1: headline(b)})
    assert spread["realistic"]["seeds"] == 2 and set(spread["per_seed"]) == {"0", "1"}
    block = data_block(data)
    assert block["clips"] == 16 and block["formats"] == {"bvh": 16}
    assert sum(block["split"].values()) == 16

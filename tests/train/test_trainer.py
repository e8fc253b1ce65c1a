"""Training, checkpoints, resume, DDP and evaluation on the bundled CMU clips (real BVH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from edgesdk.cli import main
from edgesdk.data.sources import bundled_data_dir
from edgesdk.errors import EdgeSDKError
from edgesdk.train import checkpoint
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.trainer import TrainConfig, train
from tests.models.conftest import make_batch

DATA = str(bundled_data_dir())


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def mlp_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ["EDGESDK_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    out = tmp_path_factory.mktemp("ckpt") / "mlp"
    code = main(
        [
            "train",
            "--model",
            "mlp-baseline",
            "--data",
            DATA,
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--quiet",
            "--set",
            "hidden=64",
        ]
    )
    assert code == 0
    return out


def test_checkpoint_layout_and_reload(mlp_ckpt: Path) -> None:
    assert {p.name for p in mlp_ckpt.iterdir()} >= {"model.safetensors", "config.json"}
    meta = json.loads((mlp_ckpt / "config.json").read_text())
    assert meta["model"] == "mlp-baseline" and meta["config"]["hidden"] == 64
    assert len(meta["data"]["fingerprint"]) == 64 and meta["data"]["clips"]["test"] >= 1
    assert [h["epoch"] for h in meta["train"]["history"]] == [0, 1]
    model = checkpoint.load(mlp_ckpt)
    batch = make_batch(time=8)
    again = checkpoint.load(mlp_ckpt)
    torch.testing.assert_close(model.predict(batch)["pos_rel_m"], again.predict(batch)["pos_rel_m"])


def test_resume_continues_the_history(mlp_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    config = TrainConfig(
        model="mlp-baseline",
        data=DATA,
        out=str(out),
        epochs=1,
        batch_size=8,
        progress=False,
        overrides={"hidden": 64},
    )
    train(config)
    first = json.loads((out / "config.json").read_text())["train"]["history"]
    train(TrainConfig(**{**config.__dict__, "epochs": 2, "resume": True}))
    history = json.loads((out / "config.json").read_text())["train"]["history"]
    assert [h["epoch"] for h in history] == [0, 1] and history[0] == first[0]
    with pytest.raises(EdgeSDKError, match="--resume"):
        train(TrainConfig(**{**config.__dict__, "out": str(tmp_path / "none"), "resume": True}))


def test_eval_reports_every_device_combination(mlp_ckpt: Path) -> None:
    result = evaluate_checkpoint(mlp_ckpt, DATA, progress=False)
    assert len(result["per_combination"]) == 25
    assert {"head", "left_wrist+right_wrist", "head+left_pocket+right_pocket"} <= set(
        result["per_combination"]
    )
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "jitter_mps3", "mpjre_deg"):
        assert result["overall"][key] > 0
    assert result["overall"]["pa_mpjpe_mm"] <= result["overall"]["mpjpe_mm"]
    assert result["baseline_mean_pose"]["overall"]["mpjpe_mm"] > 0
    assert "ground_penetration_mm" not in result["overall"]  # root-relative positions
    # the headline is the realistic protocol with a bootstrap interval; clean beside it
    assert result["protocol"] == {"devices": "realistic", "head": "slam", "text": "none"}
    lo, hi = result["ci95_mpjpe_mm"]
    assert lo <= result["overall"]["mpjpe_mm"] <= hi
    assert result["clean"]["protocol"]["devices"] == "clean"
    cost = result["realism_cost_mpjpe_mm"]
    assert cost["difference_mm"] == pytest.approx(
        result["overall"]["mpjpe_mm"] - result["clean"]["overall"]["mpjpe_mm"], abs=0.01
    )
    files = result["per_file"]["files"]
    assert files and len(result["per_file"]["sum_mm"]) == len(files)


def test_eval_cli_json(mlp_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--model", str(mlp_ckpt), "--data", DATA, "--json", "--quiet"]) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert printed["model"] == "mlp-baseline"


def test_text_model_headline_reads_no_text_and_the_label_is_an_upper_bound(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ego4o"
    overrides = {"d_model": 32, "code_dim": 32, "num_codes": 16, "num_layers": 1}
    train(
        TrainConfig(
            model="ego4o-small",
            data=DATA,
            out=str(out),
            epochs=1,
            batch_size=8,
            progress=False,
            overrides=overrides,
        )
    )
    result = evaluate_checkpoint(out, DATA, progress=False)
    assert result["protocol"]["text"] == "none"
    assert result["text_oracle_label"]["protocol"]["text"] == "label"
    assert "upper bound" in result["text_oracle_label"]["note"]
    assert result["text_hint"]["protocol"] == {
        **result["protocol"],
        "text": "hint",
        "hint_error": 0.2,
    }
    assert isinstance(
        result["text_oracle_label"]["effect_vs_no_text_mpjpe_mm"]["difference_mm"], float
    )
    hard = evaluate_checkpoint(out, DATA, progress=False, overrides={"code_selection": "hard"})
    assert hard["overrides"] == {"code_selection": "hard"}
    assert hard["overall"]["mpjpe_mm"] != result["overall"]["mpjpe_mm"]


def test_head_only_model_is_evaluated_on_the_head(tmp_path: Path) -> None:
    out = tmp_path / "mlp-head"
    train(
        TrainConfig(
            model="mlp-baseline-head",
            data=DATA,
            out=str(out),
            epochs=1,
            batch_size=8,
            progress=False,
        )
    )
    result = evaluate_checkpoint(out, DATA, progress=False)
    assert list(result["per_combination"]) == ["head"]


def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "edgesdk.train",
        "--model",
        "mlp-baseline",
        "--data",
        DATA,
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--quiet",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert checkpoint.load(out).config.name == "mlp-baseline"


def test_bad_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "nope", "--data", DATA, "--out", str(tmp_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--model",
                "mlp-baseline",
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "no .bvh files" in capsys.readouterr().err
    assert main(["eval", "--model", str(tmp_path), "--data", DATA]) == 2
    assert "not a checkpoint folder" in capsys.readouterr().err


def test_stage_epochs_override_and_unknown_stage(tmp_path: Path) -> None:
    out = tmp_path / "stages"
    base = TrainConfig(
        model="mlp-baseline",
        data=DATA,
        out=str(out),
        epochs=3,
        batch_size=8,
        progress=False,
        stage_epochs={"main": 1},
    )
    train(base)
    history = json.loads((out / "config.json").read_text())["train"]["history"]
    assert [h["epoch"] for h in history] == [0]
    with pytest.raises(EdgeSDKError, match="not in"):
        train(TrainConfig(**{**base.__dict__, "stage_epochs": {"vqvae": 2}}))


def test_max_batches_caps_each_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgesdk.train import trainer

    steps: list[int] = []
    forward = trainer._LossModule.forward
    monkeypatch.setattr(
        trainer._LossModule, "forward", lambda self, b: steps.append(1) or forward(self, b)
    )
    cfg = TrainConfig(
        model="mlp-baseline", data=DATA, out=str(tmp_path / "m"), epochs=2, batch_size=4,
        progress=False, max_batches=2, overrides={"hidden": 32},
    )  # fmt: skip
    train(cfg)
    assert len(steps) == 4  # 2 epochs x 2 batches, of the 5+ the bundled windows make
    steps.clear()
    train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "all"), "max_batches": None}))
    assert len(steps) > 4
    with pytest.raises(EdgeSDKError, match="--max-batches 0"):
        train(TrainConfig(**{**cfg.__dict__, "max_batches": 0}))

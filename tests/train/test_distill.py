"""Distillation on the bundled CMU clips: a 1-epoch tiny SAME teacher into same-student;
checkpoint layout, reload, evaluation, the alpha = 0 control, resume and CLI errors."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import edgesdk.train.data as train_data
from edgesdk.cli import main
from edgesdk.data.sources import bundled_data_dir
from edgesdk.errors import EdgeSDKError
from edgesdk.models import create_model
from edgesdk.models.students_core import StreamingStudent
from edgesdk.train import checkpoint
from edgesdk.train import distill as distill_module
from edgesdk.train.distill import (
    DistillConfig,
    distill,
    distill_window_config,
    privileged_inputs,
    students,
)
from edgesdk.train.evaluate import evaluate_checkpoint
from edgesdk.train.trainer import TrainConfig, train

DATA = str(bundled_data_dir())
TINY_SAME = {
    "dim": 16, "fusion_layers": 1, "fusion_heads": 2, "fusion_ff": 32, "temporal_dim": 16,
    "temporal_layers": 1, "temporal_heads": 2, "temporal_ff": 32, "tcn_depth": 2, "image_dim": 8,
}  # fmt: skip
TINY_STUDENT = {"hidden": 32, "layers": 1}


@pytest.fixture(autouse=True, scope="module")
def _setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One thread, a cache of our own, and clips parsed in this process (no worker pool)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESDK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.setattr(train_data, "load_clips", functools.partial(train_data.load_clips, workers=1))
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "same"
    config = TrainConfig(
        model="same-small", data=DATA, out=str(out), epochs=1, batch_size=16, progress=False,
        overrides=TINY_SAME,
    )  # fmt: skip
    return train(config)


@pytest.fixture(scope="module")
def other_teacher(teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same teacher model with other (untrained) weights."""
    torch.manual_seed(123)
    model = create_model("same-small", **TINY_SAME)
    out = tmp_path_factory.mktemp("teacher") / "other"
    return checkpoint.save(model, out, data=checkpoint.read_meta(teacher)["data"])


def _config(teacher: Path, out: Path, **changes: object) -> DistillConfig:
    fields: dict[str, object] = {
        "teacher": str(teacher), "student": "same-student", "data": DATA, "out": str(out),
        "epochs": 1, "batch_size": 16, "alpha": 0.5, "progress": False,
        "overrides": TINY_STUDENT,
    }  # fmt: skip
    fields.update(changes)
    return DistillConfig(**fields)  # type: ignore[arg-type]


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(ckpt).state_dict()


def test_distilled_student_reloads_and_evaluates(teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "student"
    argv = [
        "distill", "--teacher", str(teacher), "--student", "same-student", "--data", DATA,
        "--out", str(out), "--epochs", "1", "--alpha", "0.5", "--batch-size", "16", "--quiet",
        "--set", "hidden=32", "--set", "layers=1",
    ]  # fmt: skip
    assert main(argv) == 0
    assert {p.name for p in out.iterdir()} >= {
        "model.safetensors",
        "config.json",
        "train_state.safetensors",
    }
    meta = json.loads((out / "config.json").read_text())
    assert meta["model"] == "same-student" and meta["spec"]["streaming"]
    assert meta["train"]["teacher"] == str(teacher) and meta["train"]["alpha"] == 0.5
    assert meta["train"]["teacher_model"] == "same-small" and meta["train"]["kind"] == "distill"
    assert meta["data"]["fingerprint"] == checkpoint.read_meta(teacher)["data"]["fingerprint"]
    assert [h["epoch"] for h in meta["train"]["history"]] == [0]
    model = checkpoint.load(out)
    assert isinstance(model, StreamingStudent) and model.config.hidden == 32
    result = evaluate_checkpoint(out, DATA, progress=False)
    assert all(name.startswith("head") for name in result["per_combination"])
    assert 0 < result["overall"]["mpjpe_mm"] < 1000


def test_alpha_zero_ignores_the_teacher(
    teacher: Path, other_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {}
    for alpha in (0.0, 0.5):
        for name, ckpt in (("trained", teacher), ("other", other_teacher)):
            out = distill(_config(ckpt, tmp_path / f"{name}-{alpha}", alpha=alpha))
            history = json.loads((out / "config.json").read_text())["train"]["history"]
            runs[name, alpha] = (history[0]["train_loss"], _weights(out))
    assert runs["trained", 0.0][0] == runs["other", 0.0][0]
    for key, value in runs["trained", 0.0][1].items():
        assert torch.equal(value, runs["other", 0.0][1][key]), key
    assert runs["trained", 0.5][0] != runs["other", 0.5][0]  # with alpha > 0 the teacher counts

    def no_teacher(*args: object) -> None:
        raise AssertionError("the teacher ran with alpha = 0")

    monkeypatch.setattr("edgesdk.train.distill.teacher_targets", no_teacher)
    distill(_config(teacher, tmp_path / "control", alpha=0.0))


def test_privileged_teacher_reads_clean_inputs(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``privileged`` the teacher reads the windows' clean inputs (and the true text)
    while the student's loss is on the realistic ones."""
    seen: list[dict[str, object]] = []
    real = distill_module.teacher_targets

    def spy(model: object, batch: dict[str, object]) -> object:
        seen.append(batch)
        return real(model, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(distill_module, "teacher_targets", spy)
    out = distill(_config(teacher, tmp_path / "privileged", privileged=True, max_batches=2))
    assert len(seen) == 2
    for batch in seen:
        assert torch.equal(batch["imu"], batch["clean_imu"])  # type: ignore[arg-type]
        assert torch.equal(batch["head"], batch["clean_head"])  # type: ignore[arg-type]
    meta = checkpoint.read_meta(out)
    assert meta["train"]["privileged"] and meta["data"]["window"]["privileged"]
    assert meta["data"]["window"]["devices"] == "realistic"
    with pytest.raises(EdgeSDKError, match="no clean_imu"):
        privileged_inputs({"imu": torch.zeros(1)})


def test_resume_continues_and_matches_an_uninterrupted_run(teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    distill(_config(teacher, out))
    first = json.loads((out / "config.json").read_text())["train"]["history"]
    distill(_config(teacher, out, epochs=2, resume=True))
    history = json.loads((out / "config.json").read_text())["train"]["history"]
    assert [h["epoch"] for h in history] == [0, 1] and history[0] == first[0]
    straight = distill(_config(teacher, tmp_path / "straight", epochs=2))
    for key, value in _weights(straight).items():
        torch.testing.assert_close(_weights(out)[key], value, atol=1e-6, rtol=0)
    with pytest.raises(EdgeSDKError, match="different run"):
        distill(_config(teacher, out, epochs=3, alpha=0.2, resume=True))
    with pytest.raises(EdgeSDKError, match="--resume"):
        distill(_config(teacher, tmp_path / "none", resume=True))


def test_windows_carry_what_teacher_and_student_read() -> None:
    head2body = create_model("head2body-small")
    ego4o_student = create_model("ego4o-student")
    cfg = distill_window_config(head2body, ego4o_student, seed=3)  # type: ignore[arg-type]
    assert cfg.head_hr_factor == 8 and cfg.require_slots == (0,) and cfg.seed == 3
    cfg = distill_window_config(
        create_model("ego4o-small"),  # type: ignore[arg-type]
        create_model("head2body-student"),  # type: ignore[arg-type]
        seed=0,
    )
    assert cfg.head_hr_factor == 8 and cfg.require_slots == (0,) and cfg.window == 60
    assert students() == [
        "ego4o-student", "ego4o-student-tiny", "head2body-student", "head2body-student-tiny",
        "motiongrpo-student", "motiongrpo-student-tiny", "same-student", "same-student-tiny",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--student", "nope"], "unknown student 'nope'; students: ego4o-student"),
        (["--student", "same-small"], "unknown student 'same-small'"),
        (["--student", "same-student", "--alpha", "1.5"], "--alpha: 1.5 is not a finite number"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    teacher: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    argv = ["distill", "--teacher", str(teacher), "--data", DATA, "--out", str(tmp_path / "x")]
    assert main([*argv, *extra, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("edgesdk") and message in err
    assert not (tmp_path / "x").exists()


def test_cli_missing_teacher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["distill", "--teacher", str(tmp_path), "--student", "same-student"]
    assert main([*argv, "--data", DATA, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "not a checkpoint folder" in capsys.readouterr().err

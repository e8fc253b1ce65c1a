"""Distillation of a trained teacher into a streaming student (``edgesdk.models.students``).

Each training batch is run through the teacher (eval mode, no gradients: Ego4o's decoded
codes, Head2Body's greedy tokens, SAME's refined pose, MotionGRPO's deterministic DDIM
sample), and the student learns ``alpha`` x (pose loss against the teacher's joint rotations
and positions) + (1 - alpha) x (against the ground truth); see
``StreamingStudent.distill_loss`` for the terms. ``alpha = 0`` never runs the teacher: the
control run, trained on ground truth alone on the very same windows (the teacher still picks
them), so that the value of distilling is measured.

With ``privileged`` the teacher holds what the student cannot have on a device: it reads the
same window's clean inputs (ideal kinematics, the mocap head: ``WindowConfig.privileged``)
and, when it reads text, the clip's true description, while the student reads the realistic
inputs (real devices through the runtime, the SLAM head) and keeps its own text dropout.

Windows carry what both read (the union of their required slots, the 8x head stream when
either reads it, the teacher's window length). The checkpoint folder has the layout of
``edgesdk train`` (``checkpoint.save``: weights, config, spec, data fingerprint, history,
``--resume`` state) and its ``train`` metadata records the teacher checkpoint, its model and
alpha; ``checkpoint.load`` and ``evaluate_checkpoint`` read it as any other.

Example:
    $ edgesdk distill --teacher runs/same-small --student same-student --data DIR --out runs/s
    $ edgesdk distill --teacher runs/same-small --student same-student --alpha 0 ...  # control
    $ edgesdk distill --teacher runs/same-small --student same-student --privileged ...
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.errors import EdgeSDKError
from edgesdk.input_kinds import reads_text
from edgesdk.models import list_models
from edgesdk.models.base import MotionModel
from edgesdk.models.limits import checked_model
from edgesdk.models.students_core import StreamingStudent
from edgesdk.models.text import default_text_encoder
from edgesdk.train import checkpoint
from edgesdk.train.config import DistillConfig, TrainConfig, run_fields
from edgesdk.train.data import TrainData, input_names, load_train_data, window_config_for
from edgesdk.train.trainer import (
    check_max_batches,
    evaluate_loss,
    rebuilt_after_prepare,
    run_epoch,
    save_run,
)

STAGE = "main"  # a student's one training stage
TEACHER_TARGETS = ("R_world_joint_6d", "pos_rel_m", "contact")
# Batch keys a privileged teacher reads instead of the student's (``WindowConfig.privileged``).
PRIVILEGED_INPUTS = ("imu", "head", "head_imu_hr")


def students() -> list[str]:
    """The registered student names."""
    return list_models(role="student")


class _DistillLoss(nn.Module):
    """The student's loss on a batch with the teacher's targets; the teacher is held outside
    the module tree, so the trainer's ``.train()`` leaves it in eval mode and it is not saved."""

    def __init__(
        self, student: StreamingStudent, teacher: MotionModel, alpha: float, privileged: bool
    ) -> None:
        super().__init__()
        self.student, self.alpha, self.privileged = student, alpha, privileged
        self._teacher = [teacher]

    def forward(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        original = batch
        if self.student.training:
            batch = self.student.augment(batch)  # the teacher sees the same inputs ...
        targets = None
        if self.alpha > 0:  # ... unless it is privileged: clean inputs, the true description
            seen = privileged_inputs(original) if self.privileged else batch
            targets = teacher_targets(self._teacher[0], seen)
        return self.student.distill_loss(batch, targets, self.alpha)


def privileged_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as a privileged teacher reads it: ``clean_*`` inputs in place of the
    realistic ones (the text, when there is one, is the clip's own description)."""
    missing = [k for k in PRIVILEGED_INPUTS if k in batch and f"clean_{k}" not in batch]
    if missing:
        need = "windows need WindowConfig(privileged=True)"
        raise EdgeSDKError(f"privileged teacher: the batch has no clean_{missing[0]} ({need})")
    return {**batch, **{k: batch[f"clean_{k}"] for k in PRIVILEGED_INPUTS if k in batch}}


@torch.no_grad()
def teacher_targets(teacher: MotionModel, batch: dict[str, Any]) -> dict[str, Tensor]:
    """The teacher's deterministic predictions on a batch that the student learns from."""
    teacher.eval()
    out = teacher.predict(batch)
    return {k: out[k].detach() for k in TEACHER_TARGETS if k in out}


def distill_window_config(teacher: MotionModel, student: MotionModel, seed: int) -> WindowConfig:
    """Windows both read: the teacher's length, the union of the slots each needs, the 8x
    head stream when either reads it."""
    t, s = window_config_for(teacher, seed=seed), window_config_for(student, seed=seed)
    if t.head_hr_factor and s.head_hr_factor and t.head_hr_factor != s.head_hr_factor:
        raise EdgeSDKError(
            f"teacher and student read the head IMU at {t.head_hr_factor}x and "
            f"{s.head_hr_factor}x the frame rate"
        )
    return dataclasses.replace(
        t,
        head_hr_factor=max(t.head_hr_factor, s.head_hr_factor),
        require_slots=tuple(sorted(set(t.require_slots) | set(s.require_slots))),
    )


def _check(config: DistillConfig) -> None:
    known = students()
    if config.student not in known:
        raise EdgeSDKError(f"unknown student {config.student!r}; students: {', '.join(known)}")
    if not 0.0 <= config.alpha <= 1.0:
        raise EdgeSDKError(f"alpha {config.alpha}: expected a number in [0, 1]")
    if config.epochs < 0 or config.batch_size < 1:
        raise EdgeSDKError(
            f"epochs {config.epochs} / batch size {config.batch_size}: expected >= 0 / >= 1"
        )


def distill(config: DistillConfig) -> Path:
    """Distill ``config.teacher`` into a new ``config.student``; returns the checkpoint folder."""
    _check(config)
    check_max_batches(config.max_batches)
    out = Path(config.out)
    state = checkpoint.load_train_state(out) if config.resume else None
    if config.resume:
        if state is None:
            raise EdgeSDKError(f"{out}: --resume given but there is no {checkpoint.TRAIN_STATE}")
        _check_resumed(out, config)
    teacher = checkpoint.load(config.teacher)
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher_meta = checkpoint.read_meta(config.teacher)

    torch.manual_seed(config.seed)  # after the teacher: its building does not move the seed
    student = checked_model(config.student, config.overrides, "--set")
    assert isinstance(student, StreamingStudent)
    data = load_train_data(Path(config.data), limit=config.limit, progress=config.progress)
    if student.prepare([c.labels.text() for c in data.train]):  # an activity head's table
        rebuilt = rebuilt_after_prepare(student, config.student)
        assert isinstance(rebuilt, StreamingStudent)
        student = rebuilt
    wcfg = dataclasses.replace(
        distill_window_config(teacher, student, config.seed),
        devices=config.devices,
        head=config.head,
        privileged=config.privileged and config.alpha > 0,
    )
    names = input_names(teacher) | input_names(student)
    text_encoder = default_text_encoder() if reads_text(names) else None
    train_ds = WindowDataset(data.train, wcfg, train=True)
    val_ds = WindowDataset(data.val, wcfg, train=False)
    if len(train_ds) == 0:
        raise EdgeSDKError(f"{config.data}: no training windows (clips shorter than the window?)")
    opt = torch.optim.AdamW(student.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if state is not None:
        student.load_state_dict(checkpoint.load(out).state_dict())
        checkpoint.restore_optimizer(opt, state, out)

    # The trainer's epoch loop (progress bar, gradient clipping) on the distillation loss.
    loop = TrainConfig(model=config.student, **run_fields(config))
    loss_module = _DistillLoss(student, teacher, config.alpha, config.privileged)
    history: list[dict[str, Any]] = list(state["history"]) if state else []
    done = {h["epoch"] for h in history}
    started = time.perf_counter()
    for epoch in range(config.epochs):
        if epoch in done:
            continue
        train_loss = run_epoch(loss_module, train_ds, opt, loop, STAGE, epoch, 0, 1, text_encoder)
        # Validation against the ground truth: the figure that distilling should lower.
        val_loss = evaluate_loss(student, val_ds, STAGE, config.batch_size, text_encoder)
        history.append(
            {"stage": STAGE, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        )
        _save(student, config, teacher_meta, data, wcfg, history, opt, started)
    if not history:  # zero epochs: still a loadable checkpoint of the initial student
        _save(student, config, teacher_meta, data, wcfg, history, opt, started)
    return out


def _check_resumed(out: Path, config: DistillConfig) -> None:
    saved = checkpoint.read_meta(out)
    train = saved.get("train", {})
    teacher = str(Path(config.teacher).resolve())
    same = (
        saved.get("model"),
        train.get("teacher_path"),
        train.get("alpha"),
        train.get("privileged", False),
    ) == (config.student, teacher, config.alpha, config.privileged)
    if not same:
        raise EdgeSDKError(
            f"{out}: --resume of a different run (saved: student {saved.get('model')}, "
            f"teacher {train.get('teacher')}, alpha {train.get('alpha')})"
        )


def _save(
    student: MotionModel,
    config: DistillConfig,
    teacher_meta: dict[str, Any],
    data: TrainData,
    wcfg: WindowConfig,
    history: list[dict[str, Any]],
    opt: torch.optim.Optimizer,
    started: float,
) -> None:
    extra = {
        "kind": "distill",
        "teacher_path": str(Path(config.teacher).resolve()),
        "teacher_model": teacher_meta.get("model"),
        "teacher_data_fingerprint": teacher_meta.get("data", {}).get("fingerprint"),
    }
    save_run(student, config, data, wcfg, history, STAGE, opt, started, extra)

"""Streaming students: one small causal network per teacher, run frame by frame on the device.

Each student reads exactly what its teacher's runtime supplies, in a yaw frame of its own
(below), through a unidirectional GRU that carries its state from frame to frame (the core:
``students_core.py``), so a phone, watch or glasses app calls ``step`` once per 30 Hz frame;
nothing re-runs over a window. ``forward`` runs a whole sequence from a fresh state (training,
evaluation, export) with the same numbers as stepping through it.

    ego4o-student       imu [B, T, 5, 9] + mask [B, T, 5] (+ text_emb [B, 384], text_mask [B])
                        yaw frame: per frame, the heading of the first present slot in the
                        order head, left pocket, right pocket, left wrist, right wrist
    head2body-student   head_imu_hr [B, 8T, 12]: the 240 Hz head IMU; frame t reads its 8
                        samples 8t .. 8t+7 flattened (96 values); yaw frame: the head IMU's
                        heading at sample 8t, as Head2Body's
    same-student        imu + mask + head [B, T, 9] (6DoF pose); yaw frame: the head's heading
    motiongrpo-student  head [B, T, 9] only; yaw frame: the head's heading

Outputs per frame: ``R_world_joint_6d [22, 6]``, ``pos_rel_m [22, 3]`` (pelvis-relative,
world orientation), and from ``step`` / ``predict`` also ``root_vel_mps [3]`` (world) and
``contact [2]`` (left / right foot contact probability). Each student's ``spec`` (streaming,
its state tensors, inputs, rates, normalization in ``notes``) is declared below; export,
runtime and benchmarks read only that. ``edgesdk distill`` trains them from a teacher.

Example:
    >>> import torch
    >>> model = ego4o_student().eval()
    >>> imu, mask, text_emb, text_mask = model.example_inputs(batch_size=2)
    >>> R6, pos = model(imu, mask, text_emb, text_mask)
    >>> tuple(R6.shape), tuple(pos.shape), model.spec.streaming
    ((2, 60, 22, 6), (2, 60, 22, 3), True)
    >>> (R6_t, pos_t, vel_t, contact_t), state = model.step(imu[:, 0], mask[:, 0],
    ...                                                     text_emb, text_mask)
    >>> torch.allclose(R6_t, R6[:, 0], atol=1e-5), [tuple(s.shape) for s in state]
    (True, [(2, 2, 128), (2, 3)])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor

from edgesdk.data.slots import SLOTS
from edgesdk.models.base import (
    HEAD_IMU_CHANNELS,
    ModelSpec,
    TensorSpec,
    head_imu_hr_input,
    pose_outputs,
    slot_imu_inputs,
    text_inputs,
)
from edgesdk.models.registry import build_config, register_model
from edgesdk.models.students_core import (
    ACC_SCALE,
    HEAD_FEATURES,
    HEAD_PREV,
    StreamingStudent,
    StudentConfig,
    head_current,
    head_features,
    reference_cos_sin,
    turn,
    turn_imu,
    yaw_delta,
)

NUM_SLOTS = len(SLOTS)
# Slots in the order their heading is taken as the yaw frame (the first one present).
REFERENCE_ORDER = ("head", "left_pocket", "right_pocket", "left_wrist", "right_wrist")
_REF_INDEX = [SLOTS.index(s) for s in REFERENCE_ORDER]
_SLOT_ONEHOT = torch.eye(NUM_SLOTS)


# ----------------------------------------------------------------------------- spec pieces


_IMU_INPUTS = slot_imu_inputs(
    "3, no gravity",
    "",
    "1 where the slot's device is present (devices may come and go in any frame)",
)


_HEAD_INPUT = TensorSpec(
    "head",
    ("batch", "time", 9),
    units="m, 6D",
    description="head 6DoF pose every frame: position (world, floor at y = 0) + R_world_head 6D",
)
_OUTPUTS = pose_outputs()


def _notes(c: StudentConfig, inputs: str, frame: str) -> str:
    return (
        f"streaming student: causal GRU {c.layers} x {c.hidden}, no look-ahead. Inputs: "
        f"{inputs}. Yaw frame: {frame}; inputs are turned into it and outputs turned back, "
        "so a world yaw changes nothing but the outputs' heading. step(*frame, state): each "
        "input without its time axis ('k*time' becomes k), state as in `state` (zeros: a new "
        "stream) -> (R_world_joint_6d [batch, 22, 6], pos_rel_m [batch, 22, 3], root_vel_mps "
        "[batch, 3] world m/s, contact [batch, 2] left/right foot contact probability), new "
        "state; forward(*inputs) over [batch, time] from zeros equals stepping (atol 1e-5). "
        f"Normalization inside the model: acceleration x {ACC_SCALE} (m/s^2), gyro rad/s, "
        "6D as is, head height m, head velocity m/s by backward difference x fps."
    )


S = TypeVar("S", bound=StreamingStudent)


def _create(cls: Callable[[StudentConfig], S], name: str, overrides: dict[str, Any]) -> S:
    return cls(build_config(StudentConfig(name=name), overrides))


# ----------------------------------------------------------------------------- ego4o-student


class Ego4oStudent(StreamingStudent):
    """Student of Ego4o: 1-3 (any of the 5) IMU slots and their mask, optional text."""

    prev_features = 3
    prev_description = " (of the reference slot)"

    def __init__(self, config: StudentConfig) -> None:
        super().__init__(config, NUM_SLOTS * 9 + 2 * NUM_SLOTS + 2, extra_dim=config.text_dim)
        c = config
        self.spec = ModelSpec(
            inputs=(
                *_IMU_INPUTS,
                *text_inputs(c.text_dim, "; zeros with text_mask 0 when there is none"),
            ),
            outputs=_OUTPUTS,
            fps=c.fps,
            window=c.window,
            streaming=True,
            state=self.state_specs(),
            notes=_notes(
                c,
                f"5 IMU slots at {c.fps:g} Hz + mask, optional text embedding",
                "per frame, the heading of the first present slot in the order "
                + ", ".join(REFERENCE_ORDER),
            ),
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        imu: Tensor = batch["imu"]
        B = imu.shape[0]
        text_emb, text_mask = batch.get("text_emb"), batch.get("text_mask")
        if text_emb is None:
            text_emb, text_mask = imu.new_zeros(B, self.config.text_dim), imu.new_zeros(B)
        elif text_mask is None:
            text_mask = (text_emb.abs().sum(-1) > 0).to(imu.dtype)
        return imu, batch["mask"], text_emb, text_mask

    def augment(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Drop the description of ``p_drop_text`` of the windows (the device rarely has one)."""
        if "text_mask" not in batch:
            return batch
        mask: Tensor = batch["text_mask"]
        keep = (torch.rand(mask.shape, device=mask.device) >= self.config.p_drop_text).to(mask)
        out = {**batch, "text_mask": mask * keep}
        if "text_emb" in batch:
            out["text_emb"] = batch["text_emb"] * keep[:, None]
        return out

    @staticmethod
    def reference_slot(mask: Tensor) -> Tensor:
        """One-hot ``[B, T, 5]`` of the slot whose heading is the frame's yaw (zeros when no
        slot is present)."""
        # Products of 0/1 flags, no argmax / one_hot: they export to every backend and stay
        # exact under int8 (LiteRT has no one_hot assert, and quantized comparisons drift).
        present = (mask > 0.5).to(mask.dtype)
        none_before = torch.ones_like(present[..., 0])
        onehot = torch.zeros_like(present)
        for slot in _REF_INDEX:
            first = present[..., slot] * none_before
            onehot = onehot + first[..., None] * _SLOT_ONEHOT[slot].to(present)
            if slot != _REF_INDEX[-1]:  # no dead node (LiteRT's quantizer trips on one)
                none_before = none_before * (1.0 - present[..., slot])
        return onehot

    def current(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        imu, mask = inputs[0], inputs[1]
        R6 = (self.reference_slot(mask)[..., None] * imu[..., 3:9]).sum(-2)
        cos_sin, valid = reference_cos_sin(R6)
        return cos_sin, torch.cat([cos_sin, valid[..., None]], -1)

    def features(
        self, inputs: tuple[Tensor, ...], R_ref_world: Tensor, now: Tensor, prev: Tensor
    ) -> Tensor:
        imu, mask = inputs[0], inputs[1]
        present = (mask > 0.5).to(imu.dtype)
        local = turn_imu(R_ref_world[:, :, None], imu) * present[..., None]
        dyaw = yaw_delta(now[..., :2], now[..., 2], prev)
        return torch.cat([local.flatten(-2), present, self.reference_slot(mask), dyaw], -1)

    def extra_inputs(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor] | None:
        if len(inputs) < 4:  # called with the IMUs alone: no text
            B = inputs[0].shape[0]
            return inputs[0].new_zeros(B, self.config.text_dim), inputs[0].new_zeros(B)
        return inputs[2], inputs[3]


# ----------------------------------------------------------------------------- head2body-student


class Head2BodyStudent(StreamingStudent):
    """Student of Head2Body: the head IMU alone at 8x the frame rate."""

    prev_features = 3
    prev_description = " (of the head IMU at the frame's first sample)"

    def __init__(self, config: StudentConfig) -> None:
        c = config
        super().__init__(c, c.hr_factor * HEAD_IMU_CHANNELS + 2)
        rate = c.fps * c.hr_factor
        self.spec = ModelSpec(
            inputs=(
                head_imu_hr_input(
                    c.hr_factor,
                    f"{rate:g} Hz ({c.hr_factor} samples per frame, sample 8t at frame t)",
                ),
            ),
            outputs=_OUTPUTS,
            fps=c.fps,
            window=c.window,
            slots=("head",),
            streaming=True,
            state=self.state_specs(),
            notes=_notes(
                c,
                f"head IMU at {rate:g} Hz; frame t reads samples "
                f"{c.hr_factor}t .. {c.hr_factor}t+{c.hr_factor - 1} flattened "
                f"({c.hr_factor * HEAD_IMU_CHANNELS} values)",
                "the head IMU's heading at the frame's first sample",
            ),
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        """``head_imu_hr``, zeroed where the head device is absent (as Head2Body reads it)."""
        hr: Tensor = batch["head_imu_hr"]
        if "mask" in batch:
            on = batch["mask"][..., 0].repeat_interleave(self.config.hr_factor, 1)
            hr = hr * on[..., None]
        return (hr,)

    def current(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        cos_sin, valid = reference_cos_sin(inputs[0][:, :: self.config.hr_factor, 6:12])
        return cos_sin, torch.cat([cos_sin, valid[..., None]], -1)

    def features(
        self, inputs: tuple[Tensor, ...], R_ref_world: Tensor, now: Tensor, prev: Tensor
    ) -> Tensor:
        hr = inputs[0].unflatten(1, (-1, self.config.hr_factor))  # [B, T, 8, 12]
        R = R_ref_world[:, :, None]
        acc = turn(R, hr[..., 0:3]) * ACC_SCALE
        cols = [turn(R, hr[..., 6:9]), turn(R, hr[..., 9:12])]
        local = torch.cat([acc, hr[..., 3:6], *cols], -1).flatten(-2)
        return torch.cat([local, yaw_delta(now[..., :2], now[..., 2], prev)], -1)


# ----------------------------------------------------------------------------- same-student


class SameStudent(StreamingStudent):
    """Student of SAME: IMU slots and their mask plus the head's 6DoF pose every frame."""

    prev_features = HEAD_PREV
    prev_description = ", position (m) of the head"

    def __init__(self, config: StudentConfig) -> None:
        super().__init__(config, NUM_SLOTS * 9 + NUM_SLOTS + HEAD_FEATURES)
        c = config
        self.spec = ModelSpec(
            inputs=(*_IMU_INPUTS, _HEAD_INPUT),
            outputs=_OUTPUTS,
            fps=c.fps,
            window=c.window,
            required_slots=("head",),
            streaming=True,
            state=self.state_specs(),
            notes=_notes(
                c,
                f"5 IMU slots at {c.fps:g} Hz + mask + the head 6DoF pose (every "
                "frame; the head IMU slot may be absent)",
                "the head's heading",
            ),
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        return batch["imu"], batch["mask"], batch["head"]

    def current(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        return head_current(inputs[2])

    def features(
        self, inputs: tuple[Tensor, ...], R_ref_world: Tensor, now: Tensor, prev: Tensor
    ) -> Tensor:
        imu, mask, head = inputs
        present = (mask > 0.5).to(imu.dtype)
        local = turn_imu(R_ref_world[:, :, None], imu) * present[..., None]
        head_feat = head_features(head, R_ref_world, now, prev, self.config.fps)
        return torch.cat([local.flatten(-2), present, head_feat], -1)


# ----------------------------------------------------------------------------- motiongrpo-student


class MotionGRPOStudent(StreamingStudent):
    """Student of MotionGRPO: the head's 6DoF trajectory; one pass per frame in place of the
    teacher's multi-step diffusion over a window."""

    prev_features = HEAD_PREV
    prev_description = ", position (m) of the head"

    def __init__(self, config: StudentConfig) -> None:
        super().__init__(config, HEAD_FEATURES)
        c = config
        self.spec = ModelSpec(
            inputs=(_HEAD_INPUT,),
            outputs=_OUTPUTS,
            fps=c.fps,
            window=c.window,
            slots=("head",),
            streaming=True,
            state=self.state_specs(),
            notes=_notes(c, f"the head 6DoF pose at {c.fps:g} Hz", "the head's heading"),
        )

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        return (batch["head"],)

    def current(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        return head_current(inputs[0])

    def features(
        self, inputs: tuple[Tensor, ...], R_ref_world: Tensor, now: Tensor, prev: Tensor
    ) -> Tensor:
        return head_features(inputs[0], R_ref_world, now, prev, self.config.fps)


# ----------------------------------------------------------------------------- registry


@register_model(role="student", scale="small", streaming=True, teacher="ego4o")
def ego4o_student(**overrides: Any) -> Ego4oStudent:
    """Ego4o's student: IMU slots + mask (+ text) -> GRU 2 x 128."""
    return _create(Ego4oStudent, "ego4o-student", overrides)


@register_model(role="student", scale="small", streaming=True, teacher="same")
def same_student(**overrides: Any) -> SameStudent:
    """SAME's student: IMU slots + mask + head 6DoF -> GRU 2 x 128."""
    return _create(SameStudent, "same-student", overrides)


@register_model(role="student", scale="small", streaming=True, teacher="head2body")
def head2body_student(**overrides: Any) -> Head2BodyStudent:
    """Head2Body's student: 240 Hz head IMU, 8 samples per frame -> GRU 2 x 128."""
    return _create(Head2BodyStudent, "head2body-student", overrides)


@register_model(role="student", scale="small", streaming=True, teacher="motiongrpo")
def motiongrpo_student(**overrides: Any) -> MotionGRPOStudent:
    """MotionGRPO's student: head 6DoF trajectory -> GRU 2 x 128, one pass per frame."""
    return _create(MotionGRPOStudent, "motiongrpo-student", overrides)


# Tiny variants (GRU 1 x 32): at most 1/100 of the small teachers' FLOPs per second of motion
# (the default 2 x 128 students are 1/8 - 1/127 of them, 1/240 - 1/20000 of the paper-scale).
TINY = {"hidden": 32, "layers": 1}


@register_model(role="student", scale="tiny", streaming=True, teacher="ego4o")
def ego4o_student_tiny(**overrides: Any) -> Ego4oStudent:
    """ego4o-student with a GRU 1 x 32."""
    return _create(Ego4oStudent, "ego4o-student-tiny", {**TINY, **overrides})


@register_model(role="student", scale="tiny", streaming=True, teacher="same")
def same_student_tiny(**overrides: Any) -> SameStudent:
    """same-student with a GRU 1 x 32."""
    return _create(SameStudent, "same-student-tiny", {**TINY, **overrides})


@register_model(role="student", scale="tiny", streaming=True, teacher="head2body")
def head2body_student_tiny(**overrides: Any) -> Head2BodyStudent:
    """head2body-student with a GRU 1 x 32."""
    return _create(Head2BodyStudent, "head2body-student-tiny", {**TINY, **overrides})


@register_model(role="student", scale="tiny", streaming=True, teacher="motiongrpo")
def motiongrpo_student_tiny(**overrides: Any) -> MotionGRPOStudent:
    """motiongrpo-student with a GRU 1 x 32."""
    return _create(MotionGRPOStudent, "motiongrpo-student-tiny", {**TINY, **overrides})

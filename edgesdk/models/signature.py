"""What an artifact computes: the module to export, its example inputs and its named tensors.

A streaming model (``spec.streaming``, the students) exports ``step``: one frame in, one pose
out (and, with an activity head, ``activity_prob`` and ``activity_emb`` after the pose
outputs), with the recurrent state as explicit inputs and outputs, so a device app calls the
artifact once per frame and feeds the state back. Any other model exports ``forward`` over a
window of ``spec.window`` frames (one second of frames for a model that takes any length); a
sliding-window model (``spec.context``, e.g. MobilePoser) over its ``context`` frames, called
once per output frame with the window moved by one frame, emitting frame ``emit``.
Batch is 1 in all: a device runs one wearer.

Example:
    >>> from edgesdk.models import create_model
    >>> sig = signature_for(create_model("same-student"))
    >>> [t.name for t in sig.inputs]
    ['imu', 'mask', 'head', 'gru_h', 'prev']
    >>> sig.state_pairs
    (('next_gru_h', 'gru_h'), ('next_prev', 'prev'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from edgesdk.errors import EdgeSDKError
from edgesdk.models.activity_head import activity_outputs
from edgesdk.models.base import MotionModel, TensorSpec, resolve_dim

# The outputs of a streaming student's ``step``, before its new state.
STEP_OUTPUTS = (
    TensorSpec(
        "R_world_joint_6d",
        (1, 22, 6),
        units="6D",
        description="global joint rotations, world frame",
    ),
    TensorSpec(
        "pos_rel_m",
        (1, 22, 3),
        units="m",
        description="joint positions minus the pelvis, world orientation",
    ),
    TensorSpec("root_vel_mps", (1, 3), units="m/s", description="pelvis velocity, world"),
    TensorSpec("contact", (1, 2), description="left / right foot contact probability"),
)


@dataclass(frozen=True)
class ExportSignature:
    """The module an artifact is made of and its tensors, in call order, with fixed shapes."""

    model: MotionModel
    module: nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    streaming: bool
    frames: int = 1  # frames per call
    emit: int | None = None  # sliding window: the one frame of a call's outputs it emits

    @property
    def state_pairs(self) -> tuple[tuple[str, str], ...]:
        """(output name, input name) of each state tensor fed back on the next call."""
        return tuple(("next_" + s.name, s.name) for s in self.model.spec.state)

    def example(self) -> tuple[Tensor, ...]:
        """Deterministic inputs of the right shapes (state: zeros, a fresh stream)."""
        g = torch.Generator().manual_seed(0)
        states = {s.name for s in self.model.spec.state}
        return tuple(
            torch.zeros(dims(t)) if t.name in states else torch.randn(dims(t), generator=g)
            for t in self.inputs
        )

    def to_dict(self) -> dict[str, Any]:
        def one(t: TensorSpec) -> dict[str, Any]:
            return {
                "name": t.name,
                "shape": list(t.shape),
                "dtype": t.dtype,
                "units": t.units,
                "description": t.description,
            }

        if self.streaming:
            mode = "step (one frame per call, state in and out)"
        elif self.emit is not None:
            mode = (
                f"sliding window ({self.frames} frames per call, one call per output frame, "
                f"which is frame {self.emit} of the call: {self.frames - 1 - self.emit} "
                "frames of look-ahead)"
            )
        else:
            mode = f"window ({self.frames} frames per call)"
        return {
            "mode": mode,
            "inputs": [one(t) for t in self.inputs],
            "outputs": [one(t) for t in self.outputs],
            "state": [{"output": o, "input": i} for o, i in self.state_pairs],
        }


def _fixed(t: TensorSpec, time: int | None) -> TensorSpec:
    """``t`` with batch 1 and its time axis fixed (``time=None``: removed, as in ``step``)."""
    shape: list[int] = []
    for d in t.shape:
        if d == "time" and time is None:
            continue
        shape.append(resolve_dim(d, 1, 1 if time is None else time))
    return TensorSpec(t.name, tuple(shape), t.dtype, t.units, t.description)


def signature_for(model: MotionModel) -> ExportSignature:
    """The export signature of ``model`` (put in eval mode)."""
    model.eval()
    spec = model.spec
    if spec.streaming:
        inputs = tuple(_fixed(t, None) for t in (*spec.inputs, *spec.state))
        state_out = tuple(
            TensorSpec(
                "next_" + s.name,
                _fixed(s, None).shape,
                s.dtype,
                s.units,
                "state for the next call: " + s.description,
            )
            for s in spec.state
        )
        head = getattr(model, "activity_head", None)
        extra = activity_outputs(len(head.labels), head.text_dim) if head is not None else ()
        return ExportSignature(
            model,
            model.step_module().eval(),
            inputs,
            (*STEP_OUTPUTS, *extra, *state_out),
            True,
        )
    window = spec.context or spec.window or round(spec.fps)  # any length: one second per call
    inputs = tuple(_fixed(t, window) for t in spec.inputs)
    outputs = tuple(_fixed(t, window) for t in spec.outputs[:2])
    return ExportSignature(model, model, inputs, outputs, False, window, spec.emit_index)


def dims(t: TensorSpec) -> list[int]:
    """The shape of a fixed ``TensorSpec`` (one from a signature) as ints."""
    return [int(d) for d in t.shape]


def spec_name(model: nn.Module) -> str:
    return str(getattr(getattr(model, "config", None), "name", type(model).__name__))


def _time_axis(spec: TensorSpec) -> tuple[int, int] | None:
    """(axis, samples per frame) of an input's time axis (``time`` or ``k*time``), or None."""
    for i, d in enumerate(spec.shape):
        if d == "time":
            return i, 1
        if isinstance(d, str) and d.endswith("*time"):
            return i, int(d.split("*")[0])
    return None


def num_frames(sig: ExportSignature, seq: Sequence[Tensor]) -> int:
    """Frames in a streaming model's sequence inputs ``[1, T, ...]`` (``[1, k*T, ...]``)."""
    for spec, x in zip(sig.model.spec.inputs, seq, strict=False):
        axis = _time_axis(spec)
        if axis is not None:
            return int(x.shape[axis[0]]) // axis[1]
    raise EdgeSDKError(f"{spec_name(sig.model)}: no input has a time axis")


def frame_inputs(sig: ExportSignature, seq: Sequence[Tensor], t: int) -> tuple[Tensor, ...]:
    """Frame ``t`` of a streaming model's sequence inputs ``[1, T, ...]`` (per-sequence inputs
    such as a text embedding as they are; ``k*time`` inputs: their k samples of frame t, the
    time axis kept, as ``step`` takes them)."""
    out = []
    for spec, x in zip(sig.model.spec.inputs, seq, strict=True):
        axis = _time_axis(spec)
        if axis is None:
            out.append(x)
        elif axis[1] == 1:
            out.append(x.select(axis[0], t))
        else:
            out.append(x.narrow(axis[0], t * axis[1], axis[1]))
    return tuple(out)


def sliding_inputs(sig: ExportSignature, seq: Sequence[Tensor], t: int) -> tuple[Tensor, ...]:
    """The inputs of the call that emits frame ``t`` of a sequence ``[1, T, ...]`` for a
    sliding-window signature: frames ``t - emit .. t - emit + frames - 1``, the sequence's
    first and last frames repeated where the window reaches past them (a stream's start, as
    MobilePoser fills its buffer, and the end of a held-out window, whose future is unseen)."""
    if sig.emit is None:
        raise EdgeSDKError(f"{spec_name(sig.model)}: not a sliding-window signature")
    out = []
    for spec, x in zip(sig.model.spec.inputs, seq, strict=True):
        axis = _time_axis(spec)
        if axis is None:
            out.append(x)
            continue
        dim, k = axis
        frames = int(x.shape[dim]) // k
        idx = torch.arange(t - sig.emit, t - sig.emit + sig.frames).clamp(0, frames - 1)
        if k > 1:
            idx = (idx[:, None] * k + torch.arange(k)).flatten()
        out.append(x.index_select(dim, idx))
    return tuple(out)


def emitted(sig: ExportSignature, output: Any) -> Any:
    """The frames of a call's output ``[1, frames, ...]`` that are poses of the stream: all of
    them, or the one a sliding-window call emits (kept as a time axis of 1)."""
    return output if sig.emit is None else output[:, sig.emit : sig.emit + 1]

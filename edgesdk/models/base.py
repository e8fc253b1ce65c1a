"""What every registered model declares and provides.

A model declares its input/output tensors once, in a ``ModelSpec``; training, export, the
runtime and benchmarks read only the spec. Models take the batches of
``edgesdk.data.windows.WindowDataset`` (collated by ``edgesdk.models.base.collate``):

    imu [B, T, 5, 9]   acc_world_mps2 (3) + R_world_sensor 6D (6) per slot; zeros where absent
    mask [B, T, 5]     1 where the slot's device is present
    head [B, T, 9]     head position (m) + R_world_head 6D
    text_emb [B, D]    sentence embedding of the description; zeros where there is none
    targets: R_world_joint_6d [B, T, 22, 6], R_local_6d, pos_m [B, T, 22, 3], root_vel_mps,
             contact [B, T, 2]

and predict at least ``R_world_joint_6d [B, T, 22, 6]`` and root-relative joint positions
``pos_rel_m [B, T, 22, 3]`` (pelvis at the origin in every frame, world orientation kept).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor: name, shape (ints or symbolic names), dtype, units, meaning."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    units: str = ""
    description: str = ""


HEAD_IMU_CHANNELS = 12  # acc_world_mps2 (3), gyro_rads (3, sensor frame), R_world_sensor 6D


def slot_imu_inputs(acc: str, note: str, mask: str) -> tuple[TensorSpec, TensorSpec]:
    """The window batch's IMU slots ``[B, T, 5, 9]`` and their presence mask ``[B, T, 5]``:
    ``acc`` says what the acceleration channels hold, ``note`` ends the IMU's description and
    ``mask`` is the mask's (each family words what it reads)."""
    return (
        TensorSpec(
            "imu",
            ("batch", "time", len(SLOTS), 9),
            units="m/s^2, 6D",
            description=f"acc_world_mps2 ({acc}) + R_world_sensor 6D (6) per slot "
            f"({', '.join(SLOTS)}); zeros where absent{note}",
        ),
        TensorSpec("mask", ("batch", "time", len(SLOTS)), description=mask),
    )


def text_inputs(dim: int, note: str = "") -> tuple[TensorSpec, TensorSpec]:
    """A motion description's sentence embedding ``[B, dim]`` and its presence ``[B]``."""
    return (
        TensorSpec(
            "text_emb",
            ("batch", dim),
            description=f"all-MiniLM-L6-v2 embedding of a motion description{note}",
        ),
        TensorSpec("text_mask", ("batch",), description="1 where text_emb is given"),
    )


def head_imu_hr_input(hr_factor: int, rate: str) -> TensorSpec:
    """The head IMU at ``hr_factor`` samples per frame ``[B, k*T, 12]``; ``rate`` words its
    sample rate."""
    return TensorSpec(
        "head_imu_hr",
        ("batch", f"{hr_factor}*time", HEAD_IMU_CHANNELS),
        units="m/s^2, rad/s, 6D",
        description=f"head IMU at {rate}: acc_world_mps2 (3), gyro_rads (3, sensor frame), "
        "R_world_sensor 6D (6)",
    )


def pose_outputs() -> tuple[TensorSpec, ...]:
    """The two pose outputs every window model declares: joint rotations and positions."""
    return (
        TensorSpec(
            "R_world_joint_6d",
            ("batch", "time", NUM_JOINTS, 6),
            units="6D",
            description="global joint rotations, world frame",
        ),
        TensorSpec(
            "pos_rel_m",
            ("batch", "time", NUM_JOINTS, 3),
            units="m",
            description="joint positions minus the pelvis, world orientation",
        ),
    )


@dataclass(frozen=True)
class ModelSpec:
    """The contract of a model variant, read by export, runtime and benchmarks."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    fps: float = 30.0
    window: int | None = None
    slots: tuple[str, ...] = SLOTS
    required_slots: tuple[str, ...] = ()  # always present in training and evaluation windows
    streaming: bool = False
    state: tuple[TensorSpec, ...] = ()
    notes: str = ""
    # A model re-run over a sliding window for every output frame (MobilePoser: 40 past + 5
    # future frames): a call reads ``context`` frames and emits the pose of the frame
    # ``lookahead`` frames before its last. None: a call emits every frame it reads.
    context: int | None = None
    lookahead: int = 0

    def __post_init__(self) -> None:
        if self.context is not None and not 0 <= self.lookahead < self.context:
            raise ValueError(f"lookahead {self.lookahead} must be in [0, context {self.context})")

    @property
    def emit_index(self) -> int | None:
        """The frame of a sliding-window call whose pose it emits (None: not sliding)."""
        return None if self.context is None else self.context - 1 - self.lookahead

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def target_positions_rel(batch: dict[str, Any]) -> Tensor:
    """Ground-truth joint positions relative to the pelvis, ``[B, T, 22, 3]``."""
    pos: Tensor = batch["pos_m"]
    return pos - pos[..., :1, :]


class MotionModel(nn.Module, abc.ABC):
    """Base class: a config, a spec, training stages, a loss per stage, and ``predict``."""

    config: Any
    spec: ModelSpec
    stages: tuple[str, ...] = ("main",)

    @abc.abstractmethod
    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """Scalar loss for a training stage and a dict of logged figures."""

    @abc.abstractmethod
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Inference on a batch: at least ``R_world_joint_6d`` and ``pos_rel_m``."""

    # -- hooks with defaults: training, export and benchmarks call them on every model ------

    def stage_parameters(self, stage: str) -> Sequence[nn.Parameter]:
        """Parameters trained in a stage (default: all)."""
        return list(self.parameters())

    def stage_lr_scale(self, stage: str) -> float:
        """Factor on the learning rate of a stage, e.g. a smaller one for fine-tuning
        (default: 1)."""
        return 1.0

    def prepare(self, train_texts: Sequence[str]) -> bool:
        """Fit what depends on the training set before training (e.g. a caption vocabulary,
        an activity head's classes). True when it changed the config, so that the trainer
        rebuilds the model from it and ``checkpoint.load`` builds the same shapes (default:
        nothing to fit, False)."""
        return False

    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        """``forward``'s tensors from a collated batch (quantization calibration feeds these
        to the exported graph). Default: the batch's tensors named as ``spec.inputs``, zeros
        (absent) for one the batch lacks."""
        time = int(batch["pos_m"].shape[1])

        def tensor(t: TensorSpec) -> Tensor:
            x = batch.get(t.name)
            if isinstance(x, Tensor):
                return x.float()
            return torch.zeros([resolve_dim(d, 1, time) for d in t.shape])

        return tuple(tensor(t) for t in self.spec.inputs)

    def step_module(self) -> nn.Module:
        """The module a streaming model (``spec.streaming``) exports: one frame and the state
        in, the pose and the next state out. Default: none, an error (a window model exports
        itself)."""
        raise EdgeSDKError(f"{self.config.name}: streaming spec but no step_module()")

    def submodules_for_cost(
        self, seconds: float = 1.0
    ) -> dict[str, tuple[nn.Module, tuple[Tensor, ...]]]:
        """Named parts of the model with example inputs for ``seconds`` of motion, whose FLOPs
        and CPU time the cost report lists apart (default: none)."""
        return {}

    def example_inputs(self, batch_size: int = 1) -> tuple[Tensor, ...]:
        """Random inputs shaped as ``spec.inputs``, for export and FLOP counting. Symbolic
        dims: ``batch`` -> batch_size, ``time`` -> the frames of one call (``spec.context``
        for a sliding-window model, else ``spec.window``, else 1), ``k*time`` -> k times
        that."""
        g = torch.Generator().manual_seed(0)
        time = self.spec.context or self.spec.window or 1
        out = []
        for t in self.spec.inputs:
            shape = [resolve_dim(d, batch_size, time) for d in t.shape]
            out.append(torch.randn(*shape, generator=g))
        return tuple(out)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def resolve_dim(dim: int | str, batch_size: int, time: int) -> int:
    """A ``TensorSpec`` dimension as an int: ``batch`` -> ``batch_size``, ``time`` -> ``time``,
    ``k*time`` -> k times ``time``.

    Example:
        >>> resolve_dim("8*time", batch_size=2, time=3), resolve_dim(22, 2, 3)
        (24, 22)
    """
    if isinstance(dim, int):
        return dim
    if dim == "batch":
        return batch_size
    if dim == "time":
        return time
    factor, sep, rest = dim.partition("*")
    if sep and rest == "time" and factor.isdigit():
        return int(factor) * time
    raise ValueError(f"unknown symbolic dimension {dim!r} (use batch, time or k*time)")


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, keep strings as lists."""
    out: dict[str, Any] = {}
    for key, value in items[0].items():
        if isinstance(value, Tensor):
            out[key] = torch.stack([it[key] for it in items])
        else:
            out[key] = [it[key] for it in items]
    return out

"""Blocks the re-implemented peers share: their IMU input layout, the Linear -> LSTM -> Linear
network of TransPose, PIP, IMUPoser and MobilePoser, an LSTM step in plain ops, the
sliding-window re-run, and the reduced joint set's rotations.

The peers (``mobileposer.py``, ``imuposer.py``, ``pip.py``, ``hmdposer.py``) are written from
their papers and the layer sizes of their public code; nothing of that code is copied.

Example:
    >>> import torch
    >>> net = LinearLSTM(60, 66, hidden=32, layers=2, bidirectional=False)
    >>> y, state = net(torch.randn(2, 10, 60))
    >>> y_t, _ = net.step(torch.randn(2, 60), net.zero_state(2))
    >>> tuple(y.shape), tuple(y_t.shape), tuple(state[0].shape)
    ((2, 10, 66), (2, 66), (2, 2, 32))
"""

from __future__ import annotations

import abc
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.skeleton import NUM_JOINTS, PARENTS
from edgesdk.data.slots import SLOTS
from edgesdk.models.base import MotionModel, TensorSpec, slot_imu_inputs

NUM_SLOTS = len(SLOTS)
IMU_FEATURES = 12  # per slot: acc (3) + R_world_sensor as a 3 x 3 matrix (9)
ACC_SCALE = 1.0 / 30.0  # TransPose, PIP, IMUPoser and MobilePoser divide m/s^2 by 30
# Joints whose global rotation MobilePoser and PIP predict; the others (ankles, feet, wrists)
# take their parent's (a local identity), as in both papers. Pelvis included: without a
# pelvis IMU the root rotation must be predicted too.
REDUCED = (0, 1, 2, 3, 4, 5, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19)
LEAF = (7, 8, 12, 20, 21)  # PIP / TransPose stage 1: ankles, neck, wrists
State = tuple[Tensor, Tensor]


def imu_inputs(description: str = "") -> tuple[TensorSpec, ...]:
    """The window batch layout of the IMU peers: 5 slots and their presence mask."""
    return slot_imu_inputs("3", description, "1 where present")


def rot6d_columns_to_matrix(d6: Tensor) -> Tensor:
    """``[..., 6]`` (two columns of a rotation) to ``[..., 3, 3]`` with the third column
    their cross product, without normalizing: zeros (an absent device) stay zeros."""
    c1, c2 = d6[..., 0:3], d6[..., 3:6]
    return torch.stack([c1, c2, torch.cross(c1, c2, dim=-1)], -1)


def imu_features(imu: Tensor, mask: Tensor) -> Tensor:
    """``imu [B, T, 5, 9]`` + ``mask [B, T, 5]`` -> ``[B, T, 60]``: per slot acceleration / 30
    and the 3 x 3 orientation, in the world frame, zero-filled where a device is absent (the
    input of TransPose / PIP / IMUPoser / MobilePoser)."""
    present = (mask > 0.5).to(imu.dtype)[..., None]
    acc = imu[..., 0:3] * ACC_SCALE
    R = rot6d_columns_to_matrix(imu[..., 3:9]).flatten(-2)
    return (torch.cat([acc, R], -1) * present).flatten(-2)


def full_global_rotations(R_reduced: Tensor) -> Tensor:
    """``[..., 16, 3, 3]`` global rotations of ``REDUCED`` -> ``[..., 22, 3, 3]``, each other
    joint turned as its parent."""
    rots: list[Tensor] = []
    for j in range(NUM_JOINTS):
        rots.append(R_reduced[..., REDUCED.index(j), :, :] if j in REDUCED else rots[PARENTS[j]])
    return torch.stack(rots, -3)


def joint_velocity_mps(pos_m: Tensor, fps: float) -> Tensor:
    """``[B, T, 22, 3]`` positions -> velocities (m/s) by backward difference (0 at frame 0)."""
    vel = (pos_m[:, 1:] - pos_m[:, :-1]) * fps
    return torch.cat([torch.zeros_like(vel[:, :1]), vel], 1)


def lstm_cell(
    x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> State:
    """One step of an ``nn.LSTM`` layer with its weights (PyTorch's gate order i, f, g, o),
    in plain linear and pointwise ops, so an exported ``step`` needs no recurrent kernel."""
    i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class LinearLSTM(nn.Module):
    """Linear + ReLU -> ``layers`` x LSTM(``hidden``) -> Linear: the network every stage of
    TransPose, PIP, IMUPoser and MobilePoser is made of. Dropout on the embedding and
    between LSTM layers. A unidirectional one also steps frame by frame (``step``), with the
    state ``(h, c)``, each ``[B, layers, hidden]``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int,
        layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden, self.layers, self.bidirectional = hidden, layers, bidirectional
        self.linear1 = nn.Linear(in_features, hidden)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(
            hidden,
            hidden,
            layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.linear2 = nn.Linear(hidden * (2 if bidirectional else 1), out_features)

    def zero_state(self, batch_size: int, like: Tensor | None = None) -> State:
        ref = self.linear1.weight if like is None else like
        h = ref.new_zeros(batch_size, self.layers, self.hidden)
        return h, h.clone()

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """``x [B, T, in]`` -> ``([B, T, out], (h, c) after the last frame)``."""
        emb = self.dropout(torch.relu(self.linear1(x)))
        init = None
        if state is not None:
            init = (state[0].transpose(0, 1).contiguous(), state[1].transpose(0, 1).contiguous())
        y, (h, c) = self.rnn(emb, init)
        return self.linear2(y), (h.transpose(0, 1), c.transpose(0, 1))

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One frame ``x [B, in]`` -> ``([B, out], new state)``; equals ``forward`` frame by
        frame (unidirectional only)."""
        if self.bidirectional:
            raise ValueError("a bidirectional LSTM cannot step frame by frame")
        inp = torch.relu(self.linear1(x))
        hs, cs = [], []
        for layer in range(self.layers):
            w = [getattr(self.rnn, f"{n}_l{layer}") for n in _LSTM_WEIGHTS]
            inp, c = lstm_cell(inp, state[0][:, layer], state[1][:, layer], *w)
            hs.append(inp)
            cs.append(c)
        return self.linear2(inp), (torch.stack(hs, 1), torch.stack(cs, 1))


_LSTM_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def sliding_windows(x: Tensor, context: int, lookahead: int) -> Tensor:
    """``x [B, T, ...]`` -> ``[B * T, context, ...]``: for every frame t the window of frames
    ``t - (context - 1 - lookahead) .. t + lookahead``, the first and last frames repeated
    where it reaches past them (``edgesdk.models.signature.sliding_inputs`` per call)."""
    T = x.shape[1]
    start = torch.arange(T, device=x.device) - (context - 1 - lookahead)
    idx = (start[:, None] + torch.arange(context, device=x.device)).clamp(0, T - 1)
    return x[:, idx].flatten(0, 1)


class SlidingWindowModel(MotionModel):
    """A model re-run over a sliding window for every output frame (``spec.context`` frames,
    ``spec.lookahead`` of them after the frame it emits). ``forward`` is one call over the
    frames it is given; ``predict`` is the deployed scheme: one call per frame of the batch,
    each on its own window, keeping the emitted frame's outputs."""

    chunk = 1024  # windows per batched call in ``predict`` (memory)

    @abc.abstractmethod
    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        """``forward``'s tensors ``[B, T, ...]`` from a batch."""

    @abc.abstractmethod
    def run(self, *inputs: Tensor) -> dict[str, Tensor]:
        """Every output ``[B, T, ...]`` of one call over ``T`` frames (``R_world_joint_6d``,
        ``pos_rel_m``, and the model's others)."""

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        """One call: ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m [B, T, 22, 3])``."""
        out = self.run(*inputs)
        return out["R_world_joint_6d"], out["pos_rel_m"]

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        spec = self.spec
        assert spec.context is not None and spec.emit_index is not None
        inputs = self.inputs(batch)
        B, T = inputs[0].shape[:2]
        windows = [sliding_windows(x, spec.context, spec.lookahead) for x in inputs]
        parts: dict[str, list[Tensor]] = {}
        for start in range(0, B * T, self.chunk):
            out = self.run(*(w[start : start + self.chunk] for w in windows))
            for k, v in out.items():
                parts.setdefault(k, []).append(v[:, spec.emit_index])
        return {k: torch.cat(v).unflatten(0, (B, T)) for k, v in parts.items()}

"""What the four streaming students share: the config, the causal GRU core, the per-frame
yaw frame, the two call paths (``forward`` over a sequence, ``step`` over one frame) and the
distillation loss. The students themselves, with their specs, are in ``students.py``.

Every student reads its inputs turned into a yaw frame of their own, chosen per frame from
what it reads (the head's heading, or the reference IMU's), so turning the world about +Y
changes nothing it sees; its outputs are turned back. Anything that needs the previous frame
(the turn of that frame, the head's velocity) reads a small ``prev`` state, so the whole model
is causal and a stream is computed frame by frame with the same numbers as a window:

    per-frame features [B, T, F] -> Linear + GELU [B, T, H] (+ a per-sequence embedding)
      -> GRU (layers x H, unidirectional) -> + the frame's embedding -> MLP -> [B, T, 200]:
         22 joint rotations (6D) and 21 pelvis-relative positions in the yaw frame, root
         velocity (m/s) and two foot-contact logits
      -> turned back by the frame's yaw -> R_world_joint_6d, pos_rel_m, root_vel_mps, contact

State (zeros = the start of a stream): ``gru_h [B, layers, H]`` and ``prev [B, K]``, the
previous frame's quantities (its yaw as cos / sin, ..., and a flag: 1 where it had a yaw).

Example:
    >>> import torch
    >>> cell_out = gru_cell(torch.zeros(1, 4), torch.zeros(1, 2), torch.zeros(6, 4),
    ...                     torch.zeros(6, 2), torch.zeros(6), torch.zeros(6))
    >>> cell_out.tolist()  # z = 0.5, n = 0: half of the zero state and half of n
    [[0.0, 0.0]]
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.heading import heading_cos_sin, yaw_matrix
from edgesdk.body.rotations import matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS, rest_positions
from edgesdk.data.activity import ACTIVITIES
from edgesdk.models.activity_head import ActivityHead
from edgesdk.models.base import MotionModel, TensorSpec, target_positions_rel

ROT_OUT = NUM_JOINTS * 6
POS_OUT = (NUM_JOINTS - 1) * 3  # the pelvis is the origin
OUT_FEATURES = ROT_OUT + POS_OUT + 3 + 2  # + root velocity + foot contact logits
ACC_SCALE = 0.1  # m/s^2 -> about unit range
_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
State = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class StudentConfig:
    """Sizes and loss weights of a student (the same defaults for the four)."""

    name: str = "student"
    fps: float = 30.0
    window: int = 60  # training / evaluation windows; any length streams
    hidden: int = 128
    layers: int = 2
    pos_weight: float = 10.0  # position MSE (m^2) vs 6D rotation MSE, as the baselines
    vel_weight: float = 0.1  # root velocity MSE ((m/s)^2), ground truth only
    contact_weight: float = 0.1  # foot-contact binary cross-entropy
    text_dim: int = 384  # ego4o-student's optional text embedding
    p_drop_text: float = 0.5  # ego4o-student: training windows read without their text
    hr_factor: int = 8  # head2body-student: head IMU samples per frame
    # The activity head (``activity_head.py``): off by default (``--set activity=true``);
    # ``prepare`` fills the class names and the training descriptions it retrieves from.
    activity: bool = False
    activity_labels: tuple[str, ...] = ()
    activity_descriptions: tuple[str, ...] = ()
    activity_text_backend: str = ""  # the text encoder that embedded the descriptions
    activity_weight: float = 0.1  # cross-entropy of the class, per frame
    activity_embed_weight: float = 0.05  # InfoNCE of the description embedding
    activity_balance: float = 0.0  # class weights: frequency ** -balance (0: none)


def activity_labels(config: StudentConfig) -> tuple[str, ...]:
    """The classes of a student's activity head (none when it has no head)."""
    if not config.activity:
        return ()
    return config.activity_labels or ACTIVITIES


def gru_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> Tensor:
    """One step of ``nn.GRU``'s layer with its weights (PyTorch's gate order r, z, n), in
    plain linear and pointwise ops, so an exported ``step`` needs no recurrent kernel."""
    i_r, i_z, i_n = F.linear(x, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1.0 - z) * n + z * h


def standing_pose_rel() -> Tensor:
    """``[22, 3]`` joint positions minus the pelvis of the rest pose with the arms hanging
    (elbows and wrists below the shoulders), facing +Z: the students' starting output."""
    pos = rest_positions()
    pos = pos - pos[:1]
    for shoulder, elbow, wrist in ((16, 18, 20), (17, 19, 21)):
        upper = (pos[elbow] - pos[shoulder]).norm()
        lower = (pos[wrist] - pos[elbow]).norm()
        pos[elbow] = pos[shoulder] - torch.tensor([0.0, 1.0, 0.0]) * upper
        pos[wrist] = pos[elbow] - torch.tensor([0.0, 1.0, 0.0]) * lower
    return pos


def turn(R: Tensor, v: Tensor) -> Tensor:
    """``R [..., 3, 3] @ v [..., 3]``."""
    return (R @ v[..., None])[..., 0]


def turn_imu(R_ref_world: Tensor, imu: Tensor) -> Tensor:
    """``imu [..., 9]`` (acc, 6D column 1, column 2) turned by ``R_ref_world [..., 3, 3]``
    (broadcast), acc scaled by ``ACC_SCALE``; zeros stay zeros."""
    cols = [turn(R_ref_world, imu[..., i : i + 3]) for i in (0, 3, 6)]
    return torch.cat([cols[0] * ACC_SCALE, cols[1], cols[2]], -1)


def yaw_delta(cos_sin: Tensor, valid: Tensor, prev: Tensor) -> Tensor:
    """``(cos d - 1, sin d)`` of the yaw turned since the previous frame ``[..., 2]`` (0 when
    this or the previous frame has no yaw); ``prev [..., >=2]`` starts with its (cos, sin)
    and ends with its valid flag."""
    c1, s1 = cos_sin.unbind(-1)
    c0, s0 = prev[..., 0], prev[..., 1]
    ok = valid * prev[..., -1]
    return torch.stack([(c1 * c0 + s1 * s0 - 1.0) * ok, (s1 * c0 - c1 * s0) * ok], -1)


class StreamingStudent(MotionModel):
    """Base of the students: subclasses give ``spec``, ``inputs(batch)``, ``current`` and
    ``features``; this class runs the core over a sequence or a frame, and trains."""

    config: StudentConfig
    prev_features: int  # K, the width of the ``prev`` state
    prev_description = ""  # what ``prev`` holds besides the yaw and the flag

    def __init__(self, config: StudentConfig, in_features: int, extra_dim: int = 0) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Sequential(nn.Linear(in_features, c.hidden), nn.GELU())
        self.extra: nn.Linear | None = nn.Linear(extra_dim, c.hidden) if extra_dim else None
        self.extra_absent = nn.Parameter(torch.zeros(c.hidden)) if extra_dim else None
        self.gru = nn.GRU(c.hidden, c.hidden, c.layers, batch_first=True)
        last = nn.Linear(c.hidden, OUT_FEATURES)
        self.head = nn.Sequential(nn.Linear(c.hidden, c.hidden), nn.GELU(), last)
        # The last layer starts at zero, so a new student outputs a standing pose (below)
        # and its first steps learn corrections to it, not to random poses metres off.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        offset = torch.zeros(OUT_FEATURES)
        offset[:ROT_OUT] = torch.tensor(_IDENTITY_6D).repeat(NUM_JOINTS)
        offset[ROT_OUT : ROT_OUT + POS_OUT] = standing_pose_rel()[1:].flatten()
        self.register_buffer("out_offset", offset, persistent=False)
        self.out_offset: Tensor
        labels = activity_labels(c)  # built last: a student without it is initialized as before
        self.activity_head: ActivityHead | None = (
            ActivityHead(c.hidden, labels, c.activity_descriptions, c.text_dim, c.activity_balance)
            if labels
            else None
        )

    # -- what a student defines

    @abc.abstractmethod
    def inputs(self, batch: dict[str, Any]) -> tuple[Tensor, ...]:
        """``forward``'s tensors from a training batch."""

    @abc.abstractmethod
    def current(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """Per frame: the yaw frame as (cos, sin) ``[B, T, 2]`` and what the next frame reads
        as ``prev`` ``[B, T, K]`` (its last column: 1 where the frame has a yaw)."""

    @abc.abstractmethod
    def features(
        self, inputs: tuple[Tensor, ...], R_ref_world: Tensor, now: Tensor, prev: Tensor
    ) -> Tensor:
        """Per-frame features ``[B, T, F]`` in the yaw frame; ``now`` / ``prev`` ``[B, T, K]``
        are ``current``'s quantities of each frame and of the frame before."""

    def extra_inputs(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor] | None:
        """A per-sequence embedding's input ``[B, D]`` and its mask ``[B]`` (text), or None."""
        return None

    def augment(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Training-time changes to a batch, seen by the teacher too when distilling."""
        return batch

    # -- state

    def state_specs(self) -> tuple[TensorSpec, ...]:
        c = self.config
        return (
            TensorSpec(
                "gru_h",
                ("batch", c.layers, c.hidden),
                description="GRU hidden state per layer; zeros at the start of a stream",
            ),
            TensorSpec(
                "prev",
                ("batch", self.prev_features),
                description="the previous frame's yaw (cos, sin)"
                f"{self.prev_description} and a flag, 1 where that frame had a yaw "
                "(its reference device present); zeros at the start of a stream",
            ),
        )

    def init_state(self, batch_size: int = 1, like: Tensor | None = None) -> State:
        """The state of a stream that has not started (zeros, as ``spec.state``)."""
        like = self.out_offset if like is None else like
        c = self.config
        h = like.new_zeros(batch_size, c.layers, c.hidden)
        return h, like.new_zeros(batch_size, self.prev_features)

    # -- the two call paths

    def run(
        self, inputs: tuple[Tensor, ...], state: State | None = None, stepwise: bool = False
    ) -> tuple[dict[str, Tensor], State]:
        """All outputs ``[B, T, ...]`` of a sequence (``R_world_joint_6d``, ``pos_rel_m``,
        ``root_vel_mps``, ``contact_logit``) and the state after its last frame."""
        B = inputs[0].shape[0]
        h0, prev0 = self.init_state(B, inputs[0]) if state is None else state
        cos_sin, now = self.current(inputs)
        prev = prev0[:, None]  # one frame (``step``): no empty slice, which Core ML mis-sizes
        if now.shape[1] > 1:
            prev = torch.cat([prev, now[:, :-1]], 1)
        R_world_ref = yaw_matrix(cos_sin)  # [B, T, 3, 3]
        x = self.embed(self.features(inputs, R_world_ref.transpose(-1, -2), now, prev))
        extra = self.extra_inputs(inputs)
        if extra is not None and self.extra is not None and self.extra_absent is not None:
            emb, on = extra
            x = x + torch.where(on[:, None] > 0.5, self.extra(emb), self.extra_absent)[:, None]
        y, h = self._recur(x, h0.transpose(0, 1), stepwise)
        out = self.head(y + x) + self.out_offset
        decoded = self._decode(out, R_world_ref)
        if self.activity_head is not None:
            decoded["activity_logit"], decoded["activity_emb"] = self.activity_head(y + x)
        return decoded, (h.transpose(0, 1), now[:, -1])

    def _recur(self, x: Tensor, h0: Tensor, stepwise: bool) -> tuple[Tensor, Tensor]:
        if not stepwise:
            y, h = self.gru(x, h0.contiguous())
            return y, h
        hs = []
        for t in range(x.shape[1]):  # one frame in ``step``
            inp, new = x[:, t], []
            for layer in range(self.config.layers):
                w = [getattr(self.gru, f"{n}_l{layer}") for n in _GRU_WEIGHTS]
                inp = gru_cell(inp, h0[layer], *w)
                new.append(inp)
            h0 = torch.stack(new)
            hs.append(inp)
        return torch.stack(hs, 1), h0

    def _decode(self, out: Tensor, R_world_ref: Tensor) -> dict[str, Tensor]:
        R = R_world_ref[:, :, None]
        rot = R @ rot6d_to_matrix(out[..., :ROT_OUT].unflatten(-1, (NUM_JOINTS, 6)))
        pos = turn(R, out[..., ROT_OUT : ROT_OUT + POS_OUT].unflatten(-1, (NUM_JOINTS - 1, 3)))
        vel = turn(R_world_ref, out[..., ROT_OUT + POS_OUT : ROT_OUT + POS_OUT + 3])
        return {
            "R_world_joint_6d": matrix_to_6d(rot),
            "pos_rel_m": torch.cat([torch.zeros_like(pos[..., :1, :]), pos], -2),
            "root_vel_mps": vel,
            "contact_logit": out[..., -2:],
        }

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        """A whole sequence from a fresh state: ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m
        [B, T, 22, 3])``."""
        out, _ = self.run(inputs)
        return out["R_world_joint_6d"], out["pos_rel_m"]

    def step(self, *frame: Tensor, state: State | None = None) -> tuple[tuple[Tensor, ...], State]:
        """One frame: ``spec.inputs`` without their time axis (``[B, 8, 12]`` for an 8x
        stream; ego4o-student's text may be left out) -> ``((R_world_joint_6d [B, 22, 6],
        pos_rel_m [B, 22, 3], root_vel_mps [B, 3], contact [B, 2] probabilities[,
        activity_prob [B, K], activity_emb [B, 384]]), new state)`` (the last two with an
        activity head); ``state=None`` starts a stream."""
        seq = tuple(
            x
            if any(isinstance(d, str) and d.endswith("*time") for d in t.shape)
            else x.unsqueeze(t.shape.index("time"))
            if "time" in t.shape
            else x
            for x, t in zip(frame, self.spec.inputs[: len(frame)], strict=True)
        )
        out, new_state = self.run(seq, state, stepwise=True)
        outputs: tuple[Tensor, ...] = (
            out["R_world_joint_6d"][:, 0],
            out["pos_rel_m"][:, 0],
            out["root_vel_mps"][:, 0],
            torch.sigmoid(out["contact_logit"][:, 0]),
        )
        if "activity_logit" in out:
            prob = torch.softmax(out["activity_logit"][:, 0], -1)
            outputs = (*outputs, prob, out["activity_emb"][:, 0])
        return outputs, new_state

    def step_module(self) -> nn.Module:
        """``step`` as a module with flat tensors in and out, ``(*frame, *state) -> (*outputs,
        *new_state)``, for export (the state is an explicit input and output)."""
        return _StepModule(self)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out, _ = self.run(self.inputs(batch))
        contact = torch.sigmoid(out.pop("contact_logit"))
        if "activity_logit" in out:
            out["activity_prob"] = torch.softmax(out.pop("activity_logit"), -1)
        return {**out, "contact": contact}

    # -- the activity head

    def prepare(self, train_texts: Sequence[str]) -> bool:
        """With an activity head: fix its classes and the table of training descriptions
        (embedded with ``default_text_encoder()``, the one training batches use); the
        trainer then rebuilds the model from its config. False (nothing done) without one."""
        if self.activity_head is None:
            return False
        from edgesdk.models.text import default_text_encoder

        encoder = default_text_encoder()
        descriptions = tuple(sorted({t for t in train_texts if t.strip()}))
        self.config = dataclasses.replace(
            self.config,
            activity_labels=self.activity_head.labels,
            activity_descriptions=descriptions,
            activity_text_backend=encoder.backend,
        )
        c = self.config
        head = ActivityHead(
            c.hidden, self.activity_head.labels, descriptions, c.text_dim, c.activity_balance
        )
        head.mlp.load_state_dict(self.activity_head.mlp.state_dict())
        head.set_table(encoder.encode(list(descriptions)))
        self.activity_head = head.to(self.out_offset.device)
        return True

    # -- training

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """Ground truth only (``edgesdk train``); ``distill_loss`` mixes in a teacher."""
        return self.distill_loss(self.augment(batch) if self.training else batch, None, 0.0)

    def distill_loss(
        self, batch: dict[str, Any], teacher: dict[str, Tensor] | None, alpha: float
    ) -> tuple[Tensor, dict[str, float]]:
        """``alpha`` x (pose loss against the teacher's outputs) + (1 - alpha) x (against the
        ground truth), the pose loss being 6D rotation MSE + ``pos_weight`` x position MSE;
        plus ``vel_weight`` x root-velocity MSE (ground truth: no teacher predicts it) and
        ``contact_weight`` x foot-contact BCE (its target mixed the same way when the teacher
        predicts contact, as Ego4o does). ``teacher=None`` or ``alpha=0``: ground truth only."""
        c = self.config
        out, _ = self.run(self.inputs(batch))

        def pose_loss(rot6d: Tensor, pos_rel: Tensor) -> Tensor:
            rot = F.mse_loss(out["R_world_joint_6d"], rot6d)
            return rot + c.pos_weight * F.mse_loss(out["pos_rel_m"], pos_rel)

        gt = pose_loss(batch["R_world_joint_6d"], target_positions_rel(batch))
        logs = {"gt": gt.item()}
        loss = gt
        contact = batch["contact"]
        if teacher is not None and alpha > 0:
            distilled = pose_loss(teacher["R_world_joint_6d"], teacher["pos_rel_m"])
            loss = alpha * distilled + (1.0 - alpha) * gt
            logs["teacher"] = distilled.item()
            if "contact" in teacher:
                contact = alpha * teacher["contact"].clamp(0, 1) + (1.0 - alpha) * contact
        vel = F.mse_loss(out["root_vel_mps"], batch["root_vel_mps"])
        bce = F.binary_cross_entropy_with_logits(out["contact_logit"], contact)
        loss = loss + c.vel_weight * vel + c.contact_weight * bce
        if self.activity_head is not None and "activity" in batch:
            ce, nce, act_logs = self.activity_head.loss(
                out["activity_logit"], out["activity_emb"], batch
            )
            loss = loss + c.activity_weight * ce + c.activity_embed_weight * nce
            logs.update(act_logs)
        with torch.no_grad():
            err = out["pos_rel_m"] - target_positions_rel(batch)
            mpjpe = err.norm(dim=-1).mean() * 1000.0
        logs.update(loss=loss.item(), vel=vel.item(), contact=bce.item(), mpjpe_mm=mpjpe.item())
        return loss, logs


_GRU_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class _StepModule(nn.Module):
    def __init__(self, student: StreamingStudent) -> None:
        super().__init__()
        self.student = student
        self.num_inputs = len(student.spec.inputs)

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        frame, state = args[: self.num_inputs], args[self.num_inputs :]
        h, prev = state
        outputs, (h, prev) = self.student.step(*frame, state=(h, prev))
        return (*outputs, h, prev)


def reference_cos_sin(R6: Tensor) -> tuple[Tensor, Tensor]:
    """Yaw (cos, sin) ``[...,2]`` of 6D orientations ``[..., 6]`` and a flag ``[...]``, 1 where
    the 6D is not all zeros (an absent device: its yaw is the identity)."""
    valid = (R6.abs().sum(-1) > 0).to(R6.dtype)
    return heading_cos_sin(rot6d_to_matrix(R6)), valid


HEAD_FEATURES = 12  # tilt 6D, height, velocity (3), yaw turn (2)
HEAD_PREV = 6  # cos, sin, head position (3), flag


def head_current(head: Tensor) -> tuple[Tensor, Tensor]:
    """The head's yaw (cos, sin) ``[B, T, 2]`` and ``prev`` quantities ``[B, T, 6]`` (cos,
    sin, position, flag) from the 6DoF pose ``head [B, T, 9]`` (position + R_world_head 6D)."""
    cos_sin, valid = reference_cos_sin(head[..., 3:9])
    return cos_sin, torch.cat([cos_sin, head[..., :3], valid[..., None]], -1)


def head_features(
    head: Tensor, R_ref_world: Tensor, now: Tensor, prev: Tensor, fps: float
) -> Tensor:
    """``[B, T, 12]``, unchanged by a world yaw and horizontal shift: the head's tilt (its
    rotation in its own yaw frame, 6D), height above the floor (m), velocity since the previous
    frame in the yaw frame (m/s; 0 at the first frame) and yaw turn since then."""
    tilt = matrix_to_6d(R_ref_world @ rot6d_to_matrix(head[..., 3:9]))
    vel = turn(R_ref_world, (head[..., :3] - prev[..., 2:5]) * fps) * prev[..., -1:]
    dyaw = yaw_delta(now[..., :2], now[..., -1], prev)
    return torch.cat([tilt, head[..., 1:2], vel, dyaw], -1)

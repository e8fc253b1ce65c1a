"""Head2Body (Tran et al., ICCV 2025): full-body pose from the head IMU alone.

The paper's IMU branch, faithfully; its video branch (LVLM body-part segmentation of the
egocentric camera) is left out, since no edgesdk device streams video.

    head_imu_hr [B, 8T, 12] (240 Hz: acc_world_mps2, gyro_rads, R_world_sensor 6D)
      -> IMU encoder: ConvFeatureExtractor (8x down to 30 Hz) + Conformer     [B, T, D]
      -> VQ-Poser: transformer encoder over the features; the decoder writes one motion
         token per 30 Hz frame, greedily, attending to the encoder (autoregressive)
      -> pose VQ-VAE decoder -> pose in the head's heading frame
      -> turned by the head's heading -> R_world_joint_6d [B, T, 22, 6], pos_rel_m [B, T, 22, 3]

Tokens describe the pose relative to the *heading* (the rotation about world +Y) of the head
IMU at the same frame: windows are yawed at random, and a 512-entry codebook spent on headings
would have few entries left for poses. The heading is put back from the IMU's own orientation,
which is measured, so nothing is lost.

Stages (``Head2Body.stages``): ``pretrain`` (BEST-RQ masked prediction on the IMU encoder;
dropped with ``pretrain=False``), ``vqposer`` (the pose VQ-VAE), ``tokens`` (IMU encoder and
token transformer, teacher-forced cross-entropy on the VQ-VAE's tokens of the true motion).

Example:
    >>> from edgesdk.models.head2body import Head2Body, HEAD2BODY_SMALL
    >>> model = Head2Body(HEAD2BODY_SMALL).eval()
    >>> R_world_joint_6d, pos_rel_m = model(torch.randn(1, 8 * 4, 12))
    >>> tuple(R_world_joint_6d.shape), tuple(pos_rel_m.shape)
    ((1, 4, 22, 6), (1, 4, 22, 3))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import rot6d_to_matrix
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import (
    HEAD_IMU_CHANNELS,
    ModelSpec,
    MotionModel,
    head_imu_hr_input,
    pose_outputs,
    target_positions_rel,
)
from edgesdk.models.head2body_vq import (
    ROT_FEATURES,
    PoseVQVAE,
    features_to_pose,
    pose_to_features,
)
from edgesdk.models.layers.conformer import (
    Conformer,
    ConvFeatureExtractor,
    RandomProjectionQuantizer,
    span_mask,
)
from edgesdk.models.layers.transformer import TransformerLayer, sinusoidal_positions
from edgesdk.models.registry import build_config, register_model

# ----------------------------------------------------------------------------- token transformer


class TokenTransformer(nn.Module):
    """Encoder-decoder from IMU features ``[B, T, C]`` to motion tokens ``[B, T]``.

    Decoder position ``t`` reads the tokens before ``t`` (a start token first) and predicts
    token ``t``; both sides carry sinusoidal positions, so position ``t`` of the decoder lines
    up with frame ``t`` of the encoder.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        heads: int,
        enc_layers: int,
        dec_layers: int,
        num_codes: int,
        dropout: float,
        token_dropout: float = 0.0,
        scheduled_sampling: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim, self.start, self.mask_token = dim, num_codes, num_codes + 1
        self.token_dropout, self.scheduled_sampling = token_dropout, scheduled_sampling
        self.in_proj = nn.Linear(in_dim, dim)
        self.encoder = nn.ModuleList(
            TransformerLayer(dim, heads, dropout, cross=False) for _ in range(enc_layers)
        )
        self.enc_norm = nn.LayerNorm(dim)
        self.token_emb = nn.Embedding(num_codes + 2, dim)  # + the start and the mask token
        self.decoder = nn.ModuleList(
            TransformerLayer(dim, heads, dropout, cross=True) for _ in range(dec_layers)
        )
        self.dec_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_codes)
        self.drop = nn.Dropout(dropout)

    def encode(self, feats: Tensor) -> Tensor:
        x = self.in_proj(feats)
        x = self.drop(x + sinusoidal_positions(x.shape[1], self.dim, x))
        for layer in self.encoder:
            x = layer(x)
        return self.enc_norm(x)

    def logits(self, tokens_in: Tensor, memory: Tensor) -> Tensor:
        """``tokens_in [B, L]`` (start token first), ``memory [B, T, D]`` -> ``[B, L, codes]``."""
        x = self.token_emb(tokens_in)
        x = self.drop(x + sinusoidal_positions(x.shape[1], self.dim, x))
        for layer in self.decoder:
            x = layer(x, memory, causal=True)
        return self.head(self.dec_norm(x))

    def forward(self, feats: Tensor, tokens: Tensor) -> Tensor:
        """Teacher forcing: logits ``[B, T, codes]`` of every token given the true ones before
        (in training, ``scheduled_sampling`` of them replaced by the decoder's own predictions
        and ``token_dropout`` by the mask token)."""
        start = torch.full_like(tokens[:, :1], self.start)
        given = tokens[:, :-1]
        memory = self.encode(feats)
        if self.training and self.scheduled_sampling > 0:
            with torch.no_grad():
                own = self.logits(torch.cat([start, given], 1), memory)[:, :-1].argmax(-1)
            swap = torch.rand(given.shape, device=given.device) < self.scheduled_sampling
            given = torch.where(swap, own, given)
        if self.training and self.token_dropout > 0:
            drop = torch.rand(given.shape, device=given.device) < self.token_dropout
            given = given.masked_fill(drop, self.mask_token)
        return self.logits(torch.cat([start, given], 1), memory)

    def generate(self, feats: Tensor) -> tuple[Tensor, Tensor]:
        """Greedy autoregressive decoding of ``T`` tokens ``[B, T]``, one per frame, and the
        logits ``[B, T, codes]`` each was picked from.

        No key/value cache: each step re-runs the decoder on the whole prefix, as the paper's
        cost (about T^2/2 token-steps per window) implies; the loop unrolls under export.
        """
        memory = self.encode(feats)
        tokens = torch.full((feats.shape[0], 1), self.start, dtype=torch.long, device=feats.device)
        steps: list[Tensor] = []
        for _ in range(feats.shape[1]):
            step = self.logits(tokens, memory)[:, -1]
            steps.append(step)
            tokens = torch.cat([tokens, step.argmax(-1)[:, None]], 1)
        return tokens[:, 1:], torch.stack(steps, 1)


class VQPoser(nn.Module):
    """The pose VQ-VAE and the token transformer; ``forward`` is inference: IMU features and
    heading -> ``(R_world_joint_6d, pos_rel_m, tokens)``."""

    def __init__(self, config: Head2BodyConfig) -> None:
        super().__init__()
        c = config
        self.vqvae = PoseVQVAE(c.vq_dim, c.vq_depth, c.codebook_size, c.vq_ema_decay)
        self.transformer = TokenTransformer(
            c.enc_dim,
            c.tf_dim,
            c.tf_heads,
            c.tf_enc_layers,
            c.tf_dec_layers,
            c.codebook_size,
            c.dropout,
            c.token_dropout,
            c.scheduled_sampling,
        )
        self.token_selection = c.token_selection

    def forward(self, feats: Tensor, R_world_heading: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        tokens, logits = self.transformer.generate(feats)
        if self.token_selection == "soft":
            z = torch.softmax(logits, -1) @ self.vqvae.quantizer.codebook
        else:
            z = self.vqvae.quantizer.lookup(tokens)
        R_world_joint_6d, pos_rel_m = features_to_pose(self.vqvae.decode(z), R_world_heading)
        return R_world_joint_6d, pos_rel_m, tokens


class ImuEncoder(nn.Module):
    """``head_imu_hr [B, 8T, 12]`` -> features ``[B, T, D]`` at the frame rate."""

    def __init__(self, config: Head2BodyConfig) -> None:
        super().__init__()
        c = config
        self.extractor = ConvFeatureExtractor(HEAD_IMU_CHANNELS, c.enc_dim)
        self.conformer = Conformer(
            c.enc_dim, c.enc_depth, c.enc_heads, c.conv_kernel, c.dropout, c.max_rel_offset
        )

    def forward(self, head_imu_hr: Tensor, mask_hr: Tensor | None = None) -> Tensor:
        return self.conformer(self.extractor(head_imu_hr, mask_hr))


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Head2BodyConfig:
    """Head2Body sizes and training settings: the sizes are the paper's (``head2body``); the
    training settings that depart from it (token dropout, soft selection, the position weight
    of the pose VQ-VAE) say so beside their field."""

    name: str = "head2body"
    window: int = 60  # frames at fps; the exported forward takes 8 * window IMU samples
    fps: float = 30.0
    hr_factor: int = 8  # IMU samples per frame (240 Hz; the paper's 200 Hz -> 25 Hz is 8x too)
    dropout: float = 0.1
    # IMU encoder: ConvFeatureExtractor + Conformer.
    enc_dim: int = 512
    enc_depth: int = 6
    enc_heads: int = 8
    conv_kernel: int = 31  # depthwise kernel of the Conformer conv module, frames
    max_rel_offset: int = 64  # frames; relative positions further apart share a bias
    # BEST-RQ pre-training of the IMU encoder.
    pretrain: bool = True
    rq_codes: int = 8192
    rq_code_dim: int = 16
    rq_seed: int = 0
    mask_start_prob: float = 0.03  # per frame; spans of mask_span frames mask ~30% of a window
    mask_span: int = 12  # frames (400 ms, as BEST-RQ)
    # VQ-Poser: pose VQ-VAE.
    codebook_size: int = 512
    vq_dim: int = 512
    vq_depth: int = 3  # residual blocks with dilations 1, 3, 9, ...
    vq_ema_decay: float = 0.99
    vq_commit_weight: float = 0.02
    # Weight of the position MSE (metres) against the 6D-rotation MSE in the VQ-VAE's loss and
    # in the "tokens" stage's reconstruction term: MPJPE is read off the decoded positions, and
    # at weight 1 they are ~1/10 of the loss. head2body-small, held-out, 16 vqposer epochs:
    # the VQ-VAE's round trip (the floor of token prediction) is 66.0 mm MPJPE at 1, 54.8 at
    # 10 and at 30. Head IMU alone, 24 vqposer + 14 tokens epochs: 94.4 mm (8 + 14 at 1: 110).
    vq_pos_weight: float = 10.0
    # VQ-Poser: token transformer.
    tf_dim: int = 512
    tf_heads: int = 8
    tf_enc_layers: int = 3
    tf_dec_layers: int = 3
    finetune_encoder: bool = True  # train the IMU encoder in the "tokens" stage too
    # Teacher forcing on motion tokens that repeat ~80 % of the time from one 30 Hz frame to
    # the next teaches the decoder to copy its last token and ignore the IMU; greedy decoding
    # then stalls on a few tokens (3 % token accuracy, 5 distinct tokens on held-out windows).
    # ``token_dropout`` replaces that fraction of the teacher-forced input tokens by a mask
    # token, so the decoder reads the IMU features. Held-out MPJPE of head2body-small (head
    # alone, soft decoding): 0.2 + scheduled sampling 0.3: 117.5 mm; 0.9: 107.0 mm.
    token_dropout: float = 0.9
    # Parallel scheduled sampling (Duckworth et al., 2019): this fraction of the teacher-forced
    # inputs is replaced by the decoder's own argmax predictions from a first, gradient-free
    # teacher-forced pass, so training sees the kind of mistakes greedy decoding feeds back.
    scheduled_sampling: float = 0.0
    # The pose decoder reads each generated step's argmax token ("hard", the paper) or its
    # probability-weighted mean code ("soft"); the argmax token is fed back either way.
    token_selection: str = "soft"
    # Weight of a pose-reconstruction term in the "tokens" stage, added to the paper's token
    # cross-entropy: the teacher-forced logits' probability-weighted code ("soft" selection,
    # as at inference) is decoded by the frozen VQ-VAE decoder and compared with the true pose
    # features, as Ego4o's loss does (code classification + lambda x reconstruction). 0 is
    # the paper's loss.
    recon_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.token_selection not in ("soft", "hard"):
            raise EdgeSDKError(
                f"{self.name}: token_selection must be 'soft' or 'hard', "
                f"got {self.token_selection!r}"
            )
        for name in ("token_dropout", "scheduled_sampling"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise EdgeSDKError(f"{self.name}: {name} must be in [0, 1)")
        if not (math.isfinite(self.recon_weight) and self.recon_weight >= 0.0):
            raise EdgeSDKError(f"{self.name}: recon_weight must be >= 0, got {self.recon_weight}")


class Head2Body(MotionModel):
    """Head2Body: head IMU -> Conformer features -> motion tokens -> full-body pose.

    ``forward(head_imu_hr)`` is deterministic inference (call ``.eval()`` first) and is what
    ``spec`` describes and export traces; ``predict(batch)`` runs it on a training batch.

    Example:
        >>> import torch
        >>> model = Head2Body(HEAD2BODY_SMALL)
        >>> model.stages
        ('pretrain', 'vqposer', 'tokens')
        >>> head2body_small(pretrain=False).stages
        ('vqposer', 'tokens')
    """

    config: Head2BodyConfig

    def __init__(self, config: Head2BodyConfig) -> None:
        super().__init__()
        self.config = c = config
        self.stages = ("pretrain", "vqposer", "tokens") if c.pretrain else ("vqposer", "tokens")
        self.imu_encoder = ImuEncoder(c)
        self.vq_poser = VQPoser(c)
        self.rq_quantizer: RandomProjectionQuantizer | None = None
        self.rq_head: nn.Linear | None = None
        if c.pretrain:
            self.rq_quantizer = RandomProjectionQuantizer(
                c.hr_factor * HEAD_IMU_CHANNELS, c.rq_codes, c.rq_code_dim, c.rq_seed
            )
            self.rq_head = nn.Linear(c.enc_dim, c.rq_codes)
        self.spec = ModelSpec(
            inputs=(head_imu_hr_input(c.hr_factor, f"{c.hr_factor}x fps"),),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            slots=("head",),
            notes="head IMU only; greedy autoregressive decoding of one motion token per "
            "frame, unrolled over a fixed time (= window) in an exported graph",
        )

    # -- inference

    def heading(self, head_imu_hr: Tensor) -> Tensor:
        """``R_world_heading [B, T, 3, 3]`` from the head IMU's orientation at each frame."""
        R6 = head_imu_hr[:, :: self.config.hr_factor, 6:12]
        return heading_rotation(rot6d_to_matrix(R6))

    def to_heading_frame(self, head_imu_hr: Tensor, R_world_heading: Tensor) -> Tensor:
        """The head IMU with acceleration and orientation turned into the frame's heading
        frame (the gyroscope is in the sensor frame already): the encoder never sees which
        way the wearer faces, only how the head moves and tilts, as the tokens describe."""
        R_heading_world = R_world_heading.transpose(-1, -2)
        R = R_heading_world.repeat_interleave(self.config.hr_factor, 1)[:, :, None]  # [B,8T,1,3,3]
        vecs = torch.stack(
            [head_imu_hr[..., 0:3], head_imu_hr[..., 6:9], head_imu_hr[..., 9:12]], -2
        )  # [B, 8T, 3 vectors, 3]
        turned = (R @ vecs[..., None])[..., 0]
        acc, c1, c2 = turned.unbind(-2)
        return torch.cat([acc, head_imu_hr[..., 3:6], c1, c2], -1)

    def encode_imu(self, head_imu_hr: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """IMU features ``[B, T, D]`` (of the heading-frame input) and ``R_world_heading``."""
        R_world_heading = self.heading(head_imu_hr)
        feats = self.imu_encoder(self.to_heading_frame(head_imu_hr, R_world_heading), mask)
        return feats, R_world_heading

    def forward(self, head_imu_hr: Tensor) -> tuple[Tensor, Tensor]:
        """``head_imu_hr [B, 8T, 12]`` -> ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m
        [B, T, 22, 3])`` by greedy autoregressive token decoding."""
        feats, R_world_heading = self.encode_imu(head_imu_hr)
        R_world_joint_6d, pos_rel_m, _ = self.vq_poser(feats, R_world_heading)
        return R_world_joint_6d, pos_rel_m

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Pose of a batch, plus the generated ``tokens [B, T]``; call ``.eval()`` first."""
        feats, R_world_heading = self.encode_imu(self._head_input(batch))
        R_world_joint_6d, pos_rel_m, tokens = self.vq_poser(feats, R_world_heading)
        return {"R_world_joint_6d": R_world_joint_6d, "pos_rel_m": pos_rel_m, "tokens": tokens}

    @torch.no_grad()
    def reconstruct(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """The VQ-VAE's round trip of the true motion: the accuracy floor that perfect token
        prediction would reach."""
        R_world_heading = self.heading(self._head_input(batch))
        vqvae = self.vq_poser.vqvae
        tokens = vqvae.tokenize(self._pose_features(batch, R_world_heading))
        R_world_joint_6d, pos_rel_m = features_to_pose(vqvae.detokenize(tokens), R_world_heading)
        return {"R_world_joint_6d": R_world_joint_6d, "pos_rel_m": pos_rel_m, "tokens": tokens}

    def example_inputs(self, batch_size: int = 1) -> tuple[Tensor, ...]:
        """One window of random head-IMU samples, ``[batch_size, 8 * window, 12]``."""
        g = torch.Generator().manual_seed(0)
        shape = (batch_size, self.config.hr_factor * self.config.window, HEAD_IMU_CHANNELS)
        return (torch.randn(*shape, generator=g),)

    def submodules_for_cost(
        self, seconds: float = 1.0
    ) -> dict[str, tuple[nn.Module, tuple[Tensor, ...]]]:
        """``{"imu_encoder": (module, inputs), "vq_poser": (module, inputs)}`` for ``seconds``
        of motion, for FLOP counting of each part as the paper reports them.

        Example:
            >>> from torch.utils.flop_counter import FlopCounterMode
            >>> model = Head2Body(HEAD2BODY_SMALL).eval()
            >>> module, inputs = model.submodules_for_cost()["imu_encoder"]
            >>> with FlopCounterMode(display=False) as counter, torch.no_grad():
            ...     _ = module(*inputs)
            >>> counter.get_total_flops() > 0
            True
        """
        c, T = self.config, max(1, round(seconds * self.config.fps))
        g = torch.Generator().manual_seed(0)
        head_imu_hr = torch.randn(1, c.hr_factor * T, HEAD_IMU_CHANNELS, generator=g)
        feats = torch.randn(1, T, c.enc_dim, generator=g)
        R_world_heading = torch.eye(3).expand(1, T, 3, 3)
        return {
            "imu_encoder": (self.imu_encoder, (head_imu_hr,)),
            "vq_poser": (self.vq_poser, (feats, R_world_heading)),
        }

    # -- training

    def stage_parameters(self, stage: str) -> Sequence[nn.Parameter]:
        """``pretrain``: IMU encoder + BEST-RQ head; ``vqposer``: the pose VQ-VAE (its codebook
        is an EMA buffer); ``tokens``: the token transformer, and the IMU encoder when
        ``finetune_encoder``."""
        modules: list[nn.Module]
        if stage == "pretrain" and self.rq_head is not None:
            modules = [self.imu_encoder, self.rq_head]
        elif stage == "vqposer":
            modules = [self.vq_poser.vqvae]
        elif stage == "tokens":
            modules = [self.vq_poser.transformer]
            if self.config.finetune_encoder:
                modules.append(self.imu_encoder)
        else:
            raise self._unknown_stage(stage)
        return [p for m in modules for p in m.parameters()]

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """Scalar loss of a stage and logged figures.

        Example:
            >>> model, T = Head2Body(HEAD2BODY_SMALL), 8
            >>> batch = {
            ...     "head_imu_hr": torch.randn(1, 8 * T, 12),
            ...     "mask": torch.ones(1, T, 5),
            ...     "R_world_joint_6d": torch.tensor([1.0, 0, 0, 0, 1, 0]).expand(1, T, 22, 6),
            ...     "pos_m": torch.randn(1, T, 22, 3),
            ... }
            >>> loss, logs = model.loss(batch, "vqposer")
            >>> sorted(logs)
            ['commit', 'loss', 'perplexity', 'pos_mse', 'rot_mse']
        """
        head_imu_hr = self._head_input(batch)
        if stage == "pretrain" and self.config.pretrain:
            return self._pretrain_loss(head_imu_hr)
        if stage == "vqposer":
            return self._vqposer_loss(self._pose_features(batch, self.heading(head_imu_hr)))
        if stage == "tokens":
            x = self._pose_features(batch, self.heading(head_imu_hr))
            return self._tokens_loss(head_imu_hr, x)
        raise self._unknown_stage(stage)

    def _pretrain_loss(self, head_imu_hr: Tensor) -> tuple[Tensor, dict[str, float]]:
        assert self.rq_quantizer is not None and self.rq_head is not None
        c = self.config
        B, L, C = head_imu_hr.shape
        T = L // c.hr_factor
        x = self.to_heading_frame(head_imu_hr, self.heading(head_imu_hr))
        labels = self.rq_quantizer(x.reshape(B, T, c.hr_factor * C))
        mask = span_mask(B, T, c.mask_start_prob, c.mask_span, device=head_imu_hr.device)
        feats = self.imu_encoder(x, mask.repeat_interleave(c.hr_factor, 1))
        logits = self.rq_head(feats[mask])
        loss = F.cross_entropy(logits, labels[mask])
        acc = (logits.argmax(-1) == labels[mask]).float().mean()
        return loss, {"loss": loss.item(), "acc": acc.item(), "masked": mask.float().mean().item()}

    def _vqposer_loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        vqvae = self.vq_poser.vqvae
        z_q, tokens, commit = vqvae.quantizer(vqvae.encode(x))
        x_hat = vqvae.decode(z_q)
        rot = F.mse_loss(x_hat[..., :ROT_FEATURES], x[..., :ROT_FEATURES])
        pos = F.mse_loss(x_hat[..., ROT_FEATURES:], x[..., ROT_FEATURES:])
        loss = rot + self.config.vq_pos_weight * pos + self.config.vq_commit_weight * commit
        usage = torch.bincount(tokens.flatten(), minlength=self.config.codebook_size).float()
        p = usage / usage.sum()
        perplexity = torch.exp(-(p * p.clamp_min(1e-12).log()).sum())
        logs = {"loss": loss.item(), "rot_mse": rot.item(), "pos_mse": pos.item()}
        return loss, {**logs, "commit": commit.item(), "perplexity": perplexity.item()}

    def _tokens_loss(self, head_imu_hr: Tensor, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        with torch.no_grad():
            target = self.vq_poser.vqvae.tokenize(x)
        with torch.set_grad_enabled(self.config.finetune_encoder and torch.is_grad_enabled()):
            feats, _ = self.encode_imu(head_imu_hr)
        logits = self.vq_poser.transformer(feats, target)
        ce = F.cross_entropy(logits.flatten(0, 1), target.flatten())
        acc = (logits.argmax(-1) == target).float().mean()
        logs = {"ce": ce.item(), "token_acc": acc.item()}
        loss = ce
        if self.config.recon_weight > 0:
            vqvae = self.vq_poser.vqvae
            x_hat = vqvae.decode(torch.softmax(logits, -1) @ vqvae.quantizer.codebook)
            recon = F.mse_loss(x_hat[..., :ROT_FEATURES], x[..., :ROT_FEATURES])
            recon = recon + self.config.vq_pos_weight * F.mse_loss(
                x_hat[..., ROT_FEATURES:], x[..., ROT_FEATURES:]
            )
            loss = ce + self.config.recon_weight * recon
            logs["recon_mse"] = recon.item()
        return loss, {"loss": loss.item(), **logs}

    def _head_input(self, batch: dict[str, Any]) -> Tensor:
        """``head_imu_hr`` with samples zeroed where the head device is absent."""
        head_imu_hr: Tensor = batch["head_imu_hr"]
        present = batch["mask"][..., 0]
        f = self.config.hr_factor
        if head_imu_hr.shape[1] != f * present.shape[1]:
            raise EdgeSDKError(
                f"{self.config.name}: head_imu_hr has {head_imu_hr.shape[1]} samples for "
                f"{present.shape[1]} frames; expected {f} per frame"
            )
        return head_imu_hr * present.repeat_interleave(f, 1)[..., None]

    @staticmethod
    def _pose_features(batch: dict[str, Any], R_world_heading: Tensor) -> Tensor:
        return pose_to_features(
            batch["R_world_joint_6d"], target_positions_rel(batch), R_world_heading
        )

    def _unknown_stage(self, stage: str) -> EdgeSDKError:
        return EdgeSDKError(f"{self.config.name}: unknown stage {stage!r}; stages: {self.stages}")


# ----------------------------------------------------------------------------- configs

HEAD2BODY = Head2BodyConfig()
HEAD2BODY_SMALL = Head2BodyConfig(
    name="head2body-small",
    enc_dim=64,
    enc_depth=2,
    enc_heads=4,
    conv_kernel=15,
    rq_codes=512,
    codebook_size=512,
    vq_dim=64,
    vq_depth=2,
    tf_dim=64,
    tf_heads=4,
    tf_enc_layers=1,
    tf_dec_layers=1,
)


def _create_head2body(default: Head2BodyConfig, **overrides: Any) -> Head2Body:
    return Head2Body(build_config(default, overrides))


@register_model(role="teacher", scale="paper", streaming=False)
def head2body(**overrides: Any) -> Head2Body:
    """Paper sizes: Conformer 6 x 512 (8 heads), codebook 512, token transformer 3 + 3 x 512."""
    return _create_head2body(HEAD2BODY, **overrides)


@register_model(role="teacher", scale="small", streaming=False)
def head2body_small(**overrides: Any) -> Head2Body:
    """Trains in minutes on 2 CPU cores: Conformer 2 x 64, codebook 512, 1 + 1 x 64."""
    return _create_head2body(HEAD2BODY_SMALL, **overrides)

"""Ego4o (Wang et al., CVPR 2025): motion capture and understanding from 1-3 wearable IMUs,
an optional egocentric image and an optional motion description.

Three parts, trained in three stages (``Ego4oModel.stages``):

1. ``"vqvae"``: a part-aware VQ-VAE (``ego4o_vqvae.py``) tokenizes motion: the six body parts
   of ``BODY_PARTS`` each have an encoder (time / 4) and a codebook; one decoder rebuilds the
   whole body at the input rate. Motion features are listed in ``ego4o_vqvae``'s docstring.
2. ``"encoder"``: a multimodal transformer (``ego4o_parts.py``) reads IMU tokens (5 slots at
   T / 4, slot embedding, absent slots replaced by a learned token), a text token (the
   description's 384-d all-MiniLM-L6-v2 embedding) and an image-feature token, and predicts
   each part's code logits at T / 4 plus the pelvis heading of the first frame. Codes are
   picked with straight-through Gumbel-softmax and decoded by the frozen VQ-VAE decoder; the
   loss is cross-entropy against the ground truth's codes + lambda x reconstruction. At
   inference the decoder reads the argmax codes (the paper, ``code_selection="hard"``) or
   the probability-weighted mean code (``"soft"``, the default; see ``Ego4oConfig``).
3. ``"caption"``: a word-level transformer decoder describes the motion from its codes (and
   the text / image tokens); ``predict(batch, text_feedback=True)`` closes the loop: the
   generated description is embedded and fed back as the text input of a second pass.

``test_time_optimize`` refines the decoded motion so that its simulated IMUs match the
observed ones (the paper's eq. 2: acceleration and orientation terms, plus a latent prior).

What differs from the paper: the paper feeds motion tokens to a multimodal LLM for
descriptions; here a small decoder over the training descriptions' words stands in. The
image slot is wired (projection + absent token) but this project has no egocentric images.

Example:
    >>> import torch
    >>> model = ego4o_small()
    >>> imu, mask, text_emb, text_mask, image_feat, image_mask = model.example_inputs()
    >>> R6, pos_rel = model(imu, (mask > 0).float(), text_emb, text_mask, image_feat, image_mask)
    >>> tuple(R6.shape), tuple(pos_rel.shape)
    ((1, 60, 22, 6), (1, 60, 22, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.heading import heading_rotation
from edgesdk.body.rotations import rot6d_to_matrix
from edgesdk.data.mounts import DEFAULT_KIND, slot_mount
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import ModelSpec, MotionModel, TensorSpec, pose_outputs, text_inputs
from edgesdk.models.ego4o_parts import (
    PAD,
    SPECIAL_TOKENS,
    Captioner,
    MultimodalEncoder,
    build_vocabulary,
)
from edgesdk.models.ego4o_vqvae import DOWNSAMPLE, MotionFeatures, PartVQVAE
from edgesdk.models.registry import build_config, register_model
from edgesdk.models.text import TextEncoder, default_text_encoder


@dataclass(frozen=True)
class Ego4oConfig:
    """Sizes and loss weights of an Ego4o variant (defaults: the paper-sized ``ego4o``)."""

    name: str = "ego4o"
    fps: float = 30.0
    window: int = 60  # frames; any multiple of 4 up to max_frames works
    max_frames: int = 240
    # Part-aware VQ-VAE (T2M-GPT's sizes: 512 codes of 512-d, width 512, 3 dilated res blocks).
    num_codes: int = 512
    code_dim: int = 512
    vq_width: int = 512
    vq_depth: int = 3
    vq_ema_decay: float = 0.99
    vq_commit_weight: float = 0.02
    # Multimodal encoder.
    d_model: int = 512
    num_heads: int = 8
    num_layers: int = 6
    text_dim: int = 384
    image_dim: int = 512
    gumbel_tau: float = 1.0
    # Inference picks codes by argmax in the paper ("hard"). With ~40 minutes of training
    # motion the encoder is rarely sure of a code, and decoding the probability-weighted mean
    # of the codebook ("soft") lowered held-out MPJPE from ~100 to ~88 mm (ego4o-small, head
    # alone and head + wrist + pocket); benchmarks/teachers.py reports both.
    code_selection: str = "soft"
    rec_weight: float = 1.0  # lambda of the reconstruction term
    heading_weight: float = 1.0
    p_drop_text: float = 0.5
    p_drop_image: float = 0.5
    p_drop_slot: float = 0.1  # on top of the dataset's random 1-3 slots; one slot always stays
    # Captioning.
    caption_dim: int = 256
    caption_heads: int = 4
    caption_layers: int = 3
    caption_max_vocab: int = 4096
    caption_max_words: int = 24
    caption_p_pred_codes: float = 0.5  # train on the encoder's codes this often, else on GT's
    caption_p_drop_text: float = 0.5
    # Test-time optimization (eq. 2).
    tto_acc_weight: float = 0.01  # per (m/s^2)^2
    tto_acc_step: int = 4  # frames between the samples of the second difference
    tto_ori_weight: float = 1.0  # per squared Frobenius distance of rotation matrices
    # Tuned on the shared mocap's validation windows with a trained ego4o-small: orientation
    # plus this prior lowers MPJPE by ~6 %; a stronger acceleration term fits the IMUs
    # better but moves the root-relative pose away from the truth.
    tto_prior_weight: float = 3.0

    def __post_init__(self) -> None:
        if self.window % DOWNSAMPLE or self.max_frames % DOWNSAMPLE:
            raise EdgeSDKError(f"{self.name}: window and max_frames must be multiples of 4")
        if self.code_selection not in ("soft", "hard"):
            raise EdgeSDKError(
                f"{self.name}: code_selection must be 'soft' or 'hard', got {self.code_selection!r}"
            )
        if self.tto_acc_step < 1:
            raise EdgeSDKError(f"{self.name}: tto_acc_step must be >= 1, got {self.tto_acc_step}")
        if self.window > self.max_frames:
            raise EdgeSDKError(f"{self.name}: window {self.window} > max_frames {self.max_frames}")


class Ego4oInputs(NamedTuple):
    """The tensors ``forward`` takes, in order (see ``Ego4oModel.spec``)."""

    imu: Tensor  # [B, T, 5, 9] acc_world_mps2 + R_world_sensor 6D
    mask: Tensor  # [B, T, 5]
    text_emb: Tensor  # [B, 384]
    text_mask: Tensor  # [B]
    image_feat: Tensor  # [B, image_dim]
    image_mask: Tensor  # [B]


def _spec(config: Ego4oConfig) -> ModelSpec:
    return ModelSpec(
        inputs=(
            TensorSpec(
                "imu",
                ("batch", "time", 5, 9),
                units="m/s^2, 6D",
                description="acc_world_mps2 (3, no gravity) + R_world_sensor 6D (6) per "
                "slot (head, left/right wrist, left/right pocket); zeros where absent",
            ),
            TensorSpec("mask", ("batch", "time", 5), description="1 where the slot is present"),
            *text_inputs(config.text_dim),
            TensorSpec(
                "image_feat",
                ("batch", config.image_dim),
                description="egocentric image feature; no images exist in this project: "
                "pass zeros with image_mask 0",
            ),
            TensorSpec("image_mask", ("batch",), description="1 where image_feat is given"),
        ),
        outputs=pose_outputs(),
        fps=config.fps,
        window=config.window,
        notes="Non-causal over the window (codes at T/4); T must be a multiple of 4.",
    )


def reference_heading(imu: Tensor, mask: Tensor) -> Tensor:
    """``R_world_ref [B, 3, 3]``: the yaw of the slot present in most frames (ties: the
    earlier slot) at its first present frame; the identity when no slot is present."""
    present = (mask > 0.5).to(imu.dtype)  # [B, T, S]
    S = present.shape[-1]
    rank = present.sum(1) * (S + 1) + torch.arange(S, 0, -1, dtype=imu.dtype, device=imu.device)
    slot = rank.argmax(-1)  # [B]
    batch = torch.arange(imu.shape[0], device=imu.device)
    first = present[batch, :, slot].argmax(-1)  # first present frame of that slot
    R6 = imu[batch, first, slot, 3:9]
    ok = present[batch, first, slot] > 0
    R6 = torch.where(ok[:, None], R6, torch.tensor([1.0, 0, 0, 0, 1, 0]).to(R6))
    return heading_rotation(rot6d_to_matrix(R6))


def compose_heading(R_world_ref: Tensor, heading_ref: Tensor) -> Tensor:
    """The world (cos, sin) of a heading given as (cos, sin) in the frame ``R_world_ref``."""
    c0, s0 = R_world_ref[:, 0, 0], R_world_ref[:, 0, 2]
    c1, s1 = heading_ref.unbind(-1)
    return torch.stack([c0 * c1 - s0 * s1, s0 * c1 + c0 * s1], -1)


def _check_time(T: int, max_frames: int) -> None:
    if T % DOWNSAMPLE or not 0 < T <= max_frames:
        raise EdgeSDKError(
            f"Ego4o needs a window whose length is a multiple of {DOWNSAMPLE} (the VQ-VAE "
            f"downsamples time by {DOWNSAMPLE}) and at most {max_frames} frames; got T={T}"
        )


class Ego4oModel(MotionModel):
    """The Ego4o teacher: part-aware VQ-VAE, multimodal encoder, caption decoder.

    Example:
        >>> model = ego4o_small()
        >>> model.prepare(["active walk", "basketball - forward dribble"])
        True
        >>> model.vocabulary[:3]
        ['-', 'active', 'basketball']
        >>> batch = {"imu": torch.zeros(1, 8, 5, 9), "mask": torch.ones(1, 8, 5)}  # no text
        >>> tuple(model.predict(batch)["pos_rel_m"].shape), type(model.describe(batch)[0])
        ((1, 8, 22, 3), <class 'str'>)
        >>> tuple(model.test_time_optimize(batch, steps=2)["R_world_joint_6d"].shape)
        (1, 8, 22, 6)
    """

    stages = ("vqvae", "encoder", "caption")

    def __init__(self, config: Ego4oConfig) -> None:
        super().__init__()
        self.config = config
        self.spec = _spec(config)
        max_steps = config.max_frames // DOWNSAMPLE
        self.features = MotionFeatures(config.fps)
        self.vqvae = PartVQVAE(
            config.num_codes,
            config.code_dim,
            config.vq_width,
            config.vq_depth,
            config.vq_ema_decay,
        )
        self.encoder = MultimodalEncoder(
            config.d_model,
            config.num_heads,
            config.num_layers,
            config.num_codes,
            config.text_dim,
            config.image_dim,
            max_steps,
        )
        self.captioner = Captioner(
            config.caption_dim,
            config.caption_heads,
            config.caption_layers,
            config.code_dim,
            config.text_dim,
            config.image_dim,
            config.caption_max_vocab,
            config.caption_max_words,
            max_steps,
        )
        mounts = [slot_mount(DEFAULT_KIND[slot], slot) for slot in SLOTS]
        bone = [m.bone_joint for m in mounts]
        self.register_buffer("mount_bone", torch.tensor(bone), persistent=False)
        end = [m.bone_joint if m.end_joint is None else m.end_joint for m in mounts]
        self.register_buffer("mount_end", torch.tensor(end), persistent=False)
        along = torch.tensor([m.along for m in mounts])
        self.register_buffer("mount_along", along, persistent=False)
        offset = torch.tensor([m.offset_m for m in mounts])
        self.register_buffer("mount_offset_m", offset, persistent=False)
        R_bone_sensor = torch.tensor([m.R_bone_sensor for m in mounts])
        self.register_buffer("R_bone_sensor", R_bone_sensor, persistent=False)
        self.mount_bone: Tensor
        self.mount_end: Tensor
        self.mount_along: Tensor
        self.mount_offset_m: Tensor
        self.R_bone_sensor: Tensor

    # -- inputs ---------------------------------------------------------------------------

    def inputs(self, batch: dict[str, Any]) -> Ego4oInputs:
        """The ``forward`` tensors of a batch; missing text / image keys mean absent."""
        imu: Tensor = batch["imu"]
        B, T = imu.shape[:2]
        _check_time(T, self.config.max_frames)
        text_emb = batch.get("text_emb")
        text_mask = batch.get("text_mask")
        if text_emb is None:  # a text_mask without embeddings still means: no text to read
            text_emb, text_mask = imu.new_zeros(B, self.config.text_dim), imu.new_zeros(B)
        elif text_mask is None:
            text_mask = (text_emb.abs().sum(-1) > 0).to(imu.dtype)
        image_feat = batch.get("image_feat")
        image_mask = batch.get("image_mask")
        if image_feat is None:
            image_feat, image_mask = imu.new_zeros(B, self.config.image_dim), imu.new_zeros(B)
        elif image_mask is None:
            image_mask = imu.new_ones(B)
        return Ego4oInputs(imu, batch["mask"], text_emb, text_mask, image_feat, image_mask)

    def _drop_inputs(self, x: Ego4oInputs, p_text: float, p_image: float) -> Ego4oInputs:
        """Training-time masking of text, image and (beyond the dataset's) IMU slots."""
        B = x.imu.shape[0]
        keep_text = (torch.rand(B, device=x.imu.device) >= p_text).to(x.imu.dtype)
        keep_image = (torch.rand(B, device=x.imu.device) >= p_image).to(x.imu.dtype)
        frames = (x.mask > 0.5).sum(1).to(x.imu.dtype)  # [B, 5]
        # The slot present longest (ties broken at random) is never dropped.
        keeper = F.one_hot((frames + 0.5 * torch.rand_like(frames)).argmax(-1), x.mask.shape[-1])
        drop = (torch.rand_like(frames) < self.config.p_drop_slot) & (keeper == 0)
        keep_slot = (~drop).to(x.imu.dtype)[:, None]
        return Ego4oInputs(
            x.imu * keep_slot[..., None],
            x.mask * keep_slot,
            x.text_emb,
            x.text_mask * keep_text,
            x.image_feat,
            x.image_mask * keep_image,
        )

    def target_features(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Ground-truth motion features ``[B, T, F]`` and first-frame heading ``[B, 2]``."""
        pos_m: Tensor = batch["pos_m"]
        _check_time(pos_m.shape[1], self.config.max_frames)
        contact = batch.get("contact")
        if contact is None:
            contact = pos_m.new_zeros(*pos_m.shape[:2], 2)
        return self.features.encode(batch["R_world_joint_6d"], pos_m, contact)

    @torch.no_grad()
    def target_codes(self, batch: dict[str, Any]) -> Tensor:
        """The VQ-VAE's code indices ``[B, 6, T/4]`` of the ground-truth motion."""
        feat, _ = self.target_features(batch)
        return self.vqvae.quantizer.nearest(self.vqvae.encode(feat))

    # -- inference ------------------------------------------------------------------------

    def encode_inputs(self, x: Ego4oInputs) -> tuple[Tensor, Tensor]:
        """Code logits ``[B, 6, T/4, N]`` and the world pelvis heading ``[B, 2]``.

        The IMUs are first turned into a frame of the inputs' own: the heading of the slot
        present longest (ties: the earlier slot), at its first present frame. Turning the
        whole world about the vertical leaves the encoder's inputs unchanged, so it learns
        poses, not headings; the pelvis heading it predicts in that frame is turned back.
        """
        R_world_ref = reference_heading(x.imu, x.mask)  # [B, 3, 3]
        R_ref_world = R_world_ref.transpose(-1, -2)[:, None, None]
        imu = x.imu.unflatten(-1, (3, 3))  # acc, 6D column 1, 6D column 2
        imu = (R_ref_world @ imu.transpose(-1, -2)).transpose(-1, -2).flatten(-2)
        logits, heading_ref = self.encoder(imu, *x[1:])
        return logits, compose_heading(R_world_ref, heading_ref)

    def _decode(self, z: Tensor, heading: Tensor, frozen: bool = False) -> dict[str, Tensor]:
        feat = self.vqvae.decode_frozen(z) if frozen else self.vqvae.decode(z)
        return self.features.decode(feat, heading)

    def select_codes(self, logits: Tensor) -> Tensor:
        """Code embeddings ``[B, 6, T/4, d]`` for the decoder from the encoder's logits: the
        argmax code (``code_selection="hard"``, the paper) or the probability-weighted mean
        of the codebook (``"soft"``)."""
        if self.config.code_selection == "soft":
            return self.vqvae.quantizer.mix(torch.softmax(logits, -1))
        return self.vqvae.quantizer.lookup(logits.argmax(-1))

    def _infer(self, x: Ego4oInputs) -> dict[str, Tensor]:
        logits, heading = self.encode_inputs(x)
        out = self._decode(self.select_codes(logits), heading)
        return {**out, "code_indices": logits.argmax(-1), "heading": heading}

    def forward(
        self,
        imu: Tensor,
        mask: Tensor,
        text_emb: Tensor,
        text_mask: Tensor,
        image_feat: Tensor,
        image_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Deterministic inference (codes by ``code_selection``): ``(R_world_joint_6d,
        pos_rel_m)``."""
        _check_time(imu.shape[1], self.config.max_frames)
        out = self._infer(Ego4oInputs(imu, mask, text_emb, text_mask, image_feat, image_mask))
        return out["R_world_joint_6d"], out["pos_rel_m"]

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], text_feedback: bool = False) -> dict[str, Tensor]:
        """``R_world_joint_6d``, ``pos_rel_m``, ``root_pos_m``, ``contact``, ``code_indices``
        and ``heading``; with ``text_feedback`` the samples without a description get one
        generated, embedded and fed back (see ``closed_loop``)."""
        if text_feedback:
            return self.closed_loop(batch)[0]
        return self._infer(self.inputs(batch))

    @torch.no_grad()
    def describe(self, batch: dict[str, Any]) -> list[str]:
        """One generated description per sample (greedy decoding)."""
        x = self.inputs(batch)
        logits, _ = self.encode_inputs(x)
        return self._describe(logits.argmax(-1), x)

    def _describe(self, indices: Tensor, x: Ego4oInputs) -> list[str]:
        z = self.vqvae.quantizer.lookup(indices)
        memory = self.captioner.memory(z, x.text_emb, x.text_mask, x.image_feat, x.image_mask)
        return self.captioner.generate(memory)

    @torch.no_grad()
    def closed_loop(
        self, batch: dict[str, Any], text_encoder: TextEncoder | None = None
    ) -> tuple[dict[str, Tensor], list[str]]:
        """Capture, describe, embed the description, capture again with it as the text.

        Samples that already have a description keep theirs; the text encoder defaults to
        ``default_text_encoder()`` and must be the one the model was trained with.
        """
        x = self.inputs(batch)
        logits, _ = self.encode_inputs(x)
        descriptions = self._describe(logits.argmax(-1), x)
        encoder = text_encoder or default_text_encoder()
        emb = encoder.encode(descriptions).to(x.text_emb)
        if emb.shape[-1] != self.config.text_dim:
            raise EdgeSDKError(
                f"the text encoder gives {emb.shape[-1]}-d, the model takes {self.config.text_dim}"
            )
        generated = torch.tensor([bool(d.strip()) for d in descriptions], device=emb.device)
        use = generated & (x.text_mask <= 0.5)
        x = x._replace(
            text_emb=torch.where(use[:, None], emb, x.text_emb),
            text_mask=torch.where(use, torch.ones_like(x.text_mask), x.text_mask),
        )
        return self._infer(x), descriptions

    # -- training -------------------------------------------------------------------------

    def prepare(self, train_texts: Sequence[str]) -> bool:
        """Fit the caption vocabulary to the training descriptions (kept in the state dict);
        True: the trainer rebuilds the model from its config."""
        words = build_vocabulary(
            train_texts,
            self.config.caption_max_vocab - len(SPECIAL_TOKENS),
            self.captioner.vocab_utf8.numel(),
        )
        self.captioner.set_vocabulary(words)
        return True

    @property
    def vocabulary(self) -> list[str]:
        """The caption words (without the special tokens)."""
        return self.captioner.vocabulary()[len(SPECIAL_TOKENS) :]

    def stage_parameters(self, stage: str) -> Sequence[nn.Parameter]:
        """VQ-VAE encoders and decoder, then the multimodal encoder, then the captioner; the
        codebooks are EMA buffers, and everything outside a stage stays frozen in it."""
        modules = {"vqvae": self.vqvae, "encoder": self.encoder, "caption": self.captioner}
        if stage not in modules:
            raise EdgeSDKError(f"unknown stage {stage!r}; Ego4o has {self.stages}")
        return list(modules[stage].parameters())

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """Scalar loss of a stage and logged figures.

        Example:
            >>> loss, logs = model.loss(batch, "vqvae")  # doctest: +SKIP
        """
        if stage == "vqvae":
            return self._vqvae_loss(batch)
        if stage == "encoder":
            return self._encoder_loss(batch)
        if stage == "caption":
            return self._caption_loss(batch)
        raise EdgeSDKError(f"unknown stage {stage!r}; Ego4o has {self.stages}")

    def _vqvae_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        feat, _ = self.target_features(batch)
        q = self.vqvae.quantizer(self.vqvae.encode(feat), update=self.training)
        rec = F.smooth_l1_loss(self.vqvae.decode(q.z_q), feat)
        loss = rec + self.config.vq_commit_weight * q.commit_loss
        return loss, {
            "rec": rec.item(),
            "commit": q.commit_loss.item(),
            "perplexity": q.perplexity.item(),
        }

    def _encoder_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        feat, heading_gt = self.target_features(batch)
        with torch.no_grad():
            codes_gt = self.vqvae.quantizer.nearest(self.vqvae.encode(feat))
        x = self.inputs(batch)
        if self.training:
            x = self._drop_inputs(x, cfg.p_drop_text, cfg.p_drop_image)
        logits, heading = self.encode_inputs(x)
        ce = F.cross_entropy(logits.flatten(0, -2), codes_gt.flatten())
        if self.training:
            weights = F.gumbel_softmax(logits, tau=cfg.gumbel_tau, hard=True)
            z = self.vqvae.quantizer.mix(weights)
        else:  # validation scores what inference decodes
            z = self.select_codes(logits)
        rec = F.smooth_l1_loss(self.vqvae.decode_frozen(z), feat)
        head = F.mse_loss(heading, heading_gt)
        loss = ce + cfg.rec_weight * rec + cfg.heading_weight * head
        acc = (logits.argmax(-1) == codes_gt).float().mean()
        logs = {"ce": ce.item(), "rec": rec.item(), "heading": head.item(), "code_acc": acc.item()}
        return loss, logs

    def _caption_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        x = self.inputs(batch)
        B = x.imu.shape[0]
        tokens = self.captioner.token_ids(batch.get("text") or [""] * B).to(x.imu.device)
        if self.training:
            x = self._drop_inputs(x, cfg.caption_p_drop_text, cfg.p_drop_image)
        with torch.no_grad():
            codes_gt = self.target_codes(batch)
            codes_pred = self.encode_inputs(x)[0].argmax(-1)
            p_pred = cfg.caption_p_pred_codes if self.training else 1.0
            use_pred = torch.rand(B, device=codes_gt.device) < p_pred
            codes = torch.where(use_pred[:, None, None], codes_pred, codes_gt)
            z = self.vqvae.quantizer.lookup(codes)
        memory = self.captioner.memory(z, x.text_emb, x.text_mask, x.image_feat, x.image_mask)
        logits = self.captioner(tokens[:, :-1], memory)
        targets = tokens[:, 1:]
        count = (targets != PAD).sum()
        # Summed then divided, so a batch without any description gives 0, not NaN.
        ce_sum = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
        )
        loss = ce_sum / count.clamp_min(1)
        return loss, {"caption_ce": loss.item(), "caption_words": float(count.item())}

    # -- test-time optimization -----------------------------------------------------------

    def imu_energy(self, batch: dict[str, Any], pred: dict[str, Tensor]) -> Tensor:
        """Eq. 2's data terms per sample ``[B]``: squared error between the observed
        ``acc_world_mps2`` and the decoded sensor points' acceleration (second differences
        of world positions), and between the observed ``R_world_sensor`` and the decoded
        bone rotation times the slot's nominal mount; present slots only.

        The second difference spans ``k = tto_acc_step`` frames, and is compared with the
        observed acceleration averaged by the triangular kernel of half-width ``k`` (which is
        exactly what that difference measures of a smooth trajectory). With ``k = 1`` (plain
        frame differences) the decoder's centimetre-level frame-to-frame jitter is amplified
        by fps^2 and dwarfs the real acceleration.

        Sensors ride on bones as in ``edgesdk.data.mounts.SLOT_MOUNTS``: head -> joint 15,
        wrists -> forearm (elbow 18/19, point near the wrist), pockets -> thigh (hip 1/2).
        """
        cfg = self.config
        imu, present = batch["imu"], (batch["mask"] > 0.5).to(batch["imu"].dtype)
        R_world_joint = rot6d_to_matrix(pred["R_world_joint_6d"])
        pos = pred["root_pos_m"][:, :, None] + pred["pos_rel_m"]
        R_world_bone = R_world_joint[:, :, self.mount_bone]  # [B, T, 5, 3, 3]
        p_bone, p_end = pos[:, :, self.mount_bone], pos[:, :, self.mount_end]
        lever = (R_world_bone @ self.mount_offset_m[..., None])[..., 0]
        p_sensor = p_bone + self.mount_along[:, None] * (p_end - p_bone) + lever
        k = min(cfg.tto_acc_step, (imu.shape[1] - 1) // 2)  # short windows: a shorter span
        if k < 1:
            return cfg.tto_ori_weight * self._orientation_energy(imu, present, R_world_bone)
        acc = (p_sensor[:, 2 * k :] - 2 * p_sensor[:, k:-k] + p_sensor[:, : -2 * k]) * (
            cfg.fps / k
        ) ** 2
        kernel = (k - torch.arange(1 - k, k, device=imu.device).abs()).to(imu.dtype) / k**2
        windows = imu[..., :3].unfold(1, 2 * k - 1, 1)[:, 1 : acc.shape[1] + 1]
        acc_obs = (windows * kernel).sum(-1)
        m_acc = present.unfold(1, 2 * k + 1, 1).amin(-1)  # present over the whole span
        e_acc = ((acc - acc_obs).pow(2).sum(-1) * m_acc).sum((1, 2))
        e_acc = e_acc / m_acc.sum((1, 2)).clamp_min(1)
        e_ori = self._orientation_energy(imu, present, R_world_bone)
        return cfg.tto_acc_weight * e_acc + cfg.tto_ori_weight * e_ori

    def _orientation_energy(self, imu: Tensor, present: Tensor, R_world_bone: Tensor) -> Tensor:
        R_sim = R_world_bone @ self.R_bone_sensor
        R_obs = rot6d_to_matrix(imu[..., 3:])
        e_ori = ((R_sim - R_obs).pow(2).sum((-1, -2)) * present).sum((1, 2))
        return e_ori / present.sum((1, 2)).clamp_min(1)

    def test_time_optimize(
        self, batch: dict[str, Any], steps: int = 50, lr: float = 0.01
    ) -> dict[str, Tensor]:
        """Optimize the continuous latents (initialized at the predicted codes) and the
        heading through the frozen decoder to lower ``imu_energy`` + a prior to stay near
        the start; returns ``predict``'s outputs for the optimized latents.

        Example:
            >>> refined = model.test_time_optimize(batch, steps=50)  # doctest: +SKIP
        """
        x = self.inputs(batch)
        with torch.no_grad():
            logits, heading = self.encode_inputs(x)
            indices = logits.argmax(-1)
            z0 = self.select_codes(logits)
        z = z0.clone().requires_grad_(True)
        yaw = torch.atan2(heading[:, 1], heading[:, 0]).requires_grad_(True)
        opt = torch.optim.Adam([z, yaw], lr=lr)
        scale = z0.pow(2).mean().clamp_min(1e-6)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad()
                pred = self._decode(z, torch.stack([yaw.cos(), yaw.sin()], -1), frozen=True)
                prior = (z - z0).pow(2).mean((1, 2, 3)) / scale
                energy = self.imu_energy(batch, pred) + self.config.tto_prior_weight * prior
                energy.sum().backward()
                opt.step()
        with torch.no_grad():
            heading = torch.stack([yaw.cos(), yaw.sin()], -1)
            out = self._decode(z, heading)
        return {**out, "code_indices": indices, "heading": heading}


# -- configs and registry ---------------------------------------------------------------------

_CONFIGS: dict[str, Ego4oConfig] = {
    "ego4o": Ego4oConfig(),
    # Trains in minutes on 2 CPU cores over ~40k frames.
    "ego4o-small": Ego4oConfig(
        name="ego4o-small",
        num_codes=128,
        code_dim=64,
        vq_width=128,
        vq_depth=2,
        d_model=128,
        num_heads=4,
        num_layers=3,
        image_dim=512,
        caption_dim=64,
        caption_heads=4,
        caption_layers=2,
        caption_max_vocab=512,
        caption_max_words=16,
    ),
}


def _create_ego4o(variant: str, **overrides: Any) -> Ego4oModel:
    return Ego4oModel(build_config(_CONFIGS[variant], overrides))


@register_model(role="teacher", scale="paper", streaming=False)
def ego4o(**overrides: Any) -> Ego4oModel:
    """Paper-sized Ego4o (part VQ-VAE 512 x 512 per part, transformer 512-d, 8 heads, 6 layers)."""
    return _create_ego4o("ego4o", **overrides)


@register_model(role="teacher", scale="small", streaming=False)
def ego4o_small(**overrides: Any) -> Ego4oModel:
    """Ego4o for CPU training: 128 codes of 64-d per part, transformer 128-d, 3 layers."""
    return _create_ego4o("ego4o-small", **overrides)

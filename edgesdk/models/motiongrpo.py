"""MotionGRPO: a head-trajectory-conditioned motion diffusion model (as EgoAllo) post-trained
with group relative policy optimization (GRPO).

    head [B, T, 9] (position m + R_world_head 6D)
      -> invariant conditioning [B, T, 28] (below) and the per-frame heading of the head
      -> transformer denoiser, x0-prediction, over pose features [B, T, 195]: 22 global joint
         rotations (6D) and 21 pelvis-relative joint positions, both in the frame's heading
         frame (``edgesdk.models.head2body.pose_to_features``)
      -> DDIM (eta = 0, ``ddim_steps`` steps from a fixed seeded noise: deterministic, exports)
      -> turned by the heading -> R_world_joint_6d [B, T, 22, 6], pos_rel_m [B, T, 22, 3]

Invariant conditioning (EgoAllo's idea: nothing the network sees changes under a world yaw
and a horizontal shift): per frame, the head's rotation in its own heading frame (pitch and
roll), its height above the floor, the relative transform from the previous frame (rotation,
and translation in the previous head frame, times fps), the head velocity in the heading frame,
and the head pose relative to the first frame's heading frame and position. The output is
relative to each frame's heading, so predictions turn with the world.

Diffusion: a cosine noise schedule over ``train_timesteps`` (1000), the denoiser predicts the
clean sample x0; samplers take ``steps`` evenly spaced timesteps. The DDIM update with
``eta`` is a Gaussian transition ``N(A x_t + B x0_hat, sigma^2)``: ``eta = 0`` is DDIM,
``eta = 1`` (``sde_eta``) the DDPM-like ancestral SDE whose last step (to t = 0) is
deterministic.

Stages: ``pretrain`` (x0-prediction MSE on rotations, positions and position velocities) and
``grpo``: per step, ``grpo_conditions`` windows of the batch, each repeated ``group_size``
times with its head translation perturbed by independent Perlin noise; SDE sampling with one
initial noise per group by the *old policy* (``sync_every``: the current denoiser by
default, or the frozen reference, or a copy refreshed every n steps); rewards (MPJPE,
PA-MPJPE, rotation, velocity; optional perceptual) -> group-relative advantages; the per-step
Gaussian log-probabilities of the sampled transitions under the current denoiser (all SDE
steps in one batched pass) against the old policy's give the ratio of the PPO clipped
objective, plus ``kl_weight`` x the KL between the current and the *reference* transition
Gaussians, the reference being a frozen copy of the denoiser taken at the first GRPO step
(the pre-trained one). In eval mode (the trainer's validation) the ``grpo`` loss is
``1 - reward`` of the DDIM prediction; in training its value is the surrogate (about 0), so
``logs["reward"]`` is the figure to watch. The trainer multiplies its learning rate by
``stage_lr_scale(stage)``.

What differs from the seed / EgoAllo: no SMPL body, betas, hands or contacts (the 22-joint
skeleton's global rotations and positions instead); the conditioning tokens are added to the
noisy-pose tokens of one transformer stack (no separate encoder); one optimizer step per
sampled batch (the trainer's loop), so with the default on-policy sampling the clip never
acts; the frozen copies are held outside the module (not saved: a run resumed in the middle
of ``grpo`` re-freezes the resumed weights); sizes follow EgoAllo-like choices, not checked
against the seed's numbers.

Example:
    >>> model = motiongrpo_small().eval()
    >>> (head,) = model.example_inputs(batch_size=2)
    >>> R_world_joint_6d, pos_rel_m = model(head)
    >>> tuple(R_world_joint_6d.shape), tuple(pos_rel_m.shape), model.stages
    ((2, 60, 22, 6), (2, 60, 22, 3), ('pretrain', 'grpo'))
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import (
    ModelSpec,
    MotionModel,
    TensorSpec,
    pose_outputs,
    target_positions_rel,
)
from edgesdk.models.head2body_vq import (
    POSE_FEATURES,
    ROT_FEATURES,
    features_to_pose,
    pose_to_features,
)
from edgesdk.models.motiongrpo_diffusion import (
    Denoiser,
    Transition,
    cosine_alphas_cumprod,
    ddim_coeffs,
    head_conditioning,
    run_sampler,
)
from edgesdk.models.motiongrpo_grpo import (
    PlausibilityScorer,
    RewardScales,
    clipped_objective,
    gaussian_kl,
    gaussian_log_prob,
    group_advantages,
    group_noise,
    info_nce,
    motion_rewards,
    perturb_translation,
    pose_errors,
)
from edgesdk.models.registry import build_config, register_model

HEAD_CHANNELS = 9

# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class MotionGRPOConfig:
    """MotionGRPO sizes, sampler and GRPO settings; defaults are ``motiongrpo``'s."""

    name: str = "motiongrpo"
    window: int = 60
    fps: float = 30.0
    dim: int = 512
    depth: int = 6
    heads: int = 8
    dropout: float = 0.0
    train_timesteps: int = 1000
    ddim_steps: int = 30  # inference (forward / predict)
    sde_steps: int = 20  # GRPO sampling
    sde_eta: float = 1.0
    noise_seed: int = 0  # the fixed initial noises of deterministic inference
    # forward / predict average the poses of this many DDIM samples from fixed, seeded noises:
    # an estimate of the posterior mean. One sample (the seed's inference) scored 112 mm /
    # PA 100 mm on held-out files with motiongrpo-small, below the mean pose (105 mm): from
    # the head alone the body is uncertain, and one plausible sample errs by about sqrt(2) x
    # the spread; the mean of 8 scored 97 mm / PA 87 mm. Cost grows with it.
    inference_samples: int = 8
    max_frames: int = 512
    pos_weight: float = 4.0
    vel_weight: float = 10.0
    # GRPO post-training.
    group_size: int = 8
    grpo_conditions: int = 8  # windows of a batch used per GRPO step
    # Log-probabilities are means over ~10^4 dimensions (see motiongrpo_grpo), so ratios stay
    # within ~1e-3 of 1: the clip range and KL weight are Flow-GRPO's for the same convention.
    clip_eps: float = 1e-4
    kl_weight: float = 0.04
    # The old policy: 1 samples with the current denoiser (GRPO; the ratio is 1 at the one
    # update per batch the trainer makes); 0 with the frozen reference; n with a copy
    # refreshed every n steps (ratios != 1, so the clip acts).
    sync_every: int = 1
    # The trainer's 1e-3 -> 1e-5 (DanceGRPO / Flow-GRPO); measured on 60 clips, x0.1 raised
    # held-out MPJPE by 25 mm in 40 steps.
    grpo_lr_scale: float = 0.01
    perlin_amp_m: float = 0.05  # peak Perlin perturbation of the head translation
    perlin_period: float = 15.0  # frames between lattice points
    reward_pos_mm: float = 100.0
    reward_pa_mm: float = 50.0
    reward_rot_deg: float = 20.0
    reward_vel_mm_s: float = 500.0
    perceptual_weight: float = 0.0  # > 0 builds the perceptual reward model
    perceptual_dim: int = 64
    infonce_temp: float = 0.1

    def __post_init__(self) -> None:
        if self.inference_samples < 1:
            raise EdgeSDKError(f"{self.name}: inference_samples must be >= 1")


class MotionGRPO(MotionModel):
    """Head-trajectory diffusion with GRPO post-training.

    ``forward(head)`` is deterministic DDIM inference (what ``spec`` describes and export
    traces); ``generate`` samples with DDIM or the SDE; ``loss(batch, stage)`` trains.

    Example:
        >>> model = motiongrpo_small(perceptual_weight=0.5)
        >>> sorted(n for n, _ in model.named_children())
        ['denoiser', 'scorer']
    """

    config: MotionGRPOConfig
    stages = ("pretrain", "grpo")
    alphas_cumprod: Tensor
    init_noise: Tensor

    def __init__(self, config: MotionGRPOConfig) -> None:
        super().__init__()
        self.config = c = config
        self.denoiser = Denoiser(c.dim, c.depth, c.heads, c.dropout)
        self.scorer = (
            PlausibilityScorer(POSE_FEATURES, c.perceptual_dim) if c.perceptual_weight > 0 else None
        )
        self._abar = cosine_alphas_cumprod(c.train_timesteps)
        self.register_buffer("alphas_cumprod", torch.tensor(self._abar), persistent=False)
        g = torch.Generator().manual_seed(c.noise_seed)
        noise = torch.randn(c.inference_samples, c.max_frames, POSE_FEATURES, generator=g)
        self.register_buffer("init_noise", noise, persistent=False)
        self.reward_scales = RewardScales(
            c.reward_pos_mm, c.reward_pa_mm, c.reward_rot_deg, c.reward_vel_mm_s
        )
        self._frozen: list[Denoiser] = []  # the old policy, outside the module tree
        self._grpo_updates = 0
        self.spec = ModelSpec(
            inputs=(
                TensorSpec(
                    "head",
                    ("batch", "time", HEAD_CHANNELS),
                    units="m, 6D",
                    description="head position (world, floor at y = 0) + R_world_head 6D",
                ),
            ),
            outputs=pose_outputs(),
            fps=c.fps,
            window=c.window,
            slots=("head",),
            notes=f"head 6DoF trajectory only; DDIM with {c.ddim_steps} denoiser passes from a "
            f"fixed seeded noise (at most {c.max_frames} frames)",
        )

    # -- sampling

    def sample(
        self,
        cond: Tensor,
        x: Tensor,
        steps: int,
        eta: float,
        generator: torch.Generator | None = None,
        denoiser: Denoiser | None = None,
        record: bool = False,
    ) -> tuple[Tensor, list[Transition]]:
        """``run_sampler`` with this model's schedule and denoiser (or ``denoiser``)."""
        net = self.denoiser if denoiser is None else denoiser
        return run_sampler(net, self._abar, cond, x, steps, eta, generator, record)

    def fixed_noise(self, batch_size: int, frames: int, sample: int = 0) -> Tensor:
        """The ``sample``-th fixed initial noise ``[batch_size, frames, 195]``."""
        if frames > self.config.max_frames:
            raise EdgeSDKError(
                f"{self.config.name}: {frames} frames > max_frames={self.config.max_frames}"
            )
        return self.init_noise[sample, :frames].expand(batch_size, frames, POSE_FEATURES)

    def forward(self, head: Tensor) -> tuple[Tensor, Tensor]:
        """``head [B, T, 9]`` -> ``(R_world_joint_6d [B, T, 22, 6], pos_rel_m [B, T, 22, 3])``:
        the mean of ``inference_samples`` DDIM samples from the fixed noises (one batched
        sampler run)."""
        cond, R_world_heading = head_conditioning(head, self.config.fps)
        B, T = head.shape[:2]
        N = self.config.inference_samples
        self.fixed_noise(1, T)  # checks T against max_frames
        x = self.init_noise[:, None, :T].expand(N, B, T, POSE_FEATURES).reshape(N * B, T, -1)
        x0, _ = self.sample(cond.repeat(N, 1, 1), x, self.config.ddim_steps, 0.0)
        return features_to_pose(x0.view(N, B, T, -1).mean(0), R_world_heading)

    @torch.no_grad()
    def generate(
        self,
        head: Tensor,
        sampler: str = "ddim",
        steps: int | None = None,
        generator: torch.Generator | None = None,
        x_init: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Poses sampled with ``"ddim"`` (from the fixed noise unless ``x_init``) or ``"sde"``
        (eta = ``sde_eta``, from Gaussian noise of ``generator`` unless ``x_init``)."""
        c = self.config
        cond, R_world_heading = head_conditioning(head, c.fps)
        B, T = head.shape[:2]
        if sampler == "ddim":
            x = self.fixed_noise(B, T) if x_init is None else x_init
            x0, _ = self.sample(cond, x, steps or c.ddim_steps, 0.0)
        elif sampler == "sde":
            x = torch.randn(B, T, POSE_FEATURES, generator=generator) if x_init is None else x_init
            x0, _ = self.sample(cond, x.to(head.device), steps or c.sde_steps, c.sde_eta, generator)
        else:
            raise EdgeSDKError(f"sampler must be 'ddim' or 'sde', got {sampler!r}")
        return features_to_pose(x0, R_world_heading)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        R_world_joint_6d, pos_rel_m = self(batch["head"])
        return {"R_world_joint_6d": R_world_joint_6d, "pos_rel_m": pos_rel_m}

    # -- training

    def stage_parameters(self, stage: str) -> Sequence[nn.Parameter]:
        """``pretrain``: the denoiser; ``grpo``: the denoiser and the perceptual scorer."""
        if stage == "pretrain":
            return list(self.denoiser.parameters())
        if stage == "grpo":
            scorer = list(self.scorer.parameters()) if self.scorer is not None else []
            return list(self.denoiser.parameters()) + scorer
        raise self._unknown_stage(stage)

    def stage_lr_scale(self, stage: str) -> float:
        """Multiplier of the trainer's learning rate (GRPO fine-tunes with a smaller one)."""
        return self.config.grpo_lr_scale if stage == "grpo" else 1.0

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        """Scalar loss of a stage and logged figures.

        Example:
            >>> model, T = motiongrpo_small(), 16
            >>> pos_m = torch.randn(2, T, 22, 3)
            >>> batch = {
            ...     "head": torch.cat([pos_m[:, :, 15], torch.randn(2, T, 6)], -1),
            ...     "R_world_joint_6d": torch.randn(2, T, 22, 6),
            ...     "pos_m": pos_m,
            ... }
            >>> loss, logs = model.loss(batch, "grpo")
            >>> loss.ndim, sorted(logs)[:4]
            (0, ['clip_frac', 'kl', 'loss', 'r_pa'])
        """
        if stage == "pretrain":
            return self.denoising_loss(batch)
        if stage == "grpo":
            return self.grpo_loss(batch) if self.training else self._reward_loss(batch)
        raise self._unknown_stage(stage)

    def denoising_loss(
        self, batch: dict[str, Any], t: Tensor | None = None, noise: Tensor | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """x0-prediction MSE at timesteps ``t [B]`` (uniform if None) with ``noise``."""
        c = self.config
        cond, R_world_heading = head_conditioning(batch["head"], c.fps)
        x0 = pose_to_features(
            batch["R_world_joint_6d"], target_positions_rel(batch), R_world_heading
        )
        if t is None:
            t = torch.randint(0, c.train_timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0) if noise is None else noise
        a = self.alphas_cumprod[t][:, None, None]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        x0_hat = self.denoiser(x_t, t.to(x0.dtype), cond)
        rot = F.mse_loss(x0_hat[..., :ROT_FEATURES], x0[..., :ROT_FEATURES])
        pos = F.mse_loss(x0_hat[..., ROT_FEATURES:], x0[..., ROT_FEATURES:])
        vel = F.mse_loss(
            x0_hat[:, 1:, ROT_FEATURES:] - x0_hat[:, :-1, ROT_FEATURES:],
            x0[:, 1:, ROT_FEATURES:] - x0[:, :-1, ROT_FEATURES:],
        )
        loss = rot + c.pos_weight * pos + c.vel_weight * vel
        return loss, {
            "loss": loss.item(),
            "rot_mse": rot.item(),
            "pos_mse": pos.item(),
            "vel_mse": vel.item(),
        }

    def rewards(
        self, R6: Tensor, pos_rel_m: Tensor, batch: dict[str, Any], repeat: int = 1
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Rewards ``[N]`` of poses for the batch's windows, each repeated ``repeat`` times."""
        gt_R6 = batch["R_world_joint_6d"][: len(R6) // repeat].repeat_interleave(repeat, 0)
        gt_pos = target_positions_rel(batch)[: len(R6) // repeat].repeat_interleave(repeat, 0)
        errors = pose_errors(R6, pos_rel_m, gt_R6, gt_pos, self.config.fps)
        return motion_rewards(errors, self.reward_scales)

    def reset_reference(self) -> Denoiser:
        """Freeze a copy of the denoiser as the GRPO reference (done lazily at the first GRPO
        step, i.e. of the pre-trained weights); returns it."""
        self._frozen[:] = [_frozen_copy(self.denoiser)]
        self._grpo_updates = 0
        return self._frozen[0]

    def reference(self) -> Denoiser:
        """The frozen reference (taken now if there is none), on the denoiser's device."""
        frozen = self._frozen[0] if self._frozen else self.reset_reference()
        return frozen.to(self.init_noise.device)

    def old_policy(self) -> Denoiser:
        """The sampling policy of this GRPO step: the frozen reference (``sync_every`` 0), the
        current denoiser (1: on-policy), or a frozen copy refreshed every ``sync_every``."""
        every = self.config.sync_every
        if every <= 1:
            return self.reference() if every <= 0 else self.denoiser
        if len(self._frozen) < 2 or self._grpo_updates % every == 0:
            self.reference()
            self._frozen[1:] = [_frozen_copy(self.denoiser)]
        return self._frozen[1].to(self.init_noise.device)

    def grpo_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """One GRPO step's loss: sample groups with the old policy, score, and the negative
        clipped objective of the current denoiser's transition log-probabilities (the
        denoiser runs without dropout, so old and new log-probabilities compare one function)."""
        training = self.denoiser.training
        self.denoiser.eval()
        try:
            return self._grpo_loss(batch)
        finally:
            self.denoiser.train(training)

    def _grpo_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        c = self.config
        ref, old = self.reference(), self.old_policy()
        self._grpo_updates += 1
        n, G = min(c.grpo_conditions, batch["head"].shape[0]), c.group_size
        head = batch["head"][:n].repeat_interleave(G, 0)
        head = perturb_translation(head, c.perlin_amp_m, c.perlin_period)
        cond, R_world_heading = head_conditioning(head, c.fps)
        with torch.no_grad():
            x = group_noise(n, G, (head.shape[1], POSE_FEATURES)).to(head.device)
            x0, steps = self.sample(cond, x, c.sde_steps, c.sde_eta, denoiser=old, record=True)
            R6, pos_rel_m = features_to_pose(x0, R_world_heading)
            reward, parts = self.rewards(R6, pos_rel_m, batch, G)
            logs = {
                "reward": reward.mean().item(),
                **{k: v.mean().item() for k, v in parts.items()},
            }
            if self.scorer is not None:
                score = torch.sigmoid(self.scorer(x0))
                reward = (reward + c.perceptual_weight * score) / (1 + c.perceptual_weight)
                logs["r_perceptual"] = score.mean().item()
            adv = group_advantages(reward.view(n, G)).flatten()
        if not steps:
            raise EdgeSDKError(f"{c.name}: GRPO needs sde_steps >= 2 and sde_eta > 0")
        S = len(steps)
        x_t = torch.cat([s.x_t for s in steps])
        x_prev = torch.cat([s.x_prev for s in steps])
        mean_old = torch.cat([s.mean for s in steps])
        rows = [ddim_coeffs(self._abar, s.t, s.t_prev, c.sde_eta) for s in steps]
        A, B, sigma = (
            torch.tensor(v, device=x.device).repeat_interleave(n * G)
            for v in zip(*rows, strict=True)
        )
        t_in = torch.tensor([float(s.t) for s in steps], device=x.device).repeat_interleave(n * G)
        x0_hat = self.denoiser(x_t, t_in, cond.repeat(S, 1, 1))
        mean_new = A[:, None, None] * x_t + B[:, None, None] * x0_hat
        logp_new = gaussian_log_prob(x_prev, mean_new, sigma)
        logp_old = gaussian_log_prob(x_prev, mean_old, sigma)
        objective = clipped_objective(logp_new, logp_old, adv.repeat(S), c.clip_eps)
        mean_ref = mean_old
        if old is not ref and c.kl_weight > 0:
            with torch.no_grad():
                x0_ref = ref(x_t, t_in, cond.repeat(S, 1, 1))
            mean_ref = A[:, None, None] * x_t + B[:, None, None] * x0_ref
        kl = gaussian_kl(mean_new, mean_ref, sigma).mean()
        loss = -objective.mean() + c.kl_weight * kl
        ratio_dev = (logp_new - logp_old).detach().exp().sub(1).abs()
        logs["clip_frac"] = (ratio_dev > c.clip_eps).float().mean().item()
        logs["ratio_dev"] = ratio_dev.max().item()
        logs["kl"] = kl.item()
        if self.scorer is not None:
            gt = pose_to_features(
                batch["R_world_joint_6d"][:n], target_positions_rel(batch)[:n], R_world_heading[::G]
            )
            nce = info_nce(self.scorer(gt), self.scorer(x0).view(n, G), c.infonce_temp)
            loss = loss + nce
            logs["infonce"] = nce.item()
        logs["loss"] = loss.item()
        return loss, logs

    @torch.no_grad()
    def _reward_loss(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Validation figure of the ``grpo`` stage: ``1 - reward`` of the DDIM prediction."""
        out = self.predict(batch)
        reward, parts = self.rewards(out["R_world_joint_6d"], out["pos_rel_m"], batch)
        loss = 1.0 - reward.mean()
        return loss, {"loss": loss.item(), **{k: v.mean().item() for k, v in parts.items()}}

    def _unknown_stage(self, stage: str) -> EdgeSDKError:
        return EdgeSDKError(f"{self.config.name}: unknown stage {stage!r}; stages: {self.stages}")


def _frozen_copy(denoiser: Denoiser) -> Denoiser:
    frozen = copy.deepcopy(denoiser).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
        p.grad = None
    return frozen


# ----------------------------------------------------------------------------- configs

MOTIONGRPO = MotionGRPOConfig()
MOTIONGRPO_SMALL = MotionGRPOConfig(
    name="motiongrpo-small",
    dim=96,
    depth=3,
    heads=4,
    ddim_steps=10,
    sde_steps=10,
    group_size=4,
    grpo_conditions=8,
)


def _create_motiongrpo(default: MotionGRPOConfig, **overrides: Any) -> MotionGRPO:
    return MotionGRPO(build_config(default, overrides))


@register_model(role="teacher", scale="paper", streaming=False)
def motiongrpo(**overrides: Any) -> MotionGRPO:
    """EgoAllo-like sizes: denoiser 6 x 512 (8 heads), 1000 timesteps, DDIM 30, SDE 20, G = 8."""
    return _create_motiongrpo(MOTIONGRPO, **overrides)


@register_model(role="teacher", scale="small", streaming=False)
def motiongrpo_small(**overrides: Any) -> MotionGRPO:
    """Trains in minutes on a CPU core: denoiser 3 x 96, DDIM 10, SDE 10, G = 4."""
    return _create_motiongrpo(MOTIONGRPO_SMALL, **overrides)

"""The GRPO pieces of MotionGRPO: Perlin noise, rewards, group advantages, the clipped
objective, Gaussian log-probabilities of SDE transitions, the optional perceptual reward and
the intra-group diversity measure.

Everything but the diversity measure is a pure function of tensors (or a small module), so
each piece is tested on hand-computed cases; ``edgesdk.models.motiongrpo`` puts them together.

- ``perlin_noise``: 1-D gradient noise (Perlin 1985) per channel, seeded by a generator: a
  random gradient in [-1, 1] at every lattice point (every ``period`` frames), the two
  neighbouring ramps blended with the quintic fade ``6f^5 - 15f^4 + 10f^3``. It is 0 at the
  lattice points and smooth in between; scaled by 2 so it spans [-1, 1].
- ``pose_errors`` -> ``motion_rewards``: per sample, MPJPE, PA-MPJPE, geodesic rotation error
  and velocity error (the metrics of ``edgesdk.metrics``), each turned into a reward in (0, 1]
  by exponential normalization ``exp(-error / scale)``, then a weighted mean.
- ``group_advantages``: ``(r - mean_group) / (std_group + eps)`` over the G samples of a group.
- ``clipped_objective``: PPO's ``min(rho A, clip(rho, 1 - eps, 1 + eps) A)``.
- ``gaussian_log_prob`` / ``gaussian_kl``: of an SDE transition ``N(mean, sigma^2 I)``,
  averaged (not summed) over the pose dimensions, as DDPO's and Flow-GRPO's code do, so ratios of
  probabilities of ~10^4-dimensional samples stay near 1.
- ``PlausibilityScorer`` + ``info_nce``: a small temporal network scoring how plausible a
  motion is, trained with InfoNCE to score the true motion above the policy's own samples for
  the same head trajectory (hard negatives).
- ``group_diversity_mm``: the mean pairwise MPJPE within groups of GRPO samples, with or
  without the Perlin noise (the seed's Table 3).

Example:
    >>> rewards = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    >>> group_advantages(rewards).sum(-1).abs().max().item() < 1e-6
    True
    >>> err = torch.tensor([0.0, 50.0])
    >>> exp_reward(err, 50.0).tolist()[0], round(exp_reward(err, 50.0).tolist()[1], 4)
    (1.0, 0.3679)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.rotations import rot6d_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.metrics import mpjpe_mm, mpjre_deg, mpjve_mm_s, pa_mpjpe_mm
from edgesdk.models.head2body_vq import POSE_FEATURES, features_to_pose
from edgesdk.models.motiongrpo_diffusion import head_conditioning

if TYPE_CHECKING:
    from edgesdk.models.motiongrpo import MotionGRPO

# ----------------------------------------------------------------------------- Perlin noise


def perlin_noise(
    num: int,
    length: int,
    channels: int,
    period: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``[num, length, channels]`` 1-D Perlin noise in [-1, 1], 0 at every ``period`` frames.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> n = perlin_noise(2, 31, 3, period=10.0, generator=g)
        >>> tuple(n.shape), n[:, ::10].abs().max().item()
        ((2, 31, 3), 0.0)
    """
    u = torch.arange(length, dtype=torch.float64) / period
    i = u.floor().long()
    f = (u - i)[:, None]
    knots = int(i.max()) + 2 if length else 2
    grad = 2.0 * torch.rand(num, knots, channels, generator=generator, dtype=torch.float64) - 1.0
    ramp0 = grad[:, i] * f
    ramp1 = grad[:, i + 1] * (f - 1.0)
    fade = f * f * f * (f * (6.0 * f - 15.0) + 10.0)
    noise = 2.0 * (ramp0 + fade * (ramp1 - ramp0))
    return noise.to(device=device, dtype=torch.float32)


def perturb_translation(
    head: Tensor, amp_m: float, period: float, generator: torch.Generator | None = None
) -> Tensor:
    """``head [B, T, 9]`` with Perlin noise of peak ``amp_m`` (independent per sequence and
    axis) added to its translation ``[..., :3]``; GRPO's exploration. The rotation stays."""
    if amp_m <= 0:
        return head
    noise = perlin_noise(head.shape[0], head.shape[1], 3, period, generator, head.device)
    return torch.cat([head[..., :3] + amp_m * noise, head[..., 3:]], -1)


def group_noise(
    num: int, group: int, shape: tuple[int, ...], generator: torch.Generator | None = None
) -> Tensor:
    """``[num * group, *shape]`` Gaussian noise, one draw per group repeated for its members
    (GRPO's shared initial noise: a group differs only by the SDE's noise and the Perlin
    perturbation of its condition)."""
    return torch.randn(num, *shape, generator=generator).repeat_interleave(group, 0)


# ----------------------------------------------------------------------------- rewards


@dataclass(frozen=True)
class RewardScales:
    """Error scales of the exponential normalization and the weights of the four rewards."""

    pos_mm: float = 100.0
    pa_mm: float = 50.0
    rot_deg: float = 20.0
    vel_mm_s: float = 500.0
    w_pos: float = 1.0
    w_pa: float = 1.0
    w_rot: float = 1.0
    w_vel: float = 1.0


def pose_errors(
    pred_R6: Tensor, pred_pos_rel_m: Tensor, gt_R6: Tensor, gt_pos_rel_m: Tensor, fps: float
) -> dict[str, Tensor]:
    """Per-sample errors ``[N]`` of ``[N, T, 22, 6]`` / ``[N, T, 22, 3]`` poses: ``pos_mm``
    (MPJPE), ``pa_mm`` (PA-MPJPE), ``rot_deg`` (geodesic) and ``vel_mm_s`` (velocity)."""
    out = {
        "pos_mm": mpjpe_mm(pred_pos_rel_m, gt_pos_rel_m, reduction="none").mean(-1),
        "pa_mm": pa_mpjpe_mm(pred_pos_rel_m, gt_pos_rel_m, reduction="none").mean(-1),
        "rot_deg": mpjre_deg(
            rot6d_to_matrix(pred_R6), rot6d_to_matrix(gt_R6), reduction="none"
        ).mean(-1),
    }
    if pred_pos_rel_m.shape[-3] >= 2:
        vel = mpjve_mm_s(pred_pos_rel_m, gt_pos_rel_m, fps, reduction="none").mean(-1)
    else:
        vel = torch.zeros_like(out["pos_mm"])
    out["vel_mm_s"] = vel
    return out


def exp_reward(error: Tensor, scale: float) -> Tensor:
    """``exp(-error / scale)``: 1 for no error, falling towards 0."""
    return torch.exp(-error / scale)


def motion_rewards(
    errors: dict[str, Tensor], scales: RewardScales = RewardScales()
) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted mean of the four exponential rewards ``[N]``, and each of them.

    Example:
        >>> zero = {k: torch.zeros(2) for k in ("pos_mm", "pa_mm", "rot_deg", "vel_mm_s")}
        >>> motion_rewards(zero)[0].tolist()
        [1.0, 1.0]
    """
    s = scales
    parts = {
        "r_pos": exp_reward(errors["pos_mm"], s.pos_mm),
        "r_pa": exp_reward(errors["pa_mm"], s.pa_mm),
        "r_rot": exp_reward(errors["rot_deg"], s.rot_deg),
        "r_vel": exp_reward(errors["vel_mm_s"], s.vel_mm_s),
    }
    weights = {"r_pos": s.w_pos, "r_pa": s.w_pa, "r_rot": s.w_rot, "r_vel": s.w_vel}
    total = sum(weights[k] * parts[k] for k in parts) / max(sum(weights.values()), 1e-12)
    assert isinstance(total, Tensor)
    return total, parts


# ----------------------------------------------------------------------------- GRPO objective


def group_advantages(rewards: Tensor, eps: float = 1e-4) -> Tensor:
    """``[num, G] -> [num, G]``: rewards minus the group mean over the group's (population)
    standard deviation plus ``eps``; all zero for a group of equal rewards."""
    mean = rewards.mean(-1, keepdim=True)
    std = rewards.std(-1, unbiased=False, keepdim=True)
    return (rewards - mean) / (std + eps)


def clipped_objective(logp_new: Tensor, logp_old: Tensor, advantage: Tensor, eps: float) -> Tensor:
    """PPO's per-element surrogate to *maximize*: ``min(rho A, clip(rho, 1-eps, 1+eps) A)``
    with ``rho = exp(logp_new - logp_old)``; its gradient is 0 where the clip is active.

    Example:
        >>> lp = torch.zeros(2)
        >>> clipped_objective(lp, lp, torch.tensor([1.0, -2.0]), 0.2).tolist()
        [1.0, -2.0]
    """
    ratio = torch.exp(logp_new - logp_old)
    clipped = ratio.clamp(1.0 - eps, 1.0 + eps)
    return torch.minimum(ratio * advantage, clipped * advantage)


def gaussian_log_prob(x: Tensor, mean: Tensor, sigma: Tensor | float) -> Tensor:
    """``log N(x; mean, sigma^2 I)`` per element of the first dim, averaged over the others.

    ``sigma`` is a float or ``[N]`` (one per sample)."""
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma_t.dim():
        sigma_t = sigma_t.reshape(-1, *([1] * (x.dim() - 1)))
    logp = -((x - mean) ** 2) / (2.0 * sigma_t**2) - sigma_t.log() - 0.5 * math.log(2 * math.pi)
    return logp.flatten(1).mean(-1)


def gaussian_kl(mean_p: Tensor, mean_q: Tensor, sigma: Tensor | float) -> Tensor:
    """``KL(N(mean_p, sigma^2 I) || N(mean_q, sigma^2 I))`` per sample, averaged over dims."""
    sigma_t = torch.as_tensor(sigma, dtype=mean_p.dtype, device=mean_p.device)
    if sigma_t.dim():
        sigma_t = sigma_t.reshape(-1, *([1] * (mean_p.dim() - 1)))
    return ((mean_p - mean_q) ** 2 / (2.0 * sigma_t**2)).flatten(1).mean(-1)


# ----------------------------------------------------------------------------- perceptual reward


class PlausibilityScorer(nn.Module):
    """Motion plausibility score: pose features ``[N, T, F]`` -> dilated temporal
    convolutions -> mean over time -> ``[N]`` (higher is more plausible).

    Example:
        >>> scorer = PlausibilityScorer(in_dim=195, dim=32)
        >>> tuple(scorer(torch.randn(3, 16, 195)).shape)
        (3,)
    """

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_dim, dim, 5, padding=2),
            nn.GELU(),
            nn.Conv1d(dim, dim, 5, padding=4, dilation=2),
            nn.GELU(),
            nn.Conv1d(dim, dim, 5, padding=8, dilation=4),
            nn.GELU(),
        )
        self.head = nn.Linear(dim, 1)

    def forward(self, feats: Tensor) -> Tensor:
        h = self.net(feats.transpose(1, 2)).mean(-1)
        return self.head(h)[..., 0]


def info_nce(positive: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """InfoNCE: ``-log(e^{s+/tau} / (e^{s+/tau} + sum_k e^{s_k/tau}))`` averaged over ``[num]``
    positives with ``[num, K]`` negatives; ``log(1 + K)`` when all scores are equal.

    Example:
        >>> round(info_nce(torch.zeros(2), torch.zeros(2, 3), 0.1).item(), 4)
        1.3863
    """
    logits = torch.cat([positive[:, None], negatives], -1) / temperature
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


# ----------------------------------------------------------------------------- diversity


@torch.no_grad()
def group_diversity_mm(
    model: MotionGRPO,
    head: Tensor,
    perlin: bool = True,
    group_size: int | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """Intra-group diversity (the seed's Table 3): the mean pairwise MPJPE (mm, root-relative)
    between the ``group_size`` SDE samples of each head trajectory in ``head [B, T, 9]``,
    drawn as in GRPO (shared initial noise), with or without the Perlin perturbation.

    Example:
        >>> from edgesdk.models.motiongrpo import motiongrpo_small
        >>> model = motiongrpo_small().eval()
        >>> g = torch.Generator().manual_seed(0)
        >>> group_diversity_mm(model, model.example_inputs(2)[0], generator=g) > 0
        True
    """
    c = model.config
    G = group_size or c.group_size
    n, T = head.shape[:2]
    heads = head.repeat_interleave(G, 0)
    if perlin:
        heads = perturb_translation(heads, c.perlin_amp_m, c.perlin_period, generator)
    cond, R_world_heading = head_conditioning(heads, c.fps)
    x = group_noise(n, G, (T, POSE_FEATURES), generator).to(head.device)
    x0, _ = model.sample(cond, x, c.sde_steps, c.sde_eta, generator)
    pos = features_to_pose(x0, R_world_heading)[1].view(n, G, T, NUM_JOINTS, 3)
    pairs = [mpjpe_mm(pos[:, i], pos[:, j]) for i in range(G) for j in range(i + 1, G)]
    return float(torch.stack(pairs).mean()) if pairs else 0.0

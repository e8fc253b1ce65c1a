"""MotionGRPO teacher: samplers, invariance, x0 training, the GRPO pieces on hand-computed
cases, the GRPO stage and the diversity measure (runs in seconds)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import pytest
import torch

import edgesdk.models.motiongrpo  # noqa: F401  (registers the variants)
from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.body.skeleton import rest_positions
from edgesdk.data.sources import bundled_data_dir
from edgesdk.errors import EdgeSDKError
from edgesdk.models.base import target_positions_rel
from edgesdk.models.head2body import features_to_pose
from edgesdk.models.motiongrpo import (
    MOTIONGRPO,
    MotionGRPO,
    motiongrpo,
    motiongrpo_small,
)
from edgesdk.models.motiongrpo_diffusion import (
    cosine_alphas_cumprod,
    ddim_coeffs,
    head_conditioning,
    sampling_timesteps,
)
from edgesdk.models.motiongrpo_grpo import (
    RewardScales,
    clipped_objective,
    exp_reward,
    gaussian_kl,
    gaussian_log_prob,
    group_advantages,
    group_diversity_mm,
    group_noise,
    info_nce,
    motion_rewards,
    perlin_noise,
    perturb_translation,
    pose_errors,
)
from edgesdk.models.registry import create_model, list_models
from edgesdk.train import checkpoint
from edgesdk.train.trainer import TrainConfig, train
from tests.models.conftest import make_batch

T = 16


@pytest.fixture
def model() -> MotionGRPO:
    torch.manual_seed(0)
    return motiongrpo_small(dim=32, depth=1, heads=2, ddim_steps=4, sde_steps=4)


def test_registered_configs() -> None:
    assert {"motiongrpo", "motiongrpo-small"} <= set(list_models())
    assert MOTIONGRPO.dim == 512 and MOTIONGRPO.train_timesteps == 1000
    assert MOTIONGRPO.group_size == 8
    small = create_model("motiongrpo-small")
    assert isinstance(small, MotionGRPO) and small.config.group_size == 4
    assert motiongrpo(depth=1, dim=64, heads=4).config.name == "motiongrpo"
    assert small.stages == ("pretrain", "grpo")
    with pytest.raises(EdgeSDKError, match="unknown stage"):
        small.loss(make_batch(time=T), "nope")


def test_predict_and_generate_shapes(model: MotionGRPO) -> None:
    batch = make_batch(batch=2, time=T)
    out = model.eval().predict(batch)
    assert out["R_world_joint_6d"].shape == (2, T, 22, 6)
    assert out["pos_rel_m"].shape == (2, T, 22, 3)
    assert torch.isfinite(out["pos_rel_m"]).all()
    assert out["pos_rel_m"][..., 0, :].abs().max() == 0  # pelvis at the origin
    R6, pos = model(batch["head"])
    torch.testing.assert_close(pos, out["pos_rel_m"])
    R6, pos = model.generate(batch["head"], "sde")
    assert R6.shape == (2, T, 22, 6) and pos.shape == (2, T, 22, 3)
    with pytest.raises(EdgeSDKError, match="sampler"):
        model.generate(batch["head"], "euler")
    with pytest.raises(EdgeSDKError, match="max_frames"):
        model.fixed_noise(1, model.config.max_frames + 1)


def test_inference_averages_fixed_ddim_samples() -> None:
    torch.manual_seed(0)
    model = motiongrpo_small(inference_samples=3).eval()
    (head,) = model.example_inputs(batch_size=2)
    cond, R_world_heading = head_conditioning(head, model.config.fps)
    with torch.no_grad():
        samples = [
            model.sample(cond, model.fixed_noise(2, 60, i), model.config.ddim_steps, 0.0)[0]
            for i in range(3)
        ]
        expected = features_to_pose(torch.stack(samples).mean(0), R_world_heading)
        got = model(head)
        single = motiongrpo_small(inference_samples=1).eval()
        single.load_state_dict(model.state_dict())
        torch.testing.assert_close(single(head)[1], model.generate(head, "ddim")[1])
    torch.testing.assert_close(got[1], expected[1], atol=1e-5, rtol=1e-5)
    with pytest.raises(EdgeSDKError, match="inference_samples"):
        motiongrpo_small(inference_samples=0)


def test_schedule_and_sampler_steps() -> None:
    abar = cosine_alphas_cumprod(1000)
    assert abar[0] > 0.9999 and abar[-1] < 1e-6
    assert all(a > b for a, b in itertools.pairwise(abar))
    assert sampling_timesteps(1000, 10) == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert ddim_coeffs(abar, 999, 899, eta=0.0)[2] == 0.0
    assert ddim_coeffs(abar, 999, 899, eta=1.0)[2] > 0.5
    A, B, sigma = ddim_coeffs(abar, 99, -1, eta=1.0)  # the last step returns x0_hat
    assert sigma == 0.0 and abs(A) < 1e-9 and abs(B - 1) < 1e-9
    with pytest.raises(EdgeSDKError, match="sampling steps"):
        sampling_timesteps(1000, 0)


def test_ddim_is_deterministic_and_sde_is_not(model: MotionGRPO) -> None:
    head = make_batch(batch=2, time=T)["head"]
    model.eval()
    a, b = model.generate(head, "ddim")[1], model.generate(head, "ddim")[1]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    s1, s2 = model.generate(head, "sde")[1], model.generate(head, "sde")[1]
    assert (s1 - s2).abs().max() > 1e-3
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(
        model.generate(head, "sde", generator=g1)[1], model.generate(head, "sde", generator=g2)[1]
    )


def test_prediction_is_invariant_to_world_yaw_and_shift(model: MotionGRPO) -> None:
    batch = make_batch(batch=2, time=T)
    R_yaw = axis_angle_to_matrix(torch.tensor([0.0, 2.1, 0.0]))
    shift = torch.tensor([3.0, 0.0, -1.5])  # horizontal: the floor (y = 0) stays
    head = batch["head"]
    moved = torch.cat(
        [head[..., :3] @ R_yaw.T + shift, matrix_to_6d(R_yaw @ rot6d_to_matrix(head[..., 3:]))], -1
    )
    cond, _ = head_conditioning(head, 30.0)
    cond_moved, _ = head_conditioning(moved, 30.0)
    torch.testing.assert_close(cond, cond_moved, atol=1e-4, rtol=1e-4)
    model.eval()
    R6, pos = model(head)
    R6_moved, pos_moved = model(moved)
    torch.testing.assert_close(pos_moved, pos @ R_yaw.T, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        rot6d_to_matrix(R6_moved), R_yaw @ rot6d_to_matrix(R6), atol=1e-4, rtol=1e-4
    )


def test_x0_prediction_loss_decreases(model: MotionGRPO) -> None:
    batch = make_batch(batch=2, time=T)
    g = torch.Generator().manual_seed(1)
    t_eval = torch.tensor([50, 300, 600, 900]).repeat_interleave(2)
    big = {k: v.repeat(4, *[1] * (v.dim() - 1)) for k, v in batch.items() if torch.is_tensor(v)}
    noise = torch.randn(8, T, 195, generator=g)

    def eval_loss() -> float:
        with torch.no_grad():
            return model.denoising_loss(big, t_eval, noise)[0].item()

    before = eval_loss()
    opt = torch.optim.Adam(model.stage_parameters("pretrain"), lr=3e-3)
    model.train()
    for _ in range(20):
        loss, logs = model.loss(batch, "pretrain")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert set(logs) == {"loss", "rot_mse", "pos_mse", "vel_mse"}
    assert eval_loss() < 0.7 * before


def test_rewards_on_hand_computed_cases() -> None:
    batch = make_batch(batch=2, time=T)
    R6, pos = batch["R_world_joint_6d"], target_positions_rel(batch)
    zero = pose_errors(R6, pos, R6, pos, fps=30.0)
    for value in zero.values():
        assert value.abs().max() < 1e-2  # (PA-MPJPE: an SVD's rounding)
    total, _ = motion_rewards(zero)
    torch.testing.assert_close(total, torch.ones(2), atol=1e-4, rtol=0)
    # Every joint 3-4-5 mm off: MPJPE 5 mm, the reward exp(-5 / 100).
    errors = pose_errors(R6, pos + torch.tensor([0.003, 0.004, 0.0]), R6, pos, fps=30.0)
    torch.testing.assert_close(errors["pos_mm"], torch.full((2,), 5.0), atol=1e-3, rtol=0)
    r_pos = motion_rewards(errors, RewardScales(pos_mm=100.0))[1]["r_pos"]
    torch.testing.assert_close(r_pos, torch.full((2,), math.exp(-0.05)), atol=1e-5, rtol=0)
    previous = total
    for offset_m in (0.01, 0.05, 0.2):
        noisy = pos + offset_m * torch.randn(pos.shape, generator=torch.Generator().manual_seed(0))
        reward = motion_rewards(pose_errors(R6, noisy, R6, pos, fps=30.0))[0]
        assert (reward < previous).all()
        previous = reward
    assert exp_reward(torch.tensor([0.0]), 7.0).item() == 1.0


def test_group_advantages_have_zero_mean_per_group() -> None:
    rewards = torch.rand(5, 4, generator=torch.Generator().manual_seed(0))
    adv = group_advantages(rewards)
    torch.testing.assert_close(adv.mean(-1), torch.zeros(5), atol=1e-6, rtol=0)
    torch.testing.assert_close(adv.std(-1, unbiased=False), torch.ones(5), atol=1e-2, rtol=0)
    assert (group_advantages(torch.full((2, 3), 0.7)) == 0).all()
    assert (adv.argsort(-1) == rewards.argsort(-1)).all()


def test_clipped_objective() -> None:
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0])
    logp_old = torch.zeros(5)
    # ratio 1: the unclipped objective rho * A = A.
    torch.testing.assert_close(clipped_objective(logp_old, logp_old, adv, 0.2), adv)
    ratio = torch.tensor([1.5, 1.5, 0.5, 0.5, 1.1])
    logp_new = ratio.log().requires_grad_(True)
    obj = clipped_objective(logp_new, logp_old, adv, 0.2)
    torch.testing.assert_close(obj, torch.tensor([1.2, -1.5, 0.5, -0.8, 2.2]))
    obj.sum().backward()
    assert logp_new.grad is not None
    # No gradient where the clip is active (1 and 4), rho * A elsewhere.
    torch.testing.assert_close(logp_new.grad, torch.tensor([0.0, -1.5, 0.5, 0.0, 2.2]))


def test_gaussian_log_prob_and_kl() -> None:
    g = torch.Generator().manual_seed(0)
    x, mean = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    sigma = torch.tensor([0.5, 1.0, 2.0])
    expected = torch.distributions.Normal(mean, sigma[:, None, None]).log_prob(x).mean((1, 2))
    torch.testing.assert_close(gaussian_log_prob(x, mean, sigma), expected)
    assert gaussian_kl(mean, mean, 0.3).abs().max() == 0
    torch.testing.assert_close(
        gaussian_kl(mean + 0.1, mean, 0.5), torch.full((3,), 0.01 / (2 * 0.25))
    )


def test_shared_initial_noise_within_a_group() -> None:
    noise = group_noise(3, 4, (5, 6), torch.Generator().manual_seed(0)).view(3, 4, 5, 6)
    assert (noise == noise[:, :1]).all()
    assert (noise[0, 0] - noise[1, 0]).abs().max() > 0.1


def test_perlin_noise_is_smooth_seeded_and_zero_on_the_lattice() -> None:
    def draw(seed: int) -> torch.Tensor:
        return perlin_noise(8, 120, 3, 10.0, torch.Generator().manual_seed(seed))

    noise = draw(0)
    assert noise.shape == (8, 120, 3) and noise.abs().max() <= 1.0
    torch.testing.assert_close(noise, draw(0), rtol=0, atol=0)
    assert (noise - draw(1)).abs().max() > 0.1
    assert noise[:, ::10].abs().max() == 0
    white = torch.randn(noise.shape, generator=torch.Generator().manual_seed(0)) * noise.std()
    assert noise.diff(dim=1).abs().mean() < 0.3 * white.diff(dim=1).abs().mean()


def test_perlin_perturbation_moves_only_the_translation() -> None:
    head = make_batch(batch=2, time=T)["head"]
    moved = perturb_translation(head, 0.05, 5.0, torch.Generator().manual_seed(0))
    assert (moved[..., 3:] == head[..., 3:]).all()
    shift = (moved[..., :3] - head[..., :3]).abs()
    assert 0 < shift.max() <= 0.05 + 1e-6
    assert perturb_translation(head, 0.0, 5.0) is head


def test_grpo_step_changes_only_the_denoiser(model: MotionGRPO) -> None:
    batch = make_batch(batch=3, time=T)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_params = model.num_parameters()
    opt = torch.optim.Adam(model.stage_parameters("grpo"), lr=1e-3)
    loss, logs = model.loss(batch, "grpo")
    assert {"reward", "r_pos", "r_pa", "r_rot", "r_vel", "clip_frac", "kl", "loss"} <= set(logs)
    assert torch.isfinite(loss) and 0 < logs["reward"] <= 1
    reference = {k: v.clone() for k, v in model.reference().state_dict().items()}
    opt.zero_grad()
    loss.backward()
    opt.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("denoiser.") for k in changed)
    for k, v in model.reference().state_dict().items():  # the old policy stays frozen
        assert torch.equal(v, reference[k])
    assert model.num_parameters() == n_params  # ... and outside the module tree
    # The next step's ratio differs from 1 (current vs frozen policy).
    _, logs = model.loss(batch, "grpo")
    assert logs["kl"] > 0
    assert model.stage_lr_scale("grpo") < 1 == model.stage_lr_scale("pretrain")


def test_old_policy_is_current_frozen_or_lagged(model: MotionGRPO) -> None:
    batch = make_batch(batch=2, time=T)
    model.train().loss(batch, "grpo")
    assert model.old_policy() is model.denoiser  # sync_every = 1: on-policy
    frozen = MotionGRPO(dataclasses.replace(model.config, sync_every=0))
    assert frozen.old_policy() is frozen.reference()
    lagged = MotionGRPO(dataclasses.replace(model.config, sync_every=2)).train()
    opt = torch.optim.Adam(lagged.stage_parameters("grpo"), lr=1e-2)
    olds = []
    for _ in range(3):
        loss, logs = lagged.loss(batch, "grpo")
        olds.append(lagged._frozen[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert olds[0] is olds[1] is not olds[2]  # refreshed every 2 steps
    assert olds[2] is not lagged.reference()
    assert logs["kl"] > 0  # the KL is to the reference, not to the fresh copy
    current = lagged.denoiser.state_dict()
    assert any(not torch.equal(v, current[k]) for k, v in olds[2].state_dict().items())


def test_grpo_gradient_raises_the_expected_reward() -> None:
    # A finite-difference check with common random numbers: a step down the GRPO loss's
    # gradient (estimated from 4 x 256 samples) raises the mean reward of fresh samples, a
    # step up lowers it. Targets: the rest pose, scales wide enough for a random denoiser.
    n, G = 16, 16
    torch.manual_seed(0)
    model = motiongrpo_small(
        dim=32, depth=1, heads=2, sde_steps=4, group_size=G, grpo_conditions=n,
        perlin_amp_m=0.0, kl_weight=0.0, reward_pos_mm=1000.0, reward_pa_mm=500.0,
        reward_rot_deg=90.0, reward_vel_mm_s=20000.0,
    )  # fmt: skip
    batch = make_batch(batch=n, time=T)
    batch["pos_m"] = rest_positions().expand(n, T, 22, 3).clone()
    batch["R_world_joint_6d"] = torch.tensor([1.0, 0, 0, 0, 1, 0]).expand(n, T, 22, 6).clone()
    params = list(model.stage_parameters("grpo"))
    grads = [torch.zeros_like(p) for p in params]
    for _ in range(4):
        loss, _ = model.train().loss(batch, "grpo")
        for total, g in zip(grads, torch.autograd.grad(loss, params), strict=True):
            total += g
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    start = [p.detach().clone() for p in params]

    def reward_after(step: float) -> float:
        with torch.no_grad():
            for p, p0, g in zip(params, start, grads, strict=True):
                p.copy_(p0 - step * g / norm)
        head = batch["head"].repeat_interleave(G, 0)
        cond, R_world_heading = head_conditioning(head, 30.0)
        total = 0.0
        for seed in range(3):
            gen = torch.Generator().manual_seed(seed)
            x = group_noise(n, G, (T, 195), gen)
            with torch.no_grad():
                x0, _ = model.sample(cond, x, 4, 1.0, gen)
            R6, pos = features_to_pose(x0, R_world_heading)
            total += model.rewards(R6, pos, batch, G)[0].mean().item()
        return total / 3

    assert reward_after(0.3) > reward_after(0.0) > reward_after(-0.3)


def test_grpo_validation_is_one_minus_the_reward(model: MotionGRPO) -> None:
    batch = make_batch(batch=2, time=T)
    model.eval()
    loss, logs = model.loss(batch, "grpo")
    out = model.predict(batch)
    reward = model.rewards(out["R_world_joint_6d"], out["pos_rel_m"], batch)[0]
    torch.testing.assert_close(loss, 1 - reward.mean())
    assert "clip_frac" not in logs


def test_perceptual_reward_model_trains_with_infonce() -> None:
    assert round(info_nce(torch.zeros(2), torch.zeros(2, 3), 0.1).item(), 4) == round(
        math.log(4), 4
    )
    assert info_nce(torch.tensor([5.0]), torch.tensor([[0.0, -1.0]]), 0.1).item() < 1e-6
    torch.manual_seed(0)
    model = motiongrpo_small(dim=32, depth=1, heads=2, sde_steps=3, perceptual_weight=0.5)
    assert motiongrpo_small().scorer is None  # off by default
    assert model.scorer is not None
    scorer_params = set(model.scorer.parameters())
    assert scorer_params <= set(model.stage_parameters("grpo"))
    assert not scorer_params & set(model.stage_parameters("pretrain"))
    loss, logs = model.train().loss(make_batch(batch=2, time=T), "grpo")
    assert {"infonce", "r_perceptual"} <= set(logs)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in scorer_params)


def test_group_diversity(model: MotionGRPO) -> None:
    head = make_batch(batch=2, time=T)["head"]
    ddim = MotionGRPO(dataclasses.replace(model.config, sde_eta=0.0))
    ddim.load_state_dict(model.state_dict())

    def diversity(m: MotionGRPO, perlin: bool) -> float:
        g = torch.Generator().manual_seed(0)
        return group_diversity_mm(m.eval(), head, perlin=perlin, generator=g)

    with_noise, without = diversity(model, True), diversity(model, False)
    assert with_noise > 0 and without > 0
    assert diversity(model, True) == with_noise  # seeded
    # A deterministic sampler from the group's shared noise: identical members ...
    assert diversity(ddim, False) == 0.0
    # ... unless the Perlin noise perturbs their head trajectories.
    assert diversity(ddim, True) > 0


def test_trainer_runs_both_stages_with_a_smaller_grpo_learning_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    overrides = {"dim": 32, "depth": 1, "heads": 2, "window": 30, "ddim_steps": 3, "sde_steps": 3}
    config = TrainConfig(
        model="motiongrpo-small",
        data=str(bundled_data_dir()),
        out=str(tmp_path / "ckpt"),
        epochs=1,
        batch_size=16,
        limit=6,
        progress=False,
        overrides=overrides,
    )
    train(config)
    history = checkpoint.read_meta(config.out)["train"]["history"]
    assert [h["stage"] for h in history] == ["pretrain", "grpo"]
    assert 0 <= history[1]["val_loss"] <= 1  # 1 - reward of the DDIM prediction
    state = checkpoint.load_train_state(config.out)
    assert state is not None and state["stage"] == "grpo"
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.01)
    model = checkpoint.load(config.out)
    assert isinstance(model, MotionGRPO) and model.config.dim == 32

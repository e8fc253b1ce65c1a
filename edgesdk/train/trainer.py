"""Training of any registered model on windows of real motion capture.

One loop serves every model: it runs the model's ``stages`` in order (e.g. Ego4o trains its
VQ-VAE, then its encoder, then its captioning head), each for ``epochs`` epochs, saving a
checkpoint after every epoch so ``--resume`` picks up where a run stopped. Under ``torchrun``
(``WORLD_SIZE > 1``) it trains with DistributedDataParallel on the gloo backend, each process
reading its own shard of the windows.

Example:
    $ edgesdk train --model ego4o-small --data ../shared/data/mocap --out runs/ego4o --epochs 4
    $ torchrun --nproc_per_node 2 -m edgesdk.train --model mlp-baseline --data DIR --out CKPT
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from edgesdk.data.windows import WindowDataset
from edgesdk.errors import EdgeSDKError
from edgesdk.input_kinds import reads_text
from edgesdk.models import create_model
from edgesdk.models.base import MotionModel
from edgesdk.models.limits import checked_model
from edgesdk.models.text import default_text_encoder
from edgesdk.train import checkpoint
from edgesdk.train.config import TrainConfig
from edgesdk.train.data import (
    TrainData,
    input_names,
    load_train_data,
    make_loader,
    window_config_for,
)


class _LossModule(nn.Module):
    """DDP synchronizes gradients of ``forward``; this makes a stage's loss the forward."""

    def __init__(self, model: MotionModel, stage: str) -> None:
        super().__init__()
        self.model, self.stage = model, stage

    def forward(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        return self.model.loss(batch, self.stage)


def check_max_batches(max_batches: int | None) -> None:
    if max_batches is not None and max_batches < 1:
        raise EdgeSDKError(f"--max-batches {max_batches}: must be >= 1")


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(config: TrainConfig) -> Path:
    """Train ``config.model`` and return the checkpoint folder."""
    check_max_batches(config.max_batches)
    rank, world = _distributed()
    torch.manual_seed(config.seed)
    out = Path(config.out)
    state = checkpoint.load_train_state(out) if config.resume else None
    if config.resume and state is None:
        raise EdgeSDKError(f"{out}: --resume given but there is no {checkpoint.TRAIN_STATE}")

    model = checked_model(config.model, config.overrides, "--set")
    if not isinstance(model, MotionModel):
        raise EdgeSDKError(f"model {config.model} cannot be trained (not a MotionModel)")
    data = load_train_data(Path(config.data), limit=config.limit, progress=config.progress)
    if model.prepare([c.labels.text() for c in data.train]):  # its config changed
        model = rebuilt_after_prepare(model, config)
    wcfg = window_config_for(
        model,
        seed=config.seed,
        devices=config.devices,
        head=config.head,
        oversample=tuple(sorted(config.oversample.items())),
    )
    text_encoder = default_text_encoder() if reads_text(input_names(model)) else None
    train_ds = WindowDataset(data.train, wcfg, train=True)
    val_ds = WindowDataset(data.val, wcfg, train=False)
    if len(train_ds) == 0:
        raise EdgeSDKError(f"{config.data}: no training windows (clips shorter than the window?)")
    if state is not None:
        model.load_state_dict(checkpoint.load(out).state_dict())

    history: list[dict[str, Any]] = list(state["history"]) if state else []
    done = {(h["stage"], h["epoch"]) for h in history}
    started = time.perf_counter()
    for stage in model.stages:
        params = set(model.stage_parameters(stage))
        for p in model.parameters():
            p.requires_grad_(p in params)
        trainable = [p for p in model.parameters() if p.requires_grad]
        lr = config.lr * model.stage_lr_scale(stage)
        opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=config.weight_decay)
        if state is not None and state.get("stage") == stage and "optimizer" in state:
            checkpoint.restore_optimizer(opt, state, out)
        step_module: nn.Module = _LossModule(model, stage)
        if world > 1:
            step_module = DistributedDataParallel(step_module, find_unused_parameters=True)
        unknown = set(config.stage_epochs) - set(model.stages)
        if unknown:
            raise EdgeSDKError(f"--stage-epochs: {sorted(unknown)} not in {list(model.stages)}")
        for epoch in range(config.stage_epochs.get(stage, config.epochs)):
            if (stage, epoch) in done:
                continue
            train_loss = run_epoch(
                step_module, train_ds, opt, config, stage, epoch, rank, world, text_encoder
            )
            val_loss = evaluate_loss(model, val_ds, stage, config.batch_size, text_encoder)
            history.append(
                {"stage": stage, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
            )
            if rank == 0:
                save_run(model, config, data, wcfg, history, stage, opt, started)
    for p in model.parameters():
        p.requires_grad_(True)
    if world > 1:
        dist.barrier()
    return out


def rebuilt_after_prepare(model: MotionModel, name: str | TrainConfig) -> MotionModel:
    """A model whose ``prepare`` changed its config (e.g. a vocabulary) is rebuilt from it, so
    that ``checkpoint.load`` builds the same shapes (``name``: the registered model, or the
    run's config naming it)."""
    fields = checkpoint.config_to_dict(model.config)
    fields.pop("name", None)
    registered = name if isinstance(name, str) else name.model
    rebuilt = create_model(registered, **checkpoint.config_from_dict(model.config, fields))
    assert isinstance(rebuilt, MotionModel)
    rebuilt.load_state_dict(model.state_dict())
    return rebuilt


def run_epoch(
    step_module: nn.Module,
    ds: WindowDataset,
    opt: torch.optim.Optimizer,
    config: TrainConfig,
    stage: str,
    epoch: int,
    rank: int,
    world: int,
    text_encoder: Any,
) -> float:
    """One epoch of ``step_module`` (the model's loss for ``stage``, or a distillation loss)
    over ``ds`` with gradient clipping; ``rank`` / ``world`` shard it across processes.
    Returns the mean training loss."""
    ds.set_epoch(epoch)
    sampler: DistributedSampler[int] | None = None
    if world > 1:
        sampler = DistributedSampler(ds, world, rank, seed=config.seed)
    if sampler is not None:
        sampler.set_epoch(epoch)
    loader = make_loader(
        ds,
        config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        seed=config.seed + epoch,
        text_encoder=text_encoder,
    )
    step_module.train()
    total, count = 0.0, 0
    batches = len(loader) if config.max_batches is None else min(len(loader), config.max_batches)
    bar = tqdm(
        itertools.islice(loader, batches),
        total=batches,
        desc=f"{config.model} {stage} {epoch + 1}/{config.stage_epochs.get(stage, config.epochs)}",
        disable=not config.progress or rank != 0,
        leave=False,
    )
    for batch in bar:
        loss, logs = step_module(batch)
        if not torch.isfinite(loss):
            raise EdgeSDKError(f"{config.model}: non-finite loss in stage {stage} ({logs})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in opt.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        total += loss.item()
        count += 1
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


@torch.no_grad()
def evaluate_loss(
    model: MotionModel, ds: WindowDataset, stage: str, batch_size: int, text_encoder: Any = None
) -> float:
    """Mean loss of a stage over a dataset (eval mode), NaN for an empty one."""
    if len(ds) == 0:
        return math.nan
    model.eval()
    loader = make_loader(ds, batch_size, shuffle=False, text_encoder=text_encoder)
    losses = [float(model.loss(b, stage)[0]) for b in loader]
    model.train()
    return sum(losses) / len(losses)


def save_run(
    model: MotionModel,
    config: Any,
    data: TrainData,
    wcfg: Any,
    history: list[dict[str, Any]],
    stage: str,
    opt: torch.optim.Optimizer,
    started: float,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save a run's checkpoint: ``config`` is its dataclass (``TrainConfig`` or another run's
    config with ``out`` and ``data``), ``extra`` more train metadata (e.g. the teacher)."""
    checkpoint.save(
        model,
        config.out,
        data={
            "fingerprint": data.fingerprint,
            "source": str(config.data),
            "clips": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "window": dataclasses.asdict(wcfg),
        },
        train={
            **{k: v for k, v in dataclasses.asdict(config).items() if k != "progress"},
            **(extra or {}),
            "history": history,
            "wall_s": round(time.perf_counter() - started, 1),
        },
        train_state={"history": history, "stage": stage, "optimizer": opt.state_dict()},
    )

"""Real windows for calibration and validation, and the artifact calls they make.

Calibration reads windows of the *train* split (never the files validation scores); a
streaming model is stepped through each window in eager PyTorch and every frame's call
(frame inputs + the state eager carried into it) is one calibration sample, so the
quantizer sees the state values the device will see, not zeros.

Example:
    >>> from edgesdk.models import create_model
    >>> from edgesdk.models.signature import signature_for
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> from edgesdk.train.data import load_clips_cached
    >>> clips, _ = load_clips_cached(bundled_data_dir() / "cmu", limit=2, progress=False)
    >>> sig = signature_for(create_model("same-student"))
    >>> wins = windows(sig.model, clips, limit=2)
    >>> calls = eager_calls(sig, model_inputs(sig.model, wins[0]))
    >>> len(calls), len(calls[0][0]), len(calls[0][1])
    (60, 5, 6)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from edgesdk.data.clip import Clip
from edgesdk.data.windows import WindowDataset
from edgesdk.input_kinds import reads_text
from edgesdk.models.base import MotionModel
from edgesdk.models.signature import (
    ExportSignature,
    dims,
    frame_inputs,
    num_frames,
    sliding_inputs,
)
from edgesdk.train.data import input_names, make_loader, window_config_for

Call = tuple[tuple[Tensor, ...], tuple[Tensor, ...]]  # (inputs, eager outputs) of one call


def windows(
    model: MotionModel, clips: Sequence[Clip], limit: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Non-overlapping windows (batch 1) of ``clips`` with the model's inputs; devices are
    drawn per window (1-3 of the model's slots) and drop in and out as in evaluation, with
    the errors of real devices (the distribution a deployed artifact sees)."""
    cfg = window_config_for(model, seed=seed, devices="realistic", head="slam")
    cfg = dataclasses.replace(cfg, stride=cfg.window)
    ds = WindowDataset(list(clips), cfg, train=False)
    encoder = None
    if reads_text(input_names(model)):
        from edgesdk.models.text import default_text_encoder

        encoder = default_text_encoder()
    out = []
    n = len(ds) if limit is None else min(limit, len(ds))
    # Spread the picks over the whole split, not its first files.
    picks = sorted({round(i * len(ds) / n) for i in range(n)}) if n else []
    loader = make_loader(torch.utils.data.Subset(ds, picks), 1, False, text_encoder=encoder)  # type: ignore[arg-type]
    for batch in loader:
        out.append(batch)
    return out


def model_inputs(model: MotionModel, batch: dict[str, Any]) -> tuple[Tensor, ...]:
    """``forward``'s tensors from a batch (``MotionModel.inputs``: the batch's tensors by input
    name, zeros for one the batch lacks, unless the model maps them itself)."""
    return tuple(model.inputs(batch))


@torch.no_grad()
def eager_calls(sig: ExportSignature, inputs: Sequence[Tensor]) -> list[Call]:
    """The artifact calls one window makes, with eager PyTorch's outputs: one per frame for
    a streaming model (state carried by eager) and for a sliding-window model (its window
    moved by a frame each call), one for a windowed model."""
    if not sig.streaming:
        if sig.emit is None:
            args = tuple(inputs)
            return [(args, tuple(sig.module(*args)))]
        slides = [sliding_inputs(sig, inputs, t) for t in range(num_frames(sig, inputs))]
        return [(args, tuple(sig.module(*args))) for args in slides]
    n_state = len(sig.state_pairs)
    state = tuple(torch.zeros(dims(t)) for t in sig.inputs[len(sig.inputs) - n_state :])
    calls = []
    for t in range(num_frames(sig, inputs)):
        args = (*frame_inputs(sig, inputs, t), *state)
        out = tuple(sig.module(*args))
        calls.append((args, out))
        state = out[len(out) - n_state :]
    return calls


def calibration_set(
    sig: ExportSignature, clips: Sequence[Clip], max_samples: int = 256, seed: int = 0
) -> tuple[list[tuple[Tensor, ...]], str]:
    """Up to ``max_samples`` real call inputs from ``clips`` and their fingerprint."""
    wins = windows(
        sig.model,
        clips,
        limit=max(1, max_samples // 15 if sig.streaming or sig.emit is not None else max_samples),
        seed=seed,
    )
    samples: list[tuple[Tensor, ...]] = []
    for batch in wins:
        calls = eager_calls(sig, model_inputs(sig.model, batch))
        samples.extend(args for args, _ in calls[:: max(1, len(calls) // 15)])
    samples = samples[:max_samples]
    h = hashlib.sha256()
    for args in samples:
        for a in args:
            h.update(a.numpy().tobytes())
    return samples, h.hexdigest()

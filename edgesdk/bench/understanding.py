"""Scoring what models understand of the motion: the teacher's generated descriptions, the
students' streamed activity, and two baselines, on the same held-out windows.

Every method gives, per 2 s window of the test split (files training never saw, inputs from
simulated real devices, no description given), a class of ``edgesdk.data.activity``, a
Bandai-Namco content label (parsed from a description) and a description embedding:

- ``ego4o-small`` (the teacher): its caption, generated greedily from the IMUs alone; the class
  and content are read from the caption's words, the embedding is the caption's (MiniLM).
- a student with an activity head: streamed frame by frame from a fresh state with the
  runtime's smoothing (``edgesdk.runtime.activity``); at the window's last frame, the smoothed
  class and the training description nearest its smoothed embedding (content from its words).
- ``majority``: the most common class, content and description of the training windows.
- ``imu-classifier``: a small convolutional classifier of the same windows (IMUs turned into
  the heading of their longest-present slot, as Ego4o's encoder reads them), trained on the
  training windows to give the class and the training description.

Scores: ``content_accuracy`` over Bandai-Namco windows (the content of the clip: walk,
walk-turn-left, raise-up-both-hands, ...; a description whose last words are not a content
label counts as wrong); ``activity_accuracy`` against each window's majority per-frame label
(``edgesdk.data.activity.frame_activities``) and ``activity_accuracy_clip`` against the
class of the clip's description; ``balanced_accuracy`` (mean recall over the classes
present); ``retrieval_top1``: the held-out description nearest the method's embedding is the
window's own, among every distinct held-out description.

Example:
    >>> bandai_content("feminine walk turn left", ("walk", "walk-turn-left", "run"))
    'walk-turn-left'
    >>> bandai_content("squat", ("walk", "run")) is None
    True
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.data.activity import ACTIVITIES, ACTIVITY_INDEX, activity_of_text
from edgesdk.data.clip import Clip
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.export.activity_table import ActivityTable
from edgesdk.models.ego4o import reference_heading
from edgesdk.models.signature import frame_inputs, signature_for
from edgesdk.models.students_core import StreamingStudent
from edgesdk.runtime.activity import DEFAULT_SMOOTHING_S, ActivityTracker, TextContext
from edgesdk.train.data import make_loader

IMU_SCALE = 0.1  # acceleration m/s^2 -> about unit range, as the models


# ----------------------------------------------------------------------------- windows


def held_out_config(base: WindowConfig, fixed_slots: tuple[int, ...] | None) -> WindowConfig:
    """Non-overlapping windows from simulated real devices (SLAM head), no device joining or
    leaving; ``fixed_slots`` None: 1-3 random slots per window (seeded)."""
    return dataclasses.replace(
        base,
        stride=base.window,
        devices="realistic",
        head="slam",
        p_device_event=0.0,
        fixed_slots=fixed_slots,
    )


@dataclass(frozen=True)
class Targets:
    """What each window of a dataset is: description, clip class, per-frame labels, content."""

    texts: list[str]
    frames: np.ndarray  # [W, T] per-frame class indices
    content: list[str]  # Bandai-Namco content ('' for the other sources)

    @property
    def window_class(self) -> np.ndarray:
        """``[W]`` each window's most common per-frame label (ties: the lower index)."""
        K = len(ACTIVITIES)
        counts = np.stack([np.bincount(f, minlength=K) for f in self.frames])
        return np.asarray(counts.argmax(-1))

    @property
    def clip_class(self) -> np.ndarray:
        return np.array([ACTIVITY_INDEX[activity_of_text(t)] for t in self.texts])


def targets(ds: WindowDataset) -> Targets:
    """The targets of every window of ``ds``, in order."""
    by_name = {c.name: c for c in ds.clips}
    texts, frames, content = [], [], []
    for ci, start in ds.index:
        f = ds.clip_features(ci)
        texts.append(f.text)
        frames.append(f.activity[start : start + ds.config.window])
        clip = by_name.get(f.name)
        is_bandai = clip is not None and "bandai" in clip.source.lower()
        content.append(clip.labels.content if clip is not None and is_bandai else "")
    return Targets(texts, np.stack(frames), content)


def bandai_contents(clips: Sequence[Clip]) -> tuple[str, ...]:
    """The Bandai-Namco content labels of ``clips`` (sorted)."""
    return tuple(sorted({c.labels.content for c in clips if "bandai" in c.source.lower()} - {""}))


def bandai_content(text: str, contents: Sequence[str]) -> str | None:
    """The content label whose words end ``text`` (the longest; Bandai-Namco descriptions
    are "style content"), or None."""
    words = " ".join(text.lower().replace("-", " ").split())
    best: str | None = None
    for c in contents:
        key = c.replace("-", " ")
        if (words == key or words.endswith(" " + key)) and (best is None or len(c) > len(best)):
            best = c
    return best


# ----------------------------------------------------------------------------- scores


def score(
    name: str,
    window_class: np.ndarray,
    descriptions: Sequence[str],
    embeddings: np.ndarray,
    truth: Targets,
    contents: Sequence[str],
    candidates: Sequence[str],
    candidate_emb: np.ndarray,
) -> dict[str, Any]:
    """The scores of one method (module docstring). ``descriptions``: the text each window's
    content is read from; ``embeddings [W, D]``: what is retrieved with."""
    bandai = [i for i, c in enumerate(truth.content) if c]
    content_right = [bandai_content(descriptions[i], contents) == truth.content[i] for i in bandai]
    target = truth.window_class
    recall = {
        ACTIVITIES[k]: round(float((window_class[target == k] == k).mean()), 3)
        for k in sorted(set(target.tolist()))
    }
    norm = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    nearest = ((embeddings / np.maximum(norm, 1e-12)) @ candidate_emb.T).argmax(-1)
    # an empty description (zero embedding) retrieves nothing
    right = [
        candidates[j] == t and n > 0
        for j, t, n in zip(nearest, truth.texts, norm[:, 0], strict=True)
    ]
    return {
        "method": name,
        "windows": len(target),
        "content_accuracy": round(float(np.mean(content_right)), 4) if bandai else None,
        "content_windows": len(bandai),
        "activity_accuracy": round(float((window_class == target).mean()), 4),
        "activity_accuracy_clip": round(float((window_class == truth.clip_class).mean()), 4),
        "balanced_accuracy": round(float(np.mean(list(recall.values()))), 4),
        "retrieval_top1": round(float(np.mean(right)), 4),
        "retrieval_candidates": len(candidates),
        "recall_per_class": recall,
    }


def confusion(target: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """Rows: true class, columns: predicted class (counts, zero cells left out)."""
    out: dict[str, dict[str, int]] = {}
    for t, p in zip(target.tolist(), predicted.tolist(), strict=True):
        row = out.setdefault(ACTIVITIES[t], {})
        row[ACTIVITIES[p]] = row.get(ACTIVITIES[p], 0) + 1
    return out


# ----------------------------------------------------------------------------- teacher


@torch.no_grad()
def teacher_captions(teacher: Any, ds: WindowDataset, batch_size: int = 64) -> list[str]:
    """The teacher's description of every window, from the IMUs alone (no text given)."""
    out: list[str] = []
    teacher.eval()
    for batch in make_loader(ds, batch_size, shuffle=False):
        batch = {k: v for k, v in batch.items() if k not in ("text_emb", "text_mask")}
        out.extend(teacher.describe(batch))
    return out


# ----------------------------------------------------------------------------- students


@torch.no_grad()
def stream(
    model: StreamingStudent,
    batch: dict[str, Any],
    table: ActivityTable,
    closed_loop: bool = False,
    smoothing_s: float = DEFAULT_SMOOTHING_S,
) -> dict[str, Any]:
    """Step a student with an activity head through a batch of windows, each a fresh stream,
    with the runtime's smoothing; without text (or, ``closed_loop``, its own description fed
    back as the runtime does). Returns ``pos_rel_m`` / ``R_world_joint_6d [B, T, ...]``
    (tensors), and numpy ``raw [B, T]`` (argmax per frame), ``smoothed [B, T]`` (the label the
    runtime emits), ``emb [B, D]`` (the smoothed embedding at the last frame)."""
    sig = signature_for(model)
    seq = model.inputs({k: v for k, v in batch.items() if k not in ("text_emb", "text_mask")})
    names = [t.name for t in model.spec.inputs]
    B, T = batch["pos_m"].shape[:2]
    tracker = ActivityTracker(table, model.spec.fps, smoothing_s)
    context = None
    if "text_emb" in names:
        context = TextContext(table, seq[names.index("text_emb")].shape[-1], closed_loop)
    state = None
    pos, rot, raw, smoothed = [], [], [], []
    for t in range(T):
        frame = list(frame_inputs(sig, seq, t))
        if context is not None:
            emb, mask = context.inputs(B, tracker)
            frame[names.index("text_emb")] = torch.from_numpy(emb)
            frame[names.index("text_mask")] = torch.from_numpy(mask)
        out, state = model.step(*frame, state=state)
        prob, emb_t = out[4].numpy(), out[5].numpy()
        now = tracker.update(prob, emb_t)
        rot.append(out[0])
        pos.append(out[1])
        raw.append(prob.argmax(-1))
        smoothed.append([ACTIVITY_INDEX[a["label"]] for a in now])
    assert tracker.emb is not None
    return {
        "R_world_joint_6d": torch.stack(rot, 1),
        "pos_rel_m": torch.stack(pos, 1),
        "raw": np.stack(raw, 1),
        "smoothed": np.array(smoothed).T,
        "emb": tracker.emb.astype(np.float32),
    }


def student_predictions(
    model: StreamingStudent, ds: WindowDataset, table: ActivityTable, batch_size: int = 64
) -> dict[str, Any]:
    """``stream`` over every window of ``ds``: per-window class and description (the last
    frame's), per-frame raw and smoothed classes, embeddings."""
    raw, smoothed, emb = [], [], []
    for batch in make_loader(ds, batch_size, shuffle=False):
        out = stream(model, batch, table)
        raw.append(out["raw"])
        smoothed.append(out["smoothed"])
        emb.append(out["emb"])
    embeddings = np.concatenate(emb)
    index, _ = table.nearest(embeddings)
    smooth = np.concatenate(smoothed)
    return {
        "window_class": smooth[:, -1],
        "descriptions": [table.descriptions[i] for i in index],
        "embeddings": embeddings,
        "raw": np.concatenate(raw),
        "smoothed": smooth,
    }


def closed_loop_predict(
    model: StreamingStudent, table: ActivityTable
) -> Callable[[dict[str, Any]], dict[str, Tensor]]:
    """A ``predict(batch)`` for ``edgesdk.train.evaluate``: the student streamed with its own
    description fed back as its text."""

    def predict(batch: dict[str, Any]) -> dict[str, Tensor]:
        out = stream(model, batch, table, closed_loop=True)
        return {"pos_rel_m": out["pos_rel_m"], "R_world_joint_6d": out["R_world_joint_6d"]}

    return predict


# ----------------------------------------------------------------------------- baselines


def majority(train: Targets, W: int) -> tuple[np.ndarray, list[str]]:
    """The training windows' most common class and description, for ``W`` windows."""
    cls = int(np.bincount(train.window_class, minlength=len(ACTIVITIES)).argmax())
    text = Counter(train.texts).most_common(1)[0][0]
    return np.full(W, cls), [text] * W


def imu_features(imu: Tensor, mask: Tensor) -> Tensor:
    """``[B, 50, T]``: each slot's acceleration (x 0.1) and 6D orientation turned into the
    heading of the slot present longest (``edgesdk.models.ego4o.reference_heading``), zeros
    where absent, and its presence flag."""
    R_ref_world = reference_heading(imu, mask).transpose(-1, -2)[:, None, None]
    x = imu.unflatten(-1, (3, 3))
    x = (R_ref_world @ x.transpose(-1, -2)).transpose(-1, -2)
    present = (mask > 0.5).to(imu.dtype)
    x = torch.cat([x[..., 0, :] * IMU_SCALE, x[..., 1, :], x[..., 2, :]], -1)
    x = torch.cat([x * present[..., None], present[..., None]], -1)  # [B, T, 5, 10]
    return x.flatten(2).transpose(1, 2)


class ImuClassifier(nn.Module):
    """Three 1D convolutions over a window's IMU features, mean- and max-pooled over time,
    then one linear layer per task (activity class, training description)."""

    def __init__(self, classes: int, descriptions: int, width: int = 96) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(50, width, 5, padding=2),
            nn.GELU(),
            nn.Conv1d(width, width, 5, padding=2, stride=2),
            nn.GELU(),
            nn.Conv1d(width, width, 5, padding=2, stride=2),
            nn.GELU(),
        )
        self.activity = nn.Linear(2 * width, classes)
        self.description = nn.Linear(2 * width, descriptions)

    def forward(self, imu: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(imu_features(imu, mask))
        pooled = torch.cat([h.mean(-1), h.amax(-1)], -1)
        return self.activity(pooled), self.description(pooled)


def train_imu_classifier(
    train_ds: WindowDataset,
    descriptions: Sequence[str],
    epochs: int = 8,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[ImuClassifier, list[dict[str, float]]]:
    """Train on the training windows (fresh devices, noise and yaw every epoch): class
    against the window's majority label, description against its own."""
    torch.manual_seed(seed)
    model = ImuClassifier(len(ACTIVITIES), len(descriptions))
    index = {d: i for i, d in enumerate(descriptions)}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    history = []
    for epoch in range(epochs):
        train_ds.set_epoch(epoch)
        model.train()
        total, n = 0.0, 0
        for batch in make_loader(train_ds, batch_size, shuffle=True, seed=seed + epoch):
            target = torch.mode(batch["activity"], -1).values
            desc = torch.tensor([index[t] for t in batch["text"]])
            act, dsc = model(batch["imu"], batch["mask"])
            loss = F.cross_entropy(act, target) + F.cross_entropy(dsc, desc)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(desc)
            n += len(desc)
        history.append({"epoch": epoch, "train_loss": round(total / max(n, 1), 4)})
    return model.eval(), history


@torch.no_grad()
def classifier_predictions(
    model: ImuClassifier, ds: WindowDataset, descriptions: Sequence[str], batch_size: int = 64
) -> tuple[np.ndarray, list[str]]:
    """The classifier's class (ties resolved by mode, as the labels) and description."""
    classes: list[np.ndarray] = []
    texts: list[str] = []
    for batch in make_loader(ds, batch_size, shuffle=False):
        act, dsc = model(batch["imu"], batch["mask"])
        classes.append(act.argmax(-1).numpy())
        texts.extend(descriptions[i] for i in dsc.argmax(-1).tolist())
    return np.concatenate(classes), texts

"""What the wearer is doing, per output frame, from a model with an activity head; and the
text a model that reads one (ego4o-student) is given.

``ActivityTracker`` smooths the model's per-frame class probabilities and description
embedding with an exponential moving average of time constant ``smoothing_s`` (the first
frame of a stream starts it, so nothing is biased towards a class at the start). A lasting
change of what the model says crosses half way after ``smoothing_s * ln 2`` (0.35 s at the
default 0.5 s), on top of the time the model itself needs to see it. Each frame gets
``{"label", "confidence", "top3", "description"}``: the class with the highest smoothed
probability, that probability, the three best ``[class, probability]`` pairs, and the
training description nearest the smoothed embedding (the manifest's table).

``TextContext`` gives a model with ``text_emb`` / ``text_mask`` inputs its text each frame:
nothing (mask 0), the app's context (``Session.set_context``), or, in closed loop, the model's
own description fed back: the table's embedding of the tracker's description, once its class
confidence reaches ``min_confidence``. It works on a batch of streams (rows), so a benchmark
runs the same code over many windows at once.

Numpy only (the edge install). Embedding free text needs the text encoder
(``edgesdk.models.text``, torch and transformers): without them, ``set_context`` takes one of
the table's descriptions or an embedding.

Example:
    >>> from edgesdk.export.activity_table import ActivityTable
    >>> table = ActivityTable(("idle", "walk"), ("normal walk",), np.ones((1, 2), np.float32),
    ...                       "minilm")
    >>> tracker = ActivityTracker(table, fps=30.0)
    >>> tracker.update(np.array([[0.2, 0.8]]), np.array([[1.0, 1.0]]))[0]["label"]
    'walk'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.activity_table import ActivityTable

DEFAULT_SMOOTHING_S = 0.5
DEFAULT_FEEDBACK_CONFIDENCE = 0.5


class ActivityTracker:
    """Exponential smoothing of ``activity_prob [B, K]`` and ``activity_emb [B, D]``."""

    def __init__(
        self, table: ActivityTable, fps: float, smoothing_s: float = DEFAULT_SMOOTHING_S
    ) -> None:
        if not (math.isfinite(smoothing_s) and smoothing_s >= 0):
            raise EdgeSDKError(f"activity smoothing {smoothing_s!r} s: must be >= 0")
        self.table = table
        self.alpha = 1.0 if smoothing_s == 0 else 1.0 - math.exp(-1.0 / (fps * smoothing_s))
        self.smoothing_s = smoothing_s
        self.prob: np.ndarray | None = None
        self.emb: np.ndarray | None = None
        # [D, N] float32: one matrix-vector product per frame finds the nearest description
        # (the embedding's norm does not change which row is nearest)
        self._table_T = np.ascontiguousarray(table.embeddings.T, np.float32)

    @property
    def half_way_s(self) -> float:
        """Seconds until a lasting change is half way through the smoothing."""
        return self.smoothing_s * math.log(2.0)

    def reset(self) -> None:
        self.prob = self.emb = None

    def update(self, prob: np.ndarray, emb: np.ndarray) -> list[dict[str, Any]]:
        """One frame of each stream: the smoothed activity of each row."""
        prob = np.asarray(prob, np.float32).reshape(-1, len(self.table.classes))
        emb = np.asarray(emb, np.float32).reshape(prob.shape[0], -1)
        if self.prob is None or self.emb is None or self.prob.shape != prob.shape:
            self.prob, self.emb = prob.copy(), emb.copy()
        else:
            self.prob += self.alpha * (prob - self.prob)
            self.emb += self.alpha * (emb - self.emb)
        return self.current()

    def current(self) -> list[dict[str, Any]]:
        if self.prob is None or self.emb is None:
            return []
        classes, descriptions = self.table.classes, self.table.descriptions
        index = self.description_index()
        out = []
        for row, i in zip(self.prob.tolist(), index.tolist(), strict=True):
            top = sorted(range(len(row)), key=row.__getitem__, reverse=True)[:3]
            out.append(
                {
                    "label": classes[top[0]],
                    "confidence": round(row[top[0]], 4),
                    "top3": [[classes[k], round(row[k], 4)] for k in top],
                    "description": descriptions[i] if i >= 0 else "",
                }
            )
        return out

    def description_index(self) -> np.ndarray:
        """``[B]`` the nearest description of each stream (-1: none yet, or no table)."""
        if self.emb is None or not self._table_T.shape[1]:
            return np.full(0 if self.emb is None else len(self.emb), -1)
        return np.asarray((self.emb @ self._table_T).argmax(-1))

    def confidence(self) -> np.ndarray:
        """``[B]`` the smoothed probability of each stream's class (0: no frame yet)."""
        return np.zeros(0) if self.prob is None else self.prob.max(-1)


class TextContext:
    """The ``text_emb [B, D]`` and ``text_mask [B]`` of the next frame."""

    def __init__(
        self,
        table: ActivityTable | None,
        dim: int,
        closed_loop: bool = False,
        min_confidence: float = DEFAULT_FEEDBACK_CONFIDENCE,
    ) -> None:
        self.table, self.dim = table, dim
        self.closed_loop = closed_loop
        self.min_confidence = min_confidence
        self.fixed: np.ndarray | None = None  # the app's context, [D]
        self.fixed_text = ""
        if closed_loop and table is None:
            raise EdgeSDKError("closed-loop text needs a model with an activity head")

    def set(self, text: str | np.ndarray | None) -> None:
        """The app's context: a description, an embedding ``[D]``, or None (none)."""
        if text is None:
            self.fixed, self.fixed_text = None, ""
            return
        if isinstance(text, str):
            self.fixed, self.fixed_text = self.embed(text), text
            return
        emb = np.asarray(text, np.float32).reshape(-1)
        if emb.shape != (self.dim,) or not np.isfinite(emb).all():
            raise EdgeSDKError(f"a context embedding must be {self.dim} finite numbers")
        self.fixed, self.fixed_text = emb, ""

    def embed(self, text: str) -> np.ndarray:
        """A description's embedding: the table's row when it is one of the training
        descriptions (no torch needed), else the text encoder's (the full install)."""
        if not text.strip():
            return np.zeros(self.dim, np.float32)
        if self.table is not None:
            row = self.table.lookup(text)
            if row is not None:
                return row
        try:
            from edgesdk.models.text import default_text_encoder
        except ImportError as exc:
            raise EdgeSDKError(
                f"embedding free text needs the full install (torch, transformers: {exc.name} "
                "is missing); pass one of the model's descriptions or an embedding"
            ) from None
        backend = self.table.text_backend if self.table is not None else ""
        encoder = default_text_encoder(backend or None)
        if backend and encoder.backend != backend:
            raise EdgeSDKError(
                f"the model's text was embedded with {backend}, here only {encoder.backend} "
                "loads; pass one of the model's descriptions or an embedding"
            )
        emb: np.ndarray = encoder.encode([text]).numpy()[0].astype(np.float32)
        return emb

    def inputs(
        self, rows: int, tracker: ActivityTracker | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(text_emb [rows, D], text_mask [rows])`` for the next frame."""
        emb = np.zeros((rows, self.dim), np.float32)
        mask = np.zeros(rows, np.float32)
        if self.fixed is not None:
            emb[:] = self.fixed
            mask[:] = 1.0
        elif self.closed_loop and tracker is not None and self.table is not None:
            index, conf = tracker.description_index(), tracker.confidence()
            if len(index) == rows:
                on = (index >= 0) & (conf >= self.min_confidence)
                emb[on] = self.table.embeddings[index[on]]
                mask[on] = 1.0
        return emb, mask

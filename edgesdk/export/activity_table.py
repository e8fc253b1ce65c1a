"""The activity block of a manifest: class names and the description table of a student's
activity head (``edgesdk.models.activity_head``), readable with numpy alone.

An artifact with an activity head outputs ``activity_prob [1, K]`` and ``activity_emb [1, D]``
after its pose. The manifest's ``activity`` names the K classes and carries the table of
training descriptions with their text embeddings (float16, little-endian, row-major
``[N, D]``, base64), so a runtime without torch turns the embedding into the nearest
description, and can feed one back to a model that reads text.

Example:
    >>> table = ActivityTable(("idle", "walk"), ("normal walk",), np.eye(1, 4, dtype=np.float32),
    ...                       "minilm")
    >>> again = ActivityTable.from_manifest(table.to_manifest(), "m.json")
    >>> again.descriptions, again.nearest(np.array([1.0, 0, 0, 0]))[0].tolist()
    (('normal walk',), 0)
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError

ENCODING = "float16-le-base64"
MAX_CLASSES = 1024
MAX_DESCRIPTIONS = 100_000
MAX_DIM = 4096
MAX_TEXT = 512  # characters of one class name or description


@dataclass(frozen=True)
class ActivityTable:
    """Class names, descriptions and their unit embeddings ``[N, D]``."""

    classes: tuple[str, ...]
    descriptions: tuple[str, ...]
    embeddings: np.ndarray
    text_backend: str = ""

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def to_manifest(self) -> dict[str, Any]:
        data = np.ascontiguousarray(self.embeddings, dtype="<f2").tobytes()
        return {
            "classes": list(self.classes),
            "descriptions": list(self.descriptions),
            "embedding_dim": self.dim,
            "embedding_encoding": ENCODING,
            "embeddings": base64.b64encode(data).decode("ascii"),
            "text_backend": self.text_backend,
        }

    @classmethod
    def from_manifest(cls, block: Any, where: Path | str) -> ActivityTable:
        """Parse and check a manifest's ``activity`` block (one error line naming the field)."""

        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                raise EdgeSDKError(f"{where}: 'activity.{field}': {what}")

        need(isinstance(block, dict), "", "expected an object")
        classes, descriptions = block.get("classes"), block.get("descriptions")
        for field, values, limit in (
            ("classes", classes, MAX_CLASSES),
            ("descriptions", descriptions, MAX_DESCRIPTIONS),
        ):
            need(
                isinstance(values, list)
                and len(values) <= limit
                and all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in values),
                field,
                f"expected a list of at most {limit} non-empty strings",
            )
        need(bool(classes), "classes", "expected at least one class")
        dim = block.get("embedding_dim")
        need(
            isinstance(dim, int) and not isinstance(dim, bool) and 0 < dim <= MAX_DIM,
            "embedding_dim",
            f"expected an integer in [1, {MAX_DIM}]",
        )
        need(block.get("embedding_encoding") == ENCODING, "embedding_encoding", f"not {ENCODING}")
        text = block.get("embeddings")
        need(isinstance(text, str), "embeddings", "expected base64 text")
        assert isinstance(descriptions, list) and isinstance(dim, int) and isinstance(text, str)
        expected = len(descriptions) * dim * 2
        need(len(text) <= 4 * math.ceil(expected / 3) + 4, "embeddings", "longer than the table")
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raw = b""
        need(len(raw) == expected, "embeddings", f"expected {expected} bytes of float16")
        emb = np.frombuffer(raw, "<f2").astype(np.float32).reshape(len(descriptions), dim)
        need(bool(np.isfinite(emb).all()), "embeddings", "NaN or inf")
        backend = block.get("text_backend", "")
        need(isinstance(backend, str) and len(backend) <= 64, "text_backend", "expected a name")
        return cls(tuple(classes or ()), tuple(descriptions), emb, str(backend))

    def nearest(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest description to each embedding ``[..., D]`` and its cosine
        similarity (index -1 and similarity 0 when the table is empty)."""
        emb = np.asarray(emb, np.float32)
        if not len(self.descriptions):
            shape = emb.shape[:-1]
            return np.full(shape, -1), np.zeros(shape, np.float32)
        norm = np.linalg.norm(emb, axis=-1, keepdims=True)
        sim = (emb / np.maximum(norm, 1e-12)) @ self.embeddings.T
        index = sim.argmax(-1)
        return index, np.take_along_axis(sim, index[..., None], -1)[..., 0]

    def lookup(self, text: str) -> np.ndarray | None:
        """The stored embedding of a description (case and outer spaces ignored), or None."""
        key = text.strip().lower()
        for i, d in enumerate(self.descriptions):
            if d.lower() == key:
                return np.asarray(self.embeddings[i], np.float32)
        return None

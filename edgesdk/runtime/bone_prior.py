"""How the body carries its bones: where "up" points in a bone's frame, from motion capture.

A thigh never hangs upside down and its front never faces the floor for long; a forearm
mostly hangs with the hand below the elbow. Gravity seen in a bone's own frame,
``u_bone = R_world_bone^T up``, is therefore far from uniform, and that is what lets the
runtime tell a phone upside down or screen-in from one worn nominally without asking the
wearer to stand in a pose (``edgesdk.runtime.autocal``).

The prior is a histogram of ``u_bone`` per slot over real motion capture (every frame of the
training clips), on an equal-area grid: ``BINS_COS`` bins of ``u_bone[1]`` (the cosine to the
bone's +Y) times ``BINS_AZ`` bins of the azimuth ``atan2(u_x, u_z)``, with add-one smoothing.
It ships as ``edgesdk/assets/bone_up_prior.json`` (made by ``benchmarks/bone_prior.py``, which
records the command and the clips it read).

Example:
    >>> import numpy as np
    >>> prior = BonePrior.load()
    >>> up, down = np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, -1.0, 0.0]])
    >>> bool(prior.log_density("left_pocket", up)[0] > prior.log_density("left_pocket", down)[0])
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError

BINS_COS = 24
BINS_AZ = 48
ASSET = Path(__file__).resolve().parent.parent / "assets" / "bone_up_prior.json"


def bin_index(u_bone: np.ndarray) -> np.ndarray:
    """Flat histogram bin of each unit vector ``[N, 3]``."""
    u = np.asarray(u_bone, np.float64)
    c = np.clip(u[:, 1], -1.0, 1.0 - 1e-12)
    i = np.floor((c + 1.0) / 2.0 * BINS_COS).astype(np.int64)
    az = np.arctan2(u[:, 0], u[:, 2])
    j = np.floor((az + math.pi) / (2.0 * math.pi) * BINS_AZ).astype(np.int64) % BINS_AZ
    return np.clip(i, 0, BINS_COS - 1) * BINS_AZ + j


def histogram(R_world_bone: Iterable[np.ndarray]) -> np.ndarray:
    """Counts ``[BINS_COS * BINS_AZ]`` of up-in-bone over blocks of ``[N, 3, 3]`` bone
    rotations (Y-up world)."""
    counts = np.zeros(BINS_COS * BINS_AZ)
    for R in R_world_bone:
        u = np.asarray(R, np.float64)[:, 1, :]  # row 1 of R = R^T (0, 1, 0)
        counts += np.bincount(bin_index(u), minlength=len(counts))
    return counts


class BonePrior:
    """Log-density of up-in-bone per slot (per unit solid angle, smoothed)."""

    def __init__(self, counts: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> None:
        self.meta = meta or {}
        self._log: dict[str, np.ndarray] = {}
        cell = 4.0 * math.pi / (BINS_COS * BINS_AZ)
        for slot in SLOTS:
            c = np.asarray(counts[slot], np.float64)
            if c.shape != (BINS_COS * BINS_AZ,) or not np.isfinite(c).all() or (c < 0).any():
                raise EdgeSDKError(f"bone prior: bad counts for slot {slot}")
            p = (c + 1.0) / (c.sum() + len(c))
            self._log[slot] = np.log(p / cell)

    @classmethod
    def from_json(cls, path: Path) -> BonePrior:
        try:
            data = json.loads(path.read_text())
            counts = {s: np.asarray(data["counts"][s], np.float64) for s in SLOTS}
            if data.get("bins") != [BINS_COS, BINS_AZ]:
                raise ValueError(f"bins {data.get('bins')} != {[BINS_COS, BINS_AZ]}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EdgeSDKError(f"{path}: unreadable bone prior ({exc})") from None
        return cls(counts, {k: v for k, v in data.items() if k != "counts"})

    @staticmethod
    @cache
    def load() -> BonePrior:
        """The shipped prior (read once)."""
        return BonePrior.from_json(ASSET)

    def log_density(self, slot: str, u_bone: np.ndarray) -> np.ndarray:
        """``[N]`` log-density of unit vectors ``u_bone [N, 3]`` for ``slot``'s bone."""
        return self._log[slot][bin_index(u_bone)]

"""Uncertainty of held-out figures: bootstrap intervals over held-out files.

Windows of one file are not independent (same person, same motion), so the unit resampled is
the file. A result keeps, per held-out file and per device combination, the sum of per-frame
MPJPE and the frame count (``PerFile``); the headline MPJPE is the mean over combinations of
the frame-weighted mean over files. A bootstrap draws files with replacement (the same draw
for every combination) and recomputes it; the 2.5th and 97.5th percentiles of ``B`` draws are
the 95 % interval. Two results on the same files compare with a *paired* bootstrap (the same
draws for both), which is what a difference between two models needs.

Example:
    >>> import numpy as np
    >>> a = PerFile(["f1", "f2", "f3"], np.array([[100.0], [200.0], [300.0]]), np.array([1, 1, 1]))
    >>> round(a.mean(), 1)
    200.0
    >>> lo, hi = a.ci95(draws=200, seed=0)
    >>> bool(lo < 200.0 < hi)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError

DRAWS = 1000


@dataclass(frozen=True)
class PerFile:
    """Per held-out file: ``sum_mm [F, C]`` (sum over the file's frames of the per-frame
    MPJPE, per combination) and ``frames [F]`` (frames per file, the same in every
    combination)."""

    files: list[str]
    sum_mm: np.ndarray
    frames: np.ndarray

    def _means(self, weights: np.ndarray) -> np.ndarray:
        """Overall MPJPE for file weights ``[..., F]`` (counts of each file in a draw)."""
        num = weights @ self.sum_mm  # [..., C]
        den = (weights @ self.frames)[..., None]
        return (num / np.maximum(den, 1e-12)).mean(-1)

    def mean(self) -> float:
        return float(self._means(np.ones(len(self.files))))

    def draws(self, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
        """``[draws, F]`` counts of each file in each bootstrap draw."""
        rng = np.random.default_rng(seed)
        n = len(self.files)
        idx = rng.integers(0, n, (draws, n))
        return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)

    def ci95(self, draws: int = DRAWS, seed: int = 0) -> tuple[float, float]:
        values = self._means(self.draws(draws, seed))
        return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "frames": self.frames.astype(int).tolist(),
            "sum_mm": np.round(self.sum_mm, 3).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PerFile:
        try:
            return cls(
                list(data["files"]),
                np.asarray(data["sum_mm"], np.float64).reshape(len(data["files"]), -1),
                np.asarray(data["frames"], np.float64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EdgeSDKError(f"per-file results: unreadable ({exc})") from None


def paired_difference_ci95(
    a: PerFile, b: PerFile, draws: int = DRAWS, seed: int = 0
) -> dict[str, Any]:
    """``a - b`` of the overall MPJPE with a paired 95 % bootstrap interval (same files)."""
    if a.files != b.files:
        raise EdgeSDKError("paired comparison needs the same held-out files in the same order")
    weights = a.draws(draws, seed)
    diff = a._means(weights) - b._means(weights)
    return {
        "difference_mm": round(a.mean() - b.mean(), 2),
        "ci95_mm": [
            round(float(np.percentile(diff, 2.5)), 2),
            round(float(np.percentile(diff, 97.5)), 2),
        ],
    }


def seed_spread(values: list[float]) -> dict[str, float]:
    """Mean and spread (sample standard deviation, min, max) over training seeds."""
    v = np.asarray(values, np.float64)
    return {
        "mean": round(float(v.mean()), 2),
        "std": round(float(v.std(ddof=1)), 2) if len(v) > 1 else 0.0,
        "min": round(float(v.min()), 2),
        "max": round(float(v.max()), 2),
        "seeds": len(v),
    }

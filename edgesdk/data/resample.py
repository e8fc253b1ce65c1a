"""Resampling a clip to another frame rate: positions interpolated, rotations slerped.

The resampled clip spans the same time: frame ``k`` is at ``k / fps`` seconds, for every such
time inside the source's ``[0, (T - 1) / fps_src]``. Rotations are interpolated by spherical
linear interpolation between the two nearest source frames (``edgesdk.body.rotations``);
positions linearly, or by a cubic spline (``method="cubic"``).

Example:
    >>> from edgesdk.data.bvh import load_clip
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_03.bvh")
    >>> half = resample(clip, clip.fps / 2)
    >>> half.num_frames == (clip.num_frames + 1) // 2
    True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from edgesdk.body.rotations import matrix_to_quat, quat_slerp, quat_to_matrix
from edgesdk.data.clip import Clip
from edgesdk.errors import EdgeSDKError

METHODS = ("linear", "cubic")
_SNAP = 1e-6  # source-frame positions this close to an integer are that frame exactly


def resample_times(num_frames: int, fps_src: float, fps: float) -> np.ndarray:
    """Fractional source-frame positions ``[T_new]`` of the resampled frames.

    Example:
        >>> resample_times(5, 60.0, 30.0).tolist()
        [0.0, 2.0, 4.0]
    """
    ratio = fps_src / fps
    count = math.floor((num_frames - 1) / ratio + _SNAP) + 1
    u = np.arange(count, dtype=np.float64) * ratio
    nearest = np.round(u)
    u = np.where(np.abs(u - nearest) < _SNAP, nearest, u)
    return np.clip(u, 0.0, num_frames - 1)


def resample(clip: Clip, fps: float, method: str = "linear") -> Clip:
    """The clip at frame rate ``fps`` over the same time span.

    Args:
        clip: the source clip.
        fps: target frames per second (any positive rate).
        method: "linear" or "cubic" interpolation of positions; rotations are always slerped.

    Example:
        >>> from edgesdk.data.bvh import load_clip
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_03.bvh")
        >>> resample(clip, 90.0, method="cubic").fps
        90.0
    """
    where = clip.source or clip.name
    if not (math.isfinite(fps) and fps > 0):
        raise EdgeSDKError(f"{where}: target frame rate must be positive, got {fps}")
    if method not in METHODS:
        raise EdgeSDKError(f"{where}: resampling method must be one of {METHODS}, got {method!r}")
    if math.isclose(fps, clip.fps, rel_tol=1e-9):
        return clip.replace(fps=float(fps))
    u = resample_times(clip.num_frames, clip.fps, fps)
    i0 = np.floor(u).astype(np.int64)
    i1 = np.minimum(i0 + 1, clip.num_frames - 1)
    frac = u - i0

    quats = matrix_to_quat(torch.from_numpy(clip.R_world_joint).double())
    t = torch.from_numpy(frac)[:, None].expand(-1, quats.shape[1])
    q = quat_slerp(quats[torch.from_numpy(i0)], quats[torch.from_numpy(i1)], t)
    R_world = quat_to_matrix(q).to(torch.float32).numpy()

    pos = clip.global_pos_m.astype(np.float64)
    if method == "cubic" and clip.num_frames >= 3:
        pos_new = CubicSpline(np.arange(clip.num_frames), pos, axis=0)(u)
    else:
        w = frac[:, None, None]
        pos_new = (1.0 - w) * pos[i0] + w * pos[i1]
    return clip.replace(
        fps=float(fps), R_world_joint=R_world, global_pos_m=pos_new.astype(np.float32)
    )

"""The offline reference a replay is judged against: the same backend run frame by frame on
the model inputs that training windows compute from the clip (``WindowDataset``: clean
virtual IMUs with nominal mounts in the clip's world, no added noise), and MPJPE after one
yaw alignment per sequence (the runtime's world heading is where the wearer faced at
calibration; the clip's is its own). Uses the training stack (torch).

Example::

    ref = offline_poses(backend, clip, slots=("head", "left_wrist", "right_pocket"))
    mpjpe_mm(ref["pred"], ref["gt"])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.slots import SLOT_INDEX
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.input_kinds import INPUT_KINDS
from edgesdk.runtime.model_backend import ModelBackend


def offline_inputs(
    clip: Clip,
    slots: Sequence[str],
    hr_factor: int = 0,
    absent: dict[str, tuple[float, float]] | None = None,
) -> dict[str, np.ndarray]:
    """Whole-clip model inputs (``imu [T, 5, 9]``, ``mask``, ``head``, ``head_imu_hr``,
    ``pos_m``) as a training window computes them, with ``absent[slot] = (start_s, stop_s)``
    masked out as a device leaving and coming back."""
    config = WindowConfig(
        fps=clip.fps,
        window=clip.num_frames,
        stride=clip.num_frames,
        fixed_slots=tuple(SLOT_INDEX[s] for s in slots),
        acc_noise_std_mps2=0.0,
        rot_noise_std_deg=0.0,
        head_pos_noise_std_m=0.0,
        head_hr_factor=hr_factor,
    )
    item = WindowDataset([clip], config, train=False)[0]
    out = {k: v.numpy() for k, v in item.items() if hasattr(v, "numpy")}
    for slot, (start, stop) in (absent or {}).items():
        t = np.arange(clip.num_frames) / clip.fps
        gone = (t >= start) & (t < stop)
        out["mask"][gone, SLOT_INDEX[slot]] = 0.0
        out["imu"][gone, SLOT_INDEX[slot]] = 0.0
        if slot == "head" and "head_imu_hr" in out:
            out["head_imu_hr"][np.repeat(gone, hr_factor)] = 0.0
    return out


def run_offline(backend: ModelBackend, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """``pos_rel_m [T, 22, 3]`` of the backend stepped through the inputs from a fresh state."""
    backend.reset()
    T = len(inputs["imu"])
    # the per-frame kinds windows give (``edgesdk.input_kinds``), with k samples a frame for
    # the kinds read faster than the frame rate (given only when the backend reads them)
    sub = backend.samples_per_frame
    feeds = [
        (kind.name, kind.window, sub.get(kind.name, 0))
        for kind in INPUT_KINDS.values()
        if kind.per_frame and kind.window in inputs and (not kind.window_field or kind.name in sub)
    ]
    preds = []
    for t in range(T):
        frame: dict[str, np.ndarray] = {
            n: inputs[w][t * k : (t + 1) * k][None] if k else inputs[w][t][None]
            for n, w, k in feeds
        }
        preds.append(backend.step(frame)["pos_rel_m"].reshape(22, 3))
    backend.reset()
    return np.stack(preds)


def best_yaw(pred: np.ndarray, gt: np.ndarray) -> float:
    """The rotation about +Y (rad) that best maps ``pred [N, 22, 3]`` onto ``gt``."""
    p, g = pred.reshape(-1, 3), gt.reshape(-1, 3)
    # maximise sum g . Ry(a) p: a = atan2(sum(g_x p_z - g_z p_x), sum(g_x p_x + g_z p_z))
    s = float(np.sum(g[:, 0] * p[:, 2] - g[:, 2] * p[:, 0]))
    c = float(np.sum(g[:, 0] * p[:, 0] + g[:, 2] * p[:, 2]))
    return math.atan2(s, c)


def yaw_aligned_mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Pelvis-relative MPJPE (mm) after the best single yaw for the whole sequence."""
    a = best_yaw(pred, gt)
    c, s = math.cos(a), math.sin(a)
    R = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return float(np.linalg.norm(pred @ R.T - gt, axis=-1).mean() * 1000.0)

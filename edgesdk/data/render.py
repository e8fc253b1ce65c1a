"""Animated GIF of a clip's 22-joint skeleton: a quick look at data and predictions, headless.

Drawn with matplotlib's Agg canvas (no display, no pyplot state) in an orthographic view from
a camera that follows the pelvis over a floor grid; the subject's left side is blue, the right
red, the spine grey. Frames are subsampled to the GIF's rate and drawn by updating the artists
of one figure, so a 10 s clip renders in a few seconds. The file is written atomically.

Example:
    >>> import tempfile, pathlib
    >>> from edgesdk.body.skeleton import rest_positions, template_offsets
    >>> pos_m = np.repeat(rest_positions().numpy()[None], 10, axis=0)
    >>> R = np.tile(np.eye(3, dtype=np.float32), (10, 22, 1, 1))
    >>> clip = Clip("t-pose", 30.0, R, pos_m, template_offsets().numpy())
    >>> render_gif(clip, pathlib.Path(tempfile.mkdtemp()) / "t-pose.gif").suffix
    '.gif'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from PIL import Image

from edgesdk.body.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS
from edgesdk.data.clip import Clip
from edgesdk.io import atomic_path

LEFT_COLOR = "#1f77b4"
RIGHT_COLOR = "#d62728"
CENTER_COLOR = "#4d4d4d"
HIGHLIGHT_COLOR = "#ff9f1c"
GRID_COLOR = "#c8c8c8"
_GRID_STEP_M = 0.5
_GRID_HALF_M = 2.5  # grid drawn this far around the pelvis
_MAX_GIF_FPS = 50.0  # 20 ms: browsers slow down shorter GIF frame delays


def render_gif(
    clip: Clip,
    out_path: str | Path,
    fps: float = 15.0,
    max_frames: int = 300,
    title: str | None = None,
    highlight_joints: Sequence[int | str] = (),
    size_px: int = 320,
    azimuth_deg: float = 35.0,
    elevation_deg: float = 15.0,
) -> Path:
    """Render ``clip`` as an animated GIF at ``out_path`` and return the path.

    Args:
        clip: the motion.
        out_path: the GIF to write; its folder must exist.
        fps: GIF frame rate (capped at the clip's and at 50, the fastest rate browsers
            play); frames are picked at that rate.
        max_frames: at most this many frames, from the start (300 = 20 s at 15 fps).
        title: text above the skeleton; the clip's name by default.
        highlight_joints: joints (indices or names) drawn as large orange dots, e.g. where
            sensors are worn: ``("left_wrist", "head")``.
        size_px: width and height of the GIF.
        azimuth_deg, elevation_deg: camera direction about the vertical and above the floor;
            azimuth 0 looks at the subject's front (the rest pose faces +Z).

    Raises:
        EdgeSDKError: the output folder does not exist.
        ValueError: bad ``fps``, ``max_frames``, ``size_px`` or joint names.
    """
    if not fps > 0 or max_frames < 1 or size_px < 32:
        raise ValueError(
            f"need fps > 0, max_frames >= 1 and size_px >= 32, got {fps}, {max_frames}, {size_px}"
        )
    highlight = [_joint_index(j) for j in highlight_joints]
    out_fps = min(fps, clip.fps, _MAX_GIF_FPS)
    frames = frame_indices(clip.num_frames, clip.fps, out_fps, max_frames)
    with atomic_path(out_path, suffix=".gif") as tmp:
        images = _draw_frames(
            clip,
            frames,
            title if title is not None else clip.name,
            highlight,
            size_px,
            azimuth_deg,
            elevation_deg,
        )
        first = images[0].quantize(colors=96, method=Image.Quantize.MEDIANCUT)
        paletted = [im.quantize(palette=first, dither=Image.Dither.NONE) for im in images]
        paletted[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=paletted[1:],
            duration=_durations_ms(len(paletted), out_fps),
            loop=0,
        )
    return Path(out_path)


def frame_indices(num_frames: int, clip_fps: float, fps: float, max_frames: int) -> np.ndarray:
    """Clip frames shown at ``fps`` (capped at ``clip_fps``), from the start, at most
    ``max_frames``: ``floor((num_frames - 1) * fps / clip_fps) + 1`` of them.

    Example:
        >>> frame_indices(45, 30.0, 15.0, 300).tolist()[:4], len(frame_indices(45, 30.0, 15.0, 300))
        ([0, 2, 4, 6], 23)
    """
    out_fps = min(fps, clip_fps)
    count = math.floor((num_frames - 1) * out_fps / clip_fps + 1e-9) + 1
    count = min(count, max_frames)
    picks = np.rint(np.arange(count) * clip_fps / out_fps).astype(np.int64)
    return np.minimum(picks, num_frames - 1)


def _durations_ms(count: int, fps: float) -> list[int]:
    """Per-frame durations in whole centiseconds (GIF's unit) that add up to the exact rate."""
    ends_cs = np.rint(np.arange(1, count + 1) * 100.0 / fps).astype(np.int64)
    return [int(d) * 10 for d in np.diff(ends_cs, prepend=0)]


def _camera_axes(azimuth_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Screen right and up directions (world, Y up) of an orthographic camera."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    back = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    return right, up


def _draw_frames(
    clip: Clip,
    frames: np.ndarray,
    title: str,
    highlight: list[int],
    size_px: int,
    azimuth_deg: float,
    elevation_deg: float,
) -> list[Image.Image]:
    right, up = _camera_axes(azimuth_deg, elevation_deg)
    pos_m = clip.global_pos_m[frames].astype(np.float64)
    # The camera follows the pelvis over the floor: subtract its horizontal position.
    follow_m = pos_m[:, 0].copy()
    follow_m[:, 1] = 0.0
    rel_m = pos_m - follow_m[:, None]
    screen = np.stack([rel_m @ right, rel_m @ up], axis=-1)  # [n, 22, 2]

    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.92))
    ax.set_axis_off()
    ax.set_aspect("equal")
    lo, hi = screen.reshape(-1, 2).min(0), screen.reshape(-1, 2).max(0)
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 + 0.25, 1.0)
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[1] - half, center[1] + half)
    fig.suptitle(title, fontsize=9, y=0.985)

    grid = LineCollection([], colors=GRID_COLOR, linewidths=0.8, zorder=1)
    ax.add_collection(grid)
    bones = [(j, PARENTS[j]) for j in range(1, len(PARENTS))]
    bone_lines = LineCollection(
        [], colors=[_side_color(j) for j, _ in bones], linewidths=2.5, capstyle="round", zorder=3
    )
    ax.add_collection(bone_lines)
    joint_dots = ax.scatter(
        np.zeros(22), np.zeros(22), s=9, c=[_side_color(j) for j in range(22)], zorder=4
    )
    sensor_dots = ax.scatter([], [], s=60, c=HIGHLIGHT_COLOR, edgecolors="black", zorder=5)
    clock = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=8, color="#333333")

    images: list[Image.Image] = []
    for k, frame in enumerate(frames):
        grid.set_segments(_grid_segments(follow_m[k], right, up))
        xy = screen[k]
        bone_lines.set_segments([xy[[j, p]] for j, p in bones])
        joint_dots.set_offsets(xy)
        sensor_dots.set_offsets(xy[highlight] if highlight else np.zeros((0, 2)))
        clock.set_text(f"{frame / clip.fps:6.2f} s")
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
    return images


def _grid_segments(follow_m: np.ndarray, right: np.ndarray, up: np.ndarray) -> list[np.ndarray]:
    """Floor lines (y = 0) every 0.5 m near the pelvis, in screen coordinates."""
    segments = []
    for axis in (0, 2):
        other = 2 - axis
        start = math.floor((follow_m[axis] - _GRID_HALF_M) / _GRID_STEP_M) * _GRID_STEP_M
        for value in np.arange(start, follow_m[axis] + _GRID_HALF_M + 1e-9, _GRID_STEP_M):
            ends = np.zeros((2, 3))
            ends[:, axis] = value
            ends[:, other] = follow_m[other] + np.array([-_GRID_HALF_M, _GRID_HALF_M])
            rel = ends - follow_m
            segments.append(np.stack([rel @ right, rel @ up], axis=-1))
    return segments


def _side_color(joint: int) -> str:
    name = JOINT_NAMES[joint]
    if name.startswith("left_"):
        return LEFT_COLOR
    if name.startswith("right_"):
        return RIGHT_COLOR
    return CENTER_COLOR


def _joint_index(joint: int | str) -> int:
    if isinstance(joint, str):
        if joint not in JOINT_INDEX:
            raise ValueError(f"unknown joint {joint!r}; joints are {', '.join(JOINT_NAMES)}")
        return JOINT_INDEX[joint]
    if not 0 <= joint < len(JOINT_NAMES):
        raise ValueError(f"joint index {joint} is out of range 0-{len(JOINT_NAMES) - 1}")
    return int(joint)

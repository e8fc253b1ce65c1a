"""Skeleton GIFs: frame count, timing, visible content, atomic writes and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgesdk.body.skeleton import rest_positions, template_offsets
from edgesdk.data.clip import Clip
from edgesdk.data.render import frame_indices, render_gif
from edgesdk.errors import EdgeSDKError


def _walking_clip(T: int = 45, fps: float = 30.0) -> Clip:
    """The rest pose walking along +x at 1 m/s, waving its left wrist."""
    t = np.arange(T) / fps
    pos = np.repeat(rest_positions().numpy()[None], T, axis=0).astype(np.float64)
    pos[..., 0] += t[:, None]
    pos[:, 20, 1] += 0.3 * np.sin(4 * t)
    R = np.tile(np.eye(3, dtype=np.float32), (T, 22, 1, 1))
    return Clip("walk", fps, R, pos.astype(np.float32), template_offsets().numpy())


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB")))
        return out


def test_gif_has_the_expected_frames_and_content(tmp_path: Path) -> None:
    out = render_gif(_walking_clip(), tmp_path / "walk.gif", fps=15, title="a walk")
    assert out == tmp_path / "walk.gif"
    with Image.open(out) as im:
        assert im.format == "GIF" and im.size == (320, 320)
        assert im.n_frames == 23  # 1.5 s at 15 fps: frames 0, 2, ..., 44 of the clip
        assert im.info["loop"] == 0
    frames = _frames(out)
    first = frames[0]
    # Not blank: a white background with coloured bones (blue left, red right) on it.
    assert (first < 250).any(axis=-1).mean() > 0.01
    blue = (first[..., 2] > 150) & (first[..., 0] < 100)
    red = (first[..., 0] > 150) & (first[..., 2] < 100)
    assert blue.sum() > 20 and red.sum() > 20
    # The wrist moves, so frames differ.
    assert np.abs(frames[0].astype(int) - frames[10].astype(int)).sum() > 0
    assert not list(tmp_path.glob(".*.gif"))  # the temporary file is gone


def test_frame_selection_timing_and_caps(tmp_path: Path) -> None:
    assert frame_indices(45, 30.0, 15.0, 300).tolist() == list(range(0, 45, 2))
    assert frame_indices(10, 30.0, 60.0, 300).tolist() == list(range(10))  # capped at the clip
    assert len(frame_indices(3000, 100.0, 15.0, 50)) == 50
    assert frame_indices(1, 30.0, 15.0, 300).tolist() == [0]
    out = render_gif(_walking_clip(T=31), tmp_path / "short.gif", fps=10, max_frames=3)
    with Image.open(out) as im:
        assert im.n_frames == 3
        assert im.info["duration"] == 100  # 10 fps
    # One-frame clips work too.
    with Image.open(render_gif(_walking_clip(T=1), tmp_path / "one.gif")) as im:
        assert im.n_frames == 1


def test_highlighted_joints_are_drawn(tmp_path: Path) -> None:
    clip = _walking_clip(T=10)
    plain = _frames(render_gif(clip, tmp_path / "plain.gif", fps=10))[0]
    marked = _frames(
        render_gif(clip, tmp_path / "marked.gif", fps=10, highlight_joints=("left_wrist", 15))
    )[0]
    orange = (marked[..., 0] > 200) & (marked[..., 1] > 120) & (marked[..., 2] < 90)
    assert orange.sum() > 20
    assert not ((plain[..., 0] > 200) & (plain[..., 1] > 120) & (plain[..., 2] < 90)).sum() > 20
    with pytest.raises(ValueError, match="unknown joint 'tail'"):
        render_gif(clip, tmp_path / "x.gif", highlight_joints=("tail",))


def test_missing_directory_and_atomic_replace(tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError, match="does not exist"):
        render_gif(_walking_clip(T=5), tmp_path / "missing" / "walk.gif")
    target = tmp_path / "walk.gif"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        render_gif(_walking_clip(T=5), target, highlight_joints=(99,))
    assert target.read_bytes() == b"old"  # a failed render leaves the old file alone
    render_gif(_walking_clip(T=5), target)
    assert target.read_bytes()[:6] == b"GIF89a"


def test_a_ten_second_clip_renders_every_second_frame(tmp_path: Path) -> None:
    # Its speed is measured by benchmarks/data_speed.py, not asserted here.
    render_gif(_walking_clip(T=300), tmp_path / "ten.gif", fps=15)
    with Image.open(tmp_path / "ten.gif") as im:
        assert im.n_frames == 150

"""BVH reading: parsing, source FK, bad input, labels, loaders and data discovery."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edgesdk.body.rotations import euler_to_matrix
from edgesdk.data.bvh import clip_info, load_clip, read_bvh, write_bvh
from edgesdk.data.labels import load_labels
from edgesdk.data.sources import (
    ENV_VAR,
    bundled_data_dir,
    default_data_dir,
    list_bvh,
    load_dir,
    source_name,
)
from edgesdk.errors import EdgeSDKError

# A two-joint chain with 6 channels on every joint, Z-X-Y and Z-Y-X orders, metres.
CHAIN_BVH = """HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Mid
  {
    OFFSET 1 0 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0 0 0 0 1 0 0 0 0 0
1 2 3 90 0 0 0 2 0 10 20 30
"""


def _write(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_cmu_dir_file(cmu_dir: Path) -> None:
    bvh = read_bvh(cmu_dir / "002_03.bvh")
    assert bvh.num_frames == 86 and bvh.fps == 60.0
    assert bvh.names[0] == "RL_BoneRoot" and "CC_Base_L_Hand" in bvh.names
    assert bvh.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert bvh.motion.shape == (86, sum(len(c) for c in bvh.channels))
    assert all(bvh.parents[j] < j for j in range(1, len(bvh.names)))


def test_fk_composes_channels_in_listed_order_and_positions_replace_offsets(
    tmp_path: Path,
) -> None:
    bvh = read_bvh(_write(tmp_path, CHAIN_BVH))
    assert bvh.fps == 30.0  # 0.0333333 s snaps to 30 Hz
    R, pos = bvh.fk()
    assert torch.allclose(pos[0, 1], torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    # Frame 1: root at (1, 2, 3) turned 90 deg about Z; Mid's position channels (0, 2, 0)
    # replace its OFFSET, so it sits at root + Rz(90) @ (0, 2, 0) = (1 - 2, 2, 3).
    assert torch.allclose(pos[1, 0], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert torch.allclose(pos[1, 1], torch.tensor([-1.0, 2.0, 3.0], dtype=torch.float64))
    angles = torch.deg2rad(torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64))
    Rz90 = euler_to_matrix(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=torch.float64), "ZXY")
    assert torch.allclose(R[1, 1], Rz90 @ euler_to_matrix(angles, "ZYX"), atol=1e-12)


def test_zero_pose_fk_uses_offsets(tmp_path: Path) -> None:
    _, pos = read_bvh(_write(tmp_path, CHAIN_BVH)).fk(zero_pose=True)
    assert pos.shape == (1, 2, 3)
    assert torch.allclose(pos[0, 1], torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))


def test_parses_every_tenth_shared_file(mocap_dir: Path) -> None:
    # Its speed is measured by benchmarks/data_speed.py, not asserted here.
    files = sorted(mocap_dir.rglob("*.bvh"))
    assert all(read_bvh(p).num_frames > 0 for p in files[::10])


BAD_INPUTS = {
    "truncated": (CHAIN_BVH.rsplit("\n", 2)[0] + "\n", "truncated MOTION"),
    # The last number cut after its sign: the file ends mid-number.
    "cut_inside_a_number": (CHAIN_BVH.rstrip().rsplit(" ", 1)[0] + " -", "truncated MOTION"),
    "corrupt_hierarchy": (CHAIN_BVH.replace("OFFSET 1 0 0", "OFFSET 1 zero 0"), "HIERARCHY"),
    "unbalanced_braces": (CHAIN_BVH.replace("  }\n}\nMOTION", "  }\nMOTION"), "HIERARCHY"),
    "no_hierarchy": (CHAIN_BVH.replace("HIERARCHY\n", ""), "HIERARCHY"),
    "zero_frames": (CHAIN_BVH.replace("Frames: 2", "Frames: 0"), "zero frames"),
    "nan": (CHAIN_BVH.replace("10 20 30", "10 nan 30"), "NaN"),
    "inf": (CHAIN_BVH.replace("10 20 30", "10 inf 30"), "NaN or infinite"),
    "non_numeric": (CHAIN_BVH.replace("10 20 30", "10 twenty 30"), "non-numeric"),
    "bad_frame_time": (CHAIN_BVH.replace("0.0333333", "0"), "Frame Time"),
    "no_motion": (CHAIN_BVH.split("MOTION")[0], "no MOTION"),
    "bad_channel": (
        CHAIN_BVH.replace("Yrotation Xrotation\n", "Yrotation Wrotation\n"),
        "CHANNELS",
    ),
    "empty": ("", "not a BVH"),
    # Same total count, so the old whole-block count passed and frames came out 1.5 m off.
    "short_then_long_row": (
        CHAIN_BVH.replace("0 0 0 0 0 0 1 0 0 0 0 0\n1 2 3", "0 0 0 0 0 0 1 0 0 0 0\n0 1 2 3"),
        "line 19: 11 values in frame 1, expected 12",
    ),
    "long_row": (CHAIN_BVH.replace("10 20 30", "10 20 30 40"), "line 20: 13 values in frame 2"),
    "extra_row": (CHAIN_BVH + "0 0 0 0 0 0 0 0 0 0 0 0\n", "line 21: MOTION has 1 rows more"),
    "frame_time_huge": (CHAIN_BVH.replace("0.0333333", "100000"), "Frame Time 100000 s is outside"),
    "frame_time_tiny": (CHAIN_BVH.replace("0.0333333", "1e-06"), "Frame Time 1e-06 s is outside"),
    "frames_huge": (
        CHAIN_BVH.replace("Frames: 2", "Frames: 100000000"),
        "100000000 frames x 2 joints would need about 62.6 GiB",
    ),
    "nan_line": (CHAIN_BVH.replace("10 20 30", "10 nan 30"), "line 20: NaN"),
    "non_numeric_line": (CHAIN_BVH.replace("10 20 30", "10 x 30"), "line 20: non-numeric"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_one_line_error_naming_the_file(tmp_path: Path, case: str) -> None:
    text, problem = BAD_INPUTS[case]
    path = _write(tmp_path, text, f"{case}.bvh")
    for reader in (read_bvh, load_clip, clip_info):
        with pytest.raises(EdgeSDKError) as err:
            reader(path)
        message = str(err.value)
        assert str(path) in message and problem in message and "\n" not in message


def test_unknown_skeleton_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path, CHAIN_BVH, "robot.bvh")
    with pytest.raises(EdgeSDKError, match=r"robot\.bvh: unknown skeleton"):
        load_clip(path)
    with pytest.raises(EdgeSDKError, match=r"missing\.bvh: cannot read"):
        read_bvh(tmp_path / "missing.bvh")


def test_load_clip_and_overrides(cmu_dir: Path) -> None:
    clip = load_clip(cmu_dir / "002_03.bvh")
    assert clip.rig == "cmu-iclone" and clip.fps == 60.0 and clip.num_frames == 86
    assert clip.labels.description == "run/jog" and all(clip.mapped)
    assert clip.R_world_joint.dtype == np.float32 and clip.global_pos_m.dtype == np.float32
    half = load_clip(cmu_dir / "002_03.bvh", fps=30.0)
    assert half.fps == 30.0 and half.num_frames == 43
    # Same answer with the detected axis and unit given explicitly.
    explicit = load_clip(cmu_dir / "002_03.bvh", up_axis="y", unit_scale=0.01)
    np.testing.assert_allclose(explicit.global_pos_m, clip.global_pos_m, atol=1e-6)
    with pytest.raises(EdgeSDKError, match="up_axis"):
        load_clip(cmu_dir / "002_03.bvh", up_axis="x")
    with pytest.raises(EdgeSDKError, match="unit_scale"):
        load_clip(cmu_dir / "002_03.bvh", unit_scale=-1.0)


def test_inches_need_the_unit_override(cmu_dir: Path, tmp_path: Path) -> None:
    clip = load_clip(cmu_dir / "002_02.bvh")
    write_bvh(clip, tmp_path / "inches.bvh", unit_scale=0.0254)
    inches = load_clip(tmp_path / "inches.bvh", unit_scale=0.0254)
    np.testing.assert_allclose(inches.global_pos_m, clip.fk_positions(), atol=2e-3)
    # Detected as centimetres, the body would be 2.54 times too small.
    guessed = load_clip(tmp_path / "inches.bvh")
    assert guessed.global_pos_m[:, 15, 1].max() < 0.5 * clip.global_pos_m[:, 15, 1].max()


def test_clip_info_is_json_ready(cmu_dir: Path) -> None:
    info = clip_info(cmu_dir / "005_03.bvh")
    assert json.loads(json.dumps(info)) == info
    assert info["rig"] == "cmu-iclone" and info["num_mapped"] == 22 and info["fps"] == 60.0
    assert info["frames"] == 216 and math.isclose(float(info["duration_s"]), 3.6)  # type: ignore[arg-type]
    assert isinstance(info["source_joints"], list) and "CC_Base_Head" in info["source_joints"]
    assert info["mapped_joints"]["head"] == "CC_Base_Head"  # type: ignore[index]
    assert 1.2 < float(info["head_height_m"]) < 2.0  # type: ignore[arg-type]
    assert info["labels"]["description"].startswith("dance")  # type: ignore[index]


def test_bandai_namco_labels_and_interpolated_spine(mocap_dir: Path) -> None:
    path = mocap_dir / "bandai-namco-1" / "dataset-1_bow_active_001.bvh"
    assert load_labels(path).content == "bow" and load_labels(path).style == "active"
    info = clip_info(path)
    assert info["rig"] == "bandai-namco" and info["num_mapped"] == 21
    assert info["mapped_joints"]["spine2"] == "interpolated"  # type: ignore[index]
    assert info["labels"] == {"content": "bow", "style": "active", "description": ""}
    walk = next((mocap_dir / "bandai-namco-2").glob("dataset-2_walk_*.bvh"))
    assert load_labels(walk).content == "walk" and load_labels(walk).style


def test_missing_labels_are_empty(tmp_path: Path, cmu_dir: Path) -> None:
    copy = tmp_path / "009_01.bvh"
    copy.write_bytes((cmu_dir / "002_03.bvh").read_bytes())
    assert load_labels(copy).description == ""
    (tmp_path / "walk.json").write_text("{not json")
    assert load_labels(tmp_path / "walk.bvh").content == ""
    assert load_clip(copy).labels.text() == ""


def test_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundled = bundled_data_dir()
    names = [p.name for p in list_bvh(bundled)]
    assert names == sorted(names) and len(names) == 16
    assert sum(p.stat().st_size for p in list_bvh(bundled)) < 10_000_000
    readme = (bundled / "cmu" / "README.md").read_text()
    assert "mocap.cs.cmu.edu" in readme and "NSF EIA-0196217" in readme
    assert all(load_labels(p).description for p in list_bvh(bundled))
    assert source_name(bundled / "cmu" / "002_03.bvh", bundled) == "cmu"

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(EdgeSDKError, match=ENV_VAR):
        default_data_dir()
    monkeypatch.delenv(ENV_VAR)
    assert default_data_dir().is_dir()
    with pytest.raises(EdgeSDKError, match="not found"):
        list_bvh(tmp_path / "nope")

    clips = load_dir(bundled, fps=30.0, limit=2)
    assert [c.name for c in clips] == ["002_01", "002_02"] and all(c.fps == 30.0 for c in clips)


def test_resampling_is_bounded_before_allocating(
    cmu_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgesdk.data.bvh as bvh

    path = cmu_dir / "002_03.bvh"  # 86 frames at 60 Hz
    monkeypatch.setattr(bvh, "MAX_IMPORT_BYTES", 4_000_000)
    assert load_clip(path, fps=30.0).num_frames == 43
    with pytest.raises(EdgeSDKError, match=r"002_03\.bvh: resampled to 1000 Hz, 1434 frames x 22"):
        load_clip(path, fps=1000.0)

"""Training windows: shapes, determinism, device subsets and events, splits by file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from edgesdk.body.rotations import rot6d_to_matrix
from edgesdk.data.clip import Clip, Labels
from edgesdk.data.kinematics import tpose_clip
from edgesdk.data.windows import (
    WindowConfig,
    WindowDataset,
    foot_contact,
    slot_subsets,
    split_by_file,
)
from edgesdk.errors import EdgeSDKError


def _walking_clip(name: str, frames: int = 150) -> Clip:
    """A T-pose body gliding forward and turning: enough motion for non-trivial IMU."""
    base = tpose_clip(num_frames=frames, fps=30.0)
    t = np.arange(frames) / 30.0
    yaw = 0.5 * np.sin(t)
    c, s = np.cos(yaw), np.sin(yaw)
    R_yaw = np.zeros((frames, 3, 3))
    R_yaw[:, 0, 0], R_yaw[:, 0, 2], R_yaw[:, 1, 1] = c, s, 1.0
    R_yaw[:, 2, 0], R_yaw[:, 2, 2] = -s, c
    root = base.global_pos_m[:, :1]
    pos = np.einsum("tij,tkj->tki", R_yaw, base.global_pos_m - root) + root
    pos[..., 2] += 0.8 * t[:, None]
    R = np.einsum("tij,tkjl->tkil", R_yaw, base.R_world_joint)
    return base.replace(
        name=name,
        source=f"/data/{name}.bvh",
        R_world_joint=R.astype(np.float32),
        global_pos_m=pos.astype(np.float32),
        labels=Labels(content="walk", style="active"),
    )


@pytest.fixture(scope="module")
def dataset() -> WindowDataset:
    clips = [_walking_clip(f"clip{i}") for i in range(3)]
    return WindowDataset(clips, WindowConfig(window=60, stride=30, head_hr_factor=8), train=True)


def test_shapes_and_layout(dataset: WindowDataset) -> None:
    assert len(dataset) == 3 * 4
    item = dataset[0]
    assert item["imu"].shape == (60, 5, 9) and item["mask"].shape == (60, 5)
    assert item["head"].shape == (60, 9) and item["head_imu_hr"].shape == (480, 12)
    assert item["R_world_joint_6d"].shape == (60, 22, 6) and item["pos_m"].shape == (60, 22, 3)
    assert item["contact"].shape == (60, 2) and item["text"] == "active walk"
    # Absent slots are zero; present ones carry a valid rotation.
    absent = item["mask"] == 0
    assert (item["imu"][absent] == 0).all()
    present = item["imu"][~absent][:, 3:]
    R = rot6d_to_matrix(present)
    assert torch.allclose(torch.det(R), torch.ones(len(R)), atol=1e-4)
    # The pelvis starts above the origin.
    assert torch.allclose(item["pos_m"][0, 0, [0, 2]], torch.zeros(2), atol=1e-5)


def test_deterministic_per_seed_epoch_and_index(dataset: WindowDataset) -> None:
    a, b = dataset[5], dataset[5]
    assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))
    dataset.set_epoch(1)
    c = dataset[5]
    dataset.set_epoch(0)
    assert not torch.equal(a["imu"], c["imu"])


def test_device_subsets_cover_all_and_never_exceed_three(dataset: WindowDataset) -> None:
    steady: set[tuple[int, ...]] = set()
    events = 0
    for i in range(600):
        mask = dataset.presence_mask(np.random.default_rng(i))
        per_frame = mask.sum(1)
        assert per_frame.min() >= 1 and per_frame.max() <= 3
        ever = tuple(int(s) for s in np.flatnonzero(mask.any(0)))
        always = tuple(int(s) for s in np.flatnonzero(mask.all(0)))
        if ever == always:
            steady.add(ever)
        else:
            events += 1
            assert len(ever) == len(always) + 1  # exactly one device joins or leaves
    assert steady == set(slot_subsets(1, 3))  # all 5 singles, 10 pairs, 10 triples
    assert len(slot_subsets(1, 3)) == 25
    assert 0.15 < events / 600 < 0.35  # p_device_event = 0.25


def test_fixed_and_required_slots(dataset: WindowDataset) -> None:
    fixed = dataset.with_config(dataclasses.replace(dataset.config, fixed_slots=(1, 4)))
    assert fixed[0]["mask"].sum(0).tolist() == [0.0, 60.0, 0.0, 0.0, 60.0]
    assert fixed.features is dataset.features
    required = dataset.with_config(dataclasses.replace(dataset.config, require_slots=(0,)))
    for i in range(len(required)):
        mask = required[i]["mask"]
        assert mask[:, 0].all()
        # Required slots count toward max_active: never more than 3 devices at once.
        assert mask.sum(1).max() <= required.config.max_active
    too_many = dataclasses.replace(dataset.config, require_slots=(0, 1), max_active=1)
    with pytest.raises(EdgeSDKError, match="do not fit"):
        dataset.with_config(too_many)
    with pytest.raises(EdgeSDKError, match="cannot change"):
        dataset.with_config(dataclasses.replace(dataset.config, window=30))


def test_bad_config_and_rate_mismatch() -> None:
    with pytest.raises(EdgeSDKError, match="active slots"):
        WindowConfig(max_active=6)
    with pytest.raises(EdgeSDKError, match="slot index 7"):
        WindowConfig(fixed_slots=(7,))
    with pytest.raises(EdgeSDKError, match=r"fps 60\.0 != 30\.0"):
        WindowDataset([tpose_clip(num_frames=90, fps=60.0)], WindowConfig(), train=True)


def test_short_clips_are_skipped_and_named() -> None:
    ds = WindowDataset([tpose_clip(num_frames=20)], WindowConfig(window=60), train=False)
    assert len(ds) == 0 and len(ds.skipped) == 1


def test_split_by_file_is_stable_and_disjoint() -> None:
    clips = [_walking_clip(f"c{i}", frames=2) for i in range(200)]
    train, val, test = split_by_file(clips)
    again = split_by_file(list(reversed(clips)))
    assert {c.name for c in test} == {c.name for c in again[2]}
    names = [c.name for part in (train, val, test) for c in part]
    assert sorted(names) == sorted(c.name for c in clips)
    assert 10 < len(test) < 50 and 5 < len(val) < 40


def test_foot_contact_standing_vs_lifted() -> None:
    pos = np.zeros((10, 22, 3))
    pos[:, 11, 1] = 0.3  # right foot lifted
    contact = foot_contact(pos, 30.0)
    assert contact[:, 0].all() and not contact[:, 1].any()


def test_small_sets_still_get_held_out_files() -> None:
    clips = [_walking_clip(f"small{i}", frames=2) for i in range(4)]
    train, val, test = split_by_file(clips)
    assert len(val) >= 1 and len(test) >= 1 and len(train) >= 1
    assert split_by_file(clips)[2][0].name == test[0].name


def test_privileged_windows_add_clean_inputs_and_change_nothing_else() -> None:
    """``privileged`` adds the same window's clean inputs (same devices present, ideal
    kinematics, mocap head) and leaves every other key as it was."""
    clips = [_walking_clip(f"clip{i}") for i in range(2)]
    cfg = WindowConfig(head_hr_factor=8, devices="realistic", head="slam", fixed_slots=(0, 1, 3))
    plain = WindowDataset(clips, cfg, train=True)
    both = WindowDataset(clips, dataclasses.replace(cfg, privileged=True), train=True)
    clean = WindowDataset(clips, dataclasses.replace(cfg, devices="clean", head="mocap"), True)
    for i in (0, 3):
        a, b, c = plain[i], both[i], clean[i]
        assert "clean_imu" not in a
        for key, value in a.items():
            assert value == b[key] if isinstance(value, str) else torch.equal(value, b[key]), key
        assert b["clean_imu"].shape == a["imu"].shape
        assert b["clean_head_imu_hr"].shape == a["head_imu_hr"].shape
        on = b["mask"] > 0
        assert torch.equal(b["clean_imu"].abs().sum(-1) > 0, on)
        # the clean inputs are the clean protocol's (its own noise draw): close to it, while
        # the realistic ones are far from it
        R_clean, R_priv = (rot6d_to_matrix(x[..., 3:9][on]) for x in (c["imu"], b["clean_imu"]))
        R_real = rot6d_to_matrix(a["imu"][..., 3:9][on])
        off_priv = (R_priv - R_clean).abs().amax().item()
        off_real = (R_real - R_clean).abs().amax().item()
        assert off_priv < 0.2 < off_real
        head_err = (b["clean_head"][:, :3] - b["pos_m"][:, 15]).norm(dim=-1).max().item()
        assert head_err < 0.06

"""AMASS .npz reading on synthetic files in AMASS's format, with and without a body model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.skeleton import FOOT_JOINTS, rest_positions
from edgesdk.body.smpl import SMPLBody, write_synthetic_model
from edgesdk.data.amass import R_YUP_ZUP, load_amass
from edgesdk.errors import EdgeSDKError

STANDING_AA = np.array([math.pi / 2, 0.0, 0.0])  # SMPL's Y-up body stood up in AMASS's Z-up world


def _amass_arrays(T: int = 40, fps: float = 120.0, seed: int = 0) -> dict[str, Any]:
    """A subject walking along +x (Z up) at 1 m/s while swinging its limbs."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    poses = np.zeros((T, 156))
    poses[:, :3] = STANDING_AA
    poses[:, 3:66] = 0.3 * np.sin(2 * np.pi * t[:, None] + rng.uniform(0, 6, 63))
    poses[:, 66:] = 0.1 * rng.standard_normal((T, 90))  # hands: irrelevant to the 22 joints
    trans = np.stack([1.0 * t, 0.2 * np.ones(T), 0.9 + 0.02 * np.sin(8 * t)], axis=1)
    return {
        "poses": poses,
        "trans": trans,
        "betas": rng.standard_normal(16),
        "mocap_framerate": np.array(fps),
        "gender": np.array("female"),
        "dmpls": np.zeros((T, 8)),
    }


def _write(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def test_standing_frame_without_a_model_is_the_template_on_the_floor(tmp_path: Path) -> None:
    arrays = _amass_arrays(T=5)
    arrays["poses"][:, 3:] = 0.0
    arrays["trans"][:] = [0.5, -1.0, 0.9]
    clip = load_amass(_write(tmp_path / "stand_poses.npz", **arrays))
    assert clip.name == "stand_poses" and clip.rig == "smpl-template" and clip.fps == 120.0
    assert clip.labels.text() == "" and clip.source.endswith("stand_poses.npz")
    assert clip.R_world_joint.shape == (5, 22, 3, 3) and clip.global_pos_m.dtype == np.float32
    # Y-up conversion of the standing root orientation gives the rest orientation everywhere.
    assert np.allclose(clip.R_world_joint, np.eye(3), atol=1e-6)
    # Joint positions: the template, feet on the floor, moved horizontally by the converted trans.
    rest = rest_positions().numpy()
    shift = clip.global_pos_m[0] - rest
    assert np.allclose(shift, shift[0], atol=1e-5)
    assert abs(shift[0, 1]) < 1e-5  # soles on the floor, as in the template
    assert np.allclose(clip.offsets_m[0], rest[0], atol=1e-6)
    # Stature scaling without a model.
    tall = load_amass(tmp_path / "stand_poses.npz", height_m=1.87)
    assert np.isclose(tall.global_pos_m[0, 15, 1], rest[15, 1] * 1.1, rtol=1e-4)


def test_z_up_to_y_up_and_floor(tmp_path: Path) -> None:
    clip = load_amass(_write(tmp_path / "walk_poses.npz", **_amass_arrays()))
    pelvis = clip.global_pos_m[:, 0]
    # AMASS +x stays +x; AMASS z (up) becomes y; AMASS +y becomes -z.
    assert np.allclose(np.diff(pelvis[:, 0]), 1.0 / 120.0, atol=1e-5)
    assert np.allclose(np.diff(pelvis[:, 2]), 0.0, atol=1e-5)
    trans_z = _amass_arrays()["trans"][:, 2]
    assert np.allclose(np.diff(pelvis[:, 1]), np.diff(trans_z), atol=1e-5)
    # The lowest foot joint over the clip sits at its rest clearance above the floor.
    clearance = rest_positions().numpy()[list(FOOT_JOINTS), 1].min()
    assert np.isclose(clip.global_pos_m[:, list(FOOT_JOINTS), 1].min(), clearance, atol=1e-5)
    assert (clip.global_pos_m[..., 1] > -1e-4).all()
    # Global rotations and positions agree with FK of the clip's own offsets.
    assert np.allclose(clip.fk_positions(), clip.global_pos_m, atol=1e-4)


def test_with_a_smplh_model_joints_are_the_shaped_models(tmp_path: Path) -> None:
    write_synthetic_model(tmp_path / "models", "smplh", gender="female", num_betas=16)
    arrays = _amass_arrays(T=12)
    clip = load_amass(
        _write(tmp_path / "a_poses.npz", **arrays), body_model_path=tmp_path / "models"
    )
    assert clip.rig == "smplh"

    body = SMPLBody.load(tmp_path / "models", "smplh", "female", dtype=torch.float64)
    posed = body.with_shape(torch.from_numpy(arrays["betas"])).with_pose(
        torch.from_numpy(arrays["poses"][:, 3:66]),
        root_orient=torch.from_numpy(arrays["poses"][:, :3]),
        transl_m=torch.from_numpy(arrays["trans"]),
        hand_pose=torch.from_numpy(arrays["poses"][:, 66:]),
    )
    expected = posed.joints_m.numpy() @ R_YUP_ZUP.T
    offset = clip.global_pos_m - expected  # only the floor shift, the same for every joint
    assert np.allclose(offset, offset[0, 0], atol=1e-5)
    assert abs(offset[0, 0, 0]) < 1e-5 and abs(offset[0, 0, 2]) < 1e-5
    R_expected = R_YUP_ZUP @ posed.R_world_joint.numpy()
    assert np.allclose(clip.R_world_joint, R_expected, atol=1e-5)
    assert np.allclose(clip.fk_positions(), clip.global_pos_m, atol=1e-4)
    # The shaped body differs from the template: bone lengths come from the model.
    template = load_amass(tmp_path / "a_poses.npz")
    assert not np.allclose(template.offsets_m, clip.offsets_m, atol=1e-3)
    # A gender the folder lacks is a clear error naming the path.
    with pytest.raises(EdgeSDKError, match=r"SMPLH_MALE\.pkl or \.npz"):
        load_amass(tmp_path / "a_poses.npz", body_model_path=tmp_path / "models", gender="male")


def test_smplx_files_and_alternative_keys(tmp_path: Path) -> None:
    arrays = _amass_arrays(T=6, fps=60.0)
    T = 6
    poses_165 = np.concatenate([arrays["poses"][:, :66], np.zeros((T, 99))], axis=1)
    smplx_file = dict(arrays, poses=poses_165, mocap_frame_rate=np.array(60.0))
    del smplx_file["mocap_framerate"]
    a = load_amass(_write(tmp_path / "x_stageii.npz", **smplx_file))
    split = {
        "root_orient": arrays["poses"][:, :3],
        "pose_body": arrays["poses"][:, 3:66],
        "trans": arrays["trans"],
        "mocap_frame_rate": np.array(60.0),
        "gender": np.array(b"neutral"),
        "betas": arrays["betas"][:10],
    }
    b = load_amass(_write(tmp_path / "y.npz", **split))
    assert a.fps == b.fps == 60.0
    assert np.allclose(a.global_pos_m, b.global_pos_m, atol=1e-6)
    write_synthetic_model(tmp_path / "models", "smplx", gender="neutral")
    c = load_amass(tmp_path / "y.npz", body_model_path=tmp_path / "models")
    assert c.rig == "smplx" and c.num_frames == T


def test_resampling(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.npz", **_amass_arrays(T=40, fps=120.0))
    full = load_amass(path)
    assert load_amass(path, fps=120.0).num_frames == 40
    clip = load_amass(path, fps=30.0)
    assert clip.fps == 30.0 and clip.num_frames == 10
    assert np.allclose(clip.global_pos_m, full.global_pos_m[::4], atol=1e-5)
    odd = load_amass(path, fps=50.0)  # not a whole factor: interpolated
    assert odd.fps == 50.0 and odd.num_frames == 17  # floor(39 / 2.4) + 1
    assert np.allclose(odd.global_pos_m[5], full.global_pos_m[12], atol=1e-5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trans": None}, r"missing key 'trans' \(found: betas, .*poses"),
        ({"poses": np.zeros((10, 20))}, r"poses has shape \(10, 20\), expected \(T, 156\)"),
        ({"poses": np.zeros(156)}, "poses has shape"),
        ({"trans": np.zeros((39, 3))}, r"trans has shape \(39, 3\), expected \(40, 3\)"),
        ({"mocap_framerate": None}, "missing key 'mocap_framerate' \\(or 'mocap_frame_rate'\\)"),
        ({"mocap_framerate": np.array(0.0)}, "mocap_framerate must be one positive number"),
        ({"poses": np.full((40, 156), np.nan)}, "NaN or inf in 'poses'"),
        ({"trans": np.full((40, 3), np.inf)}, "NaN or inf in 'trans'"),
        ({"poses": np.zeros((0, 156)), "trans": np.zeros((0, 3))}, "zero frames"),
        ({"trans": np.array([["a", "b", "c"]] * 40)}, "'trans' is not numeric"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    arrays = _amass_arrays()
    for key, value in change.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(EdgeSDKError, match=f"bad.npz: {message}"):
        load_amass(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError, match=r"nope\.npz: no such file"):
        load_amass(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"definitely not a zip archive")
    with pytest.raises(EdgeSDKError, match=r"junk\.npz: not an \.npz archive"):
        load_amass(junk)
    shape_only = _write(tmp_path / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    with pytest.raises(EdgeSDKError, match="missing key 'poses' \\(found: betas, gender\\)"):
        load_amass(shape_only)
    arrays = _amass_arrays()
    objects = np.array([{"x": 1}], dtype=object)
    np.savez(tmp_path / "obj.npz", **dict(arrays, gender=objects))
    np.savez(tmp_path / "extra.npz", **dict(arrays, labels_obs=objects))
    assert load_amass(tmp_path / "extra.npz").num_frames == 40  # unused object arrays are skipped
    with pytest.raises(EdgeSDKError, match=r"obj\.npz: 'gender' holds Python objects"):
        load_amass(tmp_path / "obj.npz")
    no_betas = dict(arrays)
    del no_betas["betas"]
    write_synthetic_model(tmp_path / "m", "smplh", gender="female")
    with pytest.raises(EdgeSDKError, match="missing key 'betas'"):
        load_amass(_write(tmp_path / "nb.npz", **no_betas), body_model_path=tmp_path / "m")
    assert load_amass(tmp_path / "nb.npz").num_frames == 40  # betas are not needed without one


def test_standing_root_orientation_is_the_documented_conversion() -> None:
    R = R_YUP_ZUP @ axis_angle_to_matrix(torch.from_numpy(STANDING_AA)).numpy()
    assert np.allclose(R, np.eye(3), atol=1e-12)
    assert np.allclose(R_YUP_ZUP @ np.array([1.0, 2.0, 3.0]), [1.0, 3.0, -2.0])

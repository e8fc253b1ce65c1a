"""SMPL / SMPL+H / SMPL-X through smplx, on small synthetic model files written by the test.

The real model files are registration-gated; these are random but valid files in smplx's exact
format, so the comparison runs smplx's own loader and forward pass against edgesdk's FK.
"""

from __future__ import annotations

import ast
import inspect
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch

from edgesdk.body.fk import forward_kinematics
from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.smpl import (
    NUM_MODEL_JOINTS,
    SMPLBody,
    find_model_file,
    write_synthetic_model,
)
from edgesdk.errors import EdgeSDKError

MODEL_TYPES = ("smpl", "smplh", "smplx")


def _smplx_reference(model_dir: Path, model_type: str, num_betas: int) -> torch.nn.Module:
    """smplx's own module for the synthetic file, made to run on a tiny mesh."""
    kwargs = {"use_pca": False, "flat_hand_mean": True} if model_type != "smpl" else {}
    model = smplx.create(
        str(model_dir),
        model_type=model_type,
        gender="neutral",
        num_betas=num_betas,
        ext="pkl" if model_type == "smpl" else "npz",
        batch_size=4,
        **kwargs,
    )
    # The extra keypoints index vertices of the real meshes (up to ~10k): point them at vertex 0.
    model.vertex_joint_selector.extra_joints_idxs.zero_()
    return model


def _random_pose(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    root_aa = 0.8 * torch.randn(batch, 3, generator=g)
    body_aa = 0.5 * torch.randn(batch, 21, 3, generator=g)
    transl = torch.randn(batch, 3, generator=g)
    return root_aa, body_aa, transl


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_joints_match_smplx_forward_and_edgesdk_fk(tmp_path: Path, model_type: str) -> None:
    write_synthetic_model(tmp_path, model_type, num_betas=10, seed=3)
    body = SMPLBody.load(tmp_path, model_type, allow_pickle=model_type == "smpl")
    assert body.num_joints == NUM_MODEL_JOINTS[model_type] and body.num_betas == 10
    betas = 2.0 * torch.randn(10, generator=torch.Generator().manual_seed(7))
    root_aa, body_aa, transl = _random_pose(4, seed=11)

    shaped = body.with_shape(betas)
    posed = shaped.with_pose(body_aa, root_orient=root_aa, transl_m=transl)

    reference = _smplx_reference(tmp_path, model_type, 10)
    extra_body = 2 if model_type == "smpl" else 0  # SMPL's body_pose also holds the two hands
    ref = reference(
        betas=betas.expand(4, 10),
        global_orient=root_aa,
        body_pose=torch.cat([body_aa.reshape(4, 63), torch.zeros(4, 3 * extra_body)], dim=1),
        transl=transl,
    )
    J = body.num_joints
    assert torch.allclose(posed.joints_all_m, ref.joints[:, :J], atol=1e-5)
    assert torch.allclose(posed.vertices_m(), ref.vertices, atol=1e-5)

    # edgesdk's FK with the shaped offsets reproduces smplx's first 22 joints.
    local = torch.cat([axis_angle_to_matrix(root_aa)[:, None], axis_angle_to_matrix(body_aa)], 1)
    offsets = shaped.offsets_m()
    R_world_joint, pos_m = forward_kinematics(local, offsets, offsets[0] + transl)
    assert torch.allclose(pos_m, ref.joints[:, :22], atol=1e-5)
    assert torch.allclose(R_world_joint, posed.R_world_joint, atol=1e-6)
    assert torch.allclose(posed.joints_m, pos_m, atol=1e-5)


def test_rotation_matrices_and_flat_axis_angle_agree(tmp_path: Path) -> None:
    shaped = SMPLBody.load(write_synthetic_model(tmp_path, "smplh"), "smplh").with_shape()
    root_aa, body_aa, transl = _random_pose(2, seed=5)
    a = shaped.with_pose(body_aa.reshape(2, 63), root_orient=root_aa, transl_m=transl)
    b = shaped.with_pose(
        axis_angle_to_matrix(body_aa), R_world_root=axis_angle_to_matrix(root_aa), transl_m=transl
    )
    assert torch.allclose(a.joints_all_m, b.joints_all_m, atol=1e-6)
    # Broadcasting: one pose, three shapes.
    body = shaped.body
    three = body.with_shape(torch.randn(3, 10)).with_pose(body_aa[0], root_orient=root_aa[0])
    assert three.joints_m.shape == (3, 22, 3) and three.vertices_m().shape == (3, 312, 3)
    with pytest.raises(ValueError, match="not both"):
        shaped.with_pose(body_aa, R_world_root=torch.eye(3), root_orient=torch.zeros(3))
    with pytest.raises(ValueError, match="body_pose must be"):
        shaped.with_pose(torch.zeros(20, 3))


def test_hand_pose_moves_fingers_but_not_the_body_joints(tmp_path: Path) -> None:
    for model_type in ("smplh", "smplx"):
        shaped = SMPLBody.load(write_synthetic_model(tmp_path, model_type), model_type).with_shape()
        flat = shaped.with_pose(torch.zeros(21, 3))
        curled = shaped.with_pose(torch.zeros(21, 3), hand_pose=0.5 * torch.ones(90))
        assert torch.allclose(flat.joints_m, curled.joints_m)
        assert not torch.allclose(flat.joints_all_m, curled.joints_all_m)
    smpl = SMPLBody.load(write_synthetic_model(tmp_path, "smpl"), allow_pickle=True).with_shape()
    with pytest.raises(ValueError, match="SMPL\\+H or SMPL-X"):
        smpl.with_pose(torch.zeros(21, 3), hand_pose=torch.zeros(90))


def test_shape_changes_move_the_joints(tmp_path: Path) -> None:
    body = SMPLBody.load(write_synthetic_model(tmp_path, "smpl"), allow_pickle=True)
    mean = body.with_shape()
    tall = body.with_shape(torch.tensor([3.0, -2.0]))  # fewer betas than the model: zero-padded
    assert tall.betas.shape == (10,)
    moved_mm = (tall.rest_joints_m - mean.rest_joints_m).norm(dim=-1) * 1000
    assert moved_mm.mean() > 5.0
    assert not torch.allclose(tall.offsets_m(), mean.offsets_m())
    # The mean shape's rest joints are the synthetic template's, exactly (regressor averages).
    data = pickle.loads(find_model_file(tmp_path, "smpl").read_bytes())
    assert np.allclose(mean.joints_zero_m.numpy(), data["J"], atol=1e-6)
    with pytest.raises(ValueError, match="betas"):
        body.with_shape(torch.zeros(11))


def test_more_betas_than_smplx_keeps(tmp_path: Path) -> None:
    # smplx caps SMPL / SMPL+H at 10 betas; AMASS's SMPL+H files have 16 and use them all.
    write_synthetic_model(tmp_path, "smplh", num_betas=16)
    body = SMPLBody.load(tmp_path, "smplh")
    assert body.num_betas == 16
    assert SMPLBody.load(tmp_path, "smplh", num_betas=12).num_betas == 12
    with np.load(find_model_file(tmp_path, "smplh")) as f:
        v_shaped = f["v_template"] + f["shapedirs"] @ np.arange(16.0) / 16.0
        expected = f["J_regressor"] @ v_shaped
    shaped = body.with_shape(torch.arange(16.0) / 16.0)
    assert np.allclose(shaped.joints_zero_m.numpy(), expected, atol=1e-5)


def test_file_layouts_and_formats(tmp_path: Path) -> None:
    # smplx.create's folder layout, the file itself, npz for SMPL, and AMASS's <gender>/model.npz.
    smpl_npz = write_synthetic_model(tmp_path / "a", "smpl", ext="npz")
    assert SMPLBody.load(tmp_path / "a", "smpl").source == str(smpl_npz)
    assert SMPLBody.load(smpl_npz).num_joints == 24
    amass_dir = tmp_path / "b" / "smplh" / "male"
    amass_dir.mkdir(parents=True)
    write_synthetic_model(tmp_path / "c", "smplh", gender="male").rename(amass_dir / "model.npz")
    body = SMPLBody.load(tmp_path / "b", "smplh", gender="MALE")
    assert body.gender == "male" and body.source.endswith("male/model.npz")
    smplx_pkl = write_synthetic_model(tmp_path / "d", "smplx", gender="female", ext="pkl")
    assert SMPLBody.load(smplx_pkl, "smplx", "female", allow_pickle=True).num_joints == 55


def test_bad_paths_and_files_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError) as info:
        SMPLBody.load(tmp_path, "smpl")
    message = str(info.value)
    assert "\n" not in message
    assert f"no SMPL model file found at {tmp_path}" in message
    assert f"{tmp_path}/smpl/SMPL_NEUTRAL.pkl or .npz" in message
    assert "smpl.is.tue.mpg.de" in message
    with pytest.raises(EdgeSDKError, match=r"SMPL-X model file found at .*smpl-x.is\.tue\.mpg\.de"):
        SMPLBody.load(tmp_path / "missing", "smplx", gender="female")
    with pytest.raises(EdgeSDKError, match="model_type must be one of"):
        SMPLBody.load(tmp_path, "mano")
    with pytest.raises(EdgeSDKError, match="gender must be one of"):
        SMPLBody.load(tmp_path, "smpl", gender="other")

    bad = tmp_path / "smplh" / "SMPLH_NEUTRAL.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not a zip file")
    with pytest.raises(EdgeSDKError, match=r"SMPLH_NEUTRAL\.npz: cannot read the model file"):
        SMPLBody.load(tmp_path, "smplh")
    np.savez(bad, v_template=np.zeros((6, 3)))
    with pytest.raises(EdgeSDKError, match=r"not a SMPL\+H model file \(missing \['shapedirs'"):
        SMPLBody.load(tmp_path, "smplh")
    # A skeleton that is not SMPL's: two joints swapped.
    path = write_synthetic_model(tmp_path / "e", "smplh")
    with np.load(path) as f:
        data = dict(f)
    data["kintree_table"][0, 4] = 3
    np.savez(path, **data)
    with pytest.raises(EdgeSDKError, match="are not the SMPL layout"):
        SMPLBody.load(path, "smplh")
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    with pytest.raises(EdgeSDKError, match=r"must be \.pkl or \.npz"):
        SMPLBody.load(txt)


def test_smplx_is_imported_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesdk.body.smpl
    import edgesdk.data.amass

    for module in (edgesdk.body.smpl, edgesdk.data.amass):
        tree = ast.parse(inspect.getsource(module))
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in top_level if isinstance(n, ast.ImportFrom)]
        assert not [name for name in names if name.startswith("smplx")], module.__name__
    write_synthetic_model(tmp_path, "smpl")
    monkeypatch.setitem(sys.modules, "smplx", None)  # as if it were not installed
    with pytest.raises(EdgeSDKError, match="needs the smplx package"):
        SMPLBody.load(tmp_path)


class _Payload:
    """Unpickling this creates a folder: the harmless stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def test_pkl_needs_an_explicit_opt_in_and_is_not_read_without_it(tmp_path: Path) -> None:
    path = write_synthetic_model(tmp_path, "smpl")  # a .pkl, like the official SMPL release
    with pytest.raises(EdgeSDKError) as info:
        SMPLBody.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "pickle" in message and "runs any code" in message and "allow_pickle=True" in message
    ran = tmp_path / "ran"
    path.write_bytes(pickle.dumps(_Payload(ran)))
    with pytest.raises(EdgeSDKError, match="allow_pickle=True"):
        SMPLBody.load(path)
    assert not ran.exists()
    smplx_pkl = write_synthetic_model(tmp_path / "x", "smplx", ext="pkl")
    with pytest.raises(EdgeSDKError, match="allow_pickle=True"):
        SMPLBody.load(smplx_pkl, "smplx")


@pytest.mark.parametrize("model_type", ["smplh", "smplx"])
def test_npz_is_read_without_pickle(tmp_path: Path, model_type: str) -> None:
    """An object entry (SMPL-X files have joint2num) is skipped, never unpickled; this also
    covers smplx.SMPLX, which would np.load(allow_pickle=True) the file itself."""
    path = write_synthetic_model(tmp_path, model_type)
    ran = tmp_path / "ran"
    with np.load(path) as f:
        data = dict(f)
    np.savez(path, **data, joint2num=np.array([_Payload(ran)], dtype=object))
    body = SMPLBody.load(path, model_type)
    assert body.num_joints == NUM_MODEL_JOINTS[model_type]
    assert not ran.exists()

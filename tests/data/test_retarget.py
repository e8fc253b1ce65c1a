"""Retargeting: rig detection, axes and units, FK fidelity per source, SMPL conventions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edgesdk.body.rotations import matrix_to_axis_angle
from edgesdk.body.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, template_offsets
from edgesdk.data.bvh import load_clip, most_upright_frame, read_bvh, write_bvh
from edgesdk.data.clip import Clip
from edgesdk.data.retarget import (
    CALIBRATED_JOINTS,
    TO_Y_UP,
    calibrate_rest_deg,
    detect_rig,
    detect_unit_scale,
    detect_up_axis,
)
from edgesdk.data.rigs import MIXAMO, OPTIONAL_JOINTS, RIGS
from edgesdk.errors import EdgeSDKError
from tests.data.conftest import SOURCES, sample_files

FK_TOLERANCE_M = 0.01
J = JOINT_INDEX


def test_tables_name_every_required_joint_once() -> None:
    for table in RIGS.values():
        assert set(table.joints) <= set(JOINT_NAMES)
        assert set(JOINT_NAMES) - set(table.joints) <= OPTIONAL_JOINTS
        assert len(set(table.joints.values())) == len(table.joints)
        assert table.rest_deg is None or set(table.rest_deg) <= set(table.joints)


def test_detects_rigs_by_name_with_or_without_namespace() -> None:
    for name, table in RIGS.items():
        names = ["root", *table.joints.values(), "finger"]
        rig, index = detect_rig(names)
        assert rig.name == name
        assert all(names[index[J[t]]] == s for t, s in table.joints.items())
    prefixed = ["mixamorig:" + n for n in MIXAMO.joints.values()]
    assert detect_rig(prefixed)[0].name == "mixamo"
    # A rig lacking an optional joint still matches; the joint is left to interpolation.
    no_spine2 = [n for n in MIXAMO.joints.values() if n != "Spine1"]
    rig, index = detect_rig(no_spine2)
    assert rig.name == "mixamo" and J["spine2"] not in index
    with pytest.raises(EdgeSDKError, match=r"unknown skeleton.*closest: mixamo"):
        detect_rig(["Hips", "Spine", "LeftArm"], "x.bvh")


def test_detects_up_axis_and_unit() -> None:
    assert detect_up_axis(torch.tensor([[0.0, 0.6, 0.1]])) == "y"
    assert detect_up_axis(torch.tensor([[0.0, -0.1, 0.6]])) == "z"
    assert detect_unit_scale(150.0) == 0.01 and detect_unit_scale(1.5) == 1.0
    assert detect_unit_scale(1500.0) == 0.001
    with pytest.raises(EdgeSDKError, match="unit_scale"):
        detect_unit_scale(10.0)
    # Z-up (x, y, z) -> Y-up (x, z, -y), a proper rotation.
    A = TO_Y_UP["z"]
    assert torch.equal(A @ torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
                       torch.tensor([1.0, 3.0, -2.0], dtype=torch.float64))  # fmt: skip
    assert math.isclose(float(torch.det(A)), 1.0)


def _mapped_fk_error_m(clip: Clip) -> float:
    mapped = [j for j in range(22) if clip.mapped[j]]
    return float(np.abs(clip.fk_positions() - clip.global_pos_m)[:, mapped].max())


def _check_positions_are_the_sources(clip: Clip, path: Path, up: str) -> None:
    """The clip's mapped joints are the BVH's own joints (centimetres, ``up`` axis) in metres,
    Y up, up to one vertical shift (the floor)."""
    bvh = read_bvh(path)
    _, src_of = detect_rig(bvh.names)
    _, pos = bvh.fk(list(src_of.values()))
    src = torch.stack([pos[:, src_of[j]] for j in sorted(src_of)], 1) @ TO_Y_UP[up].T * 0.01
    diff = clip.global_pos_m[:, sorted(src_of)] - src.numpy()
    assert np.abs(diff[..., [0, 2]]).max() < 1e-4
    assert np.ptp(diff[..., 1]) < 1e-4  # one vertical shift: the floor


def _check_smpl_conventions(clip: Clip) -> None:
    R, P = clip.R_world_joint.astype(np.float64), clip.global_pos_m.astype(np.float64)
    t = most_upright_frame(clip.global_pos_m)
    R_pelvis = R[t, 0]

    def in_pelvis(v: np.ndarray) -> np.ndarray:
        return R_pelvis.T @ v

    assert in_pelvis(P[t, J["left_hip"]] - P[t, 0])[0] > 0.03  # left is +X
    assert in_pelvis(P[t, J["left_shoulder"]] - P[t, 0])[0] > 0.05
    assert P[t, J["head"], 1] > P[t, 0, 1] + 0.3  # head above the pelvis
    # The left elbow on the body's left of the right one most of the time (wrists may cross).
    across = np.einsum("tji,tj->ti", R[:, 0], P[:, J["left_elbow"]] - P[:, J["right_elbow"]])
    assert np.median(across[:, 0]) > 0.1
    toes = np.einsum("tji,tj->ti", R[:, 0], P[:, J["left_foot"]] - P[:, J["left_ankle"]])
    assert np.median(toes[:, 2]) > 0  # the feet point forward (+Z)
    # Knees flex about +X of the thigh, elbows about -Y / +Y of the upper arm (T-pose, palms
    # down): the normal of the plane the distal bone sweeps in the proximal joint's frame,
    # wherever the joint is bent by more than 30 degrees.
    for prox, dist, end, axis in (
        ("left_hip", "left_knee", "left_ankle", (1, 0, 0)),
        ("right_hip", "right_knee", "right_ankle", (1, 0, 0)),
        ("left_shoulder", "left_elbow", "left_wrist", (0, -1, 0)),
        ("right_shoulder", "right_elbow", "right_wrist", (0, 1, 0)),
    ):
        bone = clip.offsets_m[J[dist]] / np.linalg.norm(clip.offsets_m[J[dist]])
        v = np.einsum("tji,tj->ti", R[:, J[prox]], P[:, J[end]] - P[:, J[dist]])
        n = np.cross(bone, v / np.linalg.norm(v, axis=-1, keepdims=True))
        bent = np.linalg.norm(n, axis=-1) > math.sin(math.radians(30))
        if bent.sum() >= 5:
            hinge = n[bent].sum(0) / np.linalg.norm(n[bent].sum(0))
            assert hinge @ np.array(axis) > 0.9, (dist, hinge)


@pytest.mark.parametrize("source", SOURCES)
def test_fk_reproduces_source_positions(mocap_dir: Path, source: str) -> None:
    errors = []
    for path in sample_files(mocap_dir, source, 6):
        clip = load_clip(path)
        errors.append(_mapped_fk_error_m(clip))
        # CMU's files are Z-up, but their root joint turns them Y-up (-90 deg about X).
        _check_positions_are_the_sources(clip, path, up="y")
        _check_smpl_conventions(clip)
        expected_mapped = 21 if source.startswith("bandai") else 22
        assert sum(clip.mapped) == expected_mapped
    assert max(errors) < FK_TOLERANCE_M, errors


def test_mixamo_bvh_written_here(cmu_dir: Path, tmp_path: Path) -> None:
    """A Mixamo-named, Z-up, centimetre BVH (T-pose zero pose) written from a real clip."""
    clip = load_clip(cmu_dir / "002_02.bvh")
    names = {smpl: "mixamorig:" + src for smpl, src in MIXAMO.joints.items()}
    path = tmp_path / "walk_zup.bvh"
    write_bvh(clip, path, names, up_axis="z", unit_scale=0.01)
    mixamo = load_clip(path)
    assert mixamo.rig == "mixamo" and all(mixamo.mapped)
    assert _mapped_fk_error_m(mixamo) < FK_TOLERANCE_M
    _check_positions_are_the_sources(mixamo, path, up="z")
    _check_smpl_conventions(mixamo)
    np.testing.assert_allclose(mixamo.global_pos_m, clip.fk_positions(), atol=2e-3)
    write_bvh(clip, tmp_path / "plain.bvh", MIXAMO.joints)  # no namespace, Y up
    plain = load_clip(tmp_path / "plain.bvh")
    assert plain.rig == "mixamo"
    np.testing.assert_allclose(plain.global_pos_m, mixamo.global_pos_m, atol=1e-4)

    # Written on SMPL's own rest skeleton, the rotations come back unchanged (C_j = I).
    write_bvh(clip, path, names, up_axis="z", offsets_m=template_offsets(1.8).numpy())
    again = load_clip(path)
    diff = np.swapaxes(clip.R_world_joint, -1, -2) @ again.R_world_joint
    angle = np.linalg.norm(matrix_to_axis_angle(torch.from_numpy(diff).double()).numpy(), axis=-1)
    assert angle.max() < math.radians(0.5)


def test_interpolated_spine_lies_between_its_neighbours(mocap_dir: Path) -> None:
    clip = load_clip(sample_files(mocap_dir, "bandai-namco-1", 1)[0])
    assert not clip.mapped[J["spine2"]] and sum(clip.mapped) == 21
    P = clip.global_pos_m.astype(np.float64)
    a, m, b = P[:, J["spine1"]], P[:, J["spine2"]], P[:, J["spine3"]]
    f = np.linalg.norm(m - a, axis=-1) / np.linalg.norm(b - a, axis=-1)
    assert np.allclose(np.cross(m - a, b - a), 0.0, atol=1e-5) and np.ptp(f) < 1e-4
    # Its rotation is between the neighbours' (slerp) up to the swing onto its bone.
    R = clip.R_world_joint.astype(np.float64)
    for j in (J["spine1"], J["spine3"]):
        rel = np.swapaxes(R[:, J["spine2"]], -1, -2) @ R[:, j]
        angle = np.linalg.norm(matrix_to_axis_angle(torch.from_numpy(rel)).numpy(), axis=-1)
        assert angle.max() < math.radians(60)


def test_offsets_are_per_clip_and_pelvis_row_is_rest_height(cmu_dir: Path) -> None:
    clip = load_clip(cmu_dir / "007_12.bvh")
    assert clip.offsets_m.shape == (22, 3)
    assert 0.8 < clip.offsets_m[0, 1] < 1.2 and clip.offsets_m[0, 0] == 0.0
    lengths = np.linalg.norm(clip.offsets_m[1:], axis=-1)
    assert (lengths > 0.02).all()
    for j in range(1, 22):  # same bone sides as the template
        template = template_offsets()[j].numpy()
        assert float(clip.offsets_m[j] @ template) > 0, JOINT_NAMES[j]
    assert PARENTS[J["head"]] == J["neck"]


def test_floor_is_at_the_feet(cmu_dir: Path) -> None:
    clip = load_clip(cmu_dir / "002_04.bvh")  # jump, balance
    foot_y = clip.global_pos_m[:, [7, 8, 10, 11], 1].min(axis=1)
    assert abs(float(np.percentile(foot_y, 2))) < 1e-6 and foot_y.min() > -0.05


def test_calibration_reproduces_the_cmu_table(cmu_dir: Path) -> None:
    rest = calibrate_rest_deg(read_bvh(p) for p in sorted(cmu_dir.glob("*.bvh")))
    _assert_rest_close(rest, RIGS["cmu-iclone"].rest_deg, tolerance_deg=5.0)


def test_calibration_reproduces_the_bandai_namco_table(mocap_dir: Path) -> None:
    paths = [p for s in SOURCES[:2] for p in sample_files(mocap_dir, s, 25)]
    rest = calibrate_rest_deg(read_bvh(p) for p in paths)
    _assert_rest_close(rest, RIGS["bandai-namco"].rest_deg, tolerance_deg=5.0)


def _assert_rest_close(rest: dict, table: object, tolerance_deg: float) -> None:
    from edgesdk.data.retarget import _euler_xyz_deg

    assert isinstance(table, dict) and set(rest) == set(CALIBRATED_JOINTS)
    for name, angles in rest.items():
        diff = _euler_xyz_deg(angles).T @ _euler_xyz_deg(table[name])
        angle = math.degrees(math.acos(max(-1.0, min(1.0, (float(torch.trace(diff)) - 1) / 2))))
        assert angle < tolerance_deg, (name, angles, table[name])

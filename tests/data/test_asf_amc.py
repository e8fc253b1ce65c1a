"""ASF/AMC import: parsing, Acclaim FK, bad input, retargeting onto the 22 joints, real HDM05."""

from __future__ import annotations

import math
import multiprocessing
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from edgesdk.body.skeleton import (
    FOOT_JOINTS,
    JOINT_INDEX,
    JOINT_NAMES,
    PARENTS,
    template_offsets,
)
from edgesdk.data.asf import example_asf_text, read_asf
from edgesdk.data.asf_amc import (
    amc_fps,
    clip_info,
    example_amc_text,
    find_asf,
    load_clip,
    read_asf_amc,
    write_example_files,
)
from edgesdk.data.bvh import most_upright_frame
from edgesdk.data.clip import Clip
from edgesdk.data.labels import HDM05_DESCRIPTIONS, load_labels
from edgesdk.data.retarget import _euler_xyz_deg, calibrate_rest_deg
from edgesdk.data.rigs import RIGS
from edgesdk.data.sources import (
    bundled_data_dir,
    data_summary,
    list_motion_files,
    load_dir,
    load_motion,
    motion_info,
    skeleton_files,
)
from edgesdk.data.windows import split_by_file
from edgesdk.errors import EdgeSDKError
from tests.data.test_retarget import FK_TOLERANCE_M, _check_smpl_conventions, _mapped_fk_error_m

J = JOINT_INDEX
METRES_PER_UNIT = 0.0254 / 0.45
COLLARS = {"left_collar", "right_collar"}
# Getting down to lie, this performer's left leg passes 11 cm under the floor that the rest of
# the clip's feet define (the knee 17 cm): the recording's, the skeleton is the same as in the
# actor's other clips, whose feet stay within 5 cm of it.
UNDER_THE_FLOOR = {"HDM_dg_lieDownFloor_014_120.amc"}


@pytest.fixture()
def demo(tmp_path: Path) -> tuple[Path, Path]:
    return write_example_files(tmp_path, num_frames=9)


def _amc(folder: Path, text: str, name: str = "demo_squat_120.amc") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _one_frame(**values: str) -> str:
    """A one-frame AMC of the example skeleton: every dof zero except ``values`` (bone -> row)."""
    rows = [line for line in example_amc_text(1).splitlines() if not line[:1].isdigit()]
    out = [":FULLY-SPECIFIED", ":DEGREES", "1"]
    for line in rows[2:]:
        name = line.split()[0]
        n = len(line.split()) - 1
        out.append(f"{name} {values[name]}" if name in values else f"{name} {' '.join('0' * n)}")
    return "\n".join(out) + "\n"


# --- parsing and FK on generated files --------------------------------------------------


def test_parses_skeleton_and_motion(demo: tuple[Path, Path]) -> None:
    asf, amc = demo
    sk = read_asf(asf)
    assert len(sk.bones) == 30 and sk.length_unit == 0.45 and sk.angle_unit == "deg"
    assert sk.root_order == ("tx", "ty", "tz", "rx", "ry", "rz") and sk.root_axis_order == "XYZ"
    femur = sk.bones[sk.bone_index("lfemur")]
    assert femur.dof == ("rx", "ry", "rz") and femur.axis_deg == (0.0, 0.0, 20.0)
    assert femur.limits_deg == ((-180.0, 180.0),) * 3 and math.isclose(femur.length, 7.34)
    assert sk.bones[sk.parents[sk.bone_index("ltibia")]].name == "lfemur"
    assert sk.parents[sk.bone_index("lhipjoint")] == -1  # a child of the root
    assert math.isclose(sk.metres_per_unit, METRES_PER_UNIT)

    motion = read_asf_amc(amc)
    assert motion.num_frames == 9 and motion.fps == 120.0 and find_asf(amc) == asf
    assert motion.names[0] == "root" and len(motion.names) == 31
    tibia = motion.names.index("ltibia")
    assert motion.motion[8, motion.channel_start(tibia)] == 90.0  # the last frame's knee
    assert motion.motion[8, 1] == pytest.approx(16.2 - 4.5)  # root ty
    assert amc_fps("HDM_bd_squat1Reps_001_120.amc") == 120.0 and amc_fps("01_02.amc") == 120.0


def test_fk_follows_the_acclaim_convention(tmp_path: Path) -> None:
    (tmp_path / "demo.asf").write_text(example_asf_text())
    motion = read_asf_amc(_amc(tmp_path, example_amc_text(9)))
    R, pos = motion.fk()
    _, rest = motion.fk(zero_pose=True)
    # Rest pose: each joint sits at its parent's position plus the parent bone's vector.
    offsets = torch.from_numpy(motion.offsets)
    for j, p in enumerate(motion.parents):
        if p >= 0:
            torch.testing.assert_close(rest[0, j], rest[0, p] + offsets[j])
    # Bone lengths stay the ASF's in every frame; rotations stay orthonormal.
    for j, p in enumerate(motion.parents):
        if p >= 0:
            lengths = (pos[:, j] - pos[:, p]).norm(dim=-1)
            assert torch.allclose(lengths, offsets[j].norm().expand_as(lengths), atol=1e-9)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(R.mT @ R, eye.expand_as(R), atol=1e-9)

    # One knee bent by 90 degrees about the tibia's axis (ASF axis 0 0 20: its local X is the
    # knee hinge): the shin turns from down to backward (-Z, the skeleton faces +Z).
    bent = read_asf_amc(_amc(tmp_path, _one_frame(ltibia="90")))
    _, bent_pos = bent.fk()
    knee, ankle = bent.names.index("ltibia"), bent.names.index("lfoot")
    shin = bent_pos[0, ankle] - bent_pos[0, knee]
    shin = shin / shin.norm()
    assert shin[2] < -0.99 and abs(float(shin[1])) < 0.01
    # The root's rotation channels turn the whole body: ry 90 makes it face +X.
    turned = read_asf_amc(_amc(tmp_path, _one_frame(root="0 17 0 0 90 0")))
    _, turned_pos = turned.fk()
    toes = turned_pos[0, turned.names.index("ltoes")] - turned_pos[0, turned.names.index("lfoot")]
    assert toes[0] > 0.9 * toes.norm() and float(turned_pos[0, 0, 1]) == 17.0


def test_rest_pose_maps_to_the_template_orientation(tmp_path: Path) -> None:
    """The ASF's zero pose is SMPL's T-pose: the pelvis frame is the identity (Y up, facing +Z,
    left on +X) and every bone lies along its template direction in its joint's frame."""
    (tmp_path / "demo.asf").write_text(example_asf_text())
    clip = load_clip(_amc(tmp_path, _one_frame()))
    assert clip.rig == "cmu-asf"
    np.testing.assert_allclose(clip.R_world_joint[0, 0], np.eye(3), atol=1e-6)
    P, R = clip.global_pos_m[0].astype(np.float64), clip.R_world_joint[0].astype(np.float64)
    assert P[J["left_hip"], 0] > P[J["right_hip"], 0] and P[J["head"], 1] > P[0, 1] + 0.4
    assert P[J["left_foot"], 2] > P[J["left_ankle"], 2]  # toes forward
    # A bone whose parent is mapped and has one child lies exactly along the template's; the
    # children of the branching joints (their frames are a fit, or the ASF's own for the
    # pelvis) and of the interpolated collars nearly.
    template = template_offsets().numpy()
    for j in range(1, 22):
        p = PARENTS[j]
        bone = R[p].T @ (P[j] - P[p])
        if np.linalg.norm(bone) > 1e-6:  # spine1 sits on the pelvis (the ASF's lower back)
            cos = bone @ template[j] / np.linalg.norm(bone) / np.linalg.norm(template[j])
            exact = clip.mapped[p] and PARENTS.count(p) == 1
            assert cos > (0.999 if exact else 0.9), (JOINT_NAMES[j], cos)
    # The example skeleton stands 1.5 m to its head joint, feet on the floor.
    assert 1.4 < P[J["head"], 1] < 1.7 and abs(P[list(FOOT_JOINTS), 1].min()) < 1e-6


def test_generated_squat_loads_like_a_bvh(demo: tuple[Path, Path]) -> None:
    _, amc = demo
    clip = load_clip(amc)
    assert clip.fps == 120.0 and clip.num_frames == 9 and sum(clip.mapped) == 20
    assert {n for n, m in zip(JOINT_NAMES, clip.mapped, strict=True) if not m} == COLLARS
    assert _mapped_fk_error_m(clip) < 1e-4  # no neck motion here: every mapped bone is rigid
    assert _knee_flexion_deg(clip)[:, -1].min() > 80.0
    resampled = load_motion(amc, fps=30.0)
    assert resampled.fps == 30.0 and resampled.num_frames == 3
    info = clip_info(amc)
    assert info["rig"] == "cmu-asf" and info["frames"] == 9 and info["fps"] == 120.0
    assert info["source_joints"][0] == "root"  # type: ignore[index]
    assert info["mapped_joints"]["spine1"] == "lowerback"  # type: ignore[index]
    assert motion_info(amc) == info


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("lfemur -54 0 0", "lfemur -54 0", "line {at}: bone 'lfemur' has 2 values, its ASF dof"),
        ("ltoes 0", "ltoez 0", "line {at}: unknown bone 'ltoez'"),
        ("rtibia 90", "rtibia 9O", "line {at}: non-numeric value '9O'"),
        ("rtibia 90", "rtibia nan", "line {at}: NaN or infinite value"),
        ("ltoes 0\n", "", "line {frame}: frame lacks bone(s) ltoes"),
        ("ltoes 0\n", "ltoes 0\nltoes 0\n", "line {next}: bone 'ltoes' twice in frame 4"),
        (":DEGREES", ":RADIANS", "line {at}: :RADIANS disagrees with the skeleton's"),
        ("\n4\n", "\n5\n", "line {next}: frame 5 follows frame 3"),
    ],
)
def test_bad_motion_names_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    (tmp_path / "demo.asf").write_text(example_asf_text())
    text = example_amc_text(4)
    head, found, tail = text.rpartition(old)  # the last frame's row
    assert found
    at = head.count("\n") + 1
    frame = max((i for i, line in enumerate(head.splitlines(), 1) if line.isdigit()), default=0)
    amc = _amc(tmp_path, head + new + tail)
    expected = f"{amc} " + message.format(at=at, next=at + 1, frame=frame)
    with pytest.raises(EdgeSDKError, match=re.escape(expected)):
        read_asf_amc(amc)


@pytest.mark.parametrize(
    "edit, message",
    [
        (("length 0.45", "length 0"), r"line 4: :units length must be a positive number"),
        (("angle deg", "angle grad"), r"line 5: :units angle must be 'deg' or 'rad'"),
        (("dof rx ry rz", "dof rx ry l"), r"unsupported dof 'rx ry l'"),
        (("name lfemur", "name"), r"a bone name must be one word"),
        (("    ltibia lfoot", "    ltibia lfoot lknee"), r"hierarchy names unknown bone 'lknee'"),
    ],
)
def test_bad_skeleton_names_file_and_line(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    old, new = edit
    text = example_asf_text()
    assert old in text
    (tmp_path / "demo.asf").write_text(text.replace(old, new, 1))
    amc = _amc(tmp_path, example_amc_text(2))
    with pytest.raises(EdgeSDKError, match=re.escape(str(tmp_path / "demo.asf")) + ".*" + message):
        read_asf_amc(amc)


def test_missing_skeleton_wrong_unit_and_size_limit(tmp_path: Path) -> None:
    amc = _amc(tmp_path, example_amc_text(2), "HDM_xy_squat1Reps_001_120.amc")
    with pytest.raises(EdgeSDKError, match=r"HDM_xy_squat1Reps_001_120.amc: no ASF skeleton"):
        load_clip(amc)
    (tmp_path / "HDM_ab.asf").write_text(example_asf_text())
    (tmp_path / "HDM_cd.asf").write_text(example_asf_text())
    with pytest.raises(EdgeSDKError, match=r"found HDM_ab\.asf, HDM_cd\.asf"):
        find_asf(amc)
    # A length unit of 1 (inches) makes the same skeleton 2.2 times too small: refused.
    (tmp_path / "HDM_xy.asf").write_text(example_asf_text(length_unit=1.0))
    assert find_asf(amc).name == "HDM_xy.asf"
    with pytest.raises(EdgeSDKError, match=r"HDM_xy.asf: ':units length 1' makes the body 0.72 m"):
        load_clip(amc)
    (tmp_path / "HDM_xy.asf").write_text(example_asf_text(length_unit=0.45))
    assert load_clip(amc).rig == "cmu-asf"
    # The import's memory is estimated from the frame count before anything is allocated.
    with pytest.raises(EdgeSDKError, match=r"2 frames x 31 joints need about 0.0635 MB.* 0.06 MB"):
        read_asf_amc(amc, max_bytes=60_000)
    with pytest.raises(EdgeSDKError, match=r"not an \.amc"):
        read_asf_amc(tmp_path / "HDM_xy.asf")
    with pytest.raises(EdgeSDKError, match="no frames"):
        read_asf_amc(_amc(tmp_path, ":FULLY-SPECIFIED\n:DEGREES\n", "HDM_xy_a_001_120.amc"))


def test_cli_reports_a_bad_amc_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgesdk.cli import main

    (tmp_path / "demo.asf").write_text(example_asf_text())
    amc = _amc(tmp_path, example_amc_text(2).replace("lhand 0 0", "lhand 0", 1))
    assert main(["data", "info", str(amc)]) == 2
    err = capsys.readouterr().err
    assert f"{amc} line 15: bone 'lhand' has 1 values" in err and err.count("\n") == 1
    amc.write_text(example_amc_text(2))
    assert main(["data", "info", str(tmp_path)]) == 0  # a folder: its motion files
    assert '"rig": "cmu-asf"' in capsys.readouterr().out


# --- labels, sources, split -----------------------------------------------------------------


def test_hdm05_labels_from_the_file_name() -> None:
    labels = load_labels("x/HDM_bd_squat1Reps_001_120.amc")
    assert labels.content == "squat1Reps" and labels.text() == "squat"
    assert load_labels("HDM_dg_lieDownFloor_011_120.amc").text() == "lie down on the floor"
    assert len(HDM05_DESCRIPTIONS) == 11 and all(HDM05_DESCRIPTIONS.values())
    assert load_labels("HDM_bk_punchRFront1Reps_001_120.amc").text() == "punch r front 1 reps"
    assert load_labels("demo_squat_120.amc").text() == ""


def test_folder_mixing_bvh_and_amc_is_one_set(tmp_path: Path) -> None:
    cmu = tmp_path / "cmu"
    cmu.mkdir()
    for path in sorted((bundled_data_dir() / "cmu").glob("*.bvh"))[:3]:
        shutil.copy(path, cmu / path.name)
    shutil.copy(bundled_data_dir() / "cmu" / "cmu-index.csv", cmu)
    hdm = tmp_path / "hdm05"
    hdm.mkdir()
    (hdm / "HDM_xy.asf").write_text(example_asf_text())
    for k in range(3):
        (hdm / f"HDM_xy_squat1Reps_{k:03d}_120.amc").write_text(example_amc_text(121))
    files = list_motion_files(tmp_path)
    assert [f.suffix for f in files] == [".bvh"] * 3 + [".amc"] * 3
    assert skeleton_files(files) == [hdm / "HDM_xy.asf"] and skeleton_files(files[:3]) == []
    clips = load_dir(tmp_path, fps=30.0)
    assert [c.rig for c in clips] == ["cmu-iclone"] * 3 + ["cmu-asf"] * 3
    assert all(c.fps == 30.0 for c in clips) and clips[-1].labels.text() == "squat"
    summary = data_summary(clips, tmp_path)
    assert summary["clips"] == 6 and summary["formats"] == {"amc": 3, "bvh": 3}
    assert summary["sources"]["hdm05"] == {"clips": 3, "minutes": 0.05}  # type: ignore[index]
    train, val, test = split_by_file(clips)
    assert sorted(c.name for c in train + val + test) == sorted(c.name for c in clips)


# --- the real HDM05 files (skipped without ../shared) -----------------------------------------


def _knee_flexion_deg(clip: Clip) -> np.ndarray:
    """``[2, T]`` the left and right knee's flexion: 180 minus the hip-knee-ankle angle."""
    P = clip.global_pos_m.astype(np.float64)
    out = []
    for side in ("left", "right"):
        u = P[:, J[f"{side}_hip"]] - P[:, J[f"{side}_knee"]]
        v = P[:, J[f"{side}_ankle"]] - P[:, J[f"{side}_knee"]]
        cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        out.append(180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.array(out)


def _check_real_clip(path: Path) -> dict[str, float]:
    """Load one HDM05 file at its 120 Hz and check it; returns figures for the caller."""
    clip = load_clip(path)
    assert clip.rig == "cmu-asf" and clip.fps == 120.0 and sum(clip.mapped) == 20, path
    fk_error_m = _mapped_fk_error_m(clip)
    assert fk_error_m < FK_TOLERANCE_M, (path, fk_error_m)
    P = clip.global_pos_m.astype(np.float64)
    foot_y = P[:, list(FOOT_JOINTS), 1].min(axis=1)
    lowest_m = -0.12 if path.name in UNDER_THE_FLOOR else -0.05
    assert abs(float(np.percentile(foot_y, 2))) < 1e-6 and foot_y.min() > lowest_m, path
    if clip.labels.content == "lieDownFloor":
        # Stands, then kneels upright (its most upright frame with a foot near the floor),
        # then lies: head and pelvis level, the head near the floor. Lying with pointed feet,
        # the toes are not forward in the pelvis frame: no convention check.
        assert 1.2 < P[0, J["head"], 1] - foot_y[0] < 2.0, path
        v = P[-1, J["head"]] - P[-1, 0]
        assert abs(v[1]) < 0.5 * np.linalg.norm(v) and P[-1, J["head"], 1] < 0.35, path
    else:
        t = most_upright_frame(clip.global_pos_m)
        assert 1.2 < P[t, J["head"], 1] - foot_y[t] < 2.0, path
        _check_smpl_conventions(clip)
    knee = _knee_flexion_deg(clip)
    return {
        "fk_error_m": fk_error_m,
        "knee_at_bottom_deg": float(knee[:, P[:, 0, 1].argmin()].min()),
    }


@pytest.mark.slow
def test_every_hdm05_file(mocap_dir: Path) -> None:
    files = sorted((mocap_dir / "hdm05").glob("*.amc"))
    assert files and all(load_labels(f).content in HDM05_DESCRIPTIONS for f in files)
    # Spawned, not forked: a fork of a process whose torch/OpenMP threads are running can
    # deadlock in the child (it hung a CI run for an hour).
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        figures = dict(zip(files, pool.map(_check_real_clip, files, chunksize=8), strict=True))
    squats = [f for f in files if load_labels(f).content == "squat1Reps"]
    assert squats and min(figures[f]["knee_at_bottom_deg"] for f in squats) > 80.0
    worst_mm = max(v["fk_error_m"] for v in figures.values()) * 1000.0
    print(f"\nHDM05: {len(files)} files, largest mapped FK error {worst_mm:.1f} mm")


def test_hdm05_squat_lie_down_and_split(mocap_dir: Path) -> None:
    folder = mocap_dir / "hdm05"
    squat = load_clip(folder / "HDM_bd_squat1Reps_001_120.amc", fps=30.0)
    knee = _knee_flexion_deg(squat)
    bottom = int(squat.global_pos_m[:, 0, 1].argmin())
    assert knee[:, bottom].min() > 80.0 and knee[:, bottom].min() > knee[:, 0].max() + 60.0
    assert squat.global_pos_m[bottom, 0, 1] < 0.6 * squat.global_pos_m[0, 0, 1]
    lying = load_clip(folder / "HDM_bd_lieDownFloor_001_120.amc", fps=30.0)
    up = lying.global_pos_m[:, J["head"]] - lying.global_pos_m[:, 0]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    assert up[0, 1] > 0.9 and abs(up[-1, 1]) < 0.3  # stands, then lies
    # The split by file name puts HDM05 files in every part.
    files = list_motion_files(mocap_dir)
    parts = split_by_file([_named(f) for f in files])
    for part in parts:
        assert any(c.source.endswith(".amc") for c in part)


def _named(path: Path) -> Clip:
    """A one-frame stand-in clip carrying a file's name (the split reads only the name)."""
    zeros = np.zeros((1, 22, 3), dtype=np.float32)
    rot = np.broadcast_to(np.eye(3, dtype=np.float32), (1, 22, 3, 3)).copy()
    return Clip(path.stem, 30.0, rot, zeros, zeros[0], source=str(path))


def test_calibration_reproduces_the_cmu_asf_table(mocap_dir: Path) -> None:
    files = sorted((mocap_dir / "hdm05").glob("*.amc"))[::6]
    rest = calibrate_rest_deg(read_asf_amc(p) for p in files)
    table = RIGS["cmu-asf"].rest_deg
    assert table is not None and set(table) - {"pelvis"} == set(rest)
    for name, angles in rest.items():
        diff = _euler_xyz_deg(angles).T @ _euler_xyz_deg(table[name])
        cos = max(-1.0, min(1.0, (float(torch.trace(diff)) - 1.0) / 2.0))
        assert math.degrees(math.acos(cos)) < 5.0, (name, angles, table[name])

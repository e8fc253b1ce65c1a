"""AMC motions on ASF skeletons (the CMU and HDM05 databases): parsing, FK and the loaders.

An ``.amc`` file holds the motion of an ``.asf`` skeleton (``edgesdk.data.asf``): per frame, a
frame number, then one line per animated bone with its dof values. The Acclaim convention
gives each bone, with ``C`` its axis rotation and ``M`` the rotation of its dof values
(applied in the listed order: ``rx ry rz`` is ``M = Rz @ Ry @ Rx``),

    L_bone = C @ M @ C^T,    R_world_bone = R_world_parent @ L_bone,
    end_bone = start_bone + R_world_bone @ (direction * length),

the start of a bone being its parent's end (the root's position for the root's children); the
root's AMC translation replaces its ASF position. ``AsfAmcMotion`` exposes this as BVH-style
joints: joint ``b`` sits at the start of bone ``b`` and carries its rotation, so
``edgesdk.data.retarget`` maps it by joint name like a BVH (table ``cmu-asf``), in metres from
the skeleton's length unit, Y up. A skeleton whose unit gives a body far from a person's size
is refused, so a wrong unit is reported instead of giving a giant or a doll.

The skeleton of ``HDM_bd_squat1Reps_001_120.amc`` is the ``.asf`` beside it whose name starts
the motion's name (``HDM_bd.asf``; CMU's ``01_02.amc`` -> ``01.asf``). The frame rate is the
name's last number for HDM05 files (``_120``), else 120 Hz, the CMU and HDM05 capture rate.

Example:
    >>> import tempfile
    >>> _, amc = write_example_files(tempfile.mkdtemp())
    >>> motion = read_asf_amc(amc)
    >>> len(motion.names), motion.num_frames, motion.fps
    (31, 4, 120.0)
    >>> clip = load_clip(amc, fps=30.0)
    >>> clip.rig, clip.num_frames, clip.global_pos_m.shape[1:]
    ('cmu-asf', 1, (22, 3))
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from edgesdk.body.rotations import euler_to_matrix
from edgesdk.data.asf import AsfSkeleton, example_asf_text, fail, read_asf
from edgesdk.data.bvh import clip_summary, is_float
from edgesdk.data.clip import Clip
from edgesdk.data.resample import resample
from edgesdk.data.retarget import Retargeted, retarget
from edgesdk.errors import EdgeSDKError

DEFAULT_FPS = 120.0  # the capture rate of the CMU and HDM05 databases
BODY_HEIGHT_M = (0.8, 2.4)  # the rest pose's joint extent (head joint to toes) of a person
MAX_BYTES = 2 << 30  # parsing + FK + retargeting one clip may use at most this much memory
# Bytes per frame per joint while importing: the values, the float64 FK (rotations and
# positions), and the retargeting's copies of both on the 22 joints, with room to spare.
_BYTES_PER_FRAME_JOINT = 1024
_HDM05_RATE_RE = re.compile(r"^HDM_.+_(\d+)$")
_FRAME_RE = re.compile(rb"^[ \t]*\d+[ \t]*\r?$", re.MULTILINE)


@dataclass(frozen=True, eq=False)
class AsfAmcMotion:
    """A skeleton and its motion as BVH-style joints (``root`` first, then every bone).

    Attributes:
        path: the ``.amc`` file.
        skeleton: its ``.asf`` skeleton.
        fps: frames per second.
        motion: ``[T, C]`` AMC values (float64, the file's units), the root's ``root_order``
            channels first, then each bone's dof in ``skeleton.bones`` order.
    """

    path: str
    skeleton: AsfSkeleton
    fps: float
    motion: np.ndarray

    @property
    def names(self) -> tuple[str, ...]:
        return ("root", *(b.name for b in self.skeleton.bones))

    @property
    def parents(self) -> tuple[int, ...]:
        """Parent joint per joint (joint 0 is the root; bone ``i`` is joint ``i + 1``)."""
        return (-1, *(p + 1 for p in self.skeleton.parents))

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def offsets(self) -> np.ndarray:
        """``[J, 3]`` each joint's position relative to its parent joint in the rest pose: the
        parent bone's ``direction * length`` (zero under the root), file units."""
        out = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            if p > 0:
                bone = self.skeleton.bones[p - 1]
                out[j] = np.asarray(bone.direction) * bone.length
        return out

    def channel_start(self, joint: int) -> int:
        """The column of a joint's first AMC value."""
        return self._joint_frames[joint][2]

    def ancestors(self, joints: list[int]) -> list[int]:
        """The given joints and all their ancestors, sorted (parents before children)."""
        keep: set[int] = set()
        parents = self.parents
        for j in joints:
            while j >= 0 and j not in keep:
                keep.add(j)
                j = parents[j]
        return sorted(keep)

    def fk(self, joints: list[int] | None = None, zero_pose: bool = False) -> tuple[Tensor, Tensor]:
        """Forward kinematics in float64, ASF axes and file units (see the module docstring).

        Args:
            joints: joints whose results are needed (their ancestors are computed too);
                all joints when None.
            zero_pose: ignore the motion: every dof zero, the root at its ASF position (one
                frame). The ASF rest pose: for CMU and HDM05 a T-pose, Y up, facing +Z.

        Returns:
            ``(R_world_joint [T, J, 3, 3], pos [T, J, 3])``; joint ``b`` is at the start of
            bone ``b``; rows of joints not computed are NaN.
        """
        names, parents, offsets = self.names, self.parents, torch.from_numpy(self.offsets)
        needed = list(range(len(names))) if joints is None else self.ancestors(joints)
        motion = torch.from_numpy(self.motion[:1] * 0.0 if zero_pose else self.motion)
        num_frames = motion.shape[0]
        scale = math.pi / 180.0 if self.skeleton.angle_unit == "deg" else 1.0
        R_world = torch.full((num_frames, len(names), 3, 3), math.nan, dtype=torch.float64)
        pos = torch.full((num_frames, len(names), 3), math.nan, dtype=torch.float64)
        for j in needed:
            C, channels, start = self._joint_frames[j]
            M: Tensor | None = None
            for k, ch in enumerate(channels):  # applied in the listed order
                if ch.startswith("r"):
                    R_axis = _axis_matrix(ch[1], motion[:, start + k] * scale)
                    M = R_axis if M is None else R_axis @ M
            L = C.expand(num_frames, 3, 3) if M is None else C @ M @ C.T
            p = parents[j]
            if p >= 0:
                R_world[:, j] = R_world[:, p] @ L
                pos[:, j] = pos[:, p] + (R_world[:, p] @ offsets[j])
                continue
            R_world[:, j] = L
            pos[:, j] = torch.tensor(self.skeleton.root_position, dtype=torch.float64)
            for k, ch in enumerate(channels):
                if ch.startswith("t") and not zero_pose:
                    pos[:, j, "xyz".index(ch[1])] = motion[:, start + k]
        return R_world, pos

    @functools.cached_property
    def _joint_frames(self) -> tuple[tuple[Tensor, tuple[str, ...], int], ...]:
        """Per joint: its axis rotation ``C``, its AMC channels and their first column."""
        sk = self.skeleton
        out = [(_axis_rotation(sk.root_orientation_deg, sk.root_axis_order), sk.root_order, 0)]
        start = len(sk.root_order)
        for bone in sk.bones:
            out.append((_axis_rotation(bone.axis_deg, bone.axis_order), bone.dof, start))
            start += len(bone.dof)
        return tuple(out)


def _axis_rotation(angles_deg: tuple[float, float, float], order: str) -> Tensor:
    """``C`` of an ASF ``axis``/``orientation``: the angles applied in ``order`` (extrinsic), so
    ``"XYZ"`` is ``Rz @ Ry @ Rx``."""
    reverse = order[::-1]
    by_axis = dict(zip("XYZ", angles_deg, strict=True))
    angles = torch.tensor([math.radians(by_axis[a]) for a in reverse], dtype=torch.float64)
    return euler_to_matrix(angles, reverse)


def _axis_matrix(axis: str, angle_rad: Tensor) -> Tensor:
    """``[T, 3, 3]`` rotations about ``axis`` ("x", "y" or "z") by ``angle_rad [T]``."""
    i = "xyz".index(axis)
    a, b = (i + 1) % 3, (i + 2) % 3  # cyclic, so that every axis has the same sign pattern
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    R = torch.zeros((*angle_rad.shape, 3, 3), dtype=angle_rad.dtype)
    R[..., i, i] = 1.0
    R[..., a, a], R[..., b, b] = c, c
    R[..., a, b], R[..., b, a] = -s, s
    return R


def find_asf(amc_path: str | Path) -> Path:
    """The skeleton of a motion: the ``.asf`` beside it whose name, plus ``_``, starts the
    motion's name (the longest such); the only ``.asf`` there if just one exists.

    Example:
        >>> import tempfile
        >>> _, amc = write_example_files(tempfile.mkdtemp())
        >>> find_asf(amc).name
        'demo.asf'
    """
    amc = Path(amc_path)
    candidates = sorted(p for p in amc.parent.glob("*") if p.suffix.lower() == ".asf")
    matching = [p for p in candidates if amc.stem.startswith(p.stem + "_")]
    if matching:
        return max(matching, key=lambda p: len(p.stem))
    if len(candidates) == 1:
        return candidates[0]
    found = f"; found {', '.join(p.name for p in candidates[:4])}" if candidates else ""
    raise EdgeSDKError(
        f"{amc}: no ASF skeleton beside it (an .asf whose name, plus '_', starts the motion's "
        f"name, e.g. HDM_bd.asf for HDM_bd_*.amc{found})"
    )


def amc_fps(amc_path: str | Path) -> float:
    """The frame rate of an ``.amc`` from its name: HDM05's ``HDM_bd_squat1Reps_001_120``
    ends in its rate; anything else is taken at 120 Hz (CMU).

    Example:
        >>> amc_fps("HDM_bd_squat1Reps_001_120.amc"), amc_fps("01_02.amc")
        (120.0, 120.0)
    """
    match = _HDM05_RATE_RE.match(Path(amc_path).stem)
    if match and 1 <= int(match.group(1)) <= 10000:
        return float(match.group(1))
    return DEFAULT_FPS


def read_asf_amc(
    amc_path: str | Path,
    asf_path: str | Path | None = None,
    fps: float | None = None,
    max_bytes: int = MAX_BYTES,
) -> AsfAmcMotion:
    """Parse a motion and its skeleton.

    Args:
        amc_path: the ``.amc`` file.
        asf_path: its skeleton (default: ``find_asf``).
        fps: its frame rate (default: ``amc_fps``).
        max_bytes: refuse a clip whose import would need more memory than this (estimated
            from its frame count before anything is allocated).

    Raises ``EdgeSDKError`` with the file and line number for a row whose value count is not
    its bone's dof count, an unknown bone, a non-numeric, NaN or infinite value, a frame that
    lists a bone twice or leaves one out, frame numbers out of sequence, an angle unit that
    disagrees with the skeleton's, and a missing skeleton.

    Example:
        >>> import tempfile
        >>> _, amc = write_example_files(tempfile.mkdtemp())
        >>> motion = read_asf_amc(amc)
        >>> motion.motion.shape, float(motion.motion[1, 1])
        ((4, 62), 14.7)
    """
    amc = Path(amc_path)
    where = str(amc)
    if amc.suffix.lower() != ".amc":
        raise EdgeSDKError(f"{where}: not an .amc motion file")
    try:
        size = amc.stat().st_size
    except OSError as exc:
        raise EdgeSDKError(f"{where}: cannot read the motion ({exc.strerror or exc})") from None
    skeleton = read_asf(asf_path if asf_path is not None else find_asf(amc))
    num_joints = len(skeleton.bones) + 1
    if size > max_bytes:
        raise EdgeSDKError(f"{where}: {_mb(size)} file, over the {_mb(max_bytes)} limit")
    data = amc.read_bytes()
    num_frames = len(_FRAME_RE.findall(data))
    need = num_frames * num_joints * _BYTES_PER_FRAME_JOINT
    if need > max_bytes:
        raise EdgeSDKError(
            f"{where}: {num_frames} frames x {num_joints} joints need about {_mb(need)} to "
            f"import, over the {_mb(max_bytes)} limit"
        )
    motion = _parse_amc(data.decode("utf-8", errors="replace"), where, skeleton, num_frames)
    rate = amc_fps(amc) if fps is None else fps
    if not (math.isfinite(rate) and rate > 0):
        raise EdgeSDKError(f"{where}: frame rate must be positive, got {rate}")
    return AsfAmcMotion(path=where, skeleton=skeleton, fps=float(rate), motion=motion)


def _mb(num_bytes: int) -> str:
    return f"{num_bytes / 1e6:.3g} MB"


def _parse_amc(text: str, where: str, skeleton: AsfSkeleton, num_frames: int) -> np.ndarray:
    """``[T, C]`` values; every check names the line (see ``read_asf_amc``)."""
    dofs = {"root": skeleton.root_order, **{b.name: b.dof for b in skeleton.bones}}
    starts: dict[str, int] = {}
    total = 0
    for name, dof in dofs.items():
        starts[name] = total
        total += len(dof)
    animated = [name for name, dof in dofs.items() if dof]
    if num_frames == 0:
        raise EdgeSDKError(f"{where}: no frames (no frame-number lines after the header)")
    values = np.empty((num_frames, total), dtype=np.float64)
    tokens: list[str] = []
    # Per bone row: its first cell in ``values`` (flat), its value count, its line.
    row_start: list[int] = []
    row_count: list[int] = []
    row_line: list[int] = []
    frame = -1
    frame_line = expected_number = 0
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        head = parts[0]
        if head.startswith(":"):
            if frame >= 0:
                raise fail(where, number, f"header line {head!r} after the first frame")
            _check_angle_header(head, skeleton, where, number)
            continue
        if len(parts) == 1 and head.isascii() and head.isdigit():
            if frame >= 0:
                _check_frame_complete(seen, animated, frame, where, frame_line)
            frame += 1
            if frame >= num_frames:  # only odd whitespace makes the count differ
                raise fail(where, number, f"frame {head} was not counted (unusual whitespace?)")
            if frame > 0 and int(head) != expected_number + 1:
                raise fail(where, number, f"frame {head} follows frame {expected_number}")
            expected_number = int(head)
            frame_line, seen = number, set()
            continue
        if frame < 0:
            raise fail(where, number, f"{head!r} before the first frame number")
        bone_dof = dofs.get(head)
        if bone_dof is None:
            raise fail(where, number, f"unknown bone {head!r} (not in {Path(skeleton.path).name})")
        if head in seen:
            raise fail(where, number, f"bone {head!r} twice in frame {expected_number}")
        seen.add(head)
        if len(parts) - 1 != len(bone_dof):
            need = " ".join(bone_dof) or "none"
            count = f"{len(parts) - 1} values, its ASF dof ({need}) needs {len(bone_dof)}"
            raise fail(where, number, f"bone {head!r} has {count}")
        tokens.extend(parts[1:])
        row_start.append(frame * total + starts[head])
        row_count.append(len(bone_dof))
        row_line.append(number)
    _check_frame_complete(seen, animated, frame, where, frame_line)
    counts = np.asarray(row_count, dtype=np.int64)
    token_row = np.repeat(np.arange(len(counts)), counts)
    try:
        flat = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not is_float(t))
        line = row_line[int(token_row[bad])]
        raise fail(where, line, f"non-numeric value {tokens[bad][:20]!r}") from None
    finite = np.isfinite(flat)
    if not finite.all():
        raise fail(where, row_line[int(token_row[np.argmin(finite)])], "NaN or infinite value")
    # Row r's values go to row_start[r] + 0, 1, ...
    within_row = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    values.reshape(-1)[np.asarray(row_start, dtype=np.int64)[token_row] + within_row] = flat
    return values


def load_clip(
    path: str | Path, fps: float | None = None, asf_path: str | Path | None = None
) -> Clip:
    """Read an ``.amc`` motion as a ``Clip`` on the 22-joint layout (metres, Y up, floor at
    y = 0), like ``edgesdk.data.bvh.load_clip`` for a BVH.

    Args:
        path: the ``.amc`` file; its skeleton is found by ``find_asf``, its labels from its
            name (``edgesdk.data.labels``).
        fps: resample to this frame rate (None keeps the file's rate).
        asf_path: the skeleton, to override ``find_asf``.

    Example:
        >>> import tempfile
        >>> _, amc = write_example_files(tempfile.mkdtemp(), num_frames=9)
        >>> clip = load_clip(amc, fps=30.0)
        >>> clip.rig, clip.num_frames, clip.fps, round(float(clip.global_pos_m[0, 15, 1]), 2)
        ('cmu-asf', 3, 30.0, 1.54)
    """
    clip, _, _ = _load(path, asf_path)
    return resample(clip, fps) if fps is not None else clip


def clip_info(path: str | Path) -> dict[str, object]:
    """A JSON-ready summary of one ``.amc`` file, as ``edgesdk.data.bvh.clip_info`` gives for
    a BVH (length, rig, joint mapping, body size, labels).

    Example:
        >>> import tempfile
        >>> asf, amc = write_example_files(tempfile.mkdtemp())
        >>> info = clip_info(amc)
        >>> info["rig"], info["num_mapped"], info["mapped_joints"]["left_knee"]
        ('cmu-asf', 20, 'ltibia')
        >>> _ = asf.write_text(example_asf_text(length_unit=1.0))  # inches, not inches / 0.45
        >>> clip_info(amc)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: ...demo.asf: ':units length 1' makes the body 0.72 m tall...
    """
    clip, motion, out = _load(path, None)
    return clip_summary(path, clip, motion.names, out)


def _load(path: str | Path, asf_path: str | Path | None) -> tuple[Clip, AsfAmcMotion, Retargeted]:
    motion = read_asf_amc(path, asf_path)
    _check_body_size(motion)
    out = retarget(motion, up_axis="y", unit_scale=motion.skeleton.metres_per_unit)
    clip = out.to_clip(path, motion.fps)
    return clip, motion, out


def _check_body_size(motion: AsfAmcMotion) -> None:
    """A wrong ``:units length`` shows as a body far from a person's size: refuse it."""
    _, pos = motion.fk(zero_pose=True)
    extent = pos[0].amax(0) - pos[0].amin(0)
    height_m = float(extent.max()) * motion.skeleton.metres_per_unit
    if not BODY_HEIGHT_M[0] <= height_m <= BODY_HEIGHT_M[1]:
        sk = motion.skeleton
        raise EdgeSDKError(
            f"{sk.path}: ':units length {sk.length_unit:g}' makes the body {height_m:.2f} m tall "
            f"(joint extent, rest pose), not {BODY_HEIGHT_M[0]}-{BODY_HEIGHT_M[1]} m; a length "
            "unit L means inches x 1/L per file unit (CMU and HDM05: 0.45)"
        )


def _check_angle_header(head: str, skeleton: AsfSkeleton, where: str, line: int) -> None:
    declared = {":degrees": "deg", ":radians": "rad"}.get(head.lower())
    if declared is not None and declared != skeleton.angle_unit:
        raise fail(
            where,
            line,
            f"{head} disagrees with the skeleton's ':units angle {skeleton.angle_unit}' "
            f"({Path(skeleton.path).name})",
        )


def _check_frame_complete(
    seen: set[str], animated: list[str], frame: int, where: str, line: int
) -> None:
    if len(seen) != len(animated):
        missing = [n for n in animated if n not in seen]
        raise fail(where, line, f"frame lacks bone(s) {', '.join(missing[:4])}")


def example_amc_text(num_frames: int = 4, knee_deg: float = 90.0) -> str:
    """An ``.amc`` for ``example_asf_text``'s skeleton: from standing (T-pose arms) down to
    knees bent by ``knee_deg``, for examples and tests.

    Example:
        >>> example_amc_text(2).splitlines()[3:5]
        ['root 0 16.2 0 0 0 0', 'lowerback 0 0 0']
    """
    lines = [":FULLY-SPECIFIED", ":DEGREES"]
    upper = ("upperback", "thorax", "lowerneck", "upperneck", "head")
    for k in range(num_frames):
        knee = knee_deg * k / max(num_frames - 1, 1)
        lines += [str(k + 1), f"root 0 {16.2 - 0.05 * knee:g} 0 0 0 0"]
        lines += [f"lowerback {knee * 0.1:g} 0 0", *(f"{name} 0 0 0" for name in upper)]
        for side in "lr":
            lines += [f"{side}clavicle 0 0", f"{side}humerus 0 0 0", f"{side}radius 0"]
            lines += [f"{side}wrist 0", f"{side}hand 0 0", f"{side}fingers 0", f"{side}thumb 0 0"]
            lines += [f"{side}femur {-0.6 * knee:g} 0 0", f"{side}tibia {knee:g}"]
            lines += [f"{side}foot {-0.4 * knee:g} 0", f"{side}toes 0"]
    return "\n".join(lines) + "\n"


def write_example_files(folder: str | Path, num_frames: int = 4) -> tuple[Path, Path]:
    """Write ``demo.asf`` (``example_asf_text``) and ``demo_squat_120.amc``
    (``example_amc_text``) into ``folder``; returns their paths."""
    asf, amc = Path(folder, "demo.asf"), Path(folder, "demo_squat_120.amc")
    asf.write_text(example_asf_text())
    amc.write_text(example_amc_text(num_frames))
    return asf, amc

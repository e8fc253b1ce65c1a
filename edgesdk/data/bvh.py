"""BVH import: a fast reader, the source skeleton's forward kinematics, and the public loaders.

``read_bvh`` parses any BVH (any channel count and order per joint, position channels on any
joint); ``BvhMotion.fk`` gives every source joint's global rotation and position per frame in
float64, in the file's own axes and units. ``load_clip`` then retargets to the 22-joint layout
(``edgesdk.data.retarget``) and attaches labels (``edgesdk.data.labels``).

Bad input raises ``EdgeSDKError`` with one line naming the file and the problem.

Example:
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_03.bvh", fps=30.0)
    >>> clip.rig, clip.fps, clip.global_pos_m.shape[1:]
    ('cmu-iclone', 30.0, (22, 3))
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from edgesdk.body.rotations import axis_angle_to_matrix, euler_to_matrix
from edgesdk.body.skeleton import FOOT_JOINTS, JOINT_NAMES, PARENTS
from edgesdk.data.clip import Clip
from edgesdk.data.resample import resample
from edgesdk.data.retarget import TO_Y_UP, Retargeted, retarget
from edgesdk.errors import EdgeSDKError
from edgesdk.reading import read_text

_POS_CHANNELS = ("xposition", "yposition", "zposition")
_ROT_CHANNELS = ("xrotation", "yrotation", "zrotation")
_AXIS_VECTORS = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
_FPS_SNAP = 5e-4
_MOTION_RE = re.compile(r"^\s*MOTION\s*$", re.MULTILINE)
_FRAMES_RE = re.compile(r"Frames\s*:\s*(\S+)", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"Frame\s*Time\s*:\s*(\S+)", re.IGNORECASE)
# Bounds on what a file may ask for: 10 kHz to 1 Hz, and the memory of the import (the channel
# values, then global rotations and positions of every joint, float64, with working copies).
MIN_FRAME_TIME_S = 1e-4
MAX_FRAME_TIME_S = 1.0
MAX_IMPORT_BYTES = 4 * 2**30
_BYTES_PER_JOINT_FRAME = 3 * 12 * 8


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file: the joint hierarchy and the raw channel values.

    Attributes:
        path: the file it was read from.
        names: joint names in file order (End Sites are not joints).
        parents: parent index per joint, -1 for the root.
        offsets: ``[J, 3]`` OFFSET of each joint in its parent's frame (file units).
        channels: per joint, the channel names as written (e.g. ``("Zrotation", "Xrotation")``).
        channel_start: per joint, the column of its first channel in ``motion``.
        frame_time_s: seconds per frame.
        motion: ``[T, C]`` channel values (float64; angles in degrees).
    """

    path: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    channel_start: tuple[int, ...]
    frame_time_s: float
    motion: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second; snapped to the nearest integer within 0.05 % (BVH writes the
        frame time with few digits: ``0.016667`` is 60 Hz, 29.97 Hz stays 29.97)."""
        fps = 1.0 / self.frame_time_s
        return float(round(fps)) if abs(fps - round(fps)) < _FPS_SNAP * fps else fps

    def index(self, name: str) -> int:
        """The index of a joint by name."""
        return self.names.index(name)

    def ancestors(self, joints: list[int]) -> list[int]:
        """The given joints and all their ancestors, sorted (parents before children)."""
        keep: set[int] = set()
        for j in joints:
            while j >= 0 and j not in keep:
                keep.add(j)
                j = self.parents[j]
        return sorted(keep)

    def fk(self, joints: list[int] | None = None, zero_pose: bool = False) -> tuple[Tensor, Tensor]:
        """Source-skeleton forward kinematics in float64, file axes and units.

        Position channels, when present, replace the joint's OFFSET; rotation channels are
        composed in the order listed (intrinsic, ``R = R_c0 @ R_c1 @ R_c2``).

        Args:
            joints: joints whose results are needed (their ancestors are computed too);
                all joints when None.
            zero_pose: ignore the motion: every rotation zero, every joint at its OFFSET
                (one frame).

        Returns:
            ``(R_world_joint [T, J, 3, 3], pos [T, J, 3])`` over all J joints; rows of joints
            not computed are NaN.
        """
        needed = list(range(len(self.names))) if joints is None else self.ancestors(joints)
        motion = torch.from_numpy(self.motion if not zero_pose else self.motion[:1] * 0.0)
        num_frames, num_joints = motion.shape[0], len(self.names)
        R_world = torch.full((num_frames, num_joints, 3, 3), math.nan, dtype=torch.float64)
        pos = torch.full((num_frames, num_joints, 3), math.nan, dtype=torch.float64)
        for j in needed:
            trans = torch.from_numpy(self.offsets[j]).expand(num_frames, 3).clone()
            if not zero_pose:
                trans = self._translation(j, motion, trans)
            R_local = self._rotation(j, motion)
            p = self.parents[j]
            if p < 0:
                R_world[:, j], pos[:, j] = R_local, trans
            else:
                R_world[:, j] = R_world[:, p] @ R_local
                pos[:, j] = pos[:, p] + (R_world[:, p] @ trans[..., None])[..., 0]
        return R_world, pos

    def _translation(self, j: int, motion: Tensor, trans: Tensor) -> Tensor:
        for k, name in enumerate(self.channels[j]):
            low = name.lower()
            if low in _POS_CHANNELS:
                trans[:, _POS_CHANNELS.index(low)] = motion[:, self.channel_start[j] + k]
        return trans

    def _rotation(self, j: int, motion: Tensor) -> Tensor:
        cols = [k for k, c in enumerate(self.channels[j]) if c.lower() in _ROT_CHANNELS]
        num_frames = motion.shape[0]
        if not cols:
            return torch.eye(3, dtype=torch.float64).expand(num_frames, 3, 3).clone()
        angles_rad = torch.deg2rad(motion[:, [self.channel_start[j] + k for k in cols]])
        order = "".join(self.channels[j][k][0].upper() for k in cols)
        if len(cols) == 3 and len(set(order)) == 3:
            return euler_to_matrix(angles_rad, order)
        R = torch.eye(3, dtype=torch.float64).expand(num_frames, 3, 3).clone()
        for i, axis in enumerate(order):
            axis_vec = torch.tensor(_AXIS_VECTORS[axis.lower()], dtype=torch.float64)
            R = R @ axis_angle_to_matrix(angles_rad[:, i, None] * axis_vec)
        return R


def read_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file.

    Raises ``EdgeSDKError`` (one line, naming the file) for a missing or corrupt HIERARCHY,
    a missing or truncated MOTION block, zero frames, a non-positive frame time, or
    non-numeric, NaN or infinite values.

    Example:
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> bvh = read_bvh(bundled_data_dir() / "cmu" / "002_03.bvh")
        >>> bvh.names[1], round(bvh.fps)
        ('CC_Base_Hip', 60)
    """
    path = Path(path)
    where = str(path)
    text = read_text(path)
    motion_match = _MOTION_RE.search(text)
    if motion_match is None:
        if "HIERARCHY" not in text:
            raise EdgeSDKError(f"{where}: not a BVH file (no HIERARCHY or MOTION section)")
        raise EdgeSDKError(f"{where}: no MOTION section")
    head, tail = text[: motion_match.start()], text[motion_match.end() :]
    names, parents, offsets, channels = _parse_hierarchy(head, where)
    starts: list[int] = []
    total = 0
    for chans in channels:
        starts.append(total)
        total += len(chans)
    check_import_size(where, "", _FRAMES_RE.search(tail), total, len(names))
    first_line = text.count("\n", 0, motion_match.end()) + 1
    frame_time_s, motion = _parse_motion(tail, where, total, first_line)
    return BvhMotion(
        path=where,
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(len(names), 3),
        channels=tuple(tuple(c) for c in channels),
        channel_start=tuple(starts),
        frame_time_s=frame_time_s,
        motion=motion,
    )


def _parse_hierarchy(
    head: str, where: str
) -> tuple[list[str], list[int], list[list[float]], list[list[str]]]:
    tokens = head.split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise EdgeSDKError(f"{where}: corrupt HIERARCHY (the file must start with HIERARCHY)")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []  # joint index per open brace; -2 for an End Site
    pending: int | None = None  # a joint or End Site declared, its brace not yet open
    i = 1
    try:
        while i < len(tokens):
            tok = tokens[i]
            key = tok.upper()
            if key in ("ROOT", "JOINT"):
                if (key == "ROOT") != (not stack) or pending is not None:
                    raise ValueError(f"unexpected {tok}")
                parent = stack[-1] if stack else -1
                if parent == -2:
                    raise ValueError("a JOINT inside an End Site")
                if key == "ROOT" and names:
                    raise ValueError("more than one ROOT")
                names.append(tokens[i + 1])
                parents.append(parent)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                pending = len(names) - 1
                i += 2
            elif key == "END":
                if not stack or pending is not None:
                    raise ValueError("End Site outside a joint")
                pending = -2
                i += 2
            elif tok == "{":
                if pending is None:
                    raise ValueError("'{' without a joint")
                stack.append(pending)
                pending = None
                i += 1
            elif tok == "}":
                if not stack:
                    raise ValueError("unbalanced '}'")
                stack.pop()
                i += 1
            elif key == "OFFSET":
                values = [float(v) for v in tokens[i + 1 : i + 4]]
                if len(values) != 3 or not all(math.isfinite(v) for v in values):
                    raise ValueError("bad OFFSET")
                if stack and stack[-1] >= 0:
                    offsets[stack[-1]] = values
                i += 4
            elif key == "CHANNELS":
                if not stack or stack[-1] < 0:
                    raise ValueError("CHANNELS outside a joint")
                count = int(tokens[i + 1])
                chans = tokens[i + 2 : i + 2 + count]
                known = _POS_CHANNELS + _ROT_CHANNELS
                if count < 0 or len(chans) != count or any(c.lower() not in known for c in chans):
                    raise ValueError(f"bad CHANNELS line for {names[stack[-1]]}")
                channels[stack[-1]] = chans
                i += 2 + count
            else:
                raise ValueError(f"unexpected token {tok!r}")
    except (ValueError, IndexError) as exc:
        raise EdgeSDKError(f"{where}: corrupt HIERARCHY ({exc or 'ends early'})") from None
    if stack or pending is not None:
        raise EdgeSDKError(f"{where}: corrupt HIERARCHY (unbalanced braces)")
    if not names:
        raise EdgeSDKError(f"{where}: corrupt HIERARCHY (no ROOT joint)")
    if len(set(names)) != len(names):
        raise EdgeSDKError(f"{where}: corrupt HIERARCHY (duplicate joint names)")
    return names, parents, offsets, channels


def check_import_size(
    where: str, what: str, frames: re.Match[str] | int | None, channels: int, joints: int
) -> None:
    """Refuse, before allocating, an import whose memory would pass ``MAX_IMPORT_BYTES``
    (``frames``: a count, or the ``Frames:`` match of the file, checked later if unreadable)."""
    if isinstance(frames, re.Match):
        try:
            frames = int(frames.group(1))
        except ValueError:
            return
    if frames is None or frames <= 0:
        return
    need = frames * (channels * 8 + joints * _BYTES_PER_JOINT_FRAME)
    if need > MAX_IMPORT_BYTES:
        raise EdgeSDKError(
            f"{where}: {what}{frames} frames x {joints} joints would need about "
            f"{need / 2**30:.1f} GiB to import (limit {MAX_IMPORT_BYTES / 2**30:.0f} GiB)"
        )


def _parse_motion(
    tail: str, where: str, num_channels: int, first_line: int
) -> tuple[float, np.ndarray]:
    """The frame time and the ``[frames, channels]`` values, checked row by row (one row per
    frame, each with exactly ``num_channels`` values), naming the file's line on an error."""
    frames_match = _FRAMES_RE.search(tail)
    time_match = _FRAME_TIME_RE.search(tail)
    if frames_match is None or time_match is None:
        raise EdgeSDKError(f"{where}: MOTION section lacks 'Frames:' or 'Frame Time:'")
    try:
        num_frames = int(frames_match.group(1))
        frame_time_s = float(time_match.group(1))
    except ValueError:
        raise EdgeSDKError(f"{where}: unreadable 'Frames:' or 'Frame Time:' value") from None
    if num_frames <= 0:
        raise EdgeSDKError(f"{where}: zero frames in MOTION (Frames: {num_frames})")
    if not (math.isfinite(frame_time_s) and frame_time_s > 0):
        raise EdgeSDKError(f"{where}: Frame Time must be positive, got {frame_time_s}")
    if not MIN_FRAME_TIME_S <= frame_time_s <= MAX_FRAME_TIME_S:
        raise EdgeSDKError(
            f"{where}: Frame Time {frame_time_s:g} s is outside {MIN_FRAME_TIME_S:g} to "
            f"{MAX_FRAME_TIME_S:g} s ({1 / MAX_FRAME_TIME_S:g} to {1 / MIN_FRAME_TIME_S:g} Hz)"
        )
    block = tail[time_match.end() :]
    line0 = first_line + tail.count("\n", 0, time_match.end())  # the Frame Time line
    rows: list[tuple[int, list[str]]] = []
    for k, line in enumerate(block.split("\n")):
        tokens = line.split()
        if tokens:
            rows.append((line0 + k, tokens))
    if rows and not block[-1:].isspace() and not is_float(rows[-1][1][-1]):
        # The file ends inside a number (e.g. after its sign): it was cut off, not written wrong.
        rows[-1] = (rows[-1][0], rows[-1][1][:-1])
    whole = sum(1 for _, tokens in rows if len(tokens) == num_channels)
    for i, (line_no, tokens) in enumerate(rows):
        if len(tokens) == num_channels:
            continue
        if i == len(rows) - 1 and len(tokens) < num_channels and i < num_frames:
            break  # a last row cut short: reported as truncated below
        raise EdgeSDKError(
            f"{where}: line {line_no}: {len(tokens)} values in frame {i + 1}, expected "
            f"{num_channels} (one row per frame)"
        )
    if len(rows) > num_frames:
        raise EdgeSDKError(
            f"{where}: line {rows[num_frames][0]}: MOTION has {len(rows) - num_frames} rows "
            f"more than 'Frames: {num_frames}'"
        )
    if whole < num_frames:
        found = sum(len(tokens) for _, tokens in rows)
        raise EdgeSDKError(
            f"{where}: truncated MOTION (expected {num_frames} frames x {num_channels} "
            f"channels, found {found} values, {whole} whole frames)"
        )
    try:
        values = np.array([v for _, tokens in rows for v in tokens], dtype=np.float64)
    except ValueError:
        bad_line, bad = next((n, v) for n, tokens in rows for v in tokens if not is_float(v))
        raise EdgeSDKError(
            f"{where}: line {bad_line}: non-numeric value {bad[:20]!r} in MOTION"
        ) from None
    if not np.isfinite(values).all():
        k = int(np.flatnonzero(~np.isfinite(values))[0]) // max(num_channels, 1)
        raise EdgeSDKError(f"{where}: line {rows[k][0]}: NaN or infinite value in MOTION")
    return frame_time_s, values.reshape(num_frames, num_channels)


def is_float(token: str) -> bool:
    """Whether a text token parses as a float (for naming the bad value in an error)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def load_clip(
    path: str | Path,
    fps: float | None = None,
    up_axis: str | None = None,
    unit_scale: float | None = None,
) -> Clip:
    """Read a BVH file as a ``Clip`` on the 22-joint layout (metres, Y up, floor at y = 0).

    Args:
        path: the ``.bvh`` file; its labels are read from the files beside it.
        fps: resample to this frame rate (None keeps the file's rate).
        up_axis: "y" or "z" to override the detected up axis.
        unit_scale: metres per file unit to override the detected unit (0.0254 for inches).

    Example:
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_03.bvh")
        >>> clip.num_frames, clip.fps, clip.labels.description
        (86, 60.0, 'run/jog')
    """
    clip, _, _ = _load(path, up_axis, unit_scale)
    if fps is not None:
        if not (math.isfinite(fps) and 0 < fps <= 1 / MIN_FRAME_TIME_S):
            raise EdgeSDKError(f"{path}: cannot resample to {fps} Hz")
        frames = math.ceil(clip.duration_s * fps)
        check_import_size(str(path), f"resampled to {fps:g} Hz, ", frames, 0, len(JOINT_NAMES))
        clip = resample(clip, fps)
    return clip


def clip_info(path: str | Path) -> dict[str, object]:
    """A JSON-ready summary of one BVH file: length, rig, joint mapping, body size, labels.

    ``head_height_m`` is the head joint above the lowest ankle/foot joint in the clip's most
    upright standing frame (``most_upright_frame``: head minus pelvis closest to vertical
    among the frames with a foot on the floor, so a jump or a hang does not count).
    ``rest_head_height_m`` is the same for the clip's skeleton in its rest pose (all joint
    rotations identity), a body-size measure that does not depend on the motion.

    Example:
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> info = clip_info(bundled_data_dir() / "cmu" / "002_03.bvh")
        >>> info["rig"], info["num_mapped"], 1.2 < info["head_height_m"] < 2.0
        ('cmu-iclone', 22, True)
    """
    clip, bvh, out = _load(path, None, None)
    return clip_summary(path, clip, bvh.names, out)


def clip_summary(
    path: str | Path, clip: Clip, source_names: tuple[str, ...], out: Retargeted
) -> dict[str, object]:
    """``clip_info``'s summary of a clip loaded at its file's rate from any motion format."""
    frame = most_upright_frame(clip.global_pos_m)
    pos = clip.global_pos_m[frame]
    head_height_m = float(pos[15, 1] - pos[list(FOOT_JOINTS), 1].min())
    rest = np.zeros((len(PARENTS), 3))
    for j in range(1, len(PARENTS)):
        rest[j] = rest[PARENTS[j]] + clip.offsets_m[j]
    rest_head_height_m = float(rest[15, 1] - rest[list(FOOT_JOINTS), 1].min())
    return {
        "file": str(path),
        "frames": clip.num_frames,
        "fps": clip.fps,
        "duration_s": clip.duration_s,
        "rig": clip.rig,
        "source_joints": list(source_names),
        "mapped_joints": dict(out.source_joints),
        "num_mapped": int(sum(clip.mapped)),
        "up_axis": out.up_axis,
        "unit_scale": out.unit_scale,
        "head_height_m": round(head_height_m, 4),
        "rest_head_height_m": round(rest_head_height_m, 4),
        "labels": {
            "content": clip.labels.content,
            "style": clip.labels.style,
            "description": clip.labels.description,
        },
    }


def write_bvh(
    clip: Clip,
    path: str | Path,
    joint_names: Mapping[str, str] | None = None,
    up_axis: str = "y",
    unit_scale: float = 0.01,
    offsets_m: np.ndarray | None = None,
) -> None:
    """Write a clip as a 22-joint BVH whose zero pose is the SMPL T-pose.

    Rotation channels are ``Zrotation Xrotation Yrotation``; the root also has positions.

    Args:
        clip: the motion.
        path: the file to write.
        joint_names: SMPL joint name -> name in the file (default: the SMPL names), e.g. a
            Mixamo naming.
        up_axis: "y", or "z" to write a Z-up file.
        unit_scale: metres per file unit (0.01: centimetres).
        offsets_m: bone offsets to write instead of the clip's own ``[22, 3]``.

    Example:
        >>> import tempfile
        >>> from edgesdk.data.sources import bundled_data_dir
        >>> clip = load_clip(bundled_data_dir() / "cmu" / "002_03.bvh")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_bvh(clip, Path(tmp) / "run.bvh")
        ...     read_bvh(Path(tmp) / "run.bvh").names[:2]
        ('pelvis', 'left_hip')
    """
    names = [(joint_names or {}).get(n, n) for n in JOINT_NAMES]
    A = TO_Y_UP[up_axis.lower()].numpy()  # file axes -> Y up
    offsets = (clip.offsets_m if offsets_m is None else offsets_m).astype(np.float64)
    offsets_file = offsets @ A / unit_scale  # rows: A^T @ offset
    local = clip.local_rot().astype(np.float64)
    local_file = A.T @ local @ A
    root_file = clip.root_pos_m.astype(np.float64) @ A / unit_scale
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in file order (depth first), the order of the channels
    _write_joint(lines, order, 0, names, offsets_file, depth=0)
    angles_deg = np.degrees(_matrix_to_euler_zxy(local_file[:, order]))
    angles_deg = angles_deg.reshape(clip.num_frames, -1)
    lines += ["MOTION", f"Frames: {clip.num_frames}", f"Frame Time: {1.0 / clip.fps:.8f}"]
    motion = np.concatenate([root_file, angles_deg], axis=1)
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_joint(
    lines: list[str], order: list[int], j: int, names: list[str], offsets: np.ndarray, depth: int
) -> None:
    order.append(j)
    pad = "  " * depth
    kind = "ROOT" if j == 0 else "JOINT"
    offset = (0.0, 0.0, 0.0) if j == 0 else tuple(offsets[j])
    rotations = "Zrotation Xrotation Yrotation"
    channels = f"6 Xposition Yposition Zposition {rotations}" if j == 0 else f"3 {rotations}"
    lines += [f"{pad}{kind} {names[j]}", pad + "{"]
    lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
    lines.append(f"{pad}  CHANNELS {channels}")
    kids = [k for k, p in enumerate(PARENTS) if p == j and k > 0]
    for k in kids:
        _write_joint(lines, order, k, names, offsets, depth + 1)
    if not kids:
        lines += [f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 0", pad + "  }"]
    lines.append(pad + "}")


def _matrix_to_euler_zxy(R: np.ndarray) -> np.ndarray:
    """``[..., 3, 3] -> [..., 3]`` angles (radians) with ``R = Rz @ Rx @ Ry``."""
    x = np.arcsin(np.clip(R[..., 2, 1], -1.0, 1.0))
    y = np.arctan2(-R[..., 2, 0], R[..., 2, 2])
    z = np.arctan2(-R[..., 0, 1], R[..., 1, 1])
    return np.stack([z, x, y], axis=-1)


def most_upright_frame(pos_m: np.ndarray, max_foot_height_m: float | None = 0.05) -> int:
    """The frame whose head-minus-pelvis vector is closest to vertical (+Y), among the frames
    whose lowest ankle/foot joint is at most ``max_foot_height_m`` above the floor (y = 0);
    among all frames when None or when no frame has a foot that low.

    Example:
        >>> pos = np.zeros((2, 22, 3)); pos[0, 15] = (0.3, 0.5, 0.0); pos[1, 15] = (0.0, 0.6, 0.1)
        >>> most_upright_frame(pos)
        1
    """
    v = pos_m[:, 15] - pos_m[:, 0]
    cos = v[:, 1] / np.maximum(np.linalg.norm(v, axis=-1), 1e-9)
    if max_foot_height_m is not None:
        standing = pos_m[:, list(FOOT_JOINTS), 1].min(axis=1) <= max_foot_height_m
        if standing.any():
            cos = np.where(standing, cos, -np.inf)
    return int(np.argmax(cos))


def _load(
    path: str | Path, up_axis: str | None, unit_scale: float | None
) -> tuple[Clip, BvhMotion, Retargeted]:
    bvh = read_bvh(path)
    out = retarget(bvh, up_axis=up_axis, unit_scale=unit_scale)
    clip = out.to_clip(path, bvh.fps)
    return clip, bvh, out

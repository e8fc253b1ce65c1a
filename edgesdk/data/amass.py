"""AMASS ``.npz`` motion files to the canonical ``Clip`` (metres, Y up, floor at y = 0).

An AMASS file holds SMPL+H parameters (SMPL-X in the newer releases), Z up:

- ``poses [T, 156]``: axis-angle, root orientation (3), 21 body joints (63), hands (90);
  SMPL-X files have 165 values (jaw and eyes before the hands) or ``root_orient [T, 3]`` and
  ``pose_body [T, 63]`` instead. Only the root and the 21 body joints are used.
- ``trans [T, 3]`` metres, ``betas [16]``, ``gender``, and ``mocap_framerate`` (or
  ``mocap_frame_rate``) in Hz.

Joint positions follow the SMPL convention: the pelvis is at ``J_rest[0] + trans`` and the
body hangs from it by forward kinematics of the rest joints. With a body model
(``body_model_path``, read through ``edgesdk.body.smpl`` and smplx) the rest joints come from
the subject's shape ``betas``; without one, from ``skeleton.template_offsets`` scaled to
``height_m``, so positions are then approximate (bone lengths of an average body, not the
subject's; rotations are exact either way).

The world is turned from Z up to Y up by ``(x, y, z) -> (x, z, -y)``, applied to the root
orientation and the pelvis path, and the clip is lifted so the soles touch y = 0 at the lowest
foot contact of the clip.

Example:
    >>> clip = load_amass("CMU/01/01_01_poses.npz")                       # doctest: +SKIP
    >>> clip = load_amass("01_01_poses.npz", body_model_path="models", fps=30)  # doctest: +SKIP
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgesdk.body.fk import forward_kinematics
from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.skeleton import FOOT_JOINTS, offsets_from_positions, rest_positions
from edgesdk.data.clip import Clip, Labels
from edgesdk.data.resample import resample
from edgesdk.errors import EdgeSDKError

# (x, y, z) Z up -> (x, z, -y) Y up.
R_YUP_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
# The pelvis of SMPL's neutral mean shape in model coordinates, for a 1.70 m body: AMASS adds
# ``trans`` to it, so without a model it places the template where the model would.
_MEAN_PELVIS_M = np.array([0.0, -0.223, 0.028])
_MEAN_STATURE_M = 1.70
_FRAME_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
_USED_KEYS = frozenset(
    ("poses", "root_orient", "pose_body", "trans", "betas", "gender", "surface_model_type")
) | frozenset(_FRAME_RATE_KEYS)


def load_amass(
    path: str | Path,
    body_model_path: str | Path | None = None,
    fps: float | None = None,
    *,
    gender: str | None = None,
    height_m: float = _MEAN_STATURE_M,
    allow_pickle: bool = False,
) -> Clip:
    """Read an AMASS ``.npz`` file as a ``Clip``.

    Args:
        path: the AMASS file (e.g. ``CMU/01/01_01_poses.npz``).
        body_model_path: SMPL+H (or SMPL-X, for SMPL-X files) model file or folder, see
            ``edgesdk.body.smpl``; ``None`` uses the template skeleton (approximate positions).
        fps: output frame rate; the file's own when ``None``, otherwise resampled by
            ``edgesdk.data.resample.resample`` (rotations slerped, positions interpolated).
        gender: model gender; the file's ``gender`` by default (``"neutral"`` if it has none).
            Betas beyond the model's (AMASS has 16, the MANO-site SMPL+H 10) are dropped.
        height_m: stature of the template skeleton when there is no body model.
        allow_pickle: let a ``.pkl`` body model be read; unpickling runs any code the file
            holds, so pass True only for a model file you trust (``.npz`` needs no pickle).

    Returns:
        A clip with rig ``"smplh"`` / ``"smplx"`` (body model) or ``"smpl-template"``, empty
        labels, named after the file.

    Raises:
        EdgeSDKError: unreadable files, missing keys, wrong shapes, NaN or inf values (naming
            the file and the problem), or a body model that cannot be loaded.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "stand_poses.npz"
        >>> poses = np.zeros((60, 156))
        >>> poses[:, 0] = np.pi / 2  # standing upright in AMASS's Z-up world
        >>> np.savez(path, poses=poses, trans=np.zeros((60, 3)), mocap_framerate=120.0)
        >>> clip = load_amass(path, fps=30)
        >>> clip.num_frames, clip.fps, clip.rig
        (15, 30.0, 'smpl-template')
    """
    path = Path(path)
    npz = _AmassFile.read(path)
    root_aa, body_aa = _pose(npz)
    trans_m = npz.numeric("trans")
    T = root_aa.shape[0]
    if trans_m.shape != (T, 3):
        raise EdgeSDKError(f"{path}: trans has shape {trans_m.shape}, expected ({T}, 3)")
    _check_finite(path, poses=root_aa, pose_body=body_aa, trans=trans_m)
    source_fps = _frame_rate(npz)

    if body_model_path is None:
        scale = height_m / _MEAN_STATURE_M
        rest_m = rest_positions(height_m).double().numpy()  # feet on the floor: soles at 0
        pelvis_model_m = _MEAN_PELVIS_M * scale
        sole_y_m = 0.0
        rig = "smpl-template"
    else:
        rest_m, sole_y_m, rig = _shaped_rest(npz, body_model_path, gender, allow_pickle)
        pelvis_model_m = rest_m[0]
    offsets_m = offsets_from_positions(torch.from_numpy(rest_m))

    R_yup_zup = torch.from_numpy(R_YUP_ZUP)
    R_world_root = R_yup_zup @ axis_angle_to_matrix(torch.from_numpy(root_aa))
    local = torch.cat([R_world_root[:, None], axis_angle_to_matrix(torch.from_numpy(body_aa))], 1)
    root_pos_m = (torch.from_numpy(pelvis_model_m + trans_m) @ R_yup_zup.T).double()
    R_world_joint, pos_m = forward_kinematics(local, offsets_m, root_pos_m)

    # Soles on the floor at the lowest foot-joint height of the clip.
    foot_clearance_m = rest_m[list(FOOT_JOINTS), 1].min() - sole_y_m
    floor_y_m = float(pos_m[:, list(FOOT_JOINTS), 1].min()) - foot_clearance_m
    pos_m[..., 1] -= floor_y_m
    clip_offsets_m = offsets_m.clone()
    clip_offsets_m[0] = torch.from_numpy(rest_m[0] - np.array([0.0, sole_y_m, 0.0]))

    clip = Clip(
        name=path.name.removesuffix(".npz"),
        fps=source_fps,
        R_world_joint=R_world_joint.float().numpy(),
        global_pos_m=pos_m.float().numpy(),
        offsets_m=clip_offsets_m.float().numpy(),
        labels=Labels(),
        source=str(path),
        rig=rig,
    )
    if fps is None or abs(fps - source_fps) < 1e-6:
        return clip
    return resample(clip, fps)


@dataclass(frozen=True)
class _AmassFile:
    """The arrays of an AMASS file that the reader uses, and the names of all of them."""

    path: Path
    keys: tuple[str, ...]
    arrays: dict[str, np.ndarray]

    @classmethod
    def read(cls, path: Path) -> _AmassFile:
        if not path.is_file():
            raise EdgeSDKError(f"{path}: no such file")
        if not zipfile.is_zipfile(path):
            raise EdgeSDKError(f"{path}: not an .npz archive (AMASS files are numpy .npz)")
        arrays: dict[str, np.ndarray] = {}
        try:
            with np.load(path, allow_pickle=False) as archive:
                keys = tuple(archive.files)
                for key in keys:
                    if key in _USED_KEYS:
                        arrays[key] = _load_member(archive, key, path)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise EdgeSDKError(f"{path}: not an .npz archive ({exc})") from exc
        return cls(path, keys, arrays)

    def has(self, key: str) -> bool:
        return key in self.arrays

    def numeric(self, key: str) -> np.ndarray:
        """The array as float64; an error naming the file when missing or not numbers."""
        if key not in self.arrays:
            found = ", ".join(sorted(self.keys)) or "none"
            raise EdgeSDKError(f"{self.path}: missing key '{key}' (found: {found})")
        value = self.arrays[key]
        if not np.issubdtype(value.dtype, np.number):
            raise EdgeSDKError(f"{self.path}: '{key}' is not numeric (dtype {value.dtype})")
        return value.astype(np.float64)

    def text(self, key: str) -> str | None:
        if key not in self.arrays:
            return None
        value = self.arrays[key]
        item = value.item() if value.size == 1 else value
        text = item.decode() if isinstance(item, bytes) else str(item)
        return text.strip().lower()


def _load_member(archive: Any, key: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(archive[key])
    except ValueError as exc:  # an object array, which would need pickle
        raise EdgeSDKError(
            f"{path}: '{key}' holds Python objects, which are not read (no pickle)"
        ) from exc


def _pose(npz: _AmassFile) -> tuple[np.ndarray, np.ndarray]:
    """Root orientation ``[T, 3]`` and body pose ``[T, 21, 3]``, axis-angle."""
    path = npz.path
    if not npz.has("poses") and npz.has("root_orient") and npz.has("pose_body"):
        root = npz.numeric("root_orient")
        body = npz.numeric("pose_body")
        if root.ndim != 2 or root.shape[1] != 3 or body.shape != (root.shape[0], 63):
            raise EdgeSDKError(
                f"{path}: root_orient {root.shape} and pose_body {body.shape} should be "
                "(T, 3) and (T, 63)"
            )
    else:
        poses = npz.numeric("poses")
        if poses.ndim != 2 or poses.shape[1] < 66 or poses.shape[1] % 3:
            raise EdgeSDKError(
                f"{path}: poses has shape {poses.shape}, expected (T, 156) for SMPL+H "
                "or (T, 165) for SMPL-X"
            )
        root, body = poses[:, :3], poses[:, 3:66]
    if root.shape[0] == 0:
        raise EdgeSDKError(f"{path}: zero frames")
    return root, body.reshape(-1, 21, 3)


def _frame_rate(npz: _AmassFile) -> float:
    for key in _FRAME_RATE_KEYS:
        if npz.has(key):
            value = npz.numeric(key)
            if value.size != 1 or not np.isfinite(value).all() or value.item() <= 0:
                raise EdgeSDKError(f"{npz.path}: {key} must be one positive number, got {value}")
            return float(value.item())
    raise EdgeSDKError(
        f"{npz.path}: missing key '{_FRAME_RATE_KEYS[0]}' (or '{_FRAME_RATE_KEYS[1]}')"
    )


def _check_finite(path: Path, **arrays: np.ndarray) -> None:
    for key, value in arrays.items():
        if not np.isfinite(value).all():
            raise EdgeSDKError(f"{path}: NaN or inf in '{key}'")


def _shaped_rest(
    npz: _AmassFile, body_model_path: str | Path, gender: str | None, allow_pickle: bool
) -> tuple[np.ndarray, float, str]:
    """Rest joints ``[22, 3]`` (model coordinates), sole height and rig of the subject."""
    from edgesdk.body.smpl import SMPLBody  # keeps smplx out of plain AMASS reads

    surface = npz.text("surface_model_type")
    if surface in ("smplh", "smplx"):
        model_type = surface
    elif npz.has("poses"):
        model_type = "smplx" if npz.arrays["poses"].shape[-1] == 165 else "smplh"
    else:  # root_orient / pose_body: AMASS's SMPL-X release
        model_type = "smplx"
    betas = npz.numeric("betas").reshape(-1)
    _check_finite(npz.path, betas=betas)
    if betas.size == 0:
        raise EdgeSDKError(f"{npz.path}: betas is empty")
    body = SMPLBody.load(
        body_model_path,
        model_type,
        gender or npz.text("gender") or "neutral",
        num_betas=betas.size,
        dtype=torch.float64,
        allow_pickle=allow_pickle,
    )
    shaped = body.with_shape(torch.from_numpy(betas[: body.num_betas]))
    rest_m = shaped.rest_joints_m.numpy()
    return rest_m, float(shaped.sole_height_m()), model_type

"""SMPL, SMPL+H and SMPL-X through ``smplx``, as a stateless body: load -> with_shape -> with_pose.

The model files are registration-gated, so nothing in edgesdk needs them: this module is used
only when a user points at their own files. ``smplx`` reads and interprets the file (imported
lazily, so edgesdk imports without it); the result is a frozen dataclass of tensors with an
EgoAllo-like API that broadcasts over any leading dims:

    body = SMPLBody.load(dir)                       # SMPLBody: template, blend shapes, regressor
    shaped = body.with_shape(betas)                 # SMPLShaped: rest mesh and joints, offsets
    posed = shaped.with_pose(body_pose, root_orient=aa, transl_m=t)   # SMPLPosed
    posed.joints_m, posed.R_world_joint, posed.vertices_m()

Files are read without pickle: ``.npz`` entries that hold Python objects (SMPL-X's
``joint2num``, unused) are skipped. A ``.pkl`` file *is* a pickle, and unpickling a file can
run any code in it, so it is read only with ``allow_pickle=True``, for files you trust.

The first 22 joints of all three models are edgesdk's layout (``edgesdk.body.skeleton``; checked
on load), and ``shaped.offsets_m()`` makes ``edgesdk.body.fk.forward_kinematics`` reproduce
the model's joints exactly: joints come from the J_regressor on the *shaped* template (pose
blend shapes move vertices, never joints).

File layout, as ``smplx.create`` expects it (``<type>`` is smpl, smplh or smplx; GENDER is
NEUTRAL, MALE or FEMALE):

    <dir>/<type>/<TYPE>_<GENDER>.pkl or .npz     e.g. models/smplx/SMPLX_NEUTRAL.npz
    <dir>/<TYPE>_<GENDER>.pkl or .npz
    <dir>/[<type>/]<gender>/model.npz            AMASS's extended SMPL+H (16 betas)
    or the path of the file itself.

Keys smplx reads: ``v_template [V, 3]``, ``shapedirs [V, 3, B]``, ``posedirs [V, 3, (J-1)*9]``,
``J_regressor [J, V]`` (dense or scipy.sparse), ``weights [V, J]``, ``kintree_table [2, J]``
(row 0 the parents), ``f [F, 3]``; SMPL+H and SMPL-X add ``hands_componentsl/r [45, 45]`` and
``hands_meanl/r [45]``; SMPL-X adds ``lmk_faces_idx`` and ``lmk_bary_coords``. J is 24 (SMPL),
52 (SMPL+H) or 55 (SMPL-X). ``write_synthetic_model`` writes a small valid file of each kind for
tests and demos.

Example:
    >>> import tempfile, torch
    >>> tmp = tempfile.mkdtemp()
    >>> _ = write_synthetic_model(tmp, "smplh")
    >>> shaped = SMPLBody.load(tmp, "smplh").with_shape(torch.zeros(10))
    >>> posed = shaped.with_pose(torch.zeros(8, 21, 3), transl_m=torch.zeros(8, 3))
    >>> tuple(posed.joints_m.shape), tuple(posed.vertices_m().shape)
    ((8, 22, 3), (8, 312, 3))
"""

from __future__ import annotations

import contextlib
import io
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.skeleton import NUM_JOINTS, PARENTS, offsets_from_positions, rest_positions
from edgesdk.errors import EdgeSDKError

MODEL_TYPES = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
NUM_MODEL_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55}
NUM_BODY_POSE_JOINTS = NUM_JOINTS - 1  # 21: the body joints after the pelvis
NUM_HAND_JOINTS = 30  # 15 per hand, left then right
_HAND_START = {"smplh": 22, "smplx": 25}  # SMPL-X puts jaw and eyes (22-24) before the hands
_NAMES = {"smpl": "SMPL", "smplh": "SMPL+H", "smplx": "SMPL-X"}
_REGISTER = {
    "smpl": "smpl.is.tue.mpg.de",
    "smplh": "mano.is.tue.mpg.de",
    "smplx": "smpl-x.is.tue.mpg.de",
}
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")


def find_model_file(
    model_path: str | Path, model_type: str = "smpl", gender: str = "neutral"
) -> Path:
    """The model file for ``model_type`` and ``gender`` at ``model_path`` (a file or a folder).

    Raises:
        EdgeSDKError: naming the path and the expected layout when nothing fits.

    Example:
        >>> find_model_file("/nowhere", "smplx")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: no SMPL-X model file found at /nowhere: expected ...
    """
    model_type, gender = _check_type_and_gender(model_type, gender)
    path = Path(model_path).expanduser()
    if path.is_file():
        if path.suffix not in (".pkl", ".npz"):
            raise EdgeSDKError(f"{path}: a {_NAMES[model_type]} model file must be .pkl or .npz")
        return path
    upper = f"{model_type.upper()}_{gender.upper()}"
    exts = (".npz", ".pkl") if model_type == "smplx" else (".pkl", ".npz")
    for base in (path / model_type, path):
        for candidate in [base / f"{upper}{ext}" for ext in exts] + [base / gender / "model.npz"]:
            if candidate.is_file():
                return candidate
    raise EdgeSDKError(
        f"no {_NAMES[model_type]} model file found at {path}: expected "
        f"{path / model_type / upper}.pkl or .npz (register at {_REGISTER[model_type]})"
    )


@dataclass(frozen=True, eq=False)
class SMPLBody:
    """A loaded SMPL-family model: template, blend shapes, joint regressor and skinning weights.

    Attributes:
        model_type: "smpl", "smplh" or "smplx".
        gender: "neutral", "male" or "female".
        source: the file it was read from.
        v_template: ``[V, 3]`` mean-shape rest vertices (metres, Y up, facing +Z).
        shapedirs: ``[V, 3, B]`` shape blend shapes.
        posedirs: ``[(J - 1) * 9, V * 3]`` pose blend shapes (smplx's layout).
        J_regressor: ``[J, V]`` joints from vertices.
        parents: ``J`` parent indices (-1 for the pelvis); the first 22 are ``skeleton.PARENTS``.
        weights: ``[V, J]`` linear-blend-skinning weights.
        faces: ``[F, 3]`` triangle vertex indices.
    """

    model_type: str
    gender: str
    source: str
    v_template: Tensor
    shapedirs: Tensor
    posedirs: Tensor
    J_regressor: Tensor
    parents: tuple[int, ...]
    weights: Tensor
    faces: Tensor

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        model_type: str = "smpl",
        gender: str = "neutral",
        num_betas: int | None = None,
        dtype: torch.dtype = torch.float32,
        *,
        allow_pickle: bool = False,
    ) -> SMPLBody:
        """Read a model file through ``smplx`` (see the module docstring for the layout).

        Args:
            model_path: the model file, or a folder laid out as ``smplx.create`` expects.
            model_type: "smpl", "smplh" or "smplx".
            gender: "neutral", "male" or "female".
            num_betas: shape components to keep; all the file has by default (smplx itself
                caps SMPL and SMPL+H at 10; AMASS's SMPL+H files have 16, kept here).
            dtype: tensor dtype.
            allow_pickle: read a ``.pkl`` model file. Such a file is a Python pickle, and
                unpickling runs whatever code the file holds: pass True only for a file from a
                source you trust (the official download). ``.npz`` files never need it.

        Raises:
            EdgeSDKError: no such file, an unreadable file, missing keys, a ``.pkl`` file without
                ``allow_pickle=True``, or a skeleton whose first 22 joints are not edgesdk's
                layout.

        Example:
            >>> SMPLBody.load("/nowhere/models")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            edgesdk.errors.EdgeSDKError: no SMPL model file found at /nowhere/models: ...
        """
        model_type, gender = _check_type_and_gender(model_type, gender)
        path = find_model_file(model_path, model_type, gender)
        module, raw_shapedirs = _smplx_module(
            path, model_type, gender, num_betas, dtype, allow_pickle
        )
        shapedirs = module.shapedirs.detach()
        if raw_shapedirs is not None and raw_shapedirs.shape[-1] > shapedirs.shape[-1]:
            keep = raw_shapedirs.shape[-1] if num_betas is None else num_betas
            shapedirs = torch.as_tensor(np.asarray(raw_shapedirs[..., :keep]), dtype=dtype)
        body = cls(
            model_type=model_type,
            gender=gender,
            source=str(path),
            v_template=module.v_template.detach(),
            shapedirs=shapedirs,
            posedirs=module.posedirs.detach(),
            J_regressor=module.J_regressor.detach(),
            parents=tuple(int(p) for p in module.parents.tolist()),
            weights=module.lbs_weights.detach(),
            faces=module.faces_tensor.detach(),
        )
        body._validate()
        return body

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def with_shape(self, betas: Tensor | None = None) -> SMPLShaped:
        """The body with shape ``betas [..., B']`` (``B' <= num_betas``; missing ones are 0).

        Example:
            >>> import tempfile
            >>> body = SMPLBody.load(write_synthetic_model(tempfile.mkdtemp(), "smpl", ext="npz"))
            >>> tuple(body.with_shape(torch.zeros(3, 10)).offsets_m().shape)
            (3, 22, 3)
        """
        dtype = self.v_template.dtype
        if betas is None:
            betas = torch.zeros(self.num_betas, dtype=dtype)
        betas = torch.as_tensor(betas, dtype=dtype)
        if betas.dim() == 0 or betas.shape[-1] > self.num_betas:
            raise ValueError(f"betas must be [..., <= {self.num_betas}], got {tuple(betas.shape)}")
        betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[-1]))
        verts = self.v_template + torch.einsum("...b,vcb->...vc", betas, self.shapedirs)
        joints = torch.einsum("jv,...vc->...jc", self.J_regressor, verts)
        return SMPLShaped(body=self, betas=betas, verts_zero_m=verts, joints_zero_m=joints)

    def _validate(self) -> None:
        where = self.source
        J, V = NUM_MODEL_JOINTS[self.model_type], self.num_vertices
        if self.num_joints != J:
            raise EdgeSDKError(
                f"{where}: {self.num_joints} joints, but a {_NAMES[self.model_type]} model has {J}"
            )
        if self.parents[:NUM_JOINTS] != PARENTS:
            raise EdgeSDKError(
                f"{where}: the first 22 joints' parents {list(self.parents[:NUM_JOINTS])} "
                f"are not the SMPL layout {list(PARENTS)}"
            )
        expected = {
            "shapedirs": (V, 3),
            "posedirs": ((J - 1) * 9, V * 3),
            "J_regressor": (J, V),
            "weights": (V, J),
        }
        for key, shape in expected.items():
            got = tuple(getattr(self, key).shape)
            if got[: len(shape)] != shape:
                raise EdgeSDKError(f"{where}: {key} has shape {got}, expected {shape}")
        if self.faces.numel() and int(self.faces.max()) >= V:
            raise EdgeSDKError(f"{where}: faces index vertex {int(self.faces.max())} of {V}")


@dataclass(frozen=True, eq=False)
class SMPLShaped:
    """A body of a given shape, in its rest pose (model coordinates: Y up, facing +Z).

    Attributes:
        body: the model.
        betas: ``[..., B]`` shape coefficients.
        verts_zero_m: ``[..., V, 3]`` rest vertices.
        joints_zero_m: ``[..., J, 3]`` rest joints, all of the model's (hands and face too).
    """

    body: SMPLBody
    betas: Tensor
    verts_zero_m: Tensor
    joints_zero_m: Tensor

    @property
    def rest_joints_m(self) -> Tensor:
        """``[..., 22, 3]`` rest positions of edgesdk's joints."""
        return self.joints_zero_m[..., :NUM_JOINTS, :]

    def offsets_m(self) -> Tensor:
        """``[..., 22, 3]`` bone offsets for ``forward_kinematics``; row 0 is the rest pelvis
        position in model coordinates, so the posed pelvis is ``offsets_m()[0] + transl_m``."""
        return offsets_from_positions(self.rest_joints_m)

    def sole_height_m(self) -> Tensor:
        """``[...]`` height of the lowest rest vertex (the soles) in model coordinates."""
        return self.verts_zero_m[..., 1].amin(dim=-1)

    def with_pose(
        self,
        body_pose: Tensor,
        *,
        R_world_root: Tensor | None = None,
        root_orient: Tensor | None = None,
        transl_m: Tensor | None = None,
        hand_pose: Tensor | None = None,
    ) -> SMPLPosed:
        """Pose the body; all inputs broadcast over their leading dims.

        Args:
            body_pose: local rotations of joints 1-21, ``[..., 21, 3, 3]`` matrices or
                axis-angle ``[..., 21, 3]`` / ``[..., 63]`` (smplx's ``body_pose``).
            R_world_root: ``[..., 3, 3]`` pelvis orientation, or
            root_orient: the same as axis-angle ``[..., 3]`` (smplx's ``global_orient``);
                identity when neither is given.
            transl_m: ``[..., 3]`` translation added to everything (smplx's ``transl``).
            hand_pose: SMPL+H / SMPL-X only: 30 finger joints, left then right, as
                ``[..., 30, 3, 3]``, ``[..., 30, 3]`` or ``[..., 90]``; flat hands by default.

        Example:
            >>> import tempfile
            >>> body = SMPLBody.load(write_synthetic_model(tempfile.mkdtemp(), "smplx"), "smplx")
            >>> posed = body.with_shape().with_pose(torch.zeros(63), root_orient=torch.zeros(3))
            >>> bool(torch.allclose(posed.joints_m, body.with_shape().rest_joints_m))
            True
        """
        dtype = self.verts_zero_m.dtype
        body = _as_matrices(body_pose, NUM_BODY_POSE_JOINTS, "body_pose", dtype)
        if R_world_root is not None and root_orient is not None:
            raise ValueError("give R_world_root or root_orient, not both")
        if R_world_root is not None:
            root = torch.as_tensor(R_world_root, dtype=dtype)
            if root.shape[-2:] != (3, 3):
                raise ValueError(f"R_world_root must be [..., 3, 3], got {tuple(root.shape)}")
        elif root_orient is not None:
            aa = torch.as_tensor(root_orient, dtype=dtype)
            if aa.dim() == 0 or aa.shape[-1] != 3:
                raise ValueError(f"root_orient must be [..., 3], got {tuple(aa.shape)}")
            root = axis_angle_to_matrix(aa)
        else:
            root = torch.eye(3, dtype=dtype)
        transl = torch.zeros(3, dtype=dtype) if transl_m is None else torch.as_tensor(transl_m)
        transl = transl.to(dtype)
        hands = None
        if hand_pose is not None:
            if self.body.model_type not in _HAND_START:
                raise ValueError("hand_pose needs an SMPL+H or SMPL-X model")
            hands = _as_matrices(hand_pose, NUM_HAND_JOINTS, "hand_pose", dtype)
        batch = torch.broadcast_shapes(
            root.shape[:-2],
            body.shape[:-3],
            transl.shape[:-1],
            self.betas.shape[:-1],
            () if hands is None else hands.shape[:-3],
        )
        J = self.body.num_joints
        local = torch.eye(3, dtype=dtype).repeat(*batch, J, 1, 1)
        local[..., 0, :, :] = root.expand(*batch, 3, 3)
        local[..., 1:NUM_JOINTS, :, :] = body.expand(*batch, NUM_BODY_POSE_JOINTS, 3, 3)
        if hands is not None:
            start = _HAND_START[self.body.model_type]
            local[..., start : start + NUM_HAND_JOINTS, :, :] = hands.expand(
                *batch, NUM_HAND_JOINTS, 3, 3
            )
        joints_zero = self.joints_zero_m.expand(*batch, J, 3)
        rots: list[Tensor] = [local[..., 0, :, :]]
        pos: list[Tensor] = [joints_zero[..., 0, :]]
        for j in range(1, J):
            p = self.body.parents[j]
            rots.append(rots[p] @ local[..., j, :, :])
            bone = joints_zero[..., j, :] - joints_zero[..., p, :]
            pos.append(pos[p] + (rots[p] @ bone[..., None])[..., 0])
        return SMPLPosed(
            shaped=self,
            local_rot=local,
            R_world_joint_all=torch.stack(rots, dim=-3),
            joints_all_m=torch.stack(pos, dim=-2) + transl[..., None, :],
            transl_m=transl.expand(*batch, 3),
        )


@dataclass(frozen=True, eq=False)
class SMPLPosed:
    """A shaped body in a pose.

    Attributes:
        shaped: the shaped body.
        local_rot: ``[..., J, 3, 3]`` ``R_parent_joint`` of every model joint (the root's is
            ``R_world_root``).
        R_world_joint_all: ``[..., J, 3, 3]`` global rotations of every model joint.
        joints_all_m: ``[..., J, 3]`` posed joints (smplx's ``joints[:, :J]``).
        transl_m: ``[..., 3]`` the translation.
    """

    shaped: SMPLShaped
    local_rot: Tensor
    R_world_joint_all: Tensor
    joints_all_m: Tensor
    transl_m: Tensor

    @property
    def joints_m(self) -> Tensor:
        """``[..., 22, 3]`` posed positions of edgesdk's joints."""
        return self.joints_all_m[..., :NUM_JOINTS, :]

    @property
    def R_world_joint(self) -> Tensor:
        """``[..., 22, 3, 3]`` global rotations of edgesdk's joints."""
        return self.R_world_joint_all[..., :NUM_JOINTS, :, :]

    def vertices_m(self) -> Tensor:
        """``[..., V, 3]`` posed mesh by linear blend skinning with pose blend shapes (as
        ``smplx.lbs.lbs``). Memory grows as ``batch * V * 9`` floats: chunk long sequences."""
        body, shaped = self.shaped.body, self.shaped
        batch = self.local_rot.shape[:-3]
        eye = torch.eye(3, dtype=self.local_rot.dtype)
        pose_feature = (self.local_rot[..., 1:, :, :] - eye).reshape(*batch, -1)
        v_posed = shaped.verts_zero_m + (pose_feature @ body.posedirs).reshape(*batch, -1, 3)
        joints_zero = shaped.joints_zero_m.expand(*batch, body.num_joints, 3)
        R = self.R_world_joint_all
        # Rigid transform of each joint relative to its rest pose: x -> R (x - j0) + j.
        t = self.joints_all_m - self.transl_m[..., None, :] - (R @ joints_zero[..., None])[..., 0]
        R_vert = torch.einsum("vj,...jab->...vab", body.weights, R)
        t_vert = torch.einsum("vj,...ja->...va", body.weights, t)
        skinned = (R_vert @ v_posed[..., None])[..., 0] + t_vert
        return skinned + self.transl_m[..., None, :]


def write_synthetic_model(
    out_dir: str | Path,
    model_type: str = "smplh",
    gender: str = "neutral",
    num_betas: int = 10,
    ext: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a small random but valid model file in smplx's format; returns its path.

    For tests and demos without the registration-gated files: 6 vertices around each joint
    (the J_regressor averages them, so the rest joints are exact), random shape and pose blend
    shapes, skinning split between a joint and its parent. Files go to
    ``out_dir/<type>/<TYPE>_<GENDER>.<ext>``; ``ext`` defaults to smplx's (pkl for SMPL,
    with a scipy.sparse J_regressor like the real files; npz otherwise).

    Example:
        >>> import tempfile
        >>> write_synthetic_model(tempfile.mkdtemp(), "smpl").name
        'SMPL_NEUTRAL.pkl'
    """
    model_type, gender = _check_type_and_gender(model_type, gender)
    ext = ext or ("pkl" if model_type == "smpl" else "npz")
    rng = np.random.default_rng(seed)
    parents = _model_parents(model_type)
    J = len(parents)
    joints = np.zeros((J, 3))
    joints[:NUM_JOINTS] = rest_positions().numpy() - np.array([0.0, 1.2, 0.0])
    for j in range(NUM_JOINTS, J):  # hands, jaw and eyes: short bones off the parent
        side = np.sign(joints[parents[j], 0]) or 1.0
        joints[j] = joints[parents[j]] + np.array([0.03 * side, -0.01, 0.01 * (j % 5 - 2)])
    spread = 0.02 * np.concatenate([np.eye(3), -np.eye(3)])
    v_template = (joints[:, None, :] + spread[None]).reshape(-1, 3)
    V = len(v_template)
    owner = np.repeat(np.arange(J), 6)
    J_regressor = np.zeros((J, V))
    J_regressor[owner, np.arange(V)] = 1.0 / 6.0
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 0.7
    weights[np.arange(V), np.maximum(np.asarray(parents)[owner], 0)] += 0.3
    faces = np.stack([np.arange(0, V, 3), np.arange(1, V, 3), np.arange(2, V, 3)], -1)
    kintree = np.stack([np.array(parents, dtype=np.int64) % 2**32, np.arange(J)])
    data: dict[str, Any] = {
        "v_template": v_template,
        "shapedirs": 0.01 * rng.standard_normal((V, 3, num_betas)),
        "posedirs": 0.002 * rng.standard_normal((V, 3, (J - 1) * 9)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.uint32),
        "J": joints,
    }
    if model_type != "smpl":
        for side in "lr":
            data[f"hands_components{side}"] = np.eye(45)
            data[f"hands_mean{side}"] = np.zeros(45)
    if model_type == "smplx":
        data["shapedirs"] = np.concatenate(  # 10 shape + 10 expression components
            [data["shapedirs"][..., :10], 0.005 * rng.standard_normal((V, 3, 10))], axis=-1
        )
        data["lmk_faces_idx"] = np.arange(51) % len(faces)
        data["lmk_bary_coords"] = np.full((51, 3), 1.0 / 3.0)
    path = Path(out_dir) / model_type / f"{model_type.upper()}_{gender.upper()}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == "pkl":
        import scipy.sparse

        data["J_regressor"] = scipy.sparse.csc_matrix(J_regressor)
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=2)
    else:
        np.savez(path, **data)
    return path


def _model_parents(model_type: str) -> list[int]:
    parents = list(PARENTS)
    if model_type == "smpl":
        return [*parents, 20, 21]  # left_hand, right_hand
    if model_type == "smplx":
        parents += [15, 15, 15]  # jaw, left_eye, right_eye
    for wrist in (20, 21):  # 5 fingers of 3 joints, from the wrist out
        for _ in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    return parents


def _smplx_module(
    path: Path,
    model_type: str,
    gender: str,
    num_betas: int | None,
    dtype: torch.dtype,
    allow_pickle: bool,
) -> tuple[Any, np.ndarray | None]:
    """The smplx module for a model file, and the file's raw shapedirs (SMPL, SMPL+H)."""
    try:
        import smplx
        from smplx.utils import Struct
    except ImportError as exc:
        raise EdgeSDKError(f"loading {path} needs the smplx package ({exc})") from exc
    name = _NAMES[model_type]
    kwargs: dict[str, Any] = {"gender": gender, "dtype": dtype, "batch_size": 1}
    kwargs["num_betas"] = num_betas if num_betas is not None else 300
    raw_shapedirs = None
    data = _read_model_data(path, model_type, allow_pickle)
    try:
        # smplx prints a warning for models with fewer than 300 betas; keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryDirectory() as tmp:
            if model_type == "smplx":
                # smplx.SMPLX reads the file itself (np.load with allow_pickle=True): hand it a
                # copy of the arrays read here, so it never unpickles the user's file.
                clean = Path(tmp) / f"SMPLX_{gender.upper()}.npz"
                np.savez(clean, allow_pickle=False, **_plain_arrays(data))
                module = smplx.SMPLX(
                    str(clean), ext="npz", use_pca=False, flat_hand_mean=True, **kwargs
                )
            else:
                raw_shapedirs = data["shapedirs"]
                struct = Struct(**data)
                if model_type == "smpl":
                    module = smplx.SMPL(str(path), data_struct=struct, **kwargs)
                else:
                    module = smplx.SMPLH(
                        str(path), data_struct=struct, use_pca=False, flat_hand_mean=True, **kwargs
                    )
    except EdgeSDKError:
        raise
    except ModuleNotFoundError as exc:
        raise _pickle_module_error(path, exc) from exc
    except (AttributeError, KeyError) as exc:
        raise EdgeSDKError(f"{path}: not a valid {name} model file (missing {exc})") from exc
    except (OSError, ValueError, IndexError, RuntimeError, AssertionError, EOFError) as exc:
        raise EdgeSDKError(f"{path}: not a valid {name} model file ({exc})") from exc
    return module, raw_shapedirs


def _plain_arrays(data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The numeric arrays of a model's data (a sparse regressor made dense)."""
    out: dict[str, np.ndarray] = {}
    for key, value in data.items():
        if hasattr(value, "toarray"):  # scipy.sparse, from a trusted .pkl
            value = value.toarray()
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            continue
        if arr.dtype != object:
            out[key] = arr
    return out


def _read_model_data(path: Path, model_type: str, allow_pickle: bool) -> dict[str, Any]:
    """A model file as a dict, with flat-hand defaults where AMASS's SMPL+H files lack them.

    ``.npz`` files are read without pickle (entries holding Python objects are skipped);
    ``.pkl`` files only when ``allow_pickle`` says the user trusts them."""
    try:
        if path.suffix == ".npz":
            data = _read_npz(path)
        elif not allow_pickle:
            raise EdgeSDKError(
                f"{path}: a .pkl model file is a Python pickle, and loading one runs any code "
                "it holds; pass allow_pickle=True only for a file you trust (e.g. the official "
                "download), or use the .npz release"
            )
        else:
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")
    except ModuleNotFoundError as exc:
        raise _pickle_module_error(path, exc) from exc
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise EdgeSDKError(f"{path}: cannot read the model file ({exc})") from exc
    if not isinstance(data, dict):
        raise EdgeSDKError(f"{path}: not a model file (holds a {type(data).__name__}, not a dict)")
    missing = [key for key in (*_REQUIRED_KEYS, "f") if key not in data]
    if missing:
        raise EdgeSDKError(f"{path}: not a {_NAMES[model_type]} model file (missing {missing})")
    if model_type == "smplh":
        # Hands are posed joint by joint here (no PCA), so only the key's presence matters.
        for side in "lr":
            data.setdefault(f"hands_components{side}", np.eye(45))
            data.setdefault(f"hands_mean{side}", np.zeros(45))
    return data


def _read_npz(path: Path) -> dict[str, Any]:
    """An ``.npz`` file's numeric entries; entries that would need pickle are left out."""
    data: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            try:
                data[key] = archive[key]
            except ValueError:  # an object array (e.g. SMPL-X's joint2num): needs pickle
                continue
    return data


def _pickle_module_error(path: Path, exc: ModuleNotFoundError) -> EdgeSDKError:
    return EdgeSDKError(
        f"{path}: the pickle needs the '{exc.name}' module (old SMPL files store chumpy "
        "arrays); install it, or convert the file to plain numpy with smplx's tools/clean_ch.py"
    )


def _check_type_and_gender(model_type: str, gender: str) -> tuple[str, str]:
    model_type, gender = model_type.lower(), gender.lower()
    if model_type not in MODEL_TYPES:
        raise EdgeSDKError(
            f"model_type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}"
        )
    if gender not in GENDERS:
        raise EdgeSDKError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
    return model_type, gender


def _as_matrices(pose: Tensor, num: int, name: str, dtype: torch.dtype) -> Tensor:
    """``[..., num, 3, 3]``, ``[..., num, 3]`` or ``[..., num * 3]`` to ``[..., num, 3, 3]``."""
    pose = torch.as_tensor(pose, dtype=dtype)
    if pose.shape[-3:] == (num, 3, 3):
        return pose
    if pose.shape[-2:] == (num, 3):
        return axis_angle_to_matrix(pose)
    if pose.dim() >= 1 and pose.shape[-1] == num * 3:
        return axis_angle_to_matrix(pose.reshape(*pose.shape[:-1], num, 3))
    raise ValueError(
        f"{name} must be [..., {num}, 3, 3], [..., {num}, 3] or [..., {num * 3}], "
        f"got {tuple(pose.shape)}"
    )

"""The canonical motion clip every importer produces and every consumer reads.

A clip is in metres, Y up, on the 22-joint SMPL layout (``edgesdk.body.skeleton``), with the
floor at y = 0. It holds global joint rotations and positions, and the clip's own bone
offsets so that forward kinematics of its local rotations reproduces its positions.

Example:
    >>> from edgesdk.data.bvh import load_clip           # doctest: +SKIP
    >>> clip = load_clip("walk.bvh")                      # doctest: +SKIP
    >>> clip.global_pos_m.shape, clip.fps                 # doctest: +SKIP
    ((240, 22, 3), 30.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from edgesdk.body.fk import forward_kinematics, global_to_local
from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.errors import EdgeSDKError


@dataclass(frozen=True)
class Labels:
    """What the motion is: dataset labels and a free-text description (the text modality)."""

    content: str = ""
    style: str = ""
    description: str = ""

    def text(self) -> str:
        """The description, or one built from content and style when there is none."""
        if self.description:
            return self.description
        return " ".join(s for s in (self.style, self.content) if s).replace("-", " ")


@dataclass(frozen=True, eq=False)
class Clip:
    """A motion clip on the 22-joint layout.

    Attributes:
        name: short identifier (the file stem).
        fps: frames per second.
        R_world_joint: ``[T, 22, 3, 3]`` global joint rotations (float32).
        global_pos_m: ``[T, 22, 3]`` joint positions in metres, Y up, floor at y = 0.
        offsets_m: ``[22, 3]`` this body's bone offsets in the parent's rest frame; row 0 is
            the pelvis height in the rest pose.
        labels: content / style / description.
        source: the file it was read from.
        rig: the source skeleton ("bandai-namco", "cmu-iclone", "mixamo", "smpl", ...).
        mapped: per joint, True where the source had it, False where it was interpolated.
    """

    name: str
    fps: float
    R_world_joint: np.ndarray
    global_pos_m: np.ndarray
    offsets_m: np.ndarray
    labels: Labels = field(default_factory=Labels)
    source: str = ""
    rig: str = ""
    mapped: tuple[bool, ...] = (True,) * NUM_JOINTS

    def __post_init__(self) -> None:
        T = self.global_pos_m.shape[0]
        where = self.source or self.name
        if T == 0:
            raise EdgeSDKError(f"{where}: zero-length clip (no frames)")
        if self.R_world_joint.shape != (T, NUM_JOINTS, 3, 3):
            raise EdgeSDKError(f"{where}: rotations have shape {self.R_world_joint.shape}")
        if self.global_pos_m.shape != (T, NUM_JOINTS, 3) or self.offsets_m.shape != (NUM_JOINTS, 3):
            raise EdgeSDKError(f"{where}: positions/offsets have the wrong shape")
        arrays = (
            ("rotations", self.R_world_joint),
            ("positions", self.global_pos_m),
            ("bone offsets", self.offsets_m),
        )
        for label, arr in arrays:
            if not np.isfinite(arr).all():
                raise EdgeSDKError(f"{where}: NaN or inf in {label}")
        if not self.fps > 0:
            raise EdgeSDKError(f"{where}: frame rate must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.global_pos_m.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def root_pos_m(self) -> np.ndarray:
        return self.global_pos_m[:, 0]

    def local_rot(self) -> np.ndarray:
        """``R_parent_joint [T, 22, 3, 3]``."""
        return global_to_local(torch.from_numpy(self.R_world_joint)).numpy()

    def fk_positions(self) -> np.ndarray:
        """Joint positions from forward kinematics of this clip's local rotations and offsets."""
        _, pos = forward_kinematics(
            torch.from_numpy(self.local_rot()).double(),
            torch.from_numpy(self.offsets_m).double(),
            torch.from_numpy(self.root_pos_m).double(),
        )
        return pos.float().numpy()

    def replace(self, **changes: object) -> Clip:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def slice(self, start: int, stop: int) -> Clip:
        """Frames ``[start, stop)``."""
        return self.replace(
            R_world_joint=self.R_world_joint[start:stop],
            global_pos_m=self.global_pos_m[start:stop],
        )

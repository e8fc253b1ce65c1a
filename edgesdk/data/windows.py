"""Training windows: clips -> model inputs at 30 Hz (5 IMU slots + presence mask, head
trajectory, description text) and pose targets.

Every window is built from the clean kinematics of ``edgesdk.data.kinematics.virtual_imu`` plus
white noise, in a world frame that is yawed at random for training (models must not rely on
the subject's heading) and shifted so the pelvis starts above the origin. A random non-empty
subset of at most ``max_active`` slots is present; with probability ``p_device_event`` one of
them appears or vanishes part-way through the window. Everything is a function of
``(seed, epoch, index)``: the same arguments give the same window.

Example:
    >>> from edgesdk.data.sources import default_data_dir, load_dir   # doctest: +SKIP
    >>> clips = load_dir(default_data_dir(), fps=30.0)                # doctest: +SKIP
    >>> train, val, test = split_by_file(clips)                       # doctest: +SKIP
    >>> ds = WindowDataset(train, WindowConfig(), train=True)         # doctest: +SKIP
    >>> ds[0]["imu"].shape                                            # doctest: +SKIP
    torch.Size([60, 5, 9])
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d, rot6d_to_matrix
from edgesdk.data.activity import frame_activities
from edgesdk.data.clip import Clip
from edgesdk.data.device_model import (
    DEVICE_MODES,
    ERRORS,
    HEAD_MODES,
    SLOT_DEVICE,
    DeviceDraw,
    slam_head,
)
from edgesdk.data.kinematics import virtual_imu
from edgesdk.data.resample import resample
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError

NUM_SLOTS = len(SLOTS)
IMU_CHANNELS = 9  # acc_world_mps2 (3) + R_world_sensor as 6D (6)
HEAD_CHANNELS = 9  # head position (3, metres) + R_world_head as 6D (6)
CONTACT_JOINTS = (10, 11)  # left and right foot
_CONTACT_HEIGHT_M = 0.06
_CONTACT_SPEED_MPS = 0.25


@dataclass(frozen=True)
class WindowConfig:
    """How windows are cut and corrupted."""

    fps: float = 30.0
    window: int = 60
    stride: int = 30
    min_active: int = 1
    max_active: int = 3
    p_device_event: float = 0.25
    acc_noise_std_mps2: float = 0.15
    rot_noise_std_deg: float = 1.5
    head_pos_noise_std_m: float = 0.01
    seed: int = 0
    # Slots present in every window (Head2Body reads the head only), or exactly these slots
    # in every frame (evaluation per device combination).
    require_slots: tuple[int, ...] = ()
    fixed_slots: tuple[int, ...] | None = None
    # > 0: also give the head device at this multiple of ``fps`` (``head_imu_hr``).
    head_hr_factor: int = 0
    # "clean": ideal kinematics plus the white noise above; "realistic": each present device
    # with the errors of a real one through the runtime (``edgesdk.data.device_model``).
    devices: str = "clean"
    # "mocap": the head joint plus ``head_pos_noise_std_m``; "slam": glasses' SLAM trajectory.
    head: str = "mocap"
    # Training only: the windows of clips from these source folders come this many times per
    # epoch (e.g. (("hdm05", 4),): its squats, bending and lying down are rare poses).
    oversample: tuple[tuple[str, int], ...] = ()
    # Also give the same window's clean inputs (ideal kinematics plus white noise, the mocap
    # head) under ``clean_imu``, ``clean_head`` (and ``clean_head_imu_hr``): what a privileged
    # teacher reads while its student reads the inputs above. Drawn from a separate random
    # stream, so the other keys are the same with or without it.
    privileged: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.min_active <= self.max_active <= NUM_SLOTS:
            raise EdgeSDKError(
                f"active slots must satisfy 1 <= min_active <= max_active <= {NUM_SLOTS}, "
                f"got {self.min_active}..{self.max_active}"
            )
        for s in (*self.require_slots, *(self.fixed_slots or ())):
            if not 0 <= s < NUM_SLOTS:
                raise EdgeSDKError(f"slot index {s} is not in 0..{NUM_SLOTS - 1}")
        if self.fixed_slots is not None and not self.fixed_slots:
            raise EdgeSDKError("fixed_slots must name at least one slot")
        if self.devices not in DEVICE_MODES:
            raise EdgeSDKError(f"devices={self.devices!r}: must be one of {DEVICE_MODES}")
        if self.head not in HEAD_MODES:
            raise EdgeSDKError(f"head={self.head!r}: must be one of {HEAD_MODES}")
        for folder, times in self.oversample:
            if not isinstance(times, int) or times < 1:
                raise EdgeSDKError(f"oversample {folder}={times!r}: must be an integer >= 1")
        if self.window < 2 or self.stride < 1:
            raise EdgeSDKError(f"window={self.window} and stride={self.stride} must be >= 2 and 1")


def _subsets_for(config: WindowConfig) -> list[tuple[int, ...]]:
    """The slot subsets a window draws from: those holding every required slot."""
    subsets = slot_subsets(config.min_active, config.max_active)
    required = set(config.require_slots)
    kept = [c for c in subsets if required <= set(c)]
    if not kept:
        raise EdgeSDKError(
            f"require_slots {config.require_slots} do not fit in max_active={config.max_active}"
        )
    return kept


def slot_subsets(min_size: int = 1, max_size: int = 3) -> list[tuple[int, ...]]:
    """All subsets of slot indices with sizes in range (5 singles, 10 pairs, 10 triples)."""
    return [
        combo
        for k in range(min_size, max_size + 1)
        for combo in itertools.combinations(range(NUM_SLOTS), k)
    ]


def split_by_file(
    clips: Sequence[Clip], val_frac: float = 0.1, test_frac: float = 0.15
) -> tuple[list[Clip], list[Clip], list[Clip]]:
    """Train/val/test split by source file, stable across runs and machines (hash of the file
    name). With 3 or more clips, val and test each get at least one, so a small set such as
    the bundled samples still has held-out files."""
    keyed = sorted((_file_hash(c), i) for i, c in enumerate(clips))
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for u, i in keyed:
        part = "test" if u < test_frac else "val" if u < test_frac + val_frac else "train"
        parts[part].append(i)
    if len(clips) >= 3:
        for part in ("test", "val"):
            if not parts[part] and len(parts["train"]) > 1:
                # The train clip whose hash is nearest the held-out range.
                parts[part].append(parts["train"].pop(0))
    train, val, test = ([clips[i] for i in sorted(parts[k])] for k in ("train", "val", "test"))
    return train, val, test


def _source_folder(clip: Clip) -> str:
    """The folder a clip's file is in (``hdm05``, ``cmu``, ...)."""
    parts = clip.source.replace("\\", "/").split("/")
    return parts[-2] if len(parts) > 1 else ""


def _file_hash(clip: Clip) -> float:
    key = clip.source.rsplit("/", 1)[-1] or clip.name
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def foot_contact(pos_m: np.ndarray, fps: float) -> np.ndarray:
    """``[T, 2]`` contact labels of the feet: low and slow (thresholds in module constants)."""
    feet = pos_m[:, CONTACT_JOINTS]
    speed = np.zeros(feet.shape[:2])
    if len(feet) > 1:
        vel = np.gradient(feet, 1.0 / fps, axis=0)
        speed = np.linalg.norm(vel, axis=-1)
    return ((feet[..., 1] < _CONTACT_HEIGHT_M) & (speed < _CONTACT_SPEED_MPS)).astype(np.float32)


class _ClipFeatures:
    """Per-clip arrays at the window rate (and the head stream at ``head_hr_factor`` x), computed
    once."""

    def __init__(self, clip: Clip, head_hr_factor: int) -> None:
        imu = [virtual_imu(clip, slot) for slot in SLOTS]
        self.acc_world_mps2 = np.stack([d["acc_world_mps2"] for d in imu], 1).astype(np.float32)
        self.R_world_sensor = np.stack([d["R_world_sensor"] for d in imu], 1).astype(np.float32)
        self.R_world_joint = clip.R_world_joint.astype(np.float32)
        self.local_rot = clip.local_rot().astype(np.float32)
        self.pos_m = clip.global_pos_m.astype(np.float32)
        self.contact = foot_contact(clip.global_pos_m, clip.fps)
        self.text = clip.labels.text()
        self.activity = frame_activities(self.text, clip.global_pos_m, clip.R_world_joint, clip.fps)
        self.name = clip.name
        self.head_hr: np.ndarray | None = None
        if head_hr_factor > 0:
            hr = virtual_imu(resample(clip, clip.fps * head_hr_factor), "head")
            R6 = _to_6d(hr["R_world_sensor"])
            n = clip.num_frames * head_hr_factor
            feats = [hr["acc_world_mps2"][:n], hr["gyro_rads"][:n], R6[:n]]
            head_hr = np.concatenate([np.asarray(f, np.float32) for f in feats], -1)
            if len(head_hr) < n:  # the resampled clip ends at the last original frame
                head_hr = np.concatenate([head_hr, np.repeat(head_hr[-1:], n - len(head_hr), 0)])
            self.head_hr = head_hr


class WindowDataset(Dataset[dict[str, object]]):
    """Fixed-length windows over clips that all have the config's frame rate.

    Items are dicts of tensors:
        ``imu [T, 5, 9]`` (acc_world_mps2, R_world_sensor 6D; zeros where absent),
        ``mask [T, 5]`` (1 where the slot's device is present),
        ``head [T, 9]`` (head position in metres + R_world_head 6D),
        ``R_world_joint_6d [T, 22, 6]``, ``R_local_6d [T, 22, 6]``, ``pos_m [T, 22, 3]``,
        ``root_vel_mps [T, 3]``, ``contact [T, 2]``, ``activity [T]`` (int64 class indices,
        ``edgesdk.data.activity``), and ``text`` (str), ``clip`` (str).
    Clips shorter than the window are left out (``skipped`` names them).
    """

    def __init__(self, clips: Sequence[Clip], config: WindowConfig, train: bool) -> None:
        self.config, self.train, self.epoch = config, train, 0
        self.skipped = [c.name for c in clips if c.num_frames < config.window]
        for clip in clips:
            if abs(clip.fps - config.fps) > 1e-6:
                raise EdgeSDKError(f"{clip.source or clip.name}: fps {clip.fps} != {config.fps}")
        self._clips = [c for c in clips if c.num_frames >= config.window]
        # Per-clip features, computed when a window of the clip is first read: a caller that
        # reads a few windows (calibration, a limited evaluation) does not pay for every clip.
        self.features: list[_ClipFeatures | None] = [None] * len(self._clips)
        repeat = dict(config.oversample) if train else {}
        self.index = [
            (ci, start)
            for ci, c in enumerate(self._clips)
            for _ in range(repeat.get(_source_folder(c), 1))
            for start in range(0, c.num_frames - config.window + 1, config.stride)
        ]
        self._subsets = _subsets_for(config)

    @property
    def clips(self) -> list[Clip]:
        """The clips windows are cut from (those at least one window long)."""
        return self._clips

    def clip_features(self, ci: int) -> _ClipFeatures:
        """The features of clip ``ci`` (computed once, shared by ``with_config`` copies)."""
        f = self.features[ci]
        if f is None:
            f = self.features[ci] = _ClipFeatures(self._clips[ci], self.config.head_hr_factor)
        return f

    def with_config(self, config: WindowConfig) -> WindowDataset:
        """The same clips and windows under another config that changes only how windows are
        corrupted (slots, noise); the per-clip features are shared, not recomputed."""
        same = ("fps", "window", "stride", "head_hr_factor")
        if any(getattr(config, k) != getattr(self.config, k) for k in same):
            raise EdgeSDKError(f"with_config cannot change {same}; build a new dataset")
        other = copy.copy(self)
        other.config = config
        other._subsets = _subsets_for(config)
        return other

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Training windows draw new devices, noise and yaw every epoch."""
        self.epoch = epoch

    def rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, self.epoch if self.train else 0, i])

    def presence_mask(self, rng: np.random.Generator) -> np.ndarray:
        """``[T, 5]``: a random subset of slots, with possibly one device joining or leaving."""
        T = self.config.window
        mask = np.zeros((T, NUM_SLOTS), np.float32)
        if self.config.fixed_slots is not None:
            mask[:, list(self.config.fixed_slots)] = 1.0
            return mask
        subset = self._subsets[rng.integers(len(self._subsets))]
        mask[:, list(subset)] = 1.0
        if rng.random() < self.config.p_device_event:
            if len(subset) == 1:
                # A lone device stays; a second one (still within max_active) comes or goes.
                if self.config.max_active < 2:
                    return mask
                others = [s for s in range(NUM_SLOTS) if s not in subset]
                slot = others[rng.integers(len(others))]
                mask[:, slot] = 1.0
            else:
                optional = [s for s in subset if s not in self.config.require_slots]
                if not optional:
                    return mask
                slot = optional[rng.integers(len(optional))]
            cut = int(rng.integers(T // 6, T - T // 6))
            if rng.random() < 0.5:
                mask[:cut, slot] = 0.0  # joins at `cut`
            else:
                mask[cut:, slot] = 0.0  # leaves at `cut`
        return mask

    def __getitem__(self, i: int) -> dict[str, object]:
        ci, start = self.index[i]
        f, cfg = self.clip_features(ci), self.config
        rng = self.rng(i)
        sl = slice(start, start + cfg.window)
        yaw = rng.uniform(-np.pi, np.pi) if self.train else 0.0
        R_yaw = axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0], dtype=torch.float64)).numpy()
        R_yaw = R_yaw.astype(np.float32)
        pos = f.pos_m[sl] @ R_yaw.T
        origin = pos[0, 0] * np.array([1.0, 0.0, 1.0], np.float32)
        pos = pos - origin
        R_world_joint = R_yaw @ f.R_world_joint[sl]
        acc = f.acc_world_mps2[sl] @ R_yaw.T
        R_sensor = R_yaw @ f.R_world_sensor[sl]
        ideal = (acc, R_sensor)  # before any corruption, for ``privileged``
        k = cfg.head_hr_factor
        head_draw: DeviceDraw | None = None
        if cfg.devices == "clean":
            acc = acc + rng.normal(0.0, cfg.acc_noise_std_mps2, acc.shape).astype(np.float32)
            R_sensor = R_sensor @ self._rot_noise(rng, acc.shape[:2])
            mask = self.presence_mask(rng)
            mask[:, list(cfg.require_slots)] = 1.0
        else:
            mask = self.presence_mask(rng)
            mask[:, list(cfg.require_slots)] = 1.0
            acc, R_sensor = acc.copy(), R_sensor.copy()
            for s in np.flatnonzero(mask.any(0)):
                kind, axis = SLOT_DEVICE[s]
                n, rate = (cfg.window * k, cfg.fps * k) if s == 0 and k else (cfg.window, cfg.fps)
                draw = DeviceDraw.draw(rng, ERRORS[kind], n, rate, axis)
                every = k if s == 0 and k else 1
                acc[:, s], R_sensor[:, s], _ = draw.apply(rng, acc[:, s], R_sensor[:, s], every)
                if s == 0:
                    head_draw = draw
        imu = np.concatenate([acc, _to_6d(R_sensor)], -1) * mask[..., None]
        if cfg.head == "mocap":
            head_pos = pos[:, 15] + rng.normal(0.0, cfg.head_pos_noise_std_m, (cfg.window, 3))
            R_head = R_world_joint[:, 15]
        else:
            head_pos, R_head = slam_head(rng, pos[:, 15], R_world_joint[:, 15], cfg.fps)
        head = np.concatenate([head_pos.astype(np.float32), _to_6d(R_head)], -1)
        root_vel = np.gradient(pos[:, 0], 1.0 / cfg.fps, axis=0).astype(np.float32)
        item: dict[str, object] = {
            "imu": torch.from_numpy(np.ascontiguousarray(imu, dtype=np.float32)),
            "mask": torch.from_numpy(mask),
            "head": torch.from_numpy(head),
            "R_world_joint_6d": torch.from_numpy(_to_6d(R_world_joint)),
            "R_local_6d": torch.from_numpy(_to_6d(f.local_rot[sl])),
            "pos_m": torch.from_numpy(np.ascontiguousarray(pos)),
            "root_vel_mps": torch.from_numpy(root_vel),
            "contact": torch.from_numpy(f.contact[sl]),
            "activity": torch.from_numpy(f.activity[sl]),
            "text": f.text,
            "clip": f.name,
        }
        if f.head_hr is not None:
            hr = f.head_hr[start * k : (start + cfg.window) * k]
            acc = hr[:, :3] @ R_yaw.T
            R_hr = R_yaw @ _from_6d(hr[:, 6:])
            gyro = hr[:, 3:6]
            if head_draw is None:
                acc = acc + rng.normal(0.0, cfg.acc_noise_std_mps2, acc.shape).astype(np.float32)
            else:
                acc, R_hr, gyro_in = head_draw.apply(rng, acc, R_hr, 1, gyro)
                assert gyro_in is not None
                gyro = gyro_in
            head_on = np.repeat(mask[:, 0], k)[:, None]
            hr = np.concatenate([acc, gyro, _to_6d(R_hr)], -1) * head_on
            item["head_imu_hr"] = torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float32))
        if cfg.privileged:
            item.update(self._clean_inputs(i, start, ideal, pos, R_world_joint, mask, R_yaw))
        return item

    def _clean_inputs(
        self,
        i: int,
        start: int,
        ideal: tuple[np.ndarray, np.ndarray],
        pos: np.ndarray,
        R_world_joint: np.ndarray,
        mask: np.ndarray,
        R_yaw: np.ndarray,
    ) -> dict[str, torch.Tensor]:
        """The window's inputs under ``devices="clean"``, ``head="mocap"`` (same yaw, same
        devices present), from a random stream of their own."""
        cfg, f = self.config, self.clip_features(self.index[i][0])
        rng = np.random.default_rng([cfg.seed, self.epoch if self.train else 0, i, 1])
        acc = ideal[0] + rng.normal(0.0, cfg.acc_noise_std_mps2, ideal[0].shape).astype(np.float32)
        R_sensor = ideal[1] @ self._rot_noise(rng, acc.shape[:2])
        imu = np.concatenate([acc, _to_6d(R_sensor)], -1) * mask[..., None]
        head_pos = pos[:, 15] + rng.normal(0.0, cfg.head_pos_noise_std_m, (cfg.window, 3))
        head = np.concatenate([head_pos.astype(np.float32), _to_6d(R_world_joint[:, 15])], -1)
        out = {
            "clean_imu": torch.from_numpy(np.ascontiguousarray(imu, dtype=np.float32)),
            "clean_head": torch.from_numpy(head),
        }
        if f.head_hr is not None:
            k = cfg.head_hr_factor
            hr = f.head_hr[start * k : (start + cfg.window) * k]
            hr_acc = hr[:, :3] @ R_yaw.T
            hr_acc = hr_acc + rng.normal(0.0, cfg.acc_noise_std_mps2, hr_acc.shape)
            R_hr = R_yaw @ _from_6d(hr[:, 6:])
            head_on = np.repeat(mask[:, 0], k)[:, None]
            hr = np.concatenate([hr_acc, hr[:, 3:6], _to_6d(R_hr)], -1) * head_on
            out["clean_head_imu_hr"] = torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float32))
        return out

    def _rot_noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        std = np.deg2rad(self.config.rot_noise_std_deg)
        aa = torch.from_numpy(rng.normal(0.0, std, (*shape, 3)))
        return axis_angle_to_matrix(aa).numpy().astype(np.float32)


def _from_6d(d6: np.ndarray) -> np.ndarray:
    return rot6d_to_matrix(torch.from_numpy(np.ascontiguousarray(d6))).numpy()


def _to_6d(R: np.ndarray) -> np.ndarray:
    return matrix_to_6d(torch.from_numpy(np.ascontiguousarray(R))).numpy().astype(np.float32)

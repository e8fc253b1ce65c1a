"""Data for training and evaluation: clips split by file, cached, and batched.

Parsing a thousand motion files (BVH and ASF/AMC) and retargeting them takes a while, so the
clips of a data folder are cached (a plain ``.npz`` keyed by the folder's fingerprint: its
motion files and the ``.asf`` skeletons they use; read without pickle:
``edgesdk.train.clip_cache``) under ``$EDGESDK_CACHE`` or ``~/.cache/edgesdk``; a changed file
changes the fingerprint and invalidates the cache, and an unusable cache file is rebuilt.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from edgesdk.data.clip import Clip
from edgesdk.data.slots import SLOT_INDEX
from edgesdk.data.sources import list_motion_files, load_motion, skeleton_files
from edgesdk.data.windows import WindowConfig, WindowDataset, split_by_file
from edgesdk.errors import EdgeSDKError
from edgesdk.input_kinds import window_fields
from edgesdk.io import cache_dir
from edgesdk.models.base import MotionModel, collate
from edgesdk.train.checkpoint import fingerprint_files
from edgesdk.train.clip_cache import CacheError, read_cache, warn_rebuild, write_cache

FPS = 30.0
CACHE_VERSION = 1  # part of the data fingerprint; the file format is versioned in clip_cache
# The importer's sources: a change in any of them invalidates cached clips.
_IMPORTER_FILES = (
    "bvh.py",
    "asf.py",
    "asf_amc.py",
    "retarget.py",
    "rigs.py",
    "resample.py",
    "clip.py",
    "labels.py",
)


@dataclass(frozen=True)
class TrainData:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    fingerprint: str


def load_clips(files: Sequence[Path], progress: bool = True, workers: int = 2) -> list[Clip]:
    """Parse and retarget motion files (``.bvh``, ``.amc``) at 30 Hz in a small process pool,
    in file order.

    The workers are spawned: each re-imports the calling script, so a script that calls
    this at top level, without ``if __name__ == "__main__":``, makes workers that die at
    start-up. A ``multiprocessing.Pool`` then replaces them forever (the call hangs); the
    executor used here reports them broken, and the clips are loaded in this process."""
    load = partial(load_motion, fps=FPS)
    desc = "load clips"
    if workers > 1 and len(files) >= 8:
        try:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                it = pool.map(load, files, chunksize=4)
                return list(
                    tqdm(it, total=len(files), desc=desc, disable=not progress, leave=False)
                )
        except BrokenProcessPool:
            print(
                "edgesdk: worker processes could not start (a script that loads data needs "
                '`if __name__ == "__main__":`); loading the clips in this process',
                file=sys.stderr,
            )
    return [load(f) for f in tqdm(files, desc=desc, disable=not progress, leave=False)]


def _importer_version() -> str:
    """Hash of the importer's source, so a change in retargeting invalidates cached clips."""
    import edgesdk.data as data_pkg

    folder = Path(data_pkg.__file__).parent
    h = hashlib.sha256()
    for name in _IMPORTER_FILES:
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:12]


def load_clips_cached(
    data_dir: Path, limit: int | None = None, progress: bool = True
) -> tuple[list[Clip], str]:
    """All clips of a folder at 30 Hz, and the folder's data fingerprint."""
    files = list_motion_files(data_dir)
    if not files:
        raise EdgeSDKError(f"{data_dir}: no .bvh files found (nor .amc)")
    if limit is not None:
        files = files[:limit]
    identity = [*files, *skeleton_files(files)]  # the same list as before for BVH-only folders
    fingerprint = fingerprint_files(identity, {"fps": FPS, "cache_version": CACHE_VERSION})
    path = cache_dir() / f"clips-{fingerprint[:16]}-{_importer_version()}.npz"
    if path.is_file():
        try:
            return read_cache(path, fingerprint), fingerprint
        except CacheError as exc:
            warn_rebuild(path, str(exc))
    clips = load_clips(files, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_cache(path, clips, fingerprint)
    return clips, fingerprint


def load_train_data(data_dir: Path, limit: int | None = None, progress: bool = True) -> TrainData:
    """Clips split by file into train / val / test (stable across machines)."""
    clips, fingerprint = load_clips_cached(data_dir, limit=limit, progress=progress)
    train, val, test = split_by_file(clips)
    if not train:
        raise EdgeSDKError(f"{data_dir}: too few clips to train on ({len(clips)})")
    return TrainData(train, val, test, fingerprint)


def input_names(model: MotionModel) -> set[str]:
    return {t.name for t in model.spec.inputs}


def window_config_for(model: MotionModel, seed: int = 0, **changes: Any) -> WindowConfig:
    """Windows carrying what the model reads: its sub-frame inputs at the rate its spec
    declares (``edgesdk.input_kinds``: the head IMU at ``k*time``), and its required slots
    forced on (Head2Body reads the head device only; SAME needs the head)."""
    spec = model.spec
    forced = spec.required_slots or (spec.slots if len(spec.slots) < 3 else ())
    required = tuple(SLOT_INDEX[s] for s in forced)
    fields: dict[str, Any] = {
        "seed": seed,
        "head_hr_factor": 0,
        "require_slots": required,
        **window_fields((t.name, t.shape) for t in spec.inputs),
    }
    if model.spec.window:
        fields["window"] = model.spec.window
    fields.update(changes)
    return WindowConfig(**fields)


def _collate_with_text(items: Sequence[dict[str, Any]], encoder: Any) -> dict[str, Any]:
    batch = collate(items)
    texts: list[str] = batch["text"]
    if encoder is not None:
        batch["text_emb"] = encoder.encode(texts)
    batch["text_mask"] = torch.tensor([1.0 if t else 0.0 for t in texts])
    return batch


def make_loader(
    ds: WindowDataset,
    batch_size: int,
    shuffle: bool,
    sampler: Sampler[int] | None = None,
    seed: int = 0,
    text_encoder: Any = None,
) -> DataLoader[dict[str, Any]]:
    """Batches in the layout ``edgesdk.models.base`` documents; ``text_emb`` is added when a
    text encoder is given (models that read text)."""
    g = torch.Generator().manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        generator=g,
        collate_fn=partial(_collate_with_text, encoder=text_encoder),
    )

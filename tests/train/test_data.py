"""Loading clips in worker processes: in order, and from a script a spawned worker cannot
import safely (no ``if __name__ == "__main__":``) without hanging; the clip cache: exact,
never unpickled, rebuilt when unusable, covering a folder mixing BVH and ASF/AMC files."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.asf import example_asf_text
from edgesdk.data.asf_amc import example_amc_text
from edgesdk.data.clip import Clip
from edgesdk.data.sources import list_bvh
from edgesdk.train.checkpoint import fingerprint_files
from edgesdk.train.clip_cache import CacheError, read_cache, write_cache
from edgesdk.train.data import CACHE_VERSION, FPS, load_clips, load_clips_cached

SCRIPT = """
from pathlib import Path
from edgesdk.data.sources import list_bvh
from edgesdk.train.data import load_clips
clips = load_clips(list_bvh(Path({folder!r}))[:8], progress=False)
print("loaded", [c.name for c in clips])
"""


def test_workers_load_in_file_order(cmu_dir: Path) -> None:
    files = list_bvh(cmu_dir)[:8]
    pooled = load_clips(files, progress=False, workers=2)
    assert [c.name for c in pooled] == [c.name for c in load_clips(files, workers=1)]


def test_unguarded_script_falls_back_to_one_process(cmu_dir: Path, tmp_path: Path) -> None:
    """A multiprocessing.Pool here used to respawn the dying workers forever."""
    script = tmp_path / "load.py"
    script.write_text(SCRIPT.format(folder=str(cmu_dir)))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = [f.stem for f in list_bvh(cmu_dir)[:8]]
    assert done.stdout.strip() == f"loaded {names}"
    assert "worker processes could not start" in done.stderr


def _cache_file(tmp_path: Path) -> Path:
    (cached,) = (tmp_path / "cache").glob("clips-*.npz")
    return cached


@pytest.fixture
def small_data(cmu_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "data"
    folder.mkdir()
    for f in list_bvh(cmu_dir)[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


def test_cache_round_trip_is_exact(small_data: Path, tmp_path: Path) -> None:
    first, fingerprint = load_clips_cached(small_data, progress=False)
    assert _cache_file(tmp_path).read_bytes()[:4] == b"PK\x03\x04"  # an npz, not a pickle
    again, same = load_clips_cached(small_data, progress=False)
    assert same == fingerprint and [c.name for c in again] == [c.name for c in first]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.R_world_joint, b.R_world_joint)
        np.testing.assert_array_equal(a.global_pos_m, b.global_pos_m)
        np.testing.assert_array_equal(a.offsets_m, b.offsets_m)
        assert (a.labels, a.source, a.rig, a.mapped, a.fps) == (
            b.labels,
            b.source,
            b.rig,
            b.mapped,
            b.fps,
        )


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _npz_with_object_array(marker: Path) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, header=np.array([_Payload(marker)], dtype=object))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["pickle", "object-npz", "truncated", "garbage", "other-data"])
def test_unusable_cache_is_rebuilt_with_one_warning(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    clips, _ = load_clips_cached(small_data, progress=False)
    path = _cache_file(tmp_path)
    ran = tmp_path / "ran"
    good = path.read_bytes()
    planted = {
        "pickle": lambda: pickle.dumps(_Payload(ran)),
        "object-npz": lambda: _npz_with_object_array(ran),
        "truncated": lambda: good[: len(good) // 2],
        "garbage": lambda: bytes(range(256)) * 10,
        "other-data": lambda: _rewritten_for(clips, "0" * 64, path),
    }[kind]()
    path.write_bytes(planted)
    capsys.readouterr()
    again, _ = load_clips_cached(small_data, progress=False)
    assert not ran.exists()  # nothing was unpickled
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unusable clip cache" in err[0] and str(path) in err[0], err
    assert [c.num_frames for c in again] == [c.num_frames for c in clips]
    assert path.read_bytes() != planted  # rebuilt
    load_clips_cached(small_data, progress=False)
    assert capsys.readouterr().err == ""


def _rewritten_for(clips: list[Clip], fingerprint: str, path: Path) -> bytes:
    write_cache(path, clips, fingerprint)
    return path.read_bytes()


def test_cache_with_nan_or_wrong_shapes_is_refused(small_data: Path, tmp_path: Path) -> None:
    _, fingerprint = load_clips_cached(small_data, progress=False)
    path = _cache_file(tmp_path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["global_pos_m"][5, 3, 1] = np.nan
    with path.open("wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CacheError, match="NaN"):
        read_cache(path, fingerprint)
    arrays["offsets_m"] = arrays["offsets_m"][:1]
    with path.open("wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CacheError, match="'offsets_m' has shape"):
        read_cache(path, fingerprint)


def test_cache_covers_amc_files_and_their_skeletons(
    cmu_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    for path in list_bvh(cmu_dir)[:2]:
        shutil.copy(path, data / path.name)
    _, bvh_fingerprint = load_clips_cached(data, progress=False)
    # A BVH-only folder keeps the fingerprint it had before ASF/AMC (checkpoints record it).
    extra = {"fps": FPS, "cache_version": CACHE_VERSION}
    assert bvh_fingerprint == fingerprint_files(list_bvh(data), extra)

    (data / "HDM_xy.asf").write_text(example_asf_text())
    for k in range(2):
        (data / f"HDM_xy_squat1Reps_{k:03d}_120.amc").write_text(example_amc_text(41))
    clips, fingerprint = load_clips_cached(data, progress=False)
    assert fingerprint != bvh_fingerprint and len(clips) == 4
    assert [c.rig for c in clips] == ["cmu-iclone"] * 2 + ["cmu-asf"] * 2
    assert all(c.fps == FPS for c in clips) and clips[-1].num_frames == 11
    cached = sorted((tmp_path / "cache").glob("clips-*.npz"))
    assert len(cached) == 2
    again, same = load_clips_cached(data, progress=False)  # from the cache
    assert same == fingerprint and len(sorted((tmp_path / "cache").glob("clips-*.npz"))) == 2
    np.testing.assert_array_equal(again[-1].global_pos_m, clips[-1].global_pos_m)
    # A changed skeleton changes every clip on it: a new fingerprint, not the stale cache.
    (data / "HDM_xy.asf").write_text(example_asf_text(length_unit=0.5))
    resized, changed = load_clips_cached(data, progress=False)
    assert changed != fingerprint
    assert resized[-1].offsets_m[0, 1] < 0.95 * clips[-1].offsets_m[0, 1]

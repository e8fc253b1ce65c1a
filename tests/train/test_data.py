"""Loading clips in worker processes: in order, and from a script a spawned worker cannot
import safely (no ``if __name__ == "__main__":``) without hanging; the clip cache of a folder
mixing BVH and ASF/AMC files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.asf import example_asf_text
from edgesdk.data.asf_amc import example_amc_text
from edgesdk.data.sources import list_bvh
from edgesdk.train.checkpoint import fingerprint_files
from edgesdk.train.data import _CACHE_VERSION, FPS, load_clips, load_clips_cached

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
    extra = {"fps": FPS, "cache_version": _CACHE_VERSION}
    assert bvh_fingerprint == fingerprint_files(list_bvh(data), extra)

    (data / "HDM_xy.asf").write_text(example_asf_text())
    for k in range(2):
        (data / f"HDM_xy_squat1Reps_{k:03d}_120.amc").write_text(example_amc_text(41))
    clips, fingerprint = load_clips_cached(data, progress=False)
    assert fingerprint != bvh_fingerprint and len(clips) == 4
    assert [c.rig for c in clips] == ["cmu-iclone"] * 2 + ["cmu-asf"] * 2
    assert all(c.fps == FPS for c in clips) and clips[-1].num_frames == 11
    cached = sorted((tmp_path / "cache").glob("clips-*.pkl"))
    assert len(cached) == 2
    again, same = load_clips_cached(data, progress=False)  # from the cache
    assert same == fingerprint and len(sorted((tmp_path / "cache").glob("clips-*.pkl"))) == 2
    np.testing.assert_array_equal(again[-1].global_pos_m, clips[-1].global_pos_m)
    # A changed skeleton changes every clip on it: a new fingerprint, not the stale cache.
    (data / "HDM_xy.asf").write_text(example_asf_text(length_unit=0.5))
    resized, changed = load_clips_cached(data, progress=False)
    assert changed != fingerprint
    assert resized[-1].offsets_m[0, 1] < 0.95 * clips[-1].offsets_m[0, 1]

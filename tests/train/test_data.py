"""Loading clips in worker processes: in order, and from a script a spawned worker cannot
import safely (no ``if __name__ == "__main__":``) without hanging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgesdk.data.sources import list_bvh
from edgesdk.train.data import load_clips

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

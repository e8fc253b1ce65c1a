"""Every motion file of the shared mocap set loads, maps onto the 22 joints, has a human size,
and the set is what its README says (folders, clip counts, minutes, rates)."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import torch

from edgesdk.data.labels import HDM05_DESCRIPTIONS
from edgesdk.data.sources import list_motion_files, motion_info, source_name
from tests.data.conftest import readme_table

EXPECTED = {  # source folder -> (rig, joints the rig lacks): what the code maps it with
    "bandai-namco-1": ("bandai-namco", {"spine2"}),
    "bandai-namco-2": ("bandai-namco", {"spine2"}),
    "cmu": ("cmu-iclone", set()),
    "hdm05": ("cmu-asf", {"left_collar", "right_collar"}),
}
WORKERS = 2
HEAD_RANGE_M = (1.2, 2.0)
# Clips in which the performer never stands upright: a 20-frame dash leaning 33 degrees or
# more, and a crouched boxing stance. Their head joint stays 1.17-1.20 m above the feet (the
# Bandai-Namco rig's head joint is low: 1.32 m in its rest pose); their skeleton is the same.
NEVER_UPRIGHT = {
    "dataset-1_dash_normal_001.bvh",
    "dataset-1_dash_not-confident_001.bvh",
    "dataset-1_dash_giant_001.bvh",
    "dataset-1_punch_normal_002.bvh",
}
# HDM05's lying down kneels upright on the way: its most upright frame with a foot near the
# floor is kneeling (tests/data/test_asf_amc.py checks that it starts standing, ends lying).
KNEELS_UPRIGHT = "lieDownFloor"


def _one_thread() -> None:
    torch.set_num_threads(1)


def test_readme_table_adds_up(mocap_dir: Path) -> None:
    rows, total = readme_table(mocap_dir)
    assert sum(r.clips for r in rows.values()) == total
    assert set(rows) == {p.name for p in mocap_dir.iterdir() if p.is_dir()}
    assert set(rows) == set(EXPECTED), "a source without a retargeting expectation here"


@pytest.mark.slow
def test_clip_info_on_every_file(mocap_dir: Path) -> None:
    rows, total = readme_table(mocap_dir)
    files = list_motion_files(mocap_dir)
    assert len(files) == total
    start = time.perf_counter()
    # Spawned, not forked: a forked child of a process running torch threads can deadlock.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=spawn, initializer=_one_thread) as pool:
        infos = list(pool.map(motion_info, files, chunksize=8))
    wall_s = time.perf_counter() - start
    print(f"\nclip_info on {len(files)} files with {WORKERS} processes: {wall_s:.1f} s")

    counts: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for path, info in zip(files, infos, strict=True):
        source = source_name(path, mocap_dir)
        rig, lacking = EXPECTED[source]
        counts[source] += 1
        seconds[source] += float(info["duration_s"])  # type: ignore[arg-type]
        mapping = info["mapped_joints"]
        assert isinstance(mapping, dict) and len(mapping) == 22
        interpolated = {k for k, v in mapping.items() if v == "interpolated"}
        assert interpolated == lacking, path
        assert info["num_mapped"] == 22 - len(lacking)
        assert info["rig"] == rig and info["fps"] == rows[source].fps, path
        head_m, rest_m = info["head_height_m"], info["rest_head_height_m"]
        assert isinstance(head_m, float) and isinstance(rest_m, float)
        labels = info["labels"]
        assert isinstance(labels, dict)
        if labels["content"] != KNEELS_UPRIGHT:
            low = 1.15 if path.name in NEVER_UPRIGHT else HEAD_RANGE_M[0]
            assert low <= head_m <= HEAD_RANGE_M[1], (path, head_m)
        assert HEAD_RANGE_M[0] <= rest_m <= HEAD_RANGE_M[1], (path, rest_m)
        if rig == "bandai-namco":  # the file name says the same: dataset-N_{content}_{style}_
            prefix = f"dataset-{source[-1]}_{labels['content']}_{labels['style']}_"
            assert path.name.startswith(prefix), (path, labels)
        elif rig == "cmu-asf":  # HDM_<actor>_<class>_<take>_<rate>.amc
            assert labels["content"] in HDM05_DESCRIPTIONS, (path, labels)
            assert labels["description"] == HDM05_DESCRIPTIONS[labels["content"]]
        else:
            assert labels["description"], path
    assert counts == {source: row.clips for source, row in rows.items()}
    for source, row in rows.items():  # the README rounds minutes to 0.1
        assert abs(seconds[source] / 60.0 - row.minutes) <= 0.05 + 1e-9, source

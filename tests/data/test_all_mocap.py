"""Every BVH of the shared mocap set loads, maps onto the 22 joints, and has a human size."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import torch

from edgesdk.data.bvh import clip_info
from edgesdk.data.sources import list_bvh, source_name

EXPECTED = {  # source folder -> (rig, frame rate, joints the rig lacks)
    "bandai-namco-1": ("bandai-namco", 30.0, {"spine2"}),
    "bandai-namco-2": ("bandai-namco", 30.0, {"spine2"}),
    "cmu": ("cmu-iclone", 60.0, set()),
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


def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.slow
def test_clip_info_on_every_file(mocap_dir: Path) -> None:
    files = list_bvh(mocap_dir)
    assert len(files) == 614
    start = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, initializer=_one_thread) as pool:
        infos = list(pool.map(clip_info, files, chunksize=8))
    wall_s = time.perf_counter() - start
    print(f"\nclip_info on {len(files)} files with {WORKERS} processes: {wall_s:.1f} s")

    counts: Counter[str] = Counter()
    for path, info in zip(files, infos, strict=True):
        source = source_name(path, mocap_dir)
        rig, fps, lacking = EXPECTED[source]
        counts[source] += 1
        mapping = info["mapped_joints"]
        assert isinstance(mapping, dict) and len(mapping) == 22
        interpolated = {k for k, v in mapping.items() if v == "interpolated"}
        assert interpolated == lacking, path
        assert info["num_mapped"] == 22 - len(lacking)
        assert info["rig"] == rig and info["fps"] == fps, path
        head_m, rest_m = info["head_height_m"], info["rest_head_height_m"]
        assert isinstance(head_m, float) and isinstance(rest_m, float)
        low = 1.15 if path.name in NEVER_UPRIGHT else HEAD_RANGE_M[0]
        assert low <= head_m <= HEAD_RANGE_M[1], (path, head_m)
        assert HEAD_RANGE_M[0] <= rest_m <= HEAD_RANGE_M[1], (path, rest_m)
        labels = info["labels"]
        assert isinstance(labels, dict)
        if rig == "bandai-namco":  # the file name says the same: dataset-N_{content}_{style}_
            prefix = f"dataset-{source[-1]}_{labels['content']}_{labels['style']}_"
            assert path.name.startswith(prefix), (path, labels)
        else:
            assert labels["description"], path
    assert counts == {"bandai-namco-1": 174, "bandai-namco-2": 393, "cmu": 47}

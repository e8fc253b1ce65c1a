"""Summarize the mocap data set per source: clips, minutes, body size, retargeting fidelity.

Writes ``benchmarks/results/data_info.json`` (or ``--out``) with the whole set's ``"data"``
summary (``edgesdk.data.sources.data_summary``: clips, minutes, formats, per source) and, per
source folder: the clip count, total minutes, frame rates and rigs, ``head_height_m`` and
``rest_head_height_m`` (min / median / max, see ``edgesdk.data.bvh.clip_info``), the joints
interpolated, and the largest forward-kinematics error of the retargeted clips against the
source's own joint positions (mapped joints, cm) over a sample of every ``--fk-every``-th
file. Motion files are BVH and ASF/AMC alike.

Usage:
    .venv/bin/python benchmarks/data_info.py [--data DIR] [--out FILE] [--fk-every N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgesdk.data.sources import (
    default_data_dir,
    duration_summary,
    list_motion_files,
    load_motion,
    motion_info,
    source_name,
)
from edgesdk.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "data_info.json"
PROTOCOL = "not applicable: what the data set holds (headers, FK checks), no model"


def _one_thread() -> None:
    torch.set_num_threads(1)


def _fk_error_cm(path: Path) -> float:
    clip = load_motion(path)
    mapped = [j for j in range(len(clip.mapped)) if clip.mapped[j]]
    return float(np.abs(clip.fk_positions() - clip.global_pos_m)[:, mapped].max() * 100.0)


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


def _command() -> str:
    """The command line that produced the result (with PYTHONPATH when it was set)."""
    words = [".venv/bin/python" if ".venv" in sys.executable else "python", *sys.argv]
    env = f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else ""
    return env + " ".join(shlex.quote(w) for w in words)


def summarize(data_dir: Path, fk_every: int, workers: int) -> dict[str, object]:
    """The per-source summary (see the module docstring)."""
    files = list_motion_files(data_dir)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_one_thread) as pool:
        infos: list[dict[str, Any]] = list(pool.map(motion_info, files, chunksize=8))
        sample = files[::fk_every]
        fk_errors = dict(zip(sample, pool.map(_fk_error_cm, sample, chunksize=4), strict=True))
    wall_s = time.perf_counter() - start

    groups: dict[str, list[tuple[Path, dict]]] = defaultdict(list)
    for path, info in zip(files, infos, strict=True):
        groups[source_name(path, data_dir) or "."].append((path, info))
    sources: dict[str, object] = {}
    for source, items in sorted(groups.items()):
        errors = [fk_errors[p] for p, _ in items if p in fk_errors]
        interpolated = sorted(
            {k for _, i in items for k, v in i["mapped_joints"].items() if v == "interpolated"}
        )
        sources[source] = {
            "clips": len(items),
            "minutes": round(sum(i["duration_s"] for _, i in items) / 60.0, 2),
            "fps": sorted({i["fps"] for _, i in items}),
            "rigs": sorted({i["rig"] for _, i in items}),
            "interpolated_joints": interpolated,
            "head_height_m": _stats([i["head_height_m"] for _, i in items]),
            "rest_head_height_m": _stats([i["rest_head_height_m"] for _, i in items]),
            "fk_error_cm": {
                "clips_sampled": len(errors),
                "max": round(max(errors), 5) if errors else None,
                "median": round(statistics.median(errors), 5) if errors else None,
            },
        }
    return {
        "command": _command(),
        "data_dir": str(data_dir),
        "host": {"python": platform.python_version(), "torch": torch.__version__},
        "workers": workers,
        "wall_s": round(wall_s, 1),
        "data": duration_summary(
            ((p, float(i["duration_s"])) for p, i in zip(files, infos, strict=True)), data_dir
        ),
        "protocol": PROTOCOL,
        "sources": sources,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="mocap folder (default: auto)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file to write")
    parser.add_argument("--fk-every", type=int, default=4, help="FK check on every N-th file")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    result = summarize(data_dir, max(args.fk_every, 1), max(args.workers, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, result)
    print(json.dumps(result["sources"], indent=2))


if __name__ == "__main__":
    main()

"""Speed of the data stage on real mocap: BVH parsing, GIF rendering, virtual IMU kinematics.

These limits were timed assertions in unit tests (which fail on a loaded shared machine); here
they are measured on the shared data, best of ``--repeats`` runs, beside the machine's load, and
the script exits 1 when a figure is over its limit. Writes ``benchmarks/results/data_speed.json``.

    OMP_NUM_THREADS=1 python benchmarks/data_speed.py --data ../shared/data/mocap
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgesdk.data.bvh import read_bvh
from edgesdk.data.kinematics import virtual_imu
from edgesdk.data.render import render_gif
from edgesdk.data.sources import list_motion_files, load_motion
from edgesdk.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "data_speed.json"
PROTOCOL = "not applicable: time to read, simulate and render, no accuracy"
# seconds: every 10th BVH file parsed; a 10 s clip rendered at 15 fps; virtual_imu of one slot
# on 60 s of motion at 60 fps
LIMITS_S = {"parse_every_10th_bvh": 10.0, "render_10s_gif": 10.0, "virtual_imu_60s": 0.1}


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mocap", help="mocap folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    bvh = sorted(Path(args.data).rglob("*.bvh"))[::10]
    if not bvh:
        raise SystemExit(f"{args.data}: no .bvh files")
    frames = sum(read_bvh(p).num_frames for p in bvh)  # warm-up; also the frame count
    # the longest clip, at 60 fps: its first 60 s (or all of it) for the kinematics, its first
    # 10 s at 30 fps for the GIF
    longest = max(list_motion_files(args.data), key=lambda p: p.stat().st_size)
    clip60 = load_motion(longest, fps=60.0)
    clip60 = clip60.slice(0, min(clip60.num_frames, 3600))
    clip30 = load_motion(longest, fps=30.0)
    clip30 = clip30.slice(0, min(clip30.num_frames, 300))
    with tempfile.TemporaryDirectory() as tmp:
        gif = Path(tmp) / "clip.gif"
        figures = {
            "parse_every_10th_bvh": best_of(lambda: [read_bvh(p) for p in bvh], args.repeats),
            "render_10s_gif": best_of(lambda: render_gif(clip30, gif, fps=15), args.repeats),
            "virtual_imu_60s": best_of(lambda: virtual_imu(clip60, "right_pocket"), args.repeats)
            * 60.0
            / clip60.duration_s,
        }
    over = {k: v for k, v in figures.items() if v > LIMITS_S[k]}
    report = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "inputs": {
            "bvh_files": len(bvh),
            "bvh_frames": frames,
            "clip": str(longest.relative_to(args.data)),
            "virtual_imu_seconds": round(clip60.duration_s, 2),
            "gif_seconds": round(clip30.duration_s, 2),
        },
        "data": {"mocap_files_read": len(bvh), "source": str(args.data)},
        "protocol": PROTOCOL,
        "seconds_best_of": args.repeats,
        "seconds": {k: round(v, 4) for k, v in figures.items()},
        "limits_s": LIMITS_S,
        "over_limit": sorted(over),
    }
    write_json_atomic(args.out, report)
    for k, v in figures.items():
        print(f"{k}: {v:.3f} s (limit {LIMITS_S[k]:g} s){'  OVER' if k in over else ''}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

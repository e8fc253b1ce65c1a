"""Benchmark the reference runtime (``edgesdk.runtime``) and write
``benchmarks/results/runtime.json``.

Figures, on this machine's CPU with one thread, on the wall clock (``perf_counter``) around
every ``push`` + ``poses`` call; the replay loop's thread CPU time is given once for the whole
loop (``whole_loop``, harness included):

- **fusion overhead per output frame**, excluding the model call: the time spent inside the
  session (``push`` of every sample, clock alignment, resampling, calibration and placement
  checks, input assembly, frame bookkeeping) between two frames, minus the model call;
  median and p99 over every frame of the long replay;
- **real-time factor** of the whole pipeline at 30 Hz with an int8 artifact (LiteRT, the
  fastest int8 runtime in bench.json): simulated seconds over seconds spent inside the
  session (model included; reading the take is not); one minute with ONNX int8 and fp32 for
  comparison;
- **memory**: resident set size sampled every simulated minute of a long replay (default one
  hour: a continuous simulated take, three devices at 200 / 50 / 100 Hz, 1.26 M samples);
- **accuracy**: the acceptance scenario (20 s, the watch away for 5 s) replayed vs the offline
  evaluation of the same artifact on the same clip (MPJPE ratio).

The student is ego4o-student at its real size (GRU 2 x 128): random weights by default (the
cost is the same; the MPJPE figures then only compare runtime with offline), or a trained
checkpoint with ``--checkpoint``.

    python benchmarks/runtime.py                       # about 5 minutes here
    python benchmarks/runtime.py --hours 0.1 --checkpoint runs/students/ego4o-student-gt
    python benchmarks/runtime.py --trained runs/students/ego4o-student-gt
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import write_take
from edgesdk.data.simulate import simulate_take
from edgesdk.data.sources import bundled_data_dir
from edgesdk.data.takes import Take
from edgesdk.export.export import export_model
from edgesdk.io import write_json_atomic
from edgesdk.runtime.model_backend import open_backend
from edgesdk.runtime.offline import offline_inputs, run_offline, yaw_aligned_mpjpe_mm
from edgesdk.runtime.replay import frames_array, replay
from edgesdk.runtime.scenario import session_clip, with_gap
from edgesdk.runtime.session import Session
from edgesdk.train import checkpoint
from edgesdk.train.data import load_clips_cached, load_train_data
from edgesdk.train.results import data_block

RESULTS = Path(__file__).resolve().parent / "results" / "runtime.json"
CLIP = "005_01"  # CMU 05_01, a level walk
ARTIFACTS = (("tflite", "int8"), ("onnx", "int8"), ("onnx", "fp32"))
# What the session is fed: simulated takes (edgesdk.data.simulate) pushed sample by sample.
PROTOCOL = {
    "devices": "simulated takes through the runtime (noise, bias walk, jitter, drops, clock "
    "drift; calibration from a stand-still)",
    "head": "glasses 6DoF (simulated)",
    "text": "none",
}
LONG = "tflite-int8"  # the long replay's artifact: int8 on the fastest runtime here (bench.json)


def devices() -> list[DeviceSpec]:
    return [
        DeviceSpec.glasses(rate_hz=200.0),
        DeviceSpec.watch("left_wrist", rate_hz=50.0),
        DeviceSpec.phone("right_pocket", rate_hz=100.0),
    ]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def arrivals(take: Take) -> Iterator[tuple[int, str, int]]:
    """``(recv_ns, device, index)`` in arrival order, merged lazily (no list of a million)."""

    def one(device_id: str) -> Iterator[tuple[int, str, int]]:
        t = take.streams[device_id].t_ns
        recv = t - t.min()
        for i in np.argsort(recv, kind="stable").tolist():
            yield int(recv[i]), device_id, i

    return heapq.merge(*(one(d) for d in take.streams))


def timed_replay(artifact: Path, take: Take, sample_every_s: float = 60.0) -> dict[str, Any]:
    """Push a take through a session, timing every ``push`` + ``poses`` call on the wall
    clock (``perf_counter``, ~0.1 us a read here); the thread's CPU time is read only at the
    start and end of the loop (``thread_time`` is a ~1 us system call here, and reading it
    around every call inflated the overhead it measured). Overhead per frame, real-time
    factor, RSS along the way."""
    session = Session(artifact, clock="virtual")
    cols = {
        d: (s.t_ns.tolist(), s.acc_mps2, s.gyro_rads, s.quat_wxyz) for d, s in take.streams.items()
    }
    seconds = max(int(s.t_ns.max() - s.t_ns.min()) for s in take.streams.values()) / 1e9
    # us per frame, model excluded; preallocated so the harness itself does not grow the RSS
    capacity = int(seconds * 30) + 64
    overhead = np.zeros(capacity)
    n_frames = 0
    span = inside = model_before = 0.0
    rss: list[tuple[float, float]] = [(0.0, round(rss_mb(), 1))]
    next_rss = sample_every_s
    wall = time.perf_counter
    cpu0, wall0 = time.thread_time(), wall()
    for recv, device_id, i in arrivals(take):
        t, acc, gyro, quat = cols[device_id]
        row_acc, row_gyro, row_quat = acc[i].tolist(), gyro[i].tolist(), quat[i].tolist()
        w0 = wall()
        session.push(device_id, t[i], row_acc, row_gyro, row_quat, recv_ns=recv)
        made = session.poses()
        took = wall() - w0
        span += took
        inside += took
        if made:
            stop = min(n_frames + len(made), capacity)
            overhead[n_frames:stop] = (span - (session.model_s - model_before)) / len(made) * 1e6
            span, model_before = 0.0, session.model_s
            n_frames = stop
        if recv / 1e9 >= next_rss:
            rss.append((round(recv / 1e9, 1), round(rss_mb(), 1)))
            next_rss += sample_every_s
    w0 = wall()
    session.flush()
    inside += wall() - w0
    loop_cpu, loop_wall = time.thread_time() - cpu0, wall() - wall0
    overhead = overhead[:n_frames]
    steady = [m for t_s, m in rss if t_s >= min(300.0, seconds / 4)]
    frames = max(session.frames_made, 1)
    return {
        "simulated_s": round(seconds, 1),
        "frames": session.frames_made,
        "samples": sum(len(s.t_ns) for s in take.streams.values()),
        "inside_session_s": round(inside, 2),
        "model_s": round(session.model_s, 2),
        "real_time_factor": round(seconds / inside, 1),
        "real_time_factor_without_model": round(seconds / (inside - session.model_s), 1),
        "model_call_mean_us": round(session.model_s / frames * 1e6, 1),
        "overhead_per_frame_us": {
            "median": round(float(np.median(overhead)), 1),
            "p99": round(float(np.percentile(overhead, 99)), 1),
            "mean": round(float(np.mean(overhead)), 1),
        },
        "whole_loop": {
            "what": "the replay loop including this harness (reading the take's rows)",
            "wall_s": round(loop_wall, 2),
            "thread_cpu_s": round(loop_cpu, 2),
            "real_time_factor_cpu": round(seconds / loop_cpu, 1),
        },
        "rss_mb": {
            "samples_every_s": sample_every_s,
            "series": rss,
            "after_warmup_min": min(steady) if steady else None,
            "after_warmup_max": max(steady) if steady else None,
        },
        "stats": {k: v for k, v in session.stats().items() if k != "devices"},
        "placements": session.placements(),
    }


def accuracy(artifact: Path, clip: Clip, tmp: Path) -> dict[str, Any]:
    """The acceptance scenario: replay vs offline evaluation of the same artifact."""
    scene = session_clip(clip, 20.0, still_s=2.0)
    take = with_gap(simulate_take(scene, devices(), seed=3), "watch_left_wrist", 8.0, 13.0)
    take_dir = write_take(take, tmp / f"take-{artifact.stem}", overwrite=True)
    t_ns, pos = frames_array(replay(artifact, take_dir))
    backend = open_backend(artifact)
    inputs = offline_inputs(
        scene, ("head", "left_wrist", "right_pocket"), absent={"left_wrist": (8.0, 13.0)}
    )
    offline = run_offline(backend, inputs)
    blind = {**inputs, "imu": inputs["imu"] * 0.0, "mask": inputs["mask"] * 0.0}
    k = np.round(t_ns * 30 / 1e9).astype(int)
    sel = k[(k >= 90) & (k < len(offline))]
    gt = inputs["pos_m"] - inputs["pos_m"][:, :1]
    rt, off = yaw_aligned_mpjpe_mm(pos[sel], gt[sel]), yaw_aligned_mpjpe_mm(offline[sel], gt[sel])
    return {
        "runtime_mpjpe_mm": round(rt, 2),
        "offline_mpjpe_mm": round(off, 2),
        "ratio": round(rt / off, 4),
        "runtime_vs_offline_mm": round(yaw_aligned_mpjpe_mm(pos[sel], offline[sel]), 2),
        "offline_vs_no_input_mm": round(
            yaw_aligned_mpjpe_mm(offline[sel], run_offline(backend, blind)[sel]), 2
        ),
        "frames_compared": len(sel),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="length of the long replay")
    parser.add_argument("--checkpoint", default=None, help="ego4o-student checkpoint folder")
    parser.add_argument(
        "--trained",
        default=None,
        help="also measure the accuracy figures with this trained ego4o-student checkpoint",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    command = "python " + " ".join(sys.argv)
    clips, _ = load_clips_cached(bundled_data_dir() / "cmu", progress=False)
    clip = {c.name: c for c in clips}[CLIP]
    report: dict[str, Any] = {
        "command": command,
        "protocol": PROTOCOL,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
            # Python speed here (a typical 2023 laptop core: about 6 us); scale the figures by it
            "sum_range_1000_us": round(
                min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6, 2
            ),
            "threads": 1,
        },
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.checkpoint:
            ckpt = Path(args.checkpoint)
        else:
            import torch

            from edgesdk.models import create_model

            torch.manual_seed(0)
            ckpt = checkpoint.save(
                create_model("ego4o-student"),
                tmp / "ego4o-student",
                data={"fingerprint": "benchmark, random weights"},
            )
        report["checkpoint"] = str(args.checkpoint or "ego4o-student, default size, random")
        started = time.perf_counter()
        calib = bundled_data_dir() / "cmu"
        artifacts = {
            f"{b}-{p}": export_model(
                ckpt, b, p, tmp / f"{b}-{p}", calib if p == "int8" else None, progress=False
            )
            for b, p in ARTIFACTS
        }
        report["export_s"] = round(time.perf_counter() - started, 1)
        int8 = artifacts[LONG]
        report["accuracy"] = {k: accuracy(a, clip, tmp) for k, a in artifacts.items()}
        if args.trained:
            trained = {
                f"{b}-{p}": export_model(
                    args.trained, b, p, tmp / f"t-{b}-{p}", calib if p == "int8" else None,
                    progress=False,
                )
                for b, p in ARTIFACTS
            }  # fmt: skip
            source = checkpoint.read_meta(args.trained)["data"]["source"]
            report["data"] = {
                "what": "the trained checkpoint's training data",
                **data_block(load_train_data(Path(source), progress=False)),
            }
            report["accuracy_trained"] = {
                "checkpoint": args.trained,
                **{k: accuracy(a, clip, tmp) for k, a in trained.items()},
            }
        minute = simulate_take(session_clip(clip, 60.0), devices(), seed=0)
        report["one_minute"] = {
            k: {
                key: v
                for key, v in timed_replay(a, minute).items()
                if key not in ("rss_mb", "placements")
            }
            for k, a in artifacts.items()
        }
        started = time.perf_counter()
        long = simulate_take(session_clip(clip, args.hours * 3600.0), devices(), seed=0)
        simulate_s = time.perf_counter() - started
        report["int8_long"] = {
            "artifact": LONG,
            "what": f"one continuous simulated take of {args.hours:g} h (N-pose, then CMU "
            f"{CLIP} walking repeated), glasses 200 Hz, watch 50 Hz, phone 100 Hz with "
            "typical noise, jitter, drops and clock drift; replayed at full length",
            "simulate_s": round(simulate_s, 1),
            **timed_replay(int8, long),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, report)
    long_ = report["int8_long"]
    print(
        f"{LONG}: overhead/frame median {long_['overhead_per_frame_us']['median']} us, "
        f"p99 {long_['overhead_per_frame_us']['p99']} us; real-time factor "
        f"{long_['real_time_factor']}x; RSS {long_['rss_mb']['after_warmup_min']}-"
        f"{long_['rss_mb']['after_warmup_max']} MB; accuracy ratio "
        f"{report['accuracy'][LONG]['ratio']} -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

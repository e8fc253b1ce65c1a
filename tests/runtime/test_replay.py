"""The acceptance test: a simulated take (3 devices at 100 / 50 / 200 Hz with jitter and
drops, the watch away for 5 s) replayed through an exported student gives the MPJPE of the
offline evaluation of the same artifact on the same clip, within 10 %; poses.jsonl is
written atomically; a realtime replay keeps pace."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.recording import write_take
from edgesdk.data.sensors import DeviceSpec
from edgesdk.runtime.backends import open_backend
from edgesdk.runtime.offline import offline_inputs, run_offline, yaw_aligned_mpjpe_mm
from edgesdk.runtime.replay import frames_array, replay
from edgesdk.runtime.scenario import with_gap
from tests.runtime.common import RecordingBackend, simulated_take, three_devices

SLOTS = ("head", "left_wrist", "right_pocket")
GAP = (8.0, 13.0)


@pytest.fixture(scope="module")
def scene_and_take(walk: Clip, tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Path]:
    scene, take = simulated_take(walk, 20.0, three_devices(), seed=3)
    assert [s.spec.sample_rate_hz for s in take.streams.values()] == [200.0, 50.0, 100.0]
    take = with_gap(take, "watch_left_wrist", *GAP)
    return scene, write_take(take, tmp_path_factory.mktemp("takes") / "take_0001")


def test_replay_matches_the_offline_evaluation(scene_and_take, ego_onnx: Path, tmp_path) -> None:
    scene, take_dir = scene_and_take
    out = tmp_path / "poses.jsonl"
    frames = replay(ego_onnx, take_dir, out=out)
    t_ns, pos = frames_array(frames)
    k = np.round(t_ns * scene.fps / 1e9).astype(int)
    assert np.array_equal(k, np.arange(len(k))) and len(k) >= 20 * 30 - 2

    backend = open_backend(ego_onnx)
    inputs = offline_inputs(scene, SLOTS, absent={"left_wrist": GAP})
    offline = run_offline(backend, inputs)
    gt = inputs["pos_m"] - inputs["pos_m"][:, :1]
    sel = k[(k >= 3 * 30) & (k < len(gt))]  # after calibration (about 1 s) and settling
    runtime_mm = yaw_aligned_mpjpe_mm(pos[sel], gt[sel])
    offline_mm = yaw_aligned_mpjpe_mm(offline[sel], gt[sel])
    assert abs(runtime_mm / offline_mm - 1.0) < 0.10, (runtime_mm, offline_mm)

    # The ratio alone is weak for a small random student, so also: the runtime's poses are
    # much closer to the offline ones than the inputs move them (offline without any device).
    blind = {n: v.copy() for n, v in inputs.items()}
    blind["imu"][:], blind["mask"][:] = 0.0, 0.0
    input_effect = yaw_aligned_mpjpe_mm(offline[sel], run_offline(backend, blind)[sel])
    assert yaw_aligned_mpjpe_mm(pos[sel], offline[sel]) < 0.1 * input_effect

    masks = np.stack([f.mask for f in frames])
    t = t_ns / 1e9
    assert (masks[(t > 2.0), 0] == 1).all() and (masks[(t > 2.0), 4] == 1).all()
    assert (masks[(t > GAP[0] + 0.4) & (t < GAP[1] - 0.1), 1] == 0).all()
    assert (masks[(t > 2.0) & (t < GAP[0] - 0.1), 1] == 1).all()
    assert (masks[t > GAP[1] + 0.1, 1] == 1).all()

    lines = out.read_text().splitlines()
    meta = json.loads(lines[0])["meta"]
    assert len(lines) == len(frames) + 1
    assert {d: p["slot"] for d, p in meta["placements"].items()} == {
        "glasses_head": "head",
        "watch_left_wrist": "left_wrist",
        "phone_right_pocket": "right_pocket",
    }
    last = json.loads(lines[-1])
    assert last["t_ns"] == frames[-1].t_ns and len(last["pos_rel_m"]) == 22
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.jsonl"]  # no temp file left


def test_realtime_replay_keeps_pace(walk: Clip, ego_onnx: Path, tmp_path: Path) -> None:
    _, take = simulated_take(walk, 3.0, [DeviceSpec.phone()], seed=0, still_s=1.5)
    take_dir = write_take(take, tmp_path / "take")
    started = time.monotonic()
    frames = replay(ego_onnx, take_dir, realtime=True)  # poses.jsonl beside the take's files
    wall = time.monotonic() - started
    assert 2.9 < wall < 6.0
    assert len(frames) >= 85
    assert np.median([f.latency_ns for f in frames]) < 60_000_000
    assert len((take_dir / "poses.jsonl").read_text().splitlines()) == len(frames) + 1


def test_epoch_stamped_take_replays_from_time_zero(walk: Clip, tmp_path: Path) -> None:
    """Real imported takes stamp samples in UNIX-epoch nanoseconds (about 1.66e18, where a
    float64 step is 256 ns): their frames are those of the same take stamped from 0, ``t_ns``
    counted from the first sample, whichever way the stamps would round."""
    _, take = simulated_take(walk, 4.0, [DeviceSpec.phone(), DeviceSpec.watch()], seed=5)
    plain = replay(RecordingBackend(), write_take(take, tmp_path / "plain"))
    expected = [(f.t_ns, sorted(f.devices)) for f in plain]
    assert expected[0][0] == 0
    for j in range(4):  # 64 ns apart: float64 rounds some of these up, some down
        epoch = 1_660_000_000_123_456_789 + 64 * j
        streams = {d: dataclasses.replace(s, t_ns=s.t_ns + epoch) for d, s in take.streams.items()}
        folder = write_take(dataclasses.replace(take, streams=streams), tmp_path / f"epoch{j}")
        frames = replay(RecordingBackend(), folder)
        assert [(f.t_ns, sorted(f.devices)) for f in frames] == expected, j

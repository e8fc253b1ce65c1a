"""The acceptance test: a simulated take (3 devices at 100 / 50 / 200 Hz with jitter and
drops, the watch away for 5 s) replayed through an exported student gives the MPJPE of the
offline evaluation of the same artifact on the same clip, within 10 %; poses.jsonl is
written atomically; a realtime replay keeps pace."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import read_take, write_take
from edgesdk.runtime.clock import replay_arrivals
from edgesdk.runtime.model_backend import open_backend
from edgesdk.runtime.offline import offline_inputs, run_offline, yaw_aligned_mpjpe_mm
from edgesdk.runtime.replay import arrival_order, frames_array, replay, replay_take
from edgesdk.runtime.scenario import with_gap
from edgesdk.runtime.session import Session
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


def test_one_sample_stamped_an_hour_early_is_a_clock_jump_as_live(
    walk: Clip, tmp_path: Path
) -> None:
    """Replay took each device's minimum t_ns as its start: one sample an hour early turned a
    6 s take into an hour of extra frames and the device never combined with the others."""
    _, take = simulated_take(walk, 6.0, three_devices(), seed=1)
    clean = replay_take(Session(RecordingBackend(), clock="virtual"), take)
    watch = take.streams["watch_left_wrist"]
    k = len(watch.t_ns) // 2
    t_bad = watch.t_ns.copy()
    t_bad[k] -= 3600 * 10**9
    glitched = dataclasses.replace(
        take, streams={**take.streams, "watch_left_wrist": dataclasses.replace(watch, t_ns=t_bad)}
    )
    take_dir = write_take(glitched, tmp_path / "take")
    session = Session(RecordingBackend(), clock="virtual")
    frames = replay_take(session, read_take(take_dir))
    assert abs(len(frames) - len(clean)) <= 1 and len(frames) <= 6 * 30 + 2
    stats = session.stats()
    assert stats["devices"]["watch_left_wrist"]["dropped"] == {"clock_jump": 1}
    assert stats["devices"]["watch_left_wrist"]["stream_resets"] == 0
    combined = [f for f in frames if f.mask.sum() == 3]
    assert len(combined) >= len(frames) - 3 * 30  # all three after the first seconds

    # A live session (arrivals as recorded, the bad stamp in its place) counts the same.
    live = Session(RecordingBackend(), clock="virtual")
    for recv, _, device_id, i in arrival_order(take, False):
        s = take.streams[device_id]
        t = int(t_bad[i]) if device_id == "watch_left_wrist" else int(s.t_ns[i])
        live.push(device_id, t, s.acc_mps2[i], s.gyro_rads[i], s.quat_wxyz[i], recv_ns=recv)
    assert live.stats()["devices"]["watch_left_wrist"]["dropped"] == {"clock_jump": 1}


def test_replay_arrivals_rule() -> None:
    period = 10**7
    t = [i * period for i in range(40)]
    assert replay_arrivals(t, 2 * 10**9) == t
    early = list(t)
    early[0] -= 3600 * 10**9  # the very first sample glitched: it does not set the start
    assert replay_arrivals(early, 2 * 10**9) == [0] + [x - period for x in t[1:]]
    restart = t[:20] + [x - 5 * 10**9 for x in t[20:]]  # the clock restarted 5 s back
    arrivals = replay_arrivals(restart, 2 * 10**9)
    assert arrivals[:20] == t[:20] and arrivals == sorted(arrivals)
    assert arrivals[-1] - arrivals[20] == t[-1] - t[20]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda s: {"quat_wxyz": s.quat_wxyz[:, [1, 2, 3, 0]]}, "looks like x, y, z, w"),
        (lambda s: {"gyro_rads": s.gyro_rads + 1e5}, "gyro reads up to 1e+05 rad/s"),
    ],
)
def test_a_device_failing_the_self_check_is_named_not_silently_unused(
    walk: Clip,
    ego_onnx: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Any,
    needle: str,
) -> None:
    _, take = simulated_take(walk, 4.0, three_devices(), seed=2)
    watch = take.streams["watch_left_wrist"]
    broken = dataclasses.replace(watch, **damage(watch))
    take_dir = write_take(
        dataclasses.replace(take, streams={**take.streams, "watch_left_wrist": broken}),
        tmp_path / "take",
    )
    frames = replay(ego_onnx, take_dir, out=tmp_path / "poses.jsonl")
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and "watch_left_wrist: " in err[0] and needle in err[0], err
    assert "docs/sensors.md section" in err[0]
    meta = json.loads((tmp_path / "poses.jsonl").read_text().splitlines()[0])["meta"]
    assert [p["device"] for p in meta["self_check"]] == ["watch_left_wrist"]
    assert len(frames) > 0
    # the same take unbroken: no warning
    replay(ego_onnx, write_take(take, tmp_path / "good"), write=False)
    assert "warning" not in capsys.readouterr().err

"""Live input over UDP on loopback: a sender process streams a simulated take in real time as
JSON datagrams (plus some bad ones); the receiver, with a timeout, makes poses from them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.runtime.replay import arrival_order
from edgesdk.runtime.session import Frame, Session, SessionConfig
from edgesdk.runtime.udp import UdpReceiver
from tests.runtime.common import RecordingBackend, simulated_take

SENDER = """
import json, socket, sys, time
messages = json.load(open(sys.argv[1]))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for at_s, payload in messages:                      # paced as recorded
    wait = start + at_s - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    sock.sendto(payload.encode("utf-8"), ("127.0.0.1", int(sys.argv[2])))
"""
BAD = [
    "not json",
    "[1, 2, 3]",
    json.dumps({"device": "watch_left_wrist", "t_ns": 5}),  # no acc / gyro / quat
    '{"device": "watch_left_wrist", "t_ns": 7, "acc": [NaN, 0, 0], "gyro": [0, 0, 0], '
    '"quat": [1, 0, 0, 0]}',
    json.dumps(
        {"device": 12, "t_ns": 7, "acc": [0, 0, 0], "gyro": [0, 0, 0], "quat": [1, 0, 0, 0]}
    ),
]


def _take_messages(
    walk: Clip, duration_s: float, specs: list[DeviceSpec], start_s: float = 0.0
) -> list[tuple[float, str]]:
    """(send time, datagram) for every sample of a simulated take, in arrival order."""
    _, take = simulated_take(walk, duration_s, specs, seed=0, still_s=1.8)
    messages: list[tuple[float, str]] = []
    for recv, _, device_id, i in arrival_order(take, False):
        s = take.streams[device_id]
        sample = {
            "device": device_id,
            "t_ns": int(s.t_ns[i]),
            "acc": s.acc_mps2[i].tolist(),
            "gyro": s.gyro_rads[i].tolist(),
            "quat": s.quat_wxyz[i].tolist(),
            "kind": s.spec.kind,
        }
        messages.append((start_s + recv / 1e9, json.dumps(sample)))
    return messages


def _receive(
    session: Session, messages: list[tuple[float, str]], tmp_path: Path
) -> tuple[UdpReceiver, list[Frame]]:
    """Send ``messages`` from another process, paced, and receive them into ``session``."""
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(messages))
    with UdpReceiver(session) as rx:
        sender = subprocess.Popen([sys.executable, "-c", SENDER, str(path), str(rx.port)])
        try:
            frames = rx.run(duration_s=15.0, idle_timeout_s=1.5, max_datagrams=len(messages))
        finally:
            sender.wait(timeout=20)
    assert sender.returncode == 0
    return rx, frames


def test_udp_loopback_stream(walk: Clip, tmp_path: Path) -> None:
    specs = [DeviceSpec.glasses(rate_hz=200.0), DeviceSpec.watch("left_wrist", rate_hz=50.0)]
    messages = _take_messages(walk, 3.5, specs)
    good = len(messages)
    messages += [(messages[-1][0], payload) for payload in BAD]
    session = Session(RecordingBackend())
    rx, frames = _receive(session, messages, tmp_path)
    assert rx.received == len(messages) and rx.accepted == good
    stats = session.stats()
    assert stats["dropped"] == {"bad_datagram": 2, "unknown_device": 1}
    assert stats["devices_expired"] == 0
    assert stats["devices"]["watch_left_wrist"]["dropped"] == {"not_finite": 1, "bad_length": 1}
    assert sum(d["accepted"] for d in stats["devices"].values()) == good
    assert 3.0 * 30 <= len(frames) <= 4.5 * 30
    assert all(np.isfinite(f.pos_rel_m).all() for f in frames)
    late = [f for f in frames if f.mask.sum() == 2]
    assert len(late) > 30  # both devices calibrated during the stand-still and used
    assert session.placements()["watch_left_wrist"]["slot"] == "left_wrist"
    assert math.isfinite(np.median([f.latency_ns for f in frames]))


def test_id_only_datagrams_take_no_device_place(walk: Clip, tmp_path: Path) -> None:
    """Eight datagrams with a device id and nothing else used to fill every place (8), and a
    real watch sending afterwards was dropped as unknown for the whole run."""
    junk = [(0.0, json.dumps({"device": f"fake{i}"})) for i in range(8)]
    junk += [(0.0, json.dumps({"device": "fake8", "t_ns": 1, "acc": [0, 0]}))]
    watch = _take_messages(walk, 3.0, [DeviceSpec.watch("left_wrist", rate_hz=50.0)], 0.1)
    session = Session(RecordingBackend())
    rx, frames = _receive(session, junk + watch, tmp_path)
    stats = session.stats()
    assert list(session.devices) == ["watch_left_wrist"]
    assert stats["dropped"] == {"new_device_bad_sample": 9}
    assert rx.accepted == len(watch) and len(frames) >= 2.5 * 30
    assert all(f.mask.sum() == 1 for f in frames[-10:])


def test_silent_devices_give_their_place_to_a_new_one(walk: Clip, tmp_path: Path) -> None:
    """Eight devices send one good sample each and go silent; a real watch still gets in
    once they are silent for device_expiry_s, and the refusals before that are counted."""
    one = {"t_ns": 1, "acc": [0, 0, 9.8], "gyro": [0, 0, 0], "quat": [1, 0, 0, 0]}
    squatters = [(0.0, json.dumps({**one, "device": f"squat{i}"})) for i in range(8)]
    watch = _take_messages(walk, 3.0, [DeviceSpec.watch("left_wrist", rate_hz=50.0)], 0.1)
    session = Session(RecordingBackend(), SessionConfig(device_expiry_s=0.5))
    rx, frames = _receive(session, squatters + watch, tmp_path)
    stats = session.stats()
    assert "watch_left_wrist" in session.devices and len(session.devices) == 8
    assert stats["devices_expired"] == 1  # only the one place the watch needed
    refused = stats["dropped"]["device_limit"]
    assert 0 < refused < 0.6 * 50  # the watch's samples during the first ~0.4 s
    assert rx.accepted == 8 + len(watch) - refused
    assert len(frames) >= 2.0 * 30 and frames[-1].devices["watch_left_wrist"]["used"]

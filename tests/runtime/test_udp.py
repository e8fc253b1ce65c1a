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
from edgesdk.data.sensors import DeviceSpec
from edgesdk.runtime.replay import arrival_order
from edgesdk.runtime.session import Session
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


def test_udp_loopback_stream(walk: Clip, tmp_path: Path) -> None:
    specs = [DeviceSpec.glasses(rate_hz=200.0), DeviceSpec.watch("left_wrist", rate_hz=50.0)]
    _, take = simulated_take(walk, 3.5, specs, seed=0, still_s=1.8)
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
        messages.append((recv / 1e9, json.dumps(sample)))
    good = len(messages)
    messages += [(messages[-1][0], payload) for payload in BAD]
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(messages))

    backend = RecordingBackend()
    session = Session(backend)
    with UdpReceiver(session) as rx:
        sender = subprocess.Popen([sys.executable, "-c", SENDER, str(path), str(rx.port)])
        try:
            frames = rx.run(duration_s=15.0, idle_timeout_s=1.5, max_datagrams=len(messages))
        finally:
            sender.wait(timeout=20)
    assert sender.returncode == 0
    assert rx.received == len(messages) and rx.accepted == good
    stats = session.stats()
    assert stats["dropped"] == {"bad_datagram": 2, "unknown_device": 1}
    assert stats["devices"]["watch_left_wrist"]["dropped"] == {"not_finite": 1, "bad_length": 1}
    assert sum(d["accepted"] for d in stats["devices"].values()) == good
    assert 3.0 * 30 <= len(frames) <= 4.5 * 30
    assert all(np.isfinite(f.pos_rel_m).all() for f in frames)
    late = [f for f in frames if f.mask.sum() == 2]
    assert len(late) > 30  # both devices calibrated during the stand-still and used
    assert session.placements()["watch_left_wrist"]["slot"] == "left_wrist"
    assert math.isfinite(np.median([f.latency_ns for f in frames]))

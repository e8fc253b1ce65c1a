"""Live input over UDP: one JSON datagram per sample, into a ``Session``.

Datagram schema (UTF-8 JSON object, at most 8 KiB; units and frames as docs/sensors.md):

    {"device": "watch_left",                  device id, 1-64 characters (required)
     "t_ns": 1234567890000,                   integer ns, the device's monotonic clock (required)
     "acc": [0.12, 9.79, 0.31],               m/s², sensor frame (required)
     "gyro": [0.004, -0.012, 0.3],            rad/s, sensor frame (required)
     "quat": [0.7071, 0.7071, 0.0, 0.0],      w, x, y, z: q_world_sensor (optional: without
                                              it the session estimates it from acc + gyro)
     "kind": "watch",                         phone / watch / glasses / earbuds (optional)
     "acc_kind": "raw",                       raw (gravity included) / user / auto (optional)
     "slot": "left_wrist"}                    fixes the placement (optional)

A glasses' 6DoF head pose is ``{"type": "head_pose", "device": ..., "t_ns": ..., "pos": [x, y,
z], "quat": [w, x, y, z]}``. ``kind``, ``acc_kind`` and ``slot`` are read from a device's first
datagram. The receiver stamps each datagram with its arrival time (the session's wall clock);
datagrams that are not JSON objects are dropped and counted (``session.dropped["bad_datagram"]``),
never raised. A device is registered by its first datagram with a usable sample (one with a
missing or bad field is counted as ``new_device_bad_sample`` and takes no place); when
``max_devices`` are registered, a device silent for ``device_expiry_s`` gives its place to a
new one (``stats()["devices_expired"]``), else the datagram counts as ``device_limit``.

Example::

    session = Session("exports/ego4o-student-int8.onnx")
    with UdpReceiver(session, port=9750) as rx:       # 127.0.0.1 by default
        frames = rx.run(duration_s=60.0)
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.ingest import check_sample
from edgesdk.runtime.session import Frame, Session

MAX_DATAGRAM = 8192


class UdpReceiver:
    """Receives sample datagrams on ``host:port`` (port 0: any free one, see ``.port``)."""

    def __init__(self, session: Session, host: str = "127.0.0.1", port: int = 0) -> None:
        self.session = session
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise EdgeSDKError(f"udp {host}:{port}: cannot listen ({exc})") from None
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.received = 0
        self.accepted = 0

    def __enter__(self) -> UdpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def poll(self, timeout_s: float = 0.0) -> int:
        """Read every datagram waiting (waiting up to ``timeout_s`` for the first); returns
        how many were read."""
        count = 0
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
        while ready:
            try:
                data = self.sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            count += 1
            self.received += 1
            if self.handle(data):
                self.accepted += 1
        return count

    def handle(self, data: bytes) -> bool:
        """Push one datagram into the session; False when it was dropped."""
        msg = _decode(data)
        session = self.session
        if msg is None:
            session.dropped["bad_datagram"] += 1
            return False
        device = msg.get("device")
        head_pose = msg.get("type", "imu") == "head_pose"
        if isinstance(device, str) and device not in session.devices:
            # Register a new device with its hints only on a usable sample, so datagrams that
            # carry an id and nothing else never take a device's place; a bad kind / slot /
            # acc_kind: push adds the device plainly.
            if head_pose:
                checked = check_sample(msg.get("t_ns"), msg.get("pos"), (0, 0, 0), msg.get("quat"))
            else:
                checked = check_sample(
                    msg.get("t_ns"), msg.get("acc"), msg.get("gyro"), msg.get("quat")
                )
            if not isinstance(checked, str) and session.config.allow_new_devices:
                with contextlib.suppress(EdgeSDKError):
                    session.add_device(
                        device,
                        kind=_opt_str(msg.get("kind")),
                        slot=_opt_str(msg.get("slot")),
                        acc=_opt_str(msg.get("acc_kind")) or "auto",
                    )
        if head_pose:
            return session.push_head_pose(device, msg.get("t_ns"), msg.get("pos"), msg.get("quat"))
        return session.push(
            device, msg.get("t_ns"), msg.get("acc"), msg.get("gyro"), msg.get("quat")
        )

    def run(
        self,
        duration_s: float | None = None,
        idle_timeout_s: float | None = None,
        max_datagrams: int | None = None,
    ) -> list[Frame]:
        """Receive until ``duration_s`` passed, nothing came for ``idle_timeout_s``, or
        ``max_datagrams`` were read; returns every frame made (the rest flushed at the end)."""
        if duration_s is None and idle_timeout_s is None and max_datagrams is None:
            raise EdgeSDKError("UdpReceiver.run needs duration_s, idle_timeout_s or max_datagrams")
        frames: list[Frame] = []
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            if duration_s is not None and now - start >= duration_s:
                break
            if idle_timeout_s is not None and now - last >= idle_timeout_s:
                break
            if max_datagrams is not None and self.received >= max_datagrams:
                break
            if self.poll(0.02):
                last = time.monotonic()
            frames.extend(self.session.poses())
        frames.extend(self.session.poses())
        frames.extend(self.session.flush())
        return frames


def _decode(data: bytes) -> dict[str, Any] | None:
    if len(data) > MAX_DATAGRAM:
        return None
    try:
        msg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return msg if isinstance(msg, dict) else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def encode(sample: Mapping[str, Any]) -> bytes:
    """One datagram for a sample dict (see the schema above)."""
    return json.dumps(sample, separators=(",", ":")).encode("utf-8")


def send(
    samples: Iterable[Mapping[str, Any]],
    port: int,
    host: str = "127.0.0.1",
    pause_every: int = 50,
    pause_s: float = 0.002,
) -> int:
    """Send sample dicts as datagrams (pausing ``pause_s`` every ``pause_every`` so a slow
    receiver on the same machine keeps up); returns how many were sent."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for sample in samples:
            sock.sendto(encode(sample), (host, port))
            sent += 1
            if pause_every and sent % pause_every == 0:
                time.sleep(pause_s)
    return sent

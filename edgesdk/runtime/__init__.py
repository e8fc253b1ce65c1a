"""The reference runtime: phone, watch and glasses IMU streams in, live poses out.

    from edgesdk.runtime import Session
    session = Session("exports/ego4o-student-int8.onnx")     # or a checkpoint folder
    session.push("watch", t_ns, acc, gyro, quat)              # each device on its own clock
    frames = session.poses()                                   # the frames made since last call

How it fits together: ``ingest`` checks, orders and buffers each device's samples; ``clock``
maps each device's clock onto the session's; ``device`` holds one device's state; ``fusion``
resamples every device at the model's frame times and builds the model inputs, using
``device_calibration`` (mount and heading from an N-pose stand-still, found automatically;
``npose`` has the pose, ``edgesdk.data.mounts`` the mounts) and ``placement`` (which slot each
device is in); ``model_backend`` runs the artifact (or a checkpoint in eager PyTorch) once per
frame with its state fed back; ``session`` schedules frames under a latency bound (``config``:
its tunables and ``Frame``). ``replay`` feeds a take folder, ``udp`` live datagrams, ``cli`` is
``edgesdk run``. The ingest and fusion modules need numpy only (no torch); ``replay``,
``scenario`` (simulated sessions) and ``offline`` (the reference a replay is judged against) use
the training stack.
"""

from __future__ import annotations

from typing import Any

from edgesdk.runtime.model_backend import ModelBackend, open_backend
from edgesdk.runtime.session import Frame, Session, SessionConfig

__all__ = ["Frame", "ModelBackend", "Session", "SessionConfig", "open_backend", "replay"]


def __getattr__(name: str) -> Any:
    if name == "replay":  # reads take folders with edgesdk.data (scipy, torch): loaded lazily
        from edgesdk.runtime.replay import replay

        return replay
    raise AttributeError(f"module 'edgesdk.runtime' has no attribute {name!r}")

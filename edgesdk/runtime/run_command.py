"""``edgesdk run``: poses from a take folder (replay) or from live UDP datagrams.

    edgesdk run --replay takes/take_0001 --out poses.jsonl     # the bundled model
    edgesdk run --artifact exports/ego4o-student-int8.onnx --replay takes/take_0001 \\
        --out poses.jsonl [--realtime] [--gif poses.gif]
    edgesdk run --artifact exports/ego4o-student-int8.onnx --udp 9750 --duration 60 \\
        --out poses.jsonl

``--artifact`` is an exported artifact of a target that predicts on this OS
(``edgesdk.targets``: .pte, .onnx, .tflite; .mlpackage on macOS) or a checkpoint folder
(eager PyTorch); without it, the bundled pretrained model
(``edgesdk.runtime.pretrained``; weights for non-commercial use). Each line of ``--out`` is
one frame (``Frame.to_json``: the pose, and with a model that has an activity head its
``activity``). Prints a one-line JSON summary (frames, the last pose, and with an activity
head the last frame's activity and each label's share of the frames); returns 0.
``--context TEXT`` gives a model that reads text its context, ``--text-feedback`` its own
description instead (closed loop).

Wiring (in ``edgesdk/cli.py``'s ``build_parser``)::

    from edgesdk.runtime.run_command import add_run_parser
    add_run_parser(sub)
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk import targets
from edgesdk.cliargs import port_int, positive_float, thread_count
from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.session import Frame, SessionConfig


def add_run_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run`` on an ``add_subparsers()`` object; its handler is ``args.func``."""
    run = subparsers.add_parser("run", help="live poses from device streams (replay or UDP)")
    run.add_argument(
        "--artifact",
        default=None,
        help=f"an artifact ({'/'.join(_runnable_suffixes())}) or a checkpoint folder (default: "
        "the bundled pretrained model, non-commercial use: "
        "edgesdk/assets/models/default/MODEL_CARD.md)",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--replay", metavar="TAKE_DIR", help="a take folder to replay")
    source.add_argument(
        "--udp",
        metavar="PORT",
        type=port_int,
        help="JSON datagrams on 127.0.0.1:PORT (runtime.udp; 0: any free port)",
    )
    run.add_argument("--out", required=True, help="poses.jsonl to write (atomically)")
    run.add_argument(
        "--realtime", action="store_true", help="replay at the recording's pace (wall clock)"
    )
    run.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help="with --udp: seconds (default: 10 s idle)",
    )
    run.add_argument("--gif", default=None, help="also render the poses as an animated GIF")
    run.add_argument("--max-latency-ms", type=positive_float, default=100.0)
    run.add_argument("--threads", type=thread_count, default=1)
    run.add_argument(
        "--context",
        default=None,
        help="text context for a model that reads text (e.g. 'normal walk')",
    )
    run.add_argument(
        "--text-feedback",
        action="store_true",
        help="feed the model's own description back as its text (closed loop)",
    )
    run.set_defaults(func=run_command)
    return run


def _runnable_suffixes() -> list[str]:
    """The suffixes of the artifacts this OS can run (``edgesdk.targets``)."""
    return [targets.target(name).suffix for name in targets.runnable_here()]


def run_command(args: argparse.Namespace) -> int:
    """The handler of ``edgesdk run``."""
    from edgesdk.runtime.replay import replay, write_poses

    if args.max_latency_ms <= 0:
        raise EdgeSDKError(f"--max-latency-ms {args.max_latency_ms}: must be positive")
    config = SessionConfig(
        max_latency_s=args.max_latency_ms / 1000.0, text_feedback=args.text_feedback
    )
    if args.artifact is None:
        from edgesdk.runtime.pretrained import default_model

        args.artifact = default_model()
    out = Path(args.out)
    if not out.parent.is_dir():
        raise EdgeSDKError(f"--out {out}: the folder {out.parent} does not exist")
    if args.replay is not None:
        frames = replay(
            args.artifact,
            args.replay,
            realtime=args.realtime,
            out=out,
            config=config,
            threads=args.threads,
            context=args.context,
        )
    else:
        from edgesdk.runtime.session import Session
        from edgesdk.runtime.udp import UdpReceiver

        session = Session(args.artifact, config, threads=args.threads)
        if args.context is not None:
            session.set_context(args.context)
        with UdpReceiver(session, port=args.udp) as rx:
            port = rx.port  # the one bound, when --udp 0 asked for any free one
            frames = rx.run(
                duration_s=args.duration, idle_timeout_s=None if args.duration else 10.0
            )
        write_poses(
            frames,
            out,
            {"udp_port": port, "stats": session.stats(), "placements": session.placements()},
        )
    summary: dict[str, Any] = {"frames": len(frames), "out": str(out)}
    if frames:
        last = frames[-1]
        summary["last_pose"] = {
            "t_ns": last.t_ns,
            "head_above_pelvis_m": round(float(last.pos_rel_m[15, 1]), 3),
            "root_m": np.round(last.root_m, 3).tolist(),
        }
    labels = [f.activity["label"] for f in frames if f.activity is not None]
    if labels:
        counts = Counter(labels)
        summary["activity"] = {
            "last": frames[-1].activity,
            "fraction_of_frames": {k: round(v / len(labels), 3) for k, v in counts.most_common()},
        }
    if args.gif:
        if not frames:
            raise EdgeSDKError(f"--gif {args.gif}: no frames to render")
        summary["gif"] = str(render_frames_gif(frames, Path(args.gif)))
    print(json.dumps(summary))
    return 0


def render_frames_gif(frames: list[Frame], out: Path, fps: float = 30.0) -> Path:
    """Render frames with ``edgesdk.data.render`` (the pelvis dead-reckoned for x and z, at
    the height that puts the lowest joint on the floor)."""
    from edgesdk.body.rotations_numpy import from_6d
    from edgesdk.body.skeleton import template_offsets
    from edgesdk.data.clip import Clip
    from edgesdk.data.render import render_gif

    R = from_6d(np.stack([f.R_world_joint_6d for f in frames]).astype(np.float64))
    pos = np.stack([f.pos_rel_m for f in frames]).astype(np.float64)
    root = np.stack([f.root_m for f in frames])
    root[:, 1] = -pos[:, :, 1].min(1)
    clip = Clip(
        "poses",
        fps,
        R.astype(np.float32),
        (pos + root[:, None]).astype(np.float32),
        template_offsets().numpy(),
    )
    return render_gif(clip, out, title="edgesdk run")

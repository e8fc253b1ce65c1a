"""``edgesdk run`` as the other engineer will wire it: the parser and its handler."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import write_take
from edgesdk.errors import EdgeSDKError
from edgesdk.runtime.run_command import add_run_parser
from tests.runtime.common import simulated_take


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edgesdk")
    add_run_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_run_replay_writes_poses_and_a_gif(
    walk: Clip, ego_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, take = simulated_take(walk, 4.0, [DeviceSpec.glasses(), DeviceSpec.phone()], seed=0)
    take_dir = write_take(take, tmp_path / "take")
    out, gif = tmp_path / "poses.jsonl", tmp_path / "poses.gif"
    args = _parse(
        [
            "run",
            "--artifact",
            str(ego_onnx),
            "--replay",
            str(take_dir),
            "--out",
            str(out),
            "--gif",
            str(gif),
        ]
    )
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = out.read_text().splitlines()
    assert summary["frames"] == len(lines) - 1 >= 110
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_run_rejects_bad_arguments(ego_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):  # --replay and --udp exclude each other
        _parse(["run", "--artifact", "a.onnx", "--replay", "t", "--udp", "1", "--out", "o"])
    args = _parse(
        [
            "run",
            "--artifact",
            str(ego_onnx),
            "--replay",
            str(tmp_path),
            "--out",
            str(tmp_path / "missing" / "poses.jsonl"),
        ]
    )
    with pytest.raises(EdgeSDKError, match="does not exist"):
        args.func(args)
    args = _parse(
        [
            "run",
            "--artifact",
            str(tmp_path / "m.tflite2"),
            "--replay",
            str(tmp_path),
            "--out",
            str(tmp_path / "p.jsonl"),
        ]
    )
    with pytest.raises(EdgeSDKError, match=r"meta\.json: missing|unknown artifact type"):
        args.func(args)


def test_run_udp_for_a_short_while(ego_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    args = _parse(
        ["run", "--artifact", str(ego_onnx), "--udp", "0", "--duration", "0.3", "--out", str(out)]
    )
    assert args.func(args) == 0
    meta = json.loads(out.read_text().splitlines()[0])["meta"]
    assert meta["stats"]["frames"] == 0

"""The command line: data info / synth / show, pipeline, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from edgesdk.cli import main
from edgesdk.data.recording import read_take
from edgesdk.data.sources import bundled_data_dir
from edgesdk.pipeline import run_pipeline

CLIP = bundled_data_dir() / "cmu" / "002_02.bvh"


def test_data_info_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(CLIP)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rig"] == "cmu-iclone" and info["num_mapped"] == 22
    assert 1.2 < info["head_height_m"] < 2.0 and info["labels"]["description"] == "walk"


def test_data_synth_writes_replayable_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "data",
            "synth",
            "--data",
            str(CLIP),
            "--out",
            str(tmp_path),
            "--quiet",
            "--devices",
            "glasses:head,watch:right_wrist,phone:left_pocket",
        ]
    )
    assert code == 0 and json.loads(capsys.readouterr().out)["takes"] == 1
    take = read_take(tmp_path / "002_02")
    assert sorted(take.streams) == ["glasses_head", "phone_left_pocket", "watch_right_wrist"]
    assert take.streams["watch_right_wrist"].spec.sample_rate_hz == 50.0
    assert take.head_pose is not None


def test_data_show_writes_a_gif(tmp_path: Path) -> None:
    out = tmp_path / "walk.gif"
    assert main(["data", "show", str(CLIP), "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames > 10


TRAIN_ARGS = ["train", "--model", "mlp-baseline", "--data", str(CLIP), "--out", "x"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "info", "missing.bvh"], "missing.bvh: cannot read"),
        (
            ["data", "synth", "--data", str(CLIP), "--out", "x", "--devices", "watch:nose"],
            "kind:slot",
        ),
        (
            ["data", "synth", "--data", str(CLIP), "--out", "x", "--devices", "glasses:left_wrist"],
            "worn on the head",
        ),
        (["data", "show", str(CLIP), "--out", "/nonexistent/dir/a.gif"], "does not exist"),
        (
            [*TRAIN_ARGS, "--stage-epochs", "main=two"],
            "main='two': expected a non-negative integer",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_console_script_reports_corrupt_bvh_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "edgesdk.cli", "data", "info", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "corrupt.bvh" in proc.stderr and "Traceback" not in proc.stderr


def test_pipeline_on_bundled_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    summary = run_pipeline(
        tmp_path / "demo",
        data_dir=bundled_data_dir(),
        baseline_steps=20,
        progress=False,
        exports=(("onnx", "int8"),),
    )
    stages = summary["stages"]
    assert stages["data"]["clips"] == 16 and stages["data"]["split_clips"]["test"] >= 1
    assert len(stages["sensors"]["takes"]) >= 1 and Path(stages["sensors"]["gif"]).is_file()
    assert stages["baselines"]["mean_pose_mpjpe_mm"] > 0
    onnx = stages["export"]["artifacts"]["onnx-int8"]
    assert onnx["passed"] and onnx["ran"] is True and Path(onnx["artifact"]).is_file()
    assert json.loads((tmp_path / "demo" / "summary.json").read_text()) == summary

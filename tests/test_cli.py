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
from edgesdk.pipeline import format_table, run_pipeline

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
            "main='two': expected an integer >= 0",
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
    """Every stage on the bundled clips, one family, two backends, a few steps each."""
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    summary = run_pipeline(
        tmp_path / "demo",
        data_dir=bundled_data_dir(),
        baseline_steps=20,
        progress=False,
        exports=(("onnx", "int8"), ("tflite", "fp32")),
        families=("same",),
        teacher_steps=3,
        student_steps=3,
        bench_windows=1,
    )
    stages = summary["stages"]
    assert stages["data"]["clips"] == 16 and stages["data"]["split_clips"]["test"] >= 1
    assert summary["data"]["clips"] == 16 and summary["data"]["formats"] == {"bvh": 16}
    assert summary["protocol"] == {"devices": "realistic", "head": "slam", "text": "none"}
    assert len(stages["sensors"]["takes"]) >= 1 and Path(stages["sensors"]["gif"]).is_file()
    assert stages["baselines"]["mean_pose_mpjpe_mm"] > 0
    assert stages["teachers"]["same"]["model"] == "same-small"
    assert stages["students"]["same"]["model"] == "same-student"
    artifacts = stages["export"]["same"]["artifacts"]
    assert set(artifacts) == {"onnx-int8", "tflite-fp32"}
    for a in artifacts.values():
        assert a["passed"] and a["ran"] is True and Path(a["artifact"]).is_file()
    bench = json.loads(Path(stages["bench"]["results"]).read_text())
    assert set(bench["models"]) == {"same-student", "same-small"}
    assert all(Path(f).is_file() for f in stages["report"]["files"])
    (row,) = summary["table"]
    assert row["student"] == "same-student" and row["int8_backend"] in ("onnx", "tflite")
    assert row["teacher_mpjpe_mm"] > 0 and row["int8_ms_per_frame"] > 0
    assert 0 < row["flops_ratio"] < 1
    assert "| same-student | same-small |" in format_table(summary["table"])
    assert json.loads((tmp_path / "demo" / "summary.json").read_text()) == summary


RUN_ARGS = ["run", "--artifact", "a.onnx", "--out", "poses.jsonl"]
BENCH_ARGS = ["bench", "--artifact", "a.onnx", "--json", "b.json"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*TRAIN_ARGS, "--batch-size", "0"], "argument --batch-size: 0 is not an integer >= 1"),
        ([*TRAIN_ARGS, "--lr", "nan"], "argument --lr: nan is not a finite number > 0"),
        ([*TRAIN_ARGS, "--lr=-0.001"], "argument --lr: -0.001 is not a finite number > 0"),
        ([*TRAIN_ARGS, "--epochs", "-1"], "argument --epochs: -1 is not an integer >= 0"),
        ([*TRAIN_ARGS, "--seed", "-5"], "argument --seed: -5 is not an integer in [0, "),
        ([*TRAIN_ARGS, "--limit", "0"], "argument --limit: 0 is not an integer >= 1"),
        ([*TRAIN_ARGS, "--max-batches", "x"], "argument --max-batches: 'x' is not an integer"),
        ([*RUN_ARGS, "--udp", "70000"], "argument --udp: 70000 is not an integer in [0, 65535]"),
        ([*RUN_ARGS, "--replay", "t", "--threads", "0"], "argument --threads: 0 is not"),
        ([*RUN_ARGS, "--udp", "9750", "--duration", "inf"], "argument --duration: inf is not"),
        ([*RUN_ARGS, "--replay", "t", "--max-latency-ms", "0"], "--max-latency-ms: 0 is not"),
        (["data", "show", str(CLIP), "--out", "a.gif", "--fps", "0"], "argument --fps: 0 is not"),
        (["data", "synth", "--data", "d", "--out", "o", "--limit", "-2"], "--limit: -2 is not"),
        (
            ["distill", "--teacher", "t", "--student", "s", "--data", "d", "--out", "o",
             "--alpha", "1.5"],
            "argument --alpha: 1.5 is not a finite number >= 0 and <= 1",
        ),
        (["validate", "a.onnx", "--windows", "0"], "argument --windows: 0 is not"),
        (["validate", "a.onnx", "--max-mpjpe-delta-mm", "nan"], "--max-mpjpe-delta-mm: nan"),
        (["export", "--model", "m", "--backend", "onnx", "--out", "o", "--calib-samples", "0"],
         "argument --calib-samples: 0 is not"),
        ([*BENCH_ARGS, "--threads", "1", "0"], "argument --threads: 0 is not"),
        ([*BENCH_ARGS, "--warmup", "-1"], "argument --warmup: -1 is not"),
        (["pipeline", "--teacher-steps", "0"], "argument --teacher-steps: 0 is not"),
        (["eval", "--model", "m", "--data", "d", "--batch-size", "-4"], "--batch-size: -4 is not"),
        (["train", "--model", "m"], "the following arguments are required: --data, --out"),
    ],
)  # fmt: skip
def test_out_of_range_arguments_stop_in_the_parser(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """These gave tracebacks or silently did something else (a port over 65535, no epochs)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert err.startswith(f"edgesdk {argv[0]}") and "error: " in err


def test_help_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    assert "--udp" in capsys.readouterr().out

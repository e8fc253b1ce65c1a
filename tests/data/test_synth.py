"""`edgesdk data synth`: every clip gets its own take (even with equal file names), and the
temporary folders of killed runs are cleaned up at the next run, saying so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgesdk.cli import main
from edgesdk.data.recording import read_take
from edgesdk.io import clean_stale_temp


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_same_file_name_in_two_folders_gives_two_takes(
    cmu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both were reported and one was written (the second overwrote the first)."""
    data = tmp_path / "data"
    for sub, clip in (("a", "002_01"), ("b", "002_02"), ("c", "002_03")):
        (data / sub).mkdir(parents=True)
        shutil.copy(cmu_dir / f"{clip}.bvh", data / sub / "walk.bvh")
    shutil.copy(cmu_dir / "005_01.bvh", data / "run.bvh")
    out = tmp_path / "takes"
    argv = [
        "data",
        "synth",
        "--data",
        str(data),
        "--out",
        str(out),
        "--devices",
        "watch:left_wrist",
    ]
    assert main([*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["takes"] == 4
    assert sorted(p.name for p in out.iterdir()) == ["a__walk", "b__walk", "c__walk", "run"]
    assert "3 clips share a file name" in captured.err and "a__walk" in captured.err
    sources = {read_take(out / n).clip_name for n in ("a__walk", "b__walk", "c__walk")}
    assert sources == {"walk"}
    lengths = {
        len(read_take(out / n).streams["watch_left_wrist"].t_ns)
        for n in ("a__walk", "b__walk", "c__walk")
    }
    assert len(lengths) == 3  # three different clips, none overwritten


def test_stale_temp_folders_of_killed_runs_are_removed(
    cmu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "takes"
    out.mkdir()
    dead = _dead_pid()
    stale = out / f".002_01.tmp-{dead}-k1ll"  # a synthesis killed mid-write
    stale_export = out / ".export-x7f3"  # an older export's, without a pid
    fresh = out / f".002_02.tmp-{dead}-n3w"  # too recent to be sure
    live = out / f".002_03.tmp-{os.getpid()}-l1ve"  # a run still going
    for folder in (stale, stale_export, fresh, live):
        folder.mkdir()
        (folder / "meta.json").write_text("{}")
    for folder in (stale, stale_export, live):
        os.utime(folder, (0, 0))
    argv = ["data", "synth", "--data", str(cmu_dir / "002_01.bvh"), "--out", str(out)]
    assert main([*argv, "--devices", "watch:left_wrist", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert not stale.exists() and not stale_export.exists()
    assert fresh.exists() and live.exists()
    assert f"removed 2 temporary folder(s) left by interrupted runs in {out}" in err
    assert (out / "002_01" / "meta.json").is_file()
    assert clean_stale_temp(out) == []  # nothing more to do, and nothing said
    assert capsys.readouterr().err == ""

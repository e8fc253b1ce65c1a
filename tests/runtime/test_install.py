"""``pip install "edgesdk[runtime]"`` as on an edge board: a fresh venv from the package index,
numpy and the runtimes only, no torch; ``edgesdk bench --artifact`` and ``edgesdk run`` work
there, and a command that needs the full install says so in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import write_take
from edgesdk.export.export import export_model
from tests.runtime.common import simulated_take

ROOT = Path(__file__).resolve().parents[2]
NETWORK_HINTS = ("Could not find a version", "No matching distribution", "connection", "resolve")


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with ``pip install <a copy of this checkout>[runtime]`` (not editable, so the
    package data and the dependency list are what a user gets)."""
    root = tmp_path_factory.mktemp("runtime-install")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "edgesdk", src / "edgesdk", ignore=shutil.ignore_patterns("__pycache__"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{src}[runtime]"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0 and any(h in pip.stderr for h in NETWORK_HINTS):
        pytest.skip(f"the package index cannot be reached: {pip.stderr.strip()[-300:]}")
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv


def _edgesdk(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "edgesdk"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,  # not the checkout: the installed package is what runs
        env={**env, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )


def test_runtime_extra_has_no_torch(runtime_venv: Path) -> None:
    listed = subprocess.run(
        [str(runtime_venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"numpy", "onnxruntime", "ai-edge-litert", "edgesdk"} <= names
    assert not names & {"torch", "scipy", "executorch", "matplotlib", "onnx"}, names


def test_bench_and_run_without_torch(
    runtime_venv: Path, ego_ckpt: Path, ego_onnx: Path, walk: Clip, tmp_path: Path
) -> None:
    tflite = export_model(ego_ckpt, "tflite", "fp32", tmp_path / "tflite", progress=False)
    out = tmp_path / "bench.json"
    proc = _edgesdk(
        runtime_venv,
        *("bench", "--artifact", str(ego_onnx), "--artifact", str(tflite)),
        *("--json", str(out), "--threads", "1", "--quiet"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("PASS") == 2, proc.stdout

    _, take = simulated_take(walk, 4.0, [DeviceSpec.glasses(), DeviceSpec.watch()], seed=0)
    take_dir = write_take(take, tmp_path / "take")
    poses = tmp_path / "poses.jsonl"
    proc = _edgesdk(
        runtime_venv,
        *("run", "--artifact", str(tflite), "--replay", str(take_dir), "--out", str(poses)),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["frames"] >= 100
    frame = json.loads(poses.read_text().splitlines()[-1])
    assert len(frame["pos_rel_m"]) == 22 and len(frame["R_world_joint_6d"]) == 22


def test_full_install_commands_say_what_is_missing(runtime_venv: Path, tmp_path: Path) -> None:
    proc = _edgesdk(runtime_venv, "train", "--model", "same-small", "--data", "x", "--out", "y",
                    cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "needs torch" in line and 'pip install "edgesdk[all]"' in line

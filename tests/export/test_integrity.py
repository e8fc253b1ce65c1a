"""Artifacts and manifests are checked before use: `run`, `validate` and `bench` turn a
changed, corrupt or mismatched artifact, or a manifest with bad values, into one error line
and exit code 2, never a hang, an abort or a silent result. Each case runs the real CLI in a
subprocess (a native loader that aborted would take pytest down with it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgesdk.cli import main
from edgesdk.errors import EdgeSDKError
from edgesdk.export.manifest import manifest_path, read_manifest
from tests.small_models import TinyExports

Edit = Callable[[dict[str, Any]], None]


def _copy(tiny_exports: TinyExports, backend: str, tmp_path: Path) -> Path:
    src = tiny_exports[backend]
    folder = tmp_path / backend
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    shutil.copy(manifest_path(src), manifest_path(folder / src.name))
    return folder / src.name


def _edit(artifact: Path, change: Edit, rehash: bool = False) -> None:
    """Change the manifest (``rehash``: also make its size and hash fit the bytes now there,
    as a careful hand-edit would, so that the checks after the hash are reached)."""
    path = manifest_path(artifact)
    data = json.loads(path.read_text())
    change(data)
    if rehash:
        data["file_size_bytes"] = artifact.stat().st_size
        data["sha256"] = hashlib.sha256(artifact.read_bytes()).hexdigest()
    path.write_text(json.dumps(data))


def _cli(*argv: str, isolated: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI's exit code and output: in a subprocess when ``isolated`` (a native loader that
    aborted would take pytest down with it), else in this process (faster)."""
    if isolated:
        cmd = [sys.executable, "-m", "edgesdk.cli", *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        except Exception:  # reported as a traceback, as the console script would
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


def _assert_one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, no traceback, one error line, last. The runtimes' native libraries may log
    before it (ExecuTorch's cpuinfo and torchao lines, LiteRT's XNNPACK line): not ours."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in lines if line.startswith("edgesdk: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines[-5:]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def _isolated(artifact: Path) -> bool:
    return artifact.suffix == ".pte"  # ExecuTorch's loader has aborted on bad bytes


def _run(artifact: Path, take: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "poses.jsonl"
    argv = ("run", "--artifact", str(artifact), "--replay", str(take), "--out", str(out))
    done = _cli(*argv, isolated=_isolated(artifact))
    if done.returncode != 0:
        assert not out.exists()  # nothing half-written
    return done


def _validate(artifact: Path, cmu_dir: Path) -> subprocess.CompletedProcess[str]:
    argv = ("validate", str(artifact), "--data", str(cmu_dir), "--windows", "1", "--quiet")
    return _cli(*argv, isolated=_isolated(artifact))


def _bench(artifact: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "bench.json"
    argv = ["bench", "--artifact", str(artifact), "--json", str(out), "--threads", "1"]
    argv += ["--calls", "100", "--warmup", "1", "--no-rss", "--quiet"]
    return _cli(*argv, isolated=_isolated(artifact))


def test_sha256_is_the_files_and_is_checked(tiny_exports: TinyExports, tmp_path: Path) -> None:
    for backend in ("onnx", "tflite", "executorch"):
        path = tiny_exports[backend]
        manifest = read_manifest(path)
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # sha256sum
        assert manifest["file_size_bytes"] == path.stat().st_size
    art = _copy(tiny_exports, "onnx", tmp_path)
    data = bytearray(art.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    art.write_bytes(bytes(data))
    with pytest.raises(EdgeSDKError, match=r"not the artifact .* describes .*sha256"):
        read_manifest(art)


@pytest.mark.parametrize("command", ["run", "validate", "bench"])
def test_changed_artifact_is_refused(
    command: str,
    tiny_exports: TinyExports,
    synth_take: Path,
    cmu_dir: Path,
    tmp_path: Path,
) -> None:
    """A flipped byte, or another artifact's bytes (another model, an fp32 file under an int8
    manifest): the hash says so before anything runs."""
    art = _copy(tiny_exports, "onnx", tmp_path)
    data = bytearray(art.read_bytes())
    data[-100] ^= 0xFF
    art.write_bytes(bytes(data))
    done = {
        "run": lambda: _run(art, synth_take, tmp_path),
        "validate": lambda: _validate(art, cmu_dir),
        "bench": lambda: _bench(art, tmp_path),
    }[command]()
    _assert_one_line(done, str(art), "not the artifact", "export it again")


def test_manifest_of_another_artifact_is_refused(
    tiny_exports: TinyExports, synth_take: Path, tmp_path: Path
) -> None:
    art = _copy(tiny_exports, "onnx", tmp_path)
    other = json.loads(manifest_path(tiny_exports["tflite"]).read_text())
    other["backend"], other["artifact"] = "onnx", art.name  # even relabelled
    manifest_path(art).write_text(json.dumps(other))
    _assert_one_line(_run(art, synth_take, tmp_path), "not the artifact")


@pytest.mark.parametrize("backend", ["executorch", "tflite", "onnx"])
@pytest.mark.parametrize("kind", ["random", "truncated", "empty"])
def test_corrupt_artifact_is_one_line_not_an_abort(
    backend: str,
    kind: str,
    tiny_exports: TinyExports,
    synth_take: Path,
    cmu_dir: Path,
    tmp_path: Path,
) -> None:
    """Random bytes as a .pte aborted the process (SIGABRT) in ExecuTorch's loader; the
    manifest is rehashed here so that the header check, not the hash, is what stops it."""
    art = _copy(tiny_exports, backend, tmp_path)
    good = art.read_bytes()
    art.write_bytes(
        {
            "random": bytes((i * 7919 + 13) % 251 for i in range(5000)),
            "truncated": good[: len(good) // 3],
            "empty": b"",
        }[kind]
    )
    _edit(art, lambda m: None, rehash=True)
    _assert_one_line(_run(art, synth_take, tmp_path), str(art))
    if kind == "random":  # the case that aborted, through every command that loads
        _assert_one_line(_validate(art, cmu_dir), str(art))
        _assert_one_line(_bench(art, tmp_path), str(art))


@pytest.mark.parametrize(
    "field,value,needle",
    [
        (("rates", "fps"), -30.0, "'rates.fps' is -30.0"),
        (("rates", "fps"), 0, "'rates.fps' is 0"),
        (("rates", "fps"), "fast", "'rates.fps' is \"fast\""),
        (("rates",), None, "'rates' is null"),
        (("io", "inputs"), [], "'io.inputs'"),
        (("sha256",), "abc", "'sha256' is \"abc\""),
        (("model",), 7, "'model' is 7"),
    ],
)
def test_manifest_values_are_checked(
    field: tuple[str, ...],
    value: Any,
    needle: str,
    tiny_exports: TinyExports,
    synth_take: Path,
    cmu_dir: Path,
    tmp_path: Path,
) -> None:
    """A negative fps made `run` loop forever and `validate` print PASS."""
    art = _copy(tiny_exports, "onnx", tmp_path)

    def change(m: dict[str, Any]) -> None:
        node = m
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value

    _edit(art, change)
    _assert_one_line(_run(art, synth_take, tmp_path), str(manifest_path(art)), needle)
    _assert_one_line(_validate(art, cmu_dir), needle)
    _assert_one_line(_bench(art, tmp_path), needle)


def test_wrong_input_shape_in_the_manifest_is_refused(
    tiny_exports: TinyExports, synth_take: Path, cmu_dir: Path, tmp_path: Path
) -> None:
    """The manifest's tensors are compared with the artifact's own (the hash covers only the
    artifact): `run` made 0 frames and exited 0, `validate` passed."""
    for backend in ("onnx", "tflite", "executorch"):
        art = _copy(tiny_exports, backend, tmp_path)

        def widen(m: dict[str, Any]) -> None:
            m["io"]["inputs"][0]["shape"] = [1, 5, 12]

        _edit(art, widen)
        _assert_one_line(_run(art, synth_take, tmp_path), "'imu'", "[1, 5, 12]")
        _assert_one_line(_validate(art, cmu_dir), "[1, 5, 12]")


def test_nan_weights_in_an_artifact_are_refused(
    tiny_exports: TinyExports, synth_take: Path, tmp_path: Path
) -> None:
    """An artifact whose weights are NaN made 0 frames and exit 0."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    art = _copy(tiny_exports, "onnx", tmp_path)
    model = onnx.load(str(art))
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32 and values.size > 1:
            init.CopyFrom(numpy_helper.from_array(np.full_like(values, np.nan), init.name))
    onnx.save(model, str(art))
    _edit(art, lambda m: None, rehash=True)
    _assert_one_line(_run(art, synth_take, tmp_path), "NaN or inf", "empty frame")


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("fps", 0.0, "frame rate 0.0"),
        ("hidden", 1e6, "'hidden' is 1000000.0: expected an integer"),
        ("hidden", 60000, "parameters"),
        ("layers", 100000, "'layers' is 100000"),
        ("pos_weight", float("nan"), "'pos_weight' is nan"),
        ("window", 0, "window 0"),
    ],
)
def test_checkpoint_config_values_are_checked(
    key: str, value: Any, needle: str, tiny_exports: TinyExports, tmp_path: Path
) -> None:
    """`fps: 0` exported and divided by zero in `run`; `hidden: 1e6` asked for terabytes."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_exports["checkpoint"], ckpt)
    meta = json.loads((ckpt / "config.json").read_text())
    meta["config"][key] = value
    (ckpt / "config.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    done = _cli("export", "--model", str(ckpt), "--backend", "onnx", "--out", str(out), "--quiet")
    _assert_one_line(done, str(ckpt / "config.json"), needle)
    assert not any(out.glob("*.onnx"))


def test_nan_weights_in_a_checkpoint_are_refused(tiny_exports: TinyExports, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_exports["checkpoint"], ckpt)
    weights = load_file(str(ckpt / "model.safetensors"))
    name = sorted(weights)[0]
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, str(ckpt / "model.safetensors"))
    out = tmp_path / "out"
    killed = out / ".export-x7f3"  # left by an export that was killed (no live owner)
    killed.mkdir(parents=True)
    os.utime(killed, (0, 0))
    done = _cli("export", "--model", str(ckpt), "--backend", "onnx", "--out", str(out), "--quiet")
    _assert_one_line(done, "model.safetensors", f"NaN or inf in '{name}'")
    assert not killed.exists() and "removed 1 temporary folder(s)" in done.stderr


def test_bench_exits_non_zero_on_a_fail(
    tiny_exports: TinyExports, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FAIL line (here: the runtime fails on every call) used to exit 0 without --check."""
    from edgesdk.targets import onnx as onnx_target

    def broken(self: Any, inputs: Any) -> Any:
        raise RuntimeError("the runtime failed")

    monkeypatch.setattr(onnx_target.OnnxRunner, "run", broken)
    art = tiny_exports["onnx"]
    argv = ["bench", "--artifact", str(art), "--json", str(tmp_path / "b.json"), "--no-rss"]
    assert main([*argv, "--threads", "1", "--quiet"]) == 1


def test_legacy_manifest_is_checked_with_its_own_hash(
    tiny_exports: TinyExports, tmp_path: Path
) -> None:
    """Format 1 hashed the file name and bytes: such manifests are still verified."""
    art = _copy(tiny_exports, "onnx", tmp_path)
    h = hashlib.sha256(art.name.encode() + art.read_bytes()).hexdigest()

    def legacy(m: dict[str, Any]) -> None:
        m["format"], m["sha256"] = "edgesdk-manifest/1", h

    _edit(art, legacy)
    assert read_manifest(art)["sha256"] == h
    art.write_bytes(art.read_bytes()[:-1] + b"\x00")
    with pytest.raises(EdgeSDKError, match="not the artifact"):
        read_manifest(art)


def test_a_pte_is_first_loaded_in_a_child_process(
    tiny_exports: TinyExports, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flipped bit in a .pte (its manifest rehashed) aborted the process in ExecuTorch's
    loader (found by benchmarks/robustness.py): the child takes the abort instead."""
    from edgesdk.targets import executorch as runners  # ExecuTorch's own module

    art = _copy(tiny_exports, "executorch", tmp_path)  # (its export checked it already)
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runners, "_PTE_PROBE", "import os; os.abort()")
    with pytest.raises(EdgeSDKError, match=r"crashes on it \(signal 6\): a corrupt program"):
        runners.probe_pte(art)
    monkeypatch.setattr(runners, "_PTE_PROBE", "raise SystemExit('no such operator: aten::x')")
    with pytest.raises(EdgeSDKError, match=r"cannot load it \(no such operator: aten::x\)"):
        runners.probe_pte(art)
    monkeypatch.undo()
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    runners.probe_pte(art)  # the real child: loads and runs it
    (marker,) = (tmp_path / "cache" / "pte-checked").iterdir()
    assert marker.name == hashlib.sha256(art.read_bytes()).hexdigest()

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("checked once per program")

    monkeypatch.setattr(runners.subprocess, "run", no_child)
    runners.probe_pte(art)

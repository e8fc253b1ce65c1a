"""Export every student through every backend of the table, reload each artifact in its real
runtime and validate it against eager PyTorch on held-out windows of the bundled clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgesdk.cli import main
from edgesdk.errors import EdgeSDKError
from edgesdk.export import export as export_mod
from edgesdk.export.export import export_model
from edgesdk.export.manifest import FORMAT, manifest_path, read_manifest
from edgesdk.export.runners import open_runner
from edgesdk.export.validate import validate
from edgesdk.models import create_model, list_models
from edgesdk.models.signature import signature_for
from edgesdk.targets import TARGETS
from edgesdk.train import checkpoint

from ..small_models import small_student
from .conftest import STUDENTS


def test_backend_table_is_complete() -> None:
    suffixes = [b.suffix for b in TARGETS.values()]
    assert len(set(suffixes)) == len(suffixes)
    for name, b in TARGETS.items():
        assert b.name == name and b.default_precision in b.precisions
        assert callable(b.exporter) and b.runner.backend == name


@pytest.mark.parametrize("backend", list(TARGETS))
@pytest.mark.parametrize("name", STUDENTS)
def test_student_fp32_exports_and_validates(
    name: str, backend: str, student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    path = export_model(
        student_ckpts[name],
        backend,
        None,
        tmp_path,
        calib_dir=cmu_dir,
        validate_windows=2,
        progress=False,
    )
    manifest = read_manifest(path)
    sig = signature_for(checkpoint.load(student_ckpts[name]))
    assert manifest["format"] == FORMAT and manifest["model"] == name
    assert [t["name"] for t in manifest["io"]["inputs"]] == [t.name for t in sig.inputs]
    assert manifest["io"]["state"] == [{"output": o, "input": i} for o, i in sig.state_pairs]
    assert len(manifest["skeleton"]["joints"]) == 22 and manifest["file_size_bytes"] > 0
    numerics = manifest["numerics"]
    assert numerics["passed"], numerics
    if not TARGETS[backend].predicts_here():  # Core ML off macOS: the converted spec is checked
        assert not numerics["ran"] and numerics["spec_check"]["problems"] == []
        return
    assert numerics["ran"] and numerics["frames"] >= 60 and numerics["finite"]
    assert max(numerics["max_abs_error"].values()) < 1e-3
    assert abs(numerics["mpjpe_delta_mm"]) < 0.01


@pytest.mark.parametrize("backend", [b for b, e in TARGETS.items() if "int8" in e.precisions])
def test_int8_is_calibrated_and_within_gate(
    backend: str, student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    ckpt = student_ckpts["same-student"]
    path = export_model(
        ckpt,
        backend,
        "int8",
        tmp_path,
        calib_dir=cmu_dir,
        calib_samples=64,
        validate_windows=2,
        progress=False,
    )
    manifest = read_manifest(path)
    quant = manifest["quantization"]
    if "int8" in TARGETS[backend].calibrated:  # Core ML int8 is weight-only: nothing to calibrate
        assert quant["calibration"]["used"] and quant["calibration"]["split"] == "train"
        assert 0 < quant["calibration"]["calls"] <= 64
    numerics = manifest["numerics"]
    assert numerics["passed"], numerics
    if numerics["ran"]:
        # int8 is not fp32 (whose artifacts match eager to ~1e-5 mm): it differs, within
        # the 3 mm gate.
        assert numerics["mpjpe_artifact_vs_eager_mm"] > 0.01
        assert numerics["mpjpe_delta_mm"] <= 3.0
    assert quant["recipe"] and "int8" in quant["recipe"]


def test_streaming_artifact_carries_state(student_ckpts: dict[str, Path], tmp_path: Path) -> None:
    """Feeding the state back changes the next frame: the state really is the recurrence."""
    path = export_model(student_ckpts["ego4o-student"], "onnx", "fp32", tmp_path, progress=False)
    sig = signature_for(checkpoint.load(student_ckpts["ego4o-student"]))
    runner = open_runner(path)
    frame = [x.numpy() for x in sig.example()]
    first = runner.run(frame)
    again = runner.run(frame[:-2] + first[-2:])
    assert not np.allclose(first[1], again[1])
    with torch.no_grad():
        eager = sig.module(*[torch.from_numpy(x) for x in frame[:-2] + first[-2:]])
    np.testing.assert_allclose(again[1], eager[1].numpy(), atol=1e-5)


def test_validation_fails_against_other_weights(
    student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    path = export_model(student_ckpts["same-student"], "onnx", "fp32", tmp_path, progress=False)
    other = checkpoint.save(
        small_student("same-student", seed=1), tmp_path / "other", data={"fingerprint": "test"}
    )
    report = validate(path, cmu_dir, max_windows=2, model_dir=other)
    assert report["ran"] and not report["passed"]
    assert report["mpjpe_artifact_vs_eager_mm"] > 1.0
    # The CLI: exit 1 on a failed gate, JUnit with one failing case.
    junit = tmp_path / "v.xml"
    code = main(
        [
            "validate",
            str(path),
            "--data",
            str(cmu_dir),
            "--windows",
            "2",
            "--model-dir",
            str(other),
            "--junit",
            str(junit),
            "--quiet",
        ]
    )
    assert code == 1 and 'failures="1"' in junit.read_text()


def test_cli_export_then_validate(
    student_ckpts: dict[str, Path],
    cmu_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "exports"
    code = main(
        [
            "export",
            "--model",
            str(student_ckpts["motiongrpo-student"]),
            "--backend",
            "onnx",
            "--precision",
            "int8",
            "--calib",
            str(cmu_dir),
            "--calib-samples",
            "32",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    artifact = Path(printed["artifact"])
    assert artifact == out / "motiongrpo-student-int8.onnx" and printed["passed"]
    assert read_manifest(artifact)["command"].startswith("edgesdk export --model")
    junit = tmp_path / "v.xml"
    code = main(
        [
            "validate",
            str(artifact),
            "--data",
            str(cmu_dir),
            "--windows",
            "2",
            "--junit",
            str(junit),
            "--quiet",
        ]
    )
    assert code == 0 and 'failures="0"' in junit.read_text()
    assert sorted(p.name for p in out.iterdir()) == [artifact.name, artifact.name + ".json"]


# ----------------------------------------------------------------------------- bad input


def test_bad_precision_and_missing_calibration(student_ckpts: dict[str, Path], tmp_path: Path):
    ckpt = student_ckpts["same-student"]
    with pytest.raises(EdgeSDKError, match=r"--precision fp16: the onnx backend takes fp32, int8"):
        export_model(ckpt, "onnx", "fp16", tmp_path, progress=False)
    with pytest.raises(EdgeSDKError, match="int8 on tflite needs --calib DATA_DIR"):
        export_model(ckpt, "tflite", "int8", tmp_path, progress=False)
    with pytest.raises(EdgeSDKError, match=r"unknown artifact type '\.bin'"):
        open_runner(tmp_path / "x.bin")  # the suffix is checked before the file
    assert list(tmp_path.iterdir()) == []


def test_missing_manifest_and_missing_artifact(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"not a model")
    with pytest.raises(EdgeSDKError, match="no manifest beside it"):
        validate(tmp_path / "m.onnx", None)
    with pytest.raises(EdgeSDKError, match="no such artifact"):
        open_runner(tmp_path / "gone.pte")


def test_missing_toolchain_gives_install_hint(
    student_ckpts: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "litert_torch" else real(name, *a),
    )
    with pytest.raises(EdgeSDKError, match=r"litert_torch, which is not installed: pip install"):
        export_model(student_ckpts["same-student"], "tflite", "fp32", tmp_path, progress=False)


class _OneHot(torch.nn.Module):
    """An op LiteRT cannot lower (one_hot asserts on its indices) but ONNX takes."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = x.argmax(-1)
        onehot = torch.nn.functional.one_hot(idx, 4).float()
        return onehot, onehot * x


def test_unsupported_op_names_op_backend_model_and_alternative(tmp_path: Path) -> None:
    from edgesdk.models.base import TensorSpec
    from edgesdk.models.signature import ExportSignature

    model = small_student("same-student")
    sig = ExportSignature(
        model,
        _OneHot(),
        (TensorSpec("x", (1, 4)),),
        (TensorSpec("a", (1, 4)), TensorSpec("b", (1, 4))),
        False,
    )
    with pytest.raises(EdgeSDKError) as err:
        export_mod._export_or_explain(TARGETS["tflite"], sig, "fp32", [], tmp_path / "m.tflite")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("same-student: the tflite backend cannot export it (fp32)")
    assert "aten._assert_async" in message and "onnx" in message


def test_failed_export_leaves_nothing(
    student_ckpts: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_fail(sig, precision, calib, out):  # type: ignore[no-untyped-def]
        out.write_bytes(b"half an artifact")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(TARGETS["onnx"].code(), "export", half_then_fail)
    monkeypatch.setattr(export_mod, "_backends_that_take", lambda sig, exclude: [])
    with pytest.raises(EdgeSDKError, match=r"onnx backend cannot export it .* exporter crashed"):
        export_model(student_ckpts["same-student"], "onnx", "fp32", tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    assert not manifest_path(tmp_path / "same-student-fp32.onnx").exists()


# Peers (sliding-window and streaming ones) are exported by tests/models/test_peers.py.
TEACHERS = list_models(role="teacher", scale="small") + list_models(role="baseline")
# Head2Body decodes its tokens one by one: an exported 60-frame window unrolls 60 decoder
# passes (minutes to export); 8 frames test the same graph.
SHORTER = {"head2body-small": {"window": 8}}


@pytest.mark.parametrize("name", TEACHERS)
def test_registry_windowed_models_export_to_onnx(name: str, tmp_path: Path) -> None:
    """Every small teacher and baseline exports its window to ONNX and matches eager on the
    example input (the other backends' coverage of the teachers is in numerics.json)."""
    torch.manual_seed(0)
    model = create_model(name, **SHORTER.get(name, {}))
    ckpt = checkpoint.save(model, tmp_path / name, data={"fingerprint": "test"})
    path = export_model(ckpt, "onnx", "fp32", tmp_path / "out", progress=False)
    manifest = read_manifest(path)
    assert manifest["io"]["mode"].startswith("window") and manifest["io"]["state"] == []
    errors = manifest["numerics"]["max_abs_error_example_input"]
    assert set(errors) == {"R_world_joint_6d", "pos_rel_m"} and max(errors.values()) < 1e-3

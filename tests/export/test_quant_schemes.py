"""Every int8 scheme of the scheme table exports and passes the gate; the accuracy fallback
keeps the most sensitive layers float until an artifact passes, and says so in the manifest.
(No timing here: speed is measured by benchmarks/bench.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import export_model
from edgesdk.export.manifest import read_manifest
from edgesdk.models.signature import signature_for
from edgesdk.quantize.calibration import calibration_set
from edgesdk.quantize.schemes import CHOSEN, SCHEMES, chosen
from edgesdk.quantize.sensitivity import layer_sensitivity
from edgesdk.targets import TARGETS
from edgesdk.train import checkpoint
from edgesdk.train.data import load_train_data

RUNNABLE = [(b, s) for b, table in SCHEMES.items() for s in table if TARGETS[b].predicts_here()]


def test_every_backend_has_a_chosen_scheme_of_its_table() -> None:
    for backend, b in TARGETS.items():
        if "int8" in b.precisions:
            assert chosen(backend) in SCHEMES[backend] and CHOSEN[backend] == chosen(backend)
    for table in SCHEMES.values():
        for name, s in table.items():
            assert s.name == name and s.recipe and s.weight_bits in (4, 8)


@pytest.mark.parametrize(("backend", "scheme"), RUNNABLE)
def test_int8_scheme_exports_within_gate(
    backend: str, scheme: str, student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    path = export_model(
        student_ckpts["same-student"],
        backend,
        "int8",
        tmp_path,
        calib_dir=cmu_dir,
        calib_samples=32,
        validate_windows=1,
        progress=False,
        scheme=scheme,
    )
    assert path.name == f"same-student-int8-{scheme}{TARGETS[backend].suffix}"
    manifest = read_manifest(path)
    quant = manifest["quantization"]
    assert quant["scheme"] == scheme and quant["recipe"].startswith(f"{scheme}: ")
    assert quant["claims_speed"] == SCHEMES[backend][scheme].claims_speed
    numerics = manifest["numerics"]
    assert numerics["ran"] and numerics["passed"], numerics
    assert numerics["mpjpe_artifact_vs_eager_mm"] > 0.0  # quantized: not the fp32 model
    assert "float_layers" not in quant  # passed at once: nothing kept float


def test_unknown_scheme_and_scheme_without_int8(
    student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    ckpt = student_ckpts["same-student"]
    with pytest.raises(EdgeSDKError, match=r"--scheme 'fast'.*qdq, qoperator, dynamic"):
        export_model(ckpt, "onnx", "int8", tmp_path, calib_dir=cmu_dir, scheme="fast")
    with pytest.raises(EdgeSDKError, match="--scheme dynamic: int8 schemes only"):
        export_model(ckpt, "onnx", "fp32", tmp_path, scheme="dynamic")
    assert not list(tmp_path.iterdir())


def test_layer_sensitivity_ranks_every_layer(student_ckpts: dict[str, Path], cmu_dir: Path):
    sig = signature_for(checkpoint.load(student_ckpts["same-student"]))
    data = load_train_data(cmu_dir, progress=False)
    calib, _ = calibration_set(sig, data.train, 16)
    ranking = layer_sensitivity(sig, calib)
    params = dict(sig.module.named_parameters())
    layers = [name for name, _ in ranking]
    assert len(set(layers)) == len(layers) >= 3
    assert all(name in params and params[name].dim() == 2 for name in layers)
    harms = [h for _, h in ranking]
    assert harms == sorted(harms, reverse=True) and harms[0] > 0.0


def test_fallback_keeps_sensitive_layers_float_until_it_passes(
    student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    """A gate no fully int8 artifact meets (0.001 mm): the export keeps layers float, most
    sensitive first, until one passes, and the manifest lists them with the reason."""
    ckpt = student_ckpts["same-student"]
    path = export_model(
        ckpt,
        "onnx",
        "int8",
        tmp_path,
        calib_dir=cmu_dir,
        calib_samples=32,
        validate_windows=1,
        progress=False,
        scheme="dynamic",
        gate_mm=1e-3,
    )
    manifest = read_manifest(path)
    quant, numerics = manifest["quantization"], manifest["numerics"]
    assert numerics["passed"] and numerics["mpjpe_delta_mm"] <= 1e-3
    floats = quant["float_layers"]
    tries = quant["fallback"]["tries"]
    assert floats and len(tries) == len(floats) and quant["fallback"]["passed"]
    assert quant["fallback"]["all_float_try"]["passed"]  # tried first: the gate is reachable
    assert [t["passed"] for t in tries] == [False] * (len(tries) - 1) + [True]
    assert tries[-1]["float_layers"] == [f["layer"] for f in floats]
    harms = [f["sensitivity_mm"] for f in floats]
    assert harms == sorted(harms, reverse=True)
    assert all("missed the 0.001 mm gate" in f["why"] for f in floats)
    assert all(layer["layer"] in quant["recipe"] for layer in floats)
    # The artifact on disk is the last try's: its recipe names the layers kept float.
    assert manifest["file_size_bytes"] == path.stat().st_size


def test_fallback_off_leaves_a_failing_artifact_as_measured(
    student_ckpts: dict[str, Path], cmu_dir: Path, tmp_path: Path
) -> None:
    path = export_model(
        student_ckpts["same-student"],
        "onnx",
        "int8",
        tmp_path,
        calib_dir=cmu_dir,
        calib_samples=32,
        validate_windows=1,
        progress=False,
        scheme="dynamic",
        gate_mm=1e-3,
        fallback=False,
    )
    manifest = read_manifest(path)
    assert not manifest["numerics"]["passed"] and "float_layers" not in manifest["quantization"]
    torch.testing.assert_close(manifest["numerics"]["max_mpjpe_delta_mm"], 1e-3)


def test_cli_export_names_the_scheme_and_exits_1_on_a_missed_gate(
    student_ckpts: dict[str, Path],
    cmu_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from edgesdk.cli import main

    args = ["export", "--model", str(student_ckpts["same-student"]), "--backend", "onnx"]
    args += ["--precision", "int8", "--calib", str(cmu_dir), "--calib-samples", "32"]
    args += ["--out", str(tmp_path), "--quiet", "--scheme", "dynamic"]
    assert main([*args, "--gate-mm", "1e-3", "--no-fallback"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    path = tmp_path / "same-student-int8-dynamic.onnx"
    assert len(err) == 1 and f"{path}: misses the gate" in err[0], err
    manifest = read_manifest(path)  # written, as measured, for the user to inspect
    assert manifest["quantization"]["scheme"] == "dynamic"
    assert "float_layers" not in manifest["quantization"]
    assert main(args) == 0 and read_manifest(path)["numerics"]["passed"]


def test_fallback_stops_when_every_layer_float_misses_the_gate_too() -> None:
    """The error is not the layers' (as with an fp32 artifact that misses the gate): one try
    with every layer float, then the artifact exported again as it was, nothing float."""
    from edgesdk.export.fallback import fall_back

    asked: list[frozenset[str]] = []

    def attempt(keep: frozenset[str]) -> dict[str, object]:
        asked.append(keep)
        return {"passed": False, "mpjpe_delta_mm": 9.0}

    r = fall_back([("a.weight", 2.0), ("b.weight", 1.0)], attempt, 3.0, 9.5)
    assert asked == [frozenset({"a.weight", "b.weight"}), frozenset()]
    assert not r.passed and r.float_layers == [] and r.tries == []
    assert "every layer fp32" in r.to_manifest(3.0)["reason"]

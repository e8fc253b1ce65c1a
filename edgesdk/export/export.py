"""``edgesdk export``: a checkpoint -> one artifact and its manifest, validated when data is given.

Steps: rebuild the model from its checkpoint; take its export signature (a student's
``step`` with the state as inputs and outputs, a teacher's window); for a precision the
target table (``edgesdk.targets``) marks calibrated, collect real calibration calls from the
data's *train* split; export with the target's exporter and the int8 scheme
(``edgesdk.quantize.schemes``: the backend's chosen one unless named); then, with data,
validate on the *test* split and record the numerics in the manifest. An int8 artifact that
misses the 3 mm gate is exported again with its most sensitive layers in float, one more
each time, until it passes (``edgesdk.export.fallback``); the manifest lists the layers
that stayed float and why. Everything is written into a temporary folder first and moved in
place last, so an interrupted or failed export leaves no half-written artifact.

Example:
    $ edgesdk export --model runs/students/same-student-gt --backend executorch \\
        --precision int8 --calib ../shared/data/mocap --out exports/
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from edgesdk.body.skeleton import JOINT_NAMES, PARENTS
from edgesdk.errors import EdgeSDKError
from edgesdk.export.activity_table import ActivityTable
from edgesdk.export.backends import Quant
from edgesdk.export.fallback import fall_back
from edgesdk.export.manifest import FORMAT, artifact_digest, manifest_path, tool_versions
from edgesdk.export.validate import run_windows, validate
from edgesdk.input_kinds import manifest_rates
from edgesdk.io import clean_stale_temp, temp_prefix, write_json_atomic
from edgesdk.models.signature import ExportSignature, signature_for
from edgesdk.quantize.calibration import calibration_set, eager_calls, model_inputs, windows
from edgesdk.quantize.schemes import SCHEMES, Scheme
from edgesdk.quantize.schemes import scheme as find_scheme
from edgesdk.targets import TARGETS, Target, target
from edgesdk.train import checkpoint
from edgesdk.train.data import load_train_data

# Patterns that name the op an exporter failed on, in its own words.
_OP_PATTERNS = (
    r"Lowering not found: (\S+)",
    r"converting '(\w+)' op",
    r"(aten[.:]{1,2}[\w.]+)",
    r"[Uu]nsupported (?:op|operator)[: ]+'?([\w.:]+)",
)


def artifact_name(model_name: str, backend: Target, precision: str, scheme: str = "") -> str:
    """``MODEL-PRECISION.ext``; ``MODEL-int8-SCHEME.ext`` for an int8 scheme named."""
    tail = f"-{scheme}" if scheme else ""
    return f"{model_name}-{precision}{tail}{backend.suffix}"


def failed_op(exc: BaseException) -> str:
    """The op an exporter error names, or the error's first line."""
    text = f"{exc}"
    for pattern in _OP_PATTERNS:
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:160]


def _export_or_explain(
    backend: Target,
    sig: ExportSignature,
    precision: str,
    calib: Any,
    out: Path,
    probe: bool = True,
    quant: Quant | None = None,
) -> str:
    name = sig.model.config.name
    try:
        if quant is None or quant == Quant():  # the four-argument call every exporter takes
            return backend.exporter(sig, precision, calib, out)  # type: ignore[call-arg]
        return backend.exporter(sig, precision, calib, out, quant)
    except EdgeSDKError:
        raise
    except Exception as exc:  # the exporters' own errors, turned into one line
        op = failed_op(exc)
        others = ""
        if probe:
            took = _backends_that_take(sig, exclude=backend.name)
            others = (
                f"; {', '.join(took)} exported it in fp32"
                if took
                else "; no other backend exported it in fp32 either"
            )
        raise EdgeSDKError(
            f"{name}: the {backend.name} backend cannot export it ({precision}): {op}{others}"
        ) from exc


def _backends_that_take(sig: ExportSignature, exclude: str) -> list[str]:
    """Backends (other than ``exclude``) that export ``sig`` in fp32 (tried for the error)."""
    took = []
    with tempfile.TemporaryDirectory() as tmp:
        for other in TARGETS.values():
            if other.name == exclude:
                continue
            try:
                other.check_export_tools()
                other.exporter(sig, "fp32", [], Path(tmp) / f"probe{other.suffix}")  # type: ignore[call-arg]
                took.append(other.name)
            except Exception:
                continue
    return took


def _move_in(src: Path, dst: Path) -> None:
    """Replace ``dst`` by ``src`` (a file, or a folder artifact) in one rename."""
    if src.is_dir() and dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def export_model(
    ckpt_dir: Path | str,
    backend_name: str,
    precision: str | None,
    out_dir: Path | str,
    calib_dir: Path | str | None = None,
    calib_samples: int = 256,
    validate_windows: int | None = 24,
    progress: bool = True,
    command: str = "",
    scheme: str | None = None,
    fallback: bool = True,
    gate_mm: float = 3.0,
) -> Path:
    """Export one checkpoint to one backend and precision (int8: in ``scheme``, the backend's
    chosen one when None); returns the artifact path. ``fallback``: an int8 artifact that
    misses the gate (``gate_mm``, MPJPE delta) is exported again with layers kept float until
    it passes."""
    backend = target(backend_name)
    precision = precision or backend.default_precision
    if precision not in backend.precisions:
        raise EdgeSDKError(
            f"--precision {precision}: the {backend.name} backend takes "
            f"{', '.join(backend.precisions)}"
        )
    if scheme is not None and precision != "int8":
        raise EdgeSDKError(f"--scheme {scheme}: int8 schemes only (precision {precision})")
    backend.check_export_tools()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temp(out_dir)  # folders of exports that were killed
    model = checkpoint.load(ckpt_dir)
    meta = checkpoint.read_meta(ckpt_dir)
    sig = signature_for(model)
    chosen: Scheme | None = None
    if precision == "int8" and SCHEMES.get(backend.name):
        chosen = find_scheme(backend.name, scheme, meta["model"])
    data = load_train_data(Path(calib_dir), progress=progress) if calib_dir else None
    needs_calib = precision in backend.calibrated  # the table: weights-only ones need none
    if needs_calib and data is None:
        raise EdgeSDKError(
            f"--precision {precision} on {backend.name} needs --calib DATA_DIR (real "
            "windows to calibrate activations on)"
        )
    calib: list[Any] = []
    calibration: dict[str, Any] = {"used": False}
    if needs_calib and data is not None:
        calib, digest = calibration_set(sig, data.train, calib_samples)
        calibration = {
            "used": True,
            "data": str(calib_dir),
            "split": "train",
            "data_fingerprint": data.fingerprint,
            "calls": len(calib),
            "calls_sha256": digest,
            "role": "activation ranges and the fallback's layer ranking"
            if chosen is None or chosen.calibrated
            else "the fallback's layer ranking only (activations are quantized per call)",
        }
    validation: list[Any] | None = None
    if chosen is not None and chosen.name == "nncf-ac" and data is not None:
        validation = _calibration_windows(sig, data.train)
    name = artifact_name(meta["model"], backend, precision, scheme or "")
    final = out_dir / name
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=temp_prefix(".export-")) as tmp:
        staged = Path(tmp) / name

        def attempt(keep: frozenset[str]) -> dict[str, Any]:
            """Export (``keep``: layers fp32), write the manifest, validate with data."""
            quant = Quant(chosen.name if chosen else "", keep, validation)
            with torch.no_grad():
                recipe = _export_or_explain(
                    backend, sig, precision, calib, staged, probe=not keep, quant=quant
                )
            m = _manifest(meta, ckpt_dir, sig, backend, precision, recipe, calibration, staged)
            if chosen is not None:
                m["quantization"]["scheme"] = chosen.name
                m["quantization"]["claims_speed"] = chosen.claims_speed
                m["quantization"]["weight_bits"] = chosen.weight_bits
            m["command"] = command or " ".join(sys.argv)
            write_json_atomic(manifest_path(staged), m)
            report: dict[str, Any] = {}
            if data is not None:
                report = validate(
                    staged,
                    calib_dir,
                    max_mpjpe_delta_mm=gate_mm,
                    max_windows=validate_windows,
                    model_dir=ckpt_dir,
                    data=data,
                )
                m["numerics"] = {k: v for k, v in report.items() if k != "artifact"}
            manifests.append(m)
            return report

        manifests: list[dict[str, Any]] = []
        report = attempt(frozenset())
        can_fall_back = chosen is not None and chosen.keeps_layers_float
        if fallback and can_fall_back and report.get("ran") and not report.get("passed"):
            report = _fall_back(sig, calib, attempt, report, manifests)
        manifest = manifests[-1]
        if data is None and backend.predicts_here():
            manifest["numerics"] = _random_input_numerics(sig, staged)
        write_json_atomic(manifest_path(staged), manifest)
        _move_in(staged, final)
        os.replace(manifest_path(staged), manifest_path(final))
    return final


def _calibration_windows(sig: ExportSignature, clips: Any, limit: int = 8) -> list[Any]:
    """Whole calibration windows (train split) with their ground truth: the validation set of
    NNCF's accuracy control (``edgesdk.quantize.nncf_onnx.Window``)."""
    from edgesdk.models.base import target_positions_rel

    out = []
    for batch in windows(sig.model, clips, limit=limit, seed=1):
        calls = eager_calls(sig, model_inputs(sig.model, batch))
        feeds = [[a.numpy() for a in args] for args, _ in calls]
        out.append((feeds, target_positions_rel(batch).numpy().reshape(-1, 22, 3)))
    return out


def _fall_back(
    sig: ExportSignature,
    calib: list[Any],
    attempt: Any,
    report: dict[str, Any],
    manifests: list[dict[str, Any]],
) -> dict[str, Any]:
    """Keep layers fp32, most sensitive first, until the artifact passes; the last manifest
    records them (``quantization.float_layers``) and every try (``quantization.fallback``)."""
    from edgesdk.quantize.sensitivity import layer_sensitivity

    gate = float(report.get("max_mpjpe_delta_mm", 3.0))
    ranking = layer_sensitivity(sig, calib)
    result = fall_back(ranking, attempt, gate, report.get("mpjpe_delta_mm"))
    q = manifests[-1]["quantization"]
    q["float_layers"] = result.float_layers
    q["fallback"] = result.to_manifest(gate)
    return result.report or report


def _random_input_numerics(sig: ExportSignature, artifact: Path) -> dict[str, Any]:
    """Without data: eager vs artifact on the signature's example input only."""
    from edgesdk.export.runners import open_runner

    example = sig.example()
    out = open_runner(artifact).run([x.numpy() for x in example])
    with torch.no_grad():
        ref = sig.module(*example)
    err = {
        t.name: float(abs(o - r.numpy()).max())
        for t, o, r in zip(sig.outputs, out, ref, strict=True)
    }
    return {
        "ran": True,
        "max_abs_error_example_input": err,
        "mpjpe": "not measured: export without --calib data",
    }


def _manifest(
    meta: dict[str, Any],
    ckpt_dir: Path | str,
    sig: ExportSignature,
    backend: Target,
    precision: str,
    recipe: str,
    calibration: dict[str, Any],
    artifact: Path,
) -> dict[str, Any]:
    size, digest = artifact_digest(artifact)
    train = meta.get("train", {})
    spec = sig.model.spec
    _, weights_digest = artifact_digest(Path(ckpt_dir) / checkpoint.WEIGHTS)
    return {
        "format": FORMAT,
        "artifact": artifact.name,
        "backend": backend.name,
        "precision": precision,
        "file_size_bytes": size,
        "sha256": digest,
        "model": meta["model"],
        "family": meta["family"],
        "teacher": train.get("teacher_model"),
        "checkpoint": {
            "path": str(Path(ckpt_dir).resolve()),
            "weights_sha256": weights_digest,
            "data_fingerprint": meta.get("data", {}).get("fingerprint"),
        },
        "config": meta["config"],
        "io": sig.to_dict(),
        "rates": {
            "fps": spec.fps,
            "window": spec.window,
            "context": spec.context,  # sliding window: frames per call, one call per frame
            "lookahead": spec.lookahead,
            **manifest_rates(((t.name, t.shape) for t in spec.inputs), spec.fps),
        },
        "slots": list(spec.slots),
        "required_slots": list(spec.required_slots),
        "skeleton": {
            "joints": list(JOINT_NAMES),
            "parents": list(PARENTS),
            "positions": "metres, pelvis at the origin, world orientation",
        },
        "normalization": spec.notes,
        "quantization": {"precision": precision, "recipe": recipe, "calibration": calibration},
        "tools": tool_versions(),
        "command": "",
        "numerics": {},
        **_activity_block(sig),
    }


def _activity_block(sig: ExportSignature) -> dict[str, Any]:
    """``{"activity": ...}`` for a model with an activity head (``activity_table``), else {}."""
    head = getattr(sig.model, "activity_head", None)
    if head is None:
        return {}
    config = sig.model.config
    table = ActivityTable(
        head.labels,
        head.descriptions,
        head.desc_emb.detach().cpu().numpy(),
        getattr(config, "activity_text_backend", ""),
    )
    return {"activity": table.to_manifest()}


__all__ = ["artifact_name", "export_model", "failed_op", "run_windows"]

"""``edgesdk export``: a checkpoint -> one artifact and its manifest, validated when data is given.

Steps: rebuild the model from its checkpoint; take its export signature (a student's
``step`` with the state as inputs and outputs, a teacher's window); for int8, collect real
calibration calls from the data's *train* split; export with the backend's entry of the
table; then, with data, validate on the *test* split and record the numerics in the
manifest. Everything is written into a temporary folder first and moved in place last, so an
interrupted or failed export leaves no half-written artifact.

Example:
    $ edgesdk export --model runs/students/same-student-distilled --backend executorch \\
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
from edgesdk.export.backends import BACKENDS, Backend
from edgesdk.export.manifest import FORMAT, artifact_digest, manifest_path, tool_versions
from edgesdk.export.runners import mark_pte_checked
from edgesdk.export.validate import run_windows, validate
from edgesdk.input_kinds import manifest_rates
from edgesdk.io import clean_stale_temp, temp_prefix, write_json_atomic
from edgesdk.models.signature import ExportSignature, signature_for
from edgesdk.quantize.calibration import calibration_set
from edgesdk.train import checkpoint
from edgesdk.train.data import load_train_data

# Patterns that name the op an exporter failed on, in its own words.
_OP_PATTERNS = (
    r"Lowering not found: (\S+)",
    r"converting '(\w+)' op",
    r"(aten[.:]{1,2}[\w.]+)",
    r"[Uu]nsupported (?:op|operator)[: ]+'?([\w.:]+)",
)


def artifact_name(model_name: str, backend: Backend, precision: str) -> str:
    return f"{model_name}-{precision}{backend.suffix}"


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
    backend: Backend,
    sig: ExportSignature,
    precision: str,
    calib: Any,
    out: Path,
    probe: bool = True,
) -> str:
    name = sig.model.config.name
    try:
        return backend.exporter(sig, precision, calib, out)
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
        for other in BACKENDS.values():
            if other.name == exclude:
                continue
            try:
                other.check_tools()
                other.exporter(sig, "fp32", [], Path(tmp) / f"probe{other.suffix}")
                took.append(other.name)
            except Exception:
                continue
    return took


def _move_in(src: Path, dst: Path) -> None:
    """Replace ``dst`` by ``src`` (a file or an .mlpackage folder) in one rename."""
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
) -> Path:
    """Export one checkpoint to one backend and precision; returns the artifact path."""
    if backend_name not in BACKENDS:
        raise EdgeSDKError(f"--backend {backend_name!r}: unknown (one of {', '.join(BACKENDS)})")
    backend = BACKENDS[backend_name]
    precision = precision or backend.default_precision
    if precision not in backend.precisions:
        raise EdgeSDKError(
            f"--precision {precision}: the {backend.name} backend takes "
            f"{', '.join(backend.precisions)}"
        )
    backend.check_tools()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temp(out_dir)  # folders of exports that were killed
    model = checkpoint.load(ckpt_dir)
    meta = checkpoint.read_meta(ckpt_dir)
    sig = signature_for(model)
    data = load_train_data(Path(calib_dir), progress=progress) if calib_dir else None
    needs_calib = precision == "int8" and backend.name != "coreml"  # Core ML: weights only
    if needs_calib and data is None:
        raise EdgeSDKError(
            f"--precision int8 on {backend.name} needs --calib DATA_DIR (real "
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
        }
    name = artifact_name(meta["model"], backend, precision)
    final = out_dir / name
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=temp_prefix(".export-")) as tmp:
        staged = Path(tmp) / name
        with torch.no_grad():
            recipe = _export_or_explain(backend, sig, precision, calib, staged)
        if staged.suffix == ".pte":
            mark_pte_checked(staged)  # written here, by ExecuTorch's own exporter
        manifest = _manifest(meta, ckpt_dir, sig, backend, precision, recipe, calibration, staged)
        manifest["command"] = command or " ".join(sys.argv)
        write_json_atomic(manifest_path(staged), manifest)
        if data is not None:
            report = validate(
                staged, calib_dir, max_windows=validate_windows, model_dir=ckpt_dir, data=data
            )
            manifest["numerics"] = {k: v for k, v in report.items() if k != "artifact"}
        elif not backend.runs_here:
            manifest["numerics"] = _random_input_numerics(sig, staged)
        write_json_atomic(manifest_path(staged), manifest)
        _move_in(staged, final)
        os.replace(manifest_path(staged), manifest_path(final))
    return final


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
    backend: Backend,
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

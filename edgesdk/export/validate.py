"""Validate an artifact in its own runtime against eager PyTorch on real held-out windows.

Every window of the test split (files training never saw) is run twice: eager PyTorch (the
float model of the manifest's checkpoint) and the artifact in its runtime. A streaming
artifact is called once per frame and fed *its own* state back, as on a device, so error
that accumulates through the state is measured. Figures: max abs error of every output
against eager; MPJPE (root-aligned, mm) of eager and of the artifact against ground truth,
their difference (the gate), and the artifact against eager; with an activity head, the
fraction of frames whose class (argmax of ``activity_prob``) is eager's (in the gate too)
and each one's accuracy against the windows' per-frame labels. Where a target cannot predict
(its table entry says where it can: Core ML on macOS only), its ``check_spec`` checks the
converted spec (input / output names, shapes, dtypes) instead, and the result says so.

Example:
    $ edgesdk validate out/same-student-int8.pte --data ../shared/data/mocap --json
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.manifest import manifest_path, read_manifest
from edgesdk.export.runners import backend_of, check_io, open_runner
from edgesdk.models.base import target_positions_rel
from edgesdk.models.signature import ExportSignature, emitted, signature_for
from edgesdk.quantize.calibration import eager_calls, model_inputs, windows
from edgesdk.targets import target
from edgesdk.train import checkpoint
from edgesdk.train.data import TrainData, load_train_data

# Beyond the MPJPE gate, an fp32 artifact must match eager to this max abs error.
FP32_MAX_ABS_ERROR = 1e-3
# With an activity head: the artifact's class (argmax of activity_prob) must be eager's in at
# least this fraction of the frames.
MIN_ACTIVITY_AGREEMENT = 0.9


def _pose_index(sig: ExportSignature) -> int:
    return [t.name for t in sig.outputs].index("pos_rel_m")


def run_windows(sig: ExportSignature, runner: Any, batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Eager and artifact outputs on each window; errors and MPJPEs over all frames."""
    n_state = len(sig.state_pairs)
    max_err = np.zeros(len(sig.outputs))
    err_eager, err_art, art_vs_eager, frames, calls = 0.0, 0.0, 0.0, 0, 0
    pos_i = _pose_index(sig)
    names = [t.name for t in sig.outputs]
    act_i = names.index("activity_prob") if "activity_prob" in names else None
    agree, right_eager, right_art = 0, 0, 0
    finite = True
    started = time.perf_counter()
    for batch in batches:
        calls_eager = eager_calls(sig, model_inputs(sig.model, batch))
        state: list[np.ndarray] | None = None
        eager_pos, art_pos = [], []
        eager_act: list[int] = []
        art_act: list[int] = []
        for args, ref in calls_eager:
            feed = [a.numpy() for a in args]
            if sig.streaming and state is not None:
                feed[len(feed) - n_state :] = state
            out = runner.run(feed)
            calls += 1
            finite = finite and all(np.isfinite(o).all() for o in out)
            for i, (o, r) in enumerate(zip(out, ref, strict=True)):
                max_err[i] = max(max_err[i], float(np.abs(o - r.numpy()).max()))
            if sig.streaming:
                state = list(out[len(out) - n_state :])
            eager_pos.append(emitted(sig, ref[pos_i]).numpy().reshape(-1, 22, 3))
            art_pos.append(emitted(sig, out[pos_i]).reshape(-1, 22, 3))
            if act_i is not None:
                eager_act.append(int(ref[act_i].numpy().argmax()))
                art_act.append(int(np.argmax(out[act_i])))
        if act_i is not None:
            e_act, a_act = np.array(eager_act), np.array(art_act)
            agree += int((e_act == a_act).sum())
            if "activity" in batch:
                labels = batch["activity"].numpy().reshape(-1)
                right_eager += int((e_act == labels).sum())
                right_art += int((a_act == labels).sum())
        gt = target_positions_rel(batch).numpy().reshape(-1, 22, 3)
        e, a = np.concatenate(eager_pos), np.concatenate(art_pos)
        err_eager += float(np.linalg.norm(e - gt, axis=-1).mean(-1).sum())
        err_art += float(np.linalg.norm(a - gt, axis=-1).mean(-1).sum())
        art_vs_eager += float(np.linalg.norm(a - e, axis=-1).mean(-1).sum())
        frames += len(gt)
    wall = time.perf_counter() - started
    frames = max(frames, 1)
    activity: dict[str, Any] = {}
    if act_i is not None:
        activity = {
            "activity_agreement": agree / frames,
            "activity_accuracy_eager": right_eager / frames,
            "activity_accuracy_artifact": right_art / frames,
        }
    return {
        "windows": len(batches),
        "frames": frames,
        "calls": calls,
        "finite": finite,
        "max_abs_error": {t.name: float(v) for t, v in zip(sig.outputs, max_err, strict=True)},
        "mpjpe_eager_mm": 1000.0 * err_eager / frames,
        "mpjpe_artifact_mm": 1000.0 * err_art / frames,
        "mpjpe_delta_mm": 1000.0 * (err_art - err_eager) / frames,
        "mpjpe_artifact_vs_eager_mm": 1000.0 * art_vs_eager / frames,
        "wall_s_incl_eager": round(wall, 2),
        **activity,
    }


def _checkpoint_of(manifest: dict[str, Any], artifact: Path) -> str:
    path = (
        manifest.get("checkpoint", {}).get("path")
        if isinstance(manifest.get("checkpoint"), dict)
        else None
    )
    if not isinstance(path, str) or not path:
        raise EdgeSDKError(
            f"{manifest_path(artifact)}: no checkpoint path; give the model with --model-dir"
        )
    return path


def check_signature(
    manifest: dict[str, Any], sig: ExportSignature, artifact: Path, ckpt: Path | str
) -> None:
    """The manifest's model and tensors must be the checkpoint's (names and shapes, in order)."""
    where = manifest_path(artifact)
    name = sig.model.config.name
    if manifest["model"] != name:
        raise EdgeSDKError(
            f"{where}: a manifest of model {manifest['model']!r}, the checkpoint {ckpt} is {name!r}"
        )
    for kind, tensors in (("inputs", sig.inputs), ("outputs", sig.outputs)):
        declared = [(t["name"], list(t["shape"])) for t in manifest["io"][kind]]
        expected = [(t.name, list(t.shape)) for t in tensors]
        if declared != expected:
            diff = next(
                (f"{d} != {e}" for d, e in zip(declared, expected, strict=False) if d != e),
                f"{len(declared)} != {len(expected)} tensors",
            )
            raise EdgeSDKError(
                f"{where}: {kind} do not match the checkpoint's model {name} ({diff})"
            )


def validate(
    artifact: Path | str,
    data_dir: Path | str | None,
    max_mpjpe_delta_mm: float = 3.0,
    max_windows: int | None = 24,
    model_dir: Path | str | None = None,
    threads: int = 1,
    progress: bool = False,
    data: TrainData | None = None,
) -> dict[str, Any]:
    """The validation report of one artifact; ``report["passed"]`` is the gate."""
    artifact = Path(artifact)
    backend = backend_of(artifact)
    manifest = read_manifest(artifact)  # fields checked, and the artifact's hash
    ckpt = model_dir or _checkpoint_of(manifest, artifact)
    model = checkpoint.load(ckpt)
    sig = signature_for(model)
    check_signature(manifest, sig, artifact, ckpt)
    report: dict[str, Any] = {
        "artifact": str(artifact),
        "model": manifest["model"],
        "backend": backend,
        "precision": manifest["precision"],
        "max_mpjpe_delta_mm": max_mpjpe_delta_mm,
    }
    t = target(backend)
    if not t.predicts_here():
        check_spec = t.hook("check_spec")
        if check_spec is None:
            raise EdgeSDKError(f"{artifact}: {t.why_not_here()}, and nothing checks it here")
        checked = check_spec(artifact, sig)
        report.update(
            ran=False,
            reason=t.why_not_here() + ": spec checked instead",
            spec_check=checked,
            passed=not checked["problems"],
        )
        return report
    if data_dir is None:
        raise EdgeSDKError(f"{artifact}: validation needs held-out data (--data DIR)")
    data = data or load_train_data(Path(data_dir), progress=progress)
    batches = windows(model, data.test, limit=max_windows)
    runner = open_runner(artifact, threads)
    check_io(runner, manifest["io"], manifest_path(artifact))
    figures = run_windows(sig, runner, batches)
    report.update(ran=True, data_fingerprint=data.fingerprint, split="test", **figures)
    ok = figures["finite"] and figures["mpjpe_delta_mm"] <= max_mpjpe_delta_mm
    if "activity_agreement" in figures:
        ok = ok and figures["activity_agreement"] >= MIN_ACTIVITY_AGREEMENT
        report["min_activity_agreement"] = MIN_ACTIVITY_AGREEMENT
    if manifest["precision"] == "fp32":
        worst = max(figures["max_abs_error"].values())
        ok = ok and worst <= FP32_MAX_ABS_ERROR
        report["fp32_max_abs_error_gate"] = FP32_MAX_ABS_ERROR
    report["passed"] = bool(ok and math.isfinite(figures["mpjpe_artifact_mm"]))
    return report

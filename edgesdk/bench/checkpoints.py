"""The torch side of the harness: checkpoints -> teachers measured eager, students exported
and measured in their runtimes, and accuracy on held-out windows per device combination.

Artifacts go to ``artifacts_dir/<checkpoint folder>/``; one there whose manifest names the
same weights (sha256) is reused instead of exported again. A failed export or measurement is
recorded as that figure's ``error`` and the run goes on.

Example:
    $ python -c "from edgesdk.bench.harness import BenchConfig, run_bench; \\
        run_bench(BenchConfig(models=['runs/students/same-student-gt'], \\
        backends=['onnx'], precisions=['fp32'], data='../shared/data/mocap', windows=2))"
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgesdk.bench.accuracy import Batches, artifact_accuracy, combination_windows, eager_accuracy
from edgesdk.bench.cost import flops_and_params
from edgesdk.bench.harness import EAGER, BenchConfig, add_artifact, artifact_figures, one_line, put
from edgesdk.bench.latency import eager_devices, eager_latency, peak_rss
from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import artifact_name, export_model
from edgesdk.export.manifest import artifact_digest, read_manifest
from edgesdk.models.signature import signature_for
from edgesdk.quantize.calibration import eager_calls, model_inputs
from edgesdk.quantize.schemes import SCHEMES
from edgesdk.quantize.schemes import scheme as find_scheme
from edgesdk.targets import target
from edgesdk.train import checkpoint
from edgesdk.train.data import TrainData, load_train_data


class _Run:
    """State shared by one run: config, device key, data, windows per checkpoint."""

    def __init__(self, cfg: BenchConfig, device: str) -> None:
        self.cfg = cfg
        self.device = device
        self.data: TrainData | None = None
        if cfg.data is not None:
            self.data = load_train_data(Path(cfg.data), progress=cfg.progress)
        self._windows: dict[str, Batches] = {}

    def windows(self, ckpt: Path, model: Any) -> Batches | None:
        if self.data is None:
            return None
        key = str(ckpt.resolve())
        if key not in self._windows:
            self._windows[key] = combination_windows(model, self.data.test, self.cfg.windows)
        return self._windows[key]


def _key(models: dict[str, Any], name: str, ckpt: Path) -> str:
    """The model name, or the checkpoint folder's when two checkpoints share a model."""
    return name if name not in models else ckpt.name


def _teacher_dir(meta: dict[str, Any]) -> Path | None:
    train = meta.get("train", {})
    for k in ("teacher_path", "teacher"):
        if train.get(k) and Path(train[k]).is_dir():
            return Path(train[k])
    return None


def bench_checkpoints(cfg: BenchConfig, device: str, models: dict[str, Any]) -> TrainData | None:
    """Teachers first (eager), then students (artifacts), then the given artifacts; returns
    the held-out data's clips when ``cfg.data`` was given."""
    run = _Run(cfg, device)
    students: list[Path] = []
    teachers: list[Path] = []
    for m in cfg.models:
        meta = checkpoint.read_meta(m)
        (students if meta["spec"].get("streaming") else teachers).append(Path(m))
    if cfg.add_teachers:
        for s in students:
            t = _teacher_dir(checkpoint.read_meta(s))
            if t is not None and t.resolve() not in {x.resolve() for x in teachers}:
                teachers.append(t)
    by_path: dict[Path, str] = {}
    for t in teachers:
        key = _key(models, checkpoint.read_meta(t)["model"], t)
        models[key] = bench_teacher(run, t)
        by_path[t.resolve()] = key
    for s in students:
        meta = checkpoint.read_meta(s)
        t = _teacher_dir(meta)
        teacher = by_path.get(t.resolve()) if t else meta.get("train", {}).get("teacher_model")
        models[_key(models, meta["model"], s)] = bench_student(run, s, teacher)
    for a in cfg.artifacts:
        feeds, accuracy = None, None
        ckpt = Path(read_manifest(a)["checkpoint"]["path"])
        if run.data is not None and ckpt.is_dir():
            feeds, accuracy = _real_inputs(run, ckpt)
        add_artifact(models, a, cfg, device, feeds, accuracy)
    return run.data


def _real_inputs(run: _Run, ckpt: Path) -> tuple[list[list[Any]] | None, Any]:
    """Feeds of one real window (one call per frame when streaming) and an accuracy function."""
    model = checkpoint.load(ckpt)
    sig = signature_for(model)
    combos = run.windows(ckpt, model)
    if not combos:
        return None, None
    # The combination with the most devices: the busiest inputs a device would see.
    batch = combos[max(combos, key=lambda c: c.count("+"))][0]
    calls = eager_calls(sig, model_inputs(model, batch))
    feeds = [[a.numpy() for a in args] for args, _ in calls]

    def accuracy(runner: Any) -> dict[str, Any]:
        return artifact_accuracy(sig, runner, combos)

    return feeds, accuracy


def bench_teacher(run: _Run, ckpt: Path) -> dict[str, Any]:
    """A teacher in eager PyTorch: CPU (and CUDA when present) latency, RSS, accuracy."""
    cfg = run.cfg
    meta = checkpoint.read_meta(ckpt)
    cfg.log(f"{meta['model']}: eager PyTorch ({ckpt})")
    model = checkpoint.load(ckpt)
    sig = signature_for(model)
    entry: dict[str, Any] = {
        "kind": "teacher",
        "model": meta["model"],
        "checkpoint": str(ckpt),
        "cost": flops_and_params(model),
    }
    combos = run.windows(ckpt, model)
    inputs = sig.example()
    if combos and not sig.streaming:
        inputs = model_inputs(model, combos[max(combos, key=lambda c: c.count("+"))][0])
    for torch_device, key in eager_devices():
        fig: dict[str, Any] = {"device": torch_device, "frames_per_call": sig.frames}
        try:
            threads = cfg.threads if torch_device == "cpu" else cfg.threads[:1]
            fig["latency_ms"] = eager_latency(
                sig.module, inputs, torch_device, threads, cfg.calls, cfg.warmup
            )
            if torch_device == "cpu" and cfg.rss:
                fig.update(peak_rss(ckpt, eager=True, threads=cfg.threads[0]))
            if torch_device == "cpu" and combos:
                fig["accuracy"] = eager_accuracy(model, combos)
        except Exception as exc:  # recorded; the other models are still measured
            fig["error"] = one_line(exc)
        put(entry, "fp32", EAGER, key, fig)
    return entry


def _weights_sha(ckpt: Path) -> str:
    return artifact_digest(ckpt / checkpoint.WEIGHTS)[1]


def artifact_for(
    ckpt: Path, backend: str, precision: str, cfg: BenchConfig, scheme: str | None = None
) -> tuple[Path, str]:
    """The artifact of a checkpoint: reused when one of the same weights (and int8 scheme)
    exists, else exported. ``scheme``: an int8 scheme by name (None: the chosen one).
    Returns (path, ``"reused"`` or ``"exported"``)."""
    out_dir = Path(cfg.artifacts_dir) / ckpt.name
    meta = checkpoint.read_meta(ckpt)
    path = out_dir / artifact_name(meta["model"], target(backend), precision, scheme or "")
    want = None
    if precision == "int8" and SCHEMES.get(backend):
        want = find_scheme(backend, scheme, meta["model"]).name
    if path.exists():
        try:
            manifest = read_manifest(path)
            same = manifest["checkpoint"]["weights_sha256"] == _weights_sha(ckpt)
            same = same and manifest["quantization"].get("scheme") == want
            if same and manifest["precision"] == precision and manifest["backend"] == backend:
                return path, "reused"
        except (KeyError, ValueError, OSError, EdgeSDKError):
            pass  # an unreadable, foreign or outdated manifest, or a changed file: export again
    path = export_model(
        ckpt,
        backend,
        precision,
        out_dir,
        calib_dir=cfg.data,
        validate_windows=cfg.windows,
        progress=cfg.progress,
        command=cfg.command,
        scheme=scheme,
    )
    return path, "exported"


def bench_student(run: _Run, ckpt: Path, teacher: str | None) -> dict[str, Any]:
    """A student's artifacts: every backend x precision the config names and the backend takes."""
    cfg = run.cfg
    meta = checkpoint.read_meta(ckpt)
    model = checkpoint.load(ckpt)
    entry: dict[str, Any] = {
        "kind": "student",
        "model": meta["model"],
        "checkpoint": str(ckpt),
        "teacher": teacher,
        "cost": flops_and_params(model),
    }
    feeds, accuracy = _real_inputs(run, ckpt) if run.data is not None else (None, None)
    for backend in cfg.backends:
        for precision in cfg.precisions:
            if precision not in target(backend).precisions:
                continue
            cfg.log(f"{meta['model']} {backend} {precision}")
            fig = _one(ckpt, backend, precision, run, feeds, accuracy)
            if precision == "int8" and cfg.schemes and SCHEMES.get(backend):
                _schemes(entry, ckpt, backend, fig, run, feeds, accuracy)
            put(entry, precision, backend, run.device, fig)
    return entry


def _schemes(
    entry: dict[str, Any],
    ckpt: Path,
    backend: str,
    chosen_fig: dict[str, Any],
    run: _Run,
    feeds: Any,
    accuracy: Any,
) -> None:
    """Every int8 scheme of ``backend`` into ``entry["schemes"]``: the chosen one is the
    default int8 artifact just measured (``chosen_fig``), the others exported by name."""
    model = checkpoint.read_meta(ckpt)["model"]
    chosen = find_scheme(backend, None, model)
    chosen_fig.update(scheme=chosen.name, claims_speed=chosen.claims_speed)
    table = entry.setdefault("schemes", {}).setdefault(backend, {})
    for name, sch in SCHEMES[backend].items():
        if name == chosen.name:
            table[name] = {run.device: chosen_fig}
            continue
        run.cfg.log(f"{model} {backend} int8 {name}")
        fig = _one(ckpt, backend, "int8", run, feeds, accuracy, scheme=name)
        fig.update(scheme=name, claims_speed=sch.claims_speed)
        table[name] = {run.device: fig}
    _pair(entry, backend, table, run, feeds)


def _pair(
    entry: dict[str, Any], backend: str, table: dict[str, Any], run: _Run, feeds: Any
) -> None:
    """fp32 and every scheme of one runtime timed in turns (``paired_latency_ms``)."""
    from edgesdk.bench.quant import paired_latency

    fp32 = entry.get("fp32", {}).get(backend, {}).get(run.device, {})
    figs = {name: d[run.device] for name, d in table.items()}
    if "artifact" in fp32 and "error" not in fp32:
        figs["fp32"] = fp32
    paths = {k: f["artifact"] for k, f in figs.items() if "artifact" in f and "error" not in f}
    if len(paths) < 2:
        return
    try:
        paired = paired_latency(paths, run.cfg.threads, run.cfg.calls, feeds)
    except Exception as exc:  # recorded; the run goes on
        for k in paths:
            figs[k]["paired_error"] = one_line(exc)
        return
    for k, lat in paired.items():
        figs[k]["paired_latency_ms"] = lat


def _one(
    ckpt: Path,
    backend: str,
    precision: str,
    run: _Run,
    feeds: Any,
    accuracy: Any,
    scheme: str | None = None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        path, how = artifact_for(ckpt, backend, precision, run.cfg, scheme)
    except Exception as exc:  # an exporter's failure is a result, not the end of the run
        return {"error": one_line(exc), "export_s": round(time.perf_counter() - t0, 1)}
    export_s = round(time.perf_counter() - t0, 1)
    why_not = target(backend).why_not_here()
    if why_not:  # a target that cannot predict on this OS (Core ML off macOS): size only
        size, _ = artifact_digest(path)
        return {
            "artifact": str(path),
            "bytes": size,
            "error": f"not run: {why_not}",
            "export": how,
        }
    try:
        fig = artifact_figures(path, run.cfg, feeds, accuracy)
    except Exception as exc:
        fig = {"artifact": str(path), "error": one_line(exc)}
    fig.update(export=how, export_s=export_s)
    return fig


__all__ = ["artifact_for", "bench_checkpoints", "bench_student", "bench_teacher"]

"""The benchmark harness: every model x backend x precision, measured in one run.

Students (streaming checkpoints) are exported to each backend and precision (or an artifact
already exported from the same weights is reused) and measured in their runtime: latency
(p50 / p90 / p99 per call at each thread count), artifact size, peak RSS of a fresh process
that loads and runs the artifact, and, with held-out data, MPJPE per device combination.
Teachers (other checkpoints, and the teacher each student was distilled from) are measured in
eager PyTorch on the CPU and, when present, on CUDA, with their MPJPE on the same held-out
windows. FLOPs and parameters come once per model from ``edgesdk.bench.cost``. Each student
figure gets its latency ratio to its teacher measured in the same run, at the same thread
count on the same CPU. Existing artifacts can be given too (``artifacts``); without
checkpoints and data nothing here imports torch.

Layout: ``models -> model -> precision -> backend -> device -> figures`` (eager PyTorch is the
backend ``eager``, precision ``fp32``), with the command that produced it.

Example:
    $ edgesdk bench --models runs/students/same-student-gt --backends onnx \\
        --precisions fp32 int8 --data ../shared/data/mocap --windows 4 --json bench.json
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgesdk.bench.latency import MIN_CALLS, WARMUP, artifact_latency, cpu_device, peak_rss
from edgesdk.errors import EdgeSDKError
from edgesdk.io import write_json_atomic
from edgesdk.targets import precisions, runnable_here, target, target_for_path

FORMAT = "edgesdk-bench/1"
EAGER = "eager"
DEFINITIONS = {
    "latency_ms": "per call, by CPU thread count; a student's call is one frame (one pose) "
    "with its state fed back, a teacher's call is one window (frames_per_call frames)",
    "latency_ratio_to_teacher": "student artifact p50 / teacher eager p50, same thread count, "
    "same CPU, same run (the latency of one pose update)",
    "peak_rss_mb": "peak resident set of a fresh process that loads the model and runs it; "
    "baseline_rss_mb: that process before loading (interpreter + runtime module)",
    "accuracy": "root-aligned MPJPE (mm) on held-out windows, per device combination; the "
    "summary is the mean over combinations; mpjpe_delta_mm: artifact minus eager fp32; inputs "
    "under the realistic protocol (see protocol)",
    "flops": "torch.utils.flop_counter, 2 FLOPs per multiply-add, forward over one window",
    "schemes": "every int8 scheme of a runtime (edgesdk.quantize.schemes), measured like the "
    "chosen one (which is also the int8 entry); latency_ratio_to_fp32: int8 p50 / the same "
    "runtime's fp32 p50, same thread count, same run",
    "quantization": "per student and runtime: fp32 and every scheme (size, p50/p99 per frame "
    "per thread count, MPJPE delta, speed ratio to fp32), the chosen scheme, the fastest "
    "within the 3 mm gate, and whether the chosen one is at least as fast as fp32 (int8_pays)",
    "paired_latency_ms": "fp32 and every int8 scheme of one runtime timed in turns (10 rounds, "
    "a block of calls each per round), so that the load of other jobs falls on all alike; "
    "latency_ratio_to_fp32 is taken from it when measured",
    "load_avg_1m": "the machine's 1-minute load average when a figure's timing started (other "
    "jobs share the CPU: compare int8 and fp32 within one run only)",
}


@dataclass
class BenchConfig:
    """What to measure. ``models``: checkpoint folders; ``artifacts``: exported files."""

    models: Sequence[Path | str] = ()
    artifacts: Sequence[Path | str] = ()
    backends: Sequence[str] = field(default_factory=runnable_here)  # all that predict here
    precisions: Sequence[str] = ("fp32", "int8")
    data: Path | str | None = None
    windows: int | None = 8  # held-out windows per device combination (None: all)
    calls: int = MIN_CALLS
    warmup: int = WARMUP
    threads: Sequence[int] = (1, 2)
    artifacts_dir: Path | str = Path("runs/bench/artifacts")
    add_teachers: bool = True  # also measure each student's teacher checkpoint
    schemes: bool = False  # every int8 scheme of each backend, not only the chosen one
    rss: bool = True
    command: str = ""
    progress: bool = False
    log: Callable[[str], None] = field(default=lambda _: None, repr=False)

    def check(self) -> None:
        """One-line errors for values no run can use."""
        if not self.models and not self.artifacts:
            raise EdgeSDKError("bench: nothing to measure (give --models and/or --artifact)")
        if self.calls < MIN_CALLS:
            raise EdgeSDKError(f"--calls {self.calls}: at least {MIN_CALLS} timed calls")
        if self.warmup < 0:
            raise EdgeSDKError(f"--warmup {self.warmup}: must be >= 0")
        if not self.threads or any(n < 1 for n in self.threads):
            raise EdgeSDKError(f"--threads {list(self.threads)}: need thread counts >= 1")
        if self.windows is not None and self.windows < 1:
            raise EdgeSDKError(f"--windows {self.windows}: must be >= 1")
        for b in self.backends:
            target(b, "--backends")  # a known backend
        for p in self.precisions:
            if p not in precisions():
                raise EdgeSDKError(
                    f"--precisions {p!r}: unknown (one of {', '.join(precisions())})"
                )
        for m in self.models:
            if not (Path(m) / "config.json").is_file():
                raise EdgeSDKError(f"{m}: not a checkpoint folder (no config.json)")
        from edgesdk.export.manifest import manifest_path, read_manifest
        from edgesdk.export.runners import check_io, open_runner

        for a in self.artifacts:
            artifact_target = target_for_path(a)  # a known suffix
            if not Path(a).exists():
                raise EdgeSDKError(f"{a}: no such artifact")
            manifest = read_manifest(a)  # beside it, valid, and the artifact's hash matches
            if artifact_target.predicts_here():  # loadable, with its declared tensors
                check_io(open_runner(a), manifest["io"], manifest_path(a))
        if self.data is not None and not Path(self.data).is_dir():
            raise EdgeSDKError(f"--data {self.data}: no such folder")


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Measure everything ``cfg`` names; returns the results (see the module docstring)."""
    cfg.check()
    load_start = [round(x, 2) for x in os.getloadavg()]
    device = cpu_device()
    models: dict[str, Any] = {}
    measured_on: dict[str, Any] = {}
    if cfg.models or cfg.data is not None:
        from edgesdk.bench.accuracy import PROTOCOL
        from edgesdk.bench.checkpoints import bench_checkpoints

        data = bench_checkpoints(cfg, device, models)
        if data is not None:
            from edgesdk.train.results import data_block

            measured_on = {"protocol": PROTOCOL, "data": data_block(data)}
    else:
        for a in cfg.artifacts:
            add_artifact(models, a, cfg, device)
    add_ratios(models, device)
    from edgesdk.bench.quant import add_speed_ratios, table

    for entry in models.values():
        if entry.get("kind") == "student" or entry.get("int8"):
            add_speed_ratios(entry)
        if entry.get("schemes"):
            entry["quantization"] = table(entry, device, str(cfg.threads[0]))
    return {
        "format": FORMAT,
        "command": cfg.command or " ".join(sys.argv),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": device,
            "python": platform.python_version(),
            "load_avg_at_start": load_start,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "calls": cfg.calls,
            "warmup": cfg.warmup,
            "threads": list(cfg.threads),
            "windows_per_combination": cfg.windows,
            "data": str(cfg.data) if cfg.data is not None else None,
        },
        "definitions": DEFINITIONS,
        **measured_on,
        "models": models,
    }


def write_results(path: Path | str, results: dict[str, Any]) -> Path:
    """Write results as JSON atomically (a reader never sees half a file)."""
    return write_json_atomic(path, results)


def artifact_figures(
    path: Path | str,
    cfg: BenchConfig,
    feeds: Sequence[Sequence[Any]] | None = None,
    accuracy: Callable[[Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Size, latency per thread count, peak RSS and (``accuracy(runner)``) accuracy."""
    from edgesdk.export.manifest import artifact_digest, read_manifest
    from edgesdk.export.runners import open_runner

    manifest = read_manifest(path)
    size, _ = artifact_digest(Path(path))
    fig: dict[str, Any] = {
        "artifact": str(path),
        "bytes": size,
        "streaming": bool(manifest["io"].get("state")),
        "frames_per_call": 1
        if manifest["io"].get("state")
        else manifest["rates"].get("context") or manifest["rates"].get("window"),
    }
    fig["load_avg_1m"] = round(os.getloadavg()[0], 2)
    fig["latency_ms"] = artifact_latency(path, cfg.threads, cfg.calls, cfg.warmup, feeds)
    if cfg.rss:
        fig.update(peak_rss(path, threads=cfg.threads[0]))
    if accuracy is not None:
        fig["accuracy"] = accuracy(open_runner(path, threads=cfg.threads[0]))
    return fig


def add_artifact(
    models: dict[str, Any],
    path: Path | str,
    cfg: BenchConfig,
    device: str,
    feeds: Sequence[Sequence[Any]] | None = None,
    accuracy: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Measure one existing artifact into ``models`` (under its manifest's model name)."""
    from edgesdk.export.manifest import read_manifest

    manifest = read_manifest(path)
    entry = models.setdefault(
        manifest["model"],
        {"kind": "artifact", "model": manifest["model"], "teacher": manifest.get("teacher")},
    )
    cfg.log(f"{manifest['model']} {manifest['backend']} {manifest['precision']}: {path}")
    try:
        fig = artifact_figures(path, cfg, feeds, accuracy)
    except Exception as exc:  # one artifact that fails must not end a long run
        fig = {"artifact": str(path), "error": one_line(exc)}
    put(entry, manifest["precision"], manifest["backend"], device, fig)


def put(entry: dict[str, Any], precision: str, backend: str, device: str, fig: Any) -> None:
    entry.setdefault(precision, {}).setdefault(backend, {})[device] = fig


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def cases(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every (model, precision, backend, device) of the results with its figures.

    Example:
        >>> r = {"models": {"m": {"kind": "student", "fp32": {"onnx": {"cpu": {"bytes": 9}}}}}}
        >>> [(c["model"], c["backend"], c["figures"]["bytes"]) for c in cases(r)]
        [('m', 'onnx', 9)]
    """
    for key, entry in results.get("models", {}).items():
        for precision in precisions():
            for backend, devices in entry.get(precision, {}).items():
                for device, fig in devices.items():
                    yield {
                        "model": key,
                        "name": entry.get("model", key),
                        "kind": entry.get("kind", ""),
                        "teacher": entry.get("teacher"),
                        "precision": precision,
                        "backend": backend,
                        "device": device,
                        "figures": fig,
                    }


def teacher_entry(models: dict[str, Any], teacher: str | None) -> dict[str, Any] | None:
    """A student's teacher among the results: by key, else by model name."""
    if not teacher:
        return None
    if teacher in models and models[teacher].get("kind") == "teacher":
        return models[teacher]  # type: ignore[no-any-return]
    for e in models.values():
        if e.get("kind") == "teacher" and e.get("model") == teacher:
            return e  # type: ignore[no-any-return]
    return None


def add_ratios(models: dict[str, Any], device: str) -> None:
    """Each student figure's p50 latency over its teacher's eager p50 on the same CPU, per
    thread count; and over the teacher on CUDA (1 CPU thread for the student) when measured."""
    for c in list(cases({"models": models})):
        fig = c["figures"]
        teacher = teacher_entry(models, c["teacher"])
        if c["kind"] == "teacher" or teacher is None or "latency_ms" not in fig:
            continue
        eager = teacher.get("fp32", {}).get(EAGER, {})
        mine = fig["latency_ms"]
        cpu = eager.get(device, {}).get("latency_ms", {})
        fig["teacher"] = teacher["model"]
        fig["latency_ratio_to_teacher"] = {
            n: mine[n]["p50_ms"] / cpu[n]["p50_ms"] for n in mine if n in cpu
        }
        for dev, tfig in eager.items():
            if dev.startswith("cuda") and "1" in mine and tfig.get("latency_ms"):
                first = next(iter(tfig["latency_ms"].values()))
                fig["latency_ratio_to_teacher_cuda"] = mine["1"]["p50_ms"] / first["p50_ms"]
                fig["teacher_cuda_device"] = dev

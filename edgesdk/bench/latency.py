"""Latency and peak memory of a model in the runtime a device would use.

An artifact is loaded in its own runtime (``edgesdk.export.runners``), warmed up, then called
at least ``MIN_CALLS`` times; every call is timed and the figures are the p50 / p90 / p99 in
milliseconds. A streaming student is called as on a device: one frame per call, with the
state outputs of a call fed back as the state inputs of the next. Peak RSS is measured in a
fresh subprocess (``python -m edgesdk.bench.latency``) that loads and runs the artifact alone,
so the figure holds neither this process's imports nor earlier benchmarks. Eager PyTorch
models (the teachers) are timed the same way, on the CPU or on a CUDA device.

This module imports numpy only (torch inside the eager functions), so ``edgesdk bench
--artifact FILE`` works in an install without torch.

Example:
    >>> import numpy as np
    >>> figures = time_calls(lambda xs: [xs[0] * 2.0], [[np.ones(3, np.float32)]], calls=100)
    >>> figures["calls"], figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"]
    (100, True)
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError

MIN_CALLS = 100
WARMUP = 10
RunFn = Callable[[list[Any]], Sequence[Any]]


def percentiles(times_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / min / max of call times in milliseconds.

    Example:
        >>> percentiles([1.0, 2.0, 3.0])["p50_ms"]
        2.0
    """
    if not times_ms:
        raise EdgeSDKError("no timed calls to summarize")
    t = np.asarray(times_ms, np.float64)
    p50, p90, p99 = np.percentile(t, [50, 90, 99])
    return {
        "p50_ms": float(p50),
        "p90_ms": float(p90),
        "p99_ms": float(p99),
        "mean_ms": float(t.mean()),
        "min_ms": float(t.min()),
        "max_ms": float(t.max()),
    }


def time_calls(
    run: RunFn,
    feeds: Sequence[Sequence[Any]],
    state: Sequence[tuple[int, int]] = (),
    calls: int = MIN_CALLS,
    warmup: int = WARMUP,
) -> dict[str, Any]:
    """Time ``calls`` calls of ``run`` after ``warmup`` untimed ones.

    ``feeds`` are the inputs of consecutive calls, cycled. ``state`` pairs (output index,
    input index): from the second call on, that input is the previous call's output, so a
    streaming model runs one continuous stream through the warm-up and the timed calls.

    Example:
        >>> import numpy as np
        >>> f = time_calls(lambda xs: [xs[0] + 1.0], [[np.zeros(1)]], [(0, 0)], calls=100)
        >>> f["calls"], f["warmup"]
        (100, 10)
    """
    if calls < 1 or warmup < 0:
        raise EdgeSDKError(f"calls={calls}, warmup={warmup}: need calls >= 1 and warmup >= 0")
    if not feeds:
        raise EdgeSDKError("no inputs to time the model on")
    previous: Sequence[Any] | None = None
    times: list[float] = []
    for i in range(warmup + calls):
        feed = list(feeds[i % len(feeds)])
        if previous is not None:
            for out_i, in_i in state:
                feed[in_i] = previous[out_i]
        start = time.perf_counter()
        previous = run(feed)
        elapsed = (time.perf_counter() - start) * 1000.0
        if i >= warmup:
            times.append(elapsed)
    return {"calls": len(times), "warmup": warmup, **percentiles(times)}


def state_indices(io: dict[str, Any]) -> list[tuple[int, int]]:
    """(output index, input index) of every state pair of a manifest's ``io``."""
    ins = [t["name"] for t in io["inputs"]]
    outs = [t["name"] for t in io["outputs"]]
    try:
        return [(outs.index(s["output"]), ins.index(s["input"])) for s in io.get("state", [])]
    except ValueError as exc:
        raise EdgeSDKError(f"manifest io: state names a tensor it does not list ({exc})") from None


def example_feed(io: dict[str, Any], seed: int = 0) -> list[np.ndarray]:
    """Inputs of a manifest's shapes: state zeros, presence masks ones, the rest N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    states = {s["input"] for s in io.get("state", [])}
    feed = []
    for t in io["inputs"]:
        shape = [int(d) for d in t["shape"]]
        if t["name"] in states:
            feed.append(np.zeros(shape, np.float32))
        elif "mask" in t["name"]:
            feed.append(np.ones(shape, np.float32))
        else:
            feed.append((0.5 * rng.standard_normal(shape)).astype(np.float32))
    return feed


def cpu_device() -> str:
    """``cpu (x86_64, <model name>)``: the device key of CPU figures."""
    name = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    name = name or platform.processor()
    return f"cpu ({platform.machine()}, {name})" if name else f"cpu ({platform.machine()})"


def artifact_latency(
    artifact: Path | str,
    threads: Sequence[int] = (1, 2),
    calls: int = MIN_CALLS,
    warmup: int = WARMUP,
    feeds: Sequence[Sequence[np.ndarray]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Latency figures of an artifact per thread count (``{"1": {...}, "2": {...}}``)."""
    from edgesdk.export.manifest import manifest_path, read_manifest
    from edgesdk.export.runners import check_io, open_runner

    io = read_manifest(artifact)["io"]
    feeds = feeds or [example_feed(io)]
    state = state_indices(io)
    out = {}
    for n in threads:
        runner = open_runner(artifact, threads=n)
        check_io(runner, io, manifest_path(artifact))
        out[str(n)] = time_calls(runner.run, feeds, state, calls, warmup)
    return out


def eager_latency(
    module: Any,
    inputs: Sequence[Any],
    device: str = "cpu",
    threads: Sequence[int] = (1, 2),
    calls: int = MIN_CALLS,
    warmup: int = WARMUP,
) -> dict[str, Any]:
    """Latency of an eager PyTorch module on ``inputs`` (torch tensors), per CPU thread count.

    On ``cuda`` the call includes a synchronize (the time until the outputs are ready), the
    host uses ``threads[0]`` threads, and the peak GPU memory allocated is recorded."""
    import torch

    dev = torch.device(device)
    args = [x.to(dev) for x in inputs]
    module = module.to(dev).eval()

    def run(xs: list[Any]) -> Sequence[Any]:
        out = module(*xs)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return out  # type: ignore[no-any-return]

    before = torch.get_num_threads()
    out: dict[str, Any] = {}
    try:
        with torch.no_grad():
            for n in threads[:1] if dev.type == "cuda" else threads:
                torch.set_num_threads(n)
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                out[str(n)] = time_calls(run, [args], (), calls, warmup)
                if dev.type == "cuda":
                    out[str(n)]["peak_gpu_mem_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    finally:
        torch.set_num_threads(before)
        module.to("cpu")
    return out


def eager_devices() -> list[tuple[str, str]]:
    """(torch device, device key) to time eager models on: the CPU, and CUDA when present."""
    import torch

    devices = [("cpu", cpu_device())]
    if torch.cuda.is_available():
        devices.append(("cuda", f"cuda ({torch.cuda.get_device_name(0)})"))
    return devices


# ------------------------------------------------------------------------ peak RSS, isolated


def _proc_status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB; None off Linux."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return None


def _rss_mb() -> float:
    """This process's resident set now, in MiB (the peak where /proc is missing)."""
    now = _proc_status_mb("VmRSS")
    return _peak_rss_mb() if now is None else now


def _peak_rss_mb() -> float:
    """This process's peak resident set in MiB. ``VmHWM`` where there is /proc: Linux keeps
    ``ru_maxrss`` across fork + exec, so there it would include the parent's memory;
    elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0


def peak_rss(
    target: Path | str, eager: bool = False, threads: int = 1, calls: int = 20
) -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh process that loads ``target`` and runs it ``calls`` times.

    ``target``: an artifact, or with ``eager`` a checkpoint folder run in eager PyTorch on the
    CPU. Figures: ``baseline_rss_mb`` (the interpreter with numpy and the runner module, or
    torch for eager, before loading), ``peak_rss_mb`` (whole process) and their difference
    ``load_and_run_rss_mb``."""
    cmd = [sys.executable, "-m", "edgesdk.bench.latency", str(target)]
    cmd += ["--threads", str(threads), "--calls", str(calls)] + (["--eager"] if eager else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        raise EdgeSDKError(f"{target}: the peak-RSS subprocess ran over 900 s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise EdgeSDKError(f"{target}: the peak-RSS subprocess failed: {lines[-1]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _child(argv: Sequence[str]) -> dict[str, Any]:
    """The subprocess of ``peak_rss``: load, run, report this process's memory."""
    p = argparse.ArgumentParser(prog="python -m edgesdk.bench.latency")
    p.add_argument("target")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--eager", action="store_true", help="target is a checkpoint folder")
    args = p.parse_args(argv)
    if args.eager:
        import torch

        from edgesdk.models.signature import signature_for
        from edgesdk.train import checkpoint

        torch.set_num_threads(args.threads)
        base = _rss_mb()
        sig = signature_for(checkpoint.load(args.target))
        example = list(sig.example())

        def run(xs: list[Any]) -> Sequence[Any]:
            with torch.no_grad():
                return sig.module(*xs)  # type: ignore[no-any-return]

        time_calls(run, [example], (), args.calls, 0)
    else:
        from edgesdk.export.manifest import read_manifest
        from edgesdk.export.runners import open_runner

        io = read_manifest(args.target)["io"]
        base = _rss_mb()
        runner = open_runner(args.target, threads=args.threads)
        time_calls(runner.run, [example_feed(io)], state_indices(io), args.calls, 0)
    peak = _peak_rss_mb()
    return {
        "baseline_rss_mb": round(base, 1),
        "peak_rss_mb": round(peak, 1),
        "load_and_run_rss_mb": round(peak - base, 1),
        "rss_calls": args.calls,
        "rss_threads": args.threads,
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1:])))

"""Export every student (and, with --teachers, the small teachers) to every backend and
precision, validate each artifact in its runtime on the held-out files, and record the
numerics in ``benchmarks/results/numerics.json``.

Layout: ``models -> model -> precision -> backend -> device -> figures`` (device: this CPU),
each entry with the command that produced it; entries are merged under a file lock, so runs
over different models share the file. A failed export is recorded with its one-line error.

    python benchmarks/exports.py --data ../shared/data/mocap --out runs/exports \\
        --checkpoints runs/students/*-gt
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import export_model
from edgesdk.export.manifest import read_manifest
from edgesdk.io import write_json_atomic
from edgesdk.targets import names, target
from edgesdk.train.checkpoint import read_meta
from edgesdk.train.data import load_train_data
from edgesdk.train.evaluate import REALISTIC
from edgesdk.train.results import data_block

RESULTS = Path(__file__).resolve().parent / "results" / "numerics.json"
# Validation windows (edgesdk.quantize.calibration.windows): realistic devices, SLAM head; a
# model that reads text gets the clip's description, so that its text input is exercised.
PROTOCOL = {
    **REALISTIC.to_json(),
    "text": "label",
    "note": "numerics compare each artifact with eager PyTorch on the same inputs; text "
    "models read the true description here (not a headline figure)",
}
STALE = "previous data set (614 clips): not re-exported"
PRECISIONS = {
    "executorch": ("fp32", "int8"),
    "tflite": ("fp32", "int8"),
    "onnx": ("fp32", "int8"),
    "coreml": ("fp16", "int8", "pal4"),
}
KEEP = (
    "passed",
    "ran",
    "reason",
    "windows",
    "frames",
    "mpjpe_eager_mm",
    "mpjpe_artifact_mm",
    "mpjpe_delta_mm",
    "mpjpe_artifact_vs_eager_mm",
    "max_abs_error",
    "spec_check",
)


def one(ckpt: Path, backend: str, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        path = export_model(
            ckpt,
            backend,
            precision,
            args.out,
            calib_dir=args.data,
            validate_windows=args.windows,
            progress=False,
            command=args.command,
        )
    except EdgeSDKError as exc:
        return {
            "passed": False,
            "exported": False,
            "error": str(exc),
            "export_s": round(time.perf_counter() - t0, 1),
        }
    manifest = read_manifest(path)
    numerics = manifest["numerics"]
    out = {k: numerics[k] for k in KEEP if k in numerics}
    for k, v in out.items():
        if isinstance(v, float):
            out[k] = round(v, 4)
    out.update(
        exported=True,
        artifact=str(path),
        bytes=manifest["file_size_bytes"],
        recipe=manifest["quantization"]["recipe"],
        export_and_validate_s=round(time.perf_counter() - t0, 1),
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mocap folder (calibration: train split; numerics: test)")
    parser.add_argument("--out", type=Path, default=Path("runs/exports"))
    parser.add_argument("--checkpoints", nargs="*", default=[], type=Path)
    parser.add_argument("--table", action="store_true", help="print the results as Markdown")
    parser.add_argument("--backends", nargs="*", default=list(names()), choices=names())
    parser.add_argument("--precisions", nargs="*", default=None, help="default: all per backend")
    parser.add_argument("--windows", type=int, default=None, help="default: every test window")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.command = "python " + " ".join(sys.argv)
    if args.table:
        print(table(args.results))
        return 0
    if not args.data or not args.checkpoints:
        parser.error("--data and --checkpoints are required (unless --table)")
    device = f"cpu ({platform.machine()}, 1 thread)"
    head = {
        "protocol": PROTOCOL,
        "data": data_block(load_train_data(Path(args.data), progress=False)),
    }
    for ckpt in args.checkpoints:
        meta = read_meta(ckpt)
        entry: dict[str, Any] = {
            "checkpoint": str(ckpt),
            "teacher": meta["train"].get("teacher_model"),
            "command": args.command,
        }
        for backend in args.backends:
            for precision in args.precisions or PRECISIONS[backend]:
                if precision not in target(backend).precisions:
                    continue
                figures = one(ckpt, backend, precision, args)
                entry.setdefault(precision, {}).setdefault(backend, {})[device] = figures
                print(
                    meta["model"],
                    backend,
                    precision,
                    json.dumps(
                        {k: figures.get(k) for k in ("passed", "mpjpe_delta_mm", "bytes", "error")}
                    ),
                    flush=True,
                )
        _merge(args.results, meta["model"], entry, head)
    return 0


def table(path: Path) -> str:
    """numerics.json as a Markdown table: MPJPE delta (mm) and size (KB) per artifact."""
    data = json.loads(path.read_text())
    cols = [(b, p) for b, precisions in PRECISIONS.items() for p in precisions]
    head = "| model | eager MPJPE | " + " | ".join(f"{b} {p}" for b, p in cols) + " |"
    lines = [head, "|" + " --- |" * (len(cols) + 2)]
    for model, entry in data["models"].items():
        cells, eager = [], ""
        for b, p in cols:
            figs = next(iter(entry.get(p, {}).get(b, {}).values()), None)
            if figs is None:
                cells.append("")
            elif not figs.get("exported", True) or not figs.get("passed"):
                cells.append("FAIL")
            elif figs.get("ran"):
                eager = f"{figs['mpjpe_eager_mm']:.1f}"
                cells.append(f"{figs['mpjpe_delta_mm']:+.2f} mm, {figs['bytes'] / 1024:.0f} KB")
            else:
                cells.append(f"spec ok, {figs['bytes'] / 1024:.0f} KB")
        name = f"{model} (stale)" if entry.get("stale") else model
        lines.append(f"| {name} | {eager} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _merge(path: Path, model: str, entry: dict[str, Any], head: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.is_file() else {}
        if data and "protocol" not in data:  # the previous data set's entries
            data["models"] = {k: {**v, "stale": STALE} for k, v in data["models"].items()}
        data.update(head)
        data.setdefault(
            "definitions",
            {
                "mpjpe_delta_mm": "artifact MPJPE minus eager fp32 MPJPE against ground truth, "
                "root-aligned, on every window of the held-out (test) files; the gate is <= 3 mm",
                "mpjpe_artifact_vs_eager_mm": "mean joint distance, artifact vs eager poses",
                "streaming": "students are called once per frame with their own state fed back",
                "coreml": "prediction needs macOS: on Linux the converted spec is checked instead",
            },
        )
        data.setdefault("models", {})[model] = entry
        write_json_atomic(path, data)


if __name__ == "__main__":
    sys.exit(main())

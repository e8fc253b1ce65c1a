"""Where an ExecuTorch student's frame goes: per-operator time from ETDump, fp32 against int8.

Explains ``bench.json``'s ExecuTorch int8 / fp32 ratio. Each ``.pte`` is loaded with ETDump
on (``Runtime.load_program(enable_etdump=True)``), called ``--calls`` times on one thread with
zeros (one frame each; the GRU's cost does not depend on the values), and its events are read
back with ``executorch.devtools.Inspector``. Per artifact: the mean frame time
(``Method::execute``), the delegate calls per frame, and the share of the frame spent in the
XNNPACK fully connected GEMMs (the layers int8 quantizes), in the other XNNPACK ops (reshape,
slice, multiply, batch matmul, ...) and outside the delegate (portable operators and the
delegate boundaries). Writes ``benchmarks/results/et_profile.json``.

    OMP_NUM_THREADS=1 python benchmarks/et_profile.py \\
        --artifacts runs/exports-gt/*-student-{fp32,int8}.pte
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from edgesdk.data.sources import provenance_not_mocap
from edgesdk.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "et_profile.json"
# What the results file was measured on (top-level "data" and "protocol").
PROVENANCE = provenance_not_mocap(
    "exported .pte artifacts fed zeros", "time per operator of ExecuTorch's runtime, no accuracy"
)
SETUP = ("Program::load_method", "Method::init")


def profile(path: Path, calls: int) -> dict[str, Any]:
    from executorch.devtools import Inspector
    from executorch.runtime import Runtime

    torch.set_num_threads(1)
    program = Runtime.get().load_program(path, enable_etdump=True)
    method = program.load_method("forward")
    meta = method.metadata
    zeros = [
        torch.zeros(tuple(meta.input_tensor_meta(i).sizes())) for i in range(meta.num_inputs())
    ]
    for _ in range(calls):
        method.execute(zeros)
    with tempfile.TemporaryDirectory() as tmp:
        etdump = Path(tmp) / "run.etdp"
        program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))
        inspector = Inspector(etdump_path=str(etdump))
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for block in inspector.event_blocks:
        for event in block.events:
            if event.perf_data is not None and event.name not in SETUP:
                total[event.name] += float(sum(event.perf_data.raw))
                count[event.name] += len(event.perf_data.raw)
    frame = total.pop("Method::execute")
    delegate = total.pop("DELEGATE_CALL", 0.0)
    total.pop("OPERATOR_CALL", None)  # the portable operators, also listed one by one
    gemm = sum(v for k, v in total.items() if k.startswith("Fully Connected"))
    inside = sum(v for k, v in total.items() if "(N" in k)  # XNNPACK's op names: "Op (NC, ..."
    return {
        "artifact": str(path),
        "calls": calls,
        "frame_time_units": round(frame / calls, 5),
        "delegate_calls_per_frame": count["DELEGATE_CALL"] / calls,
        "share_fully_connected": round(gemm / frame, 3),
        "share_other_xnnpack_ops": round((inside - gemm) / frame, 3),
        "share_outside_xnnpack_ops": round((frame - inside) / frame, 3),
        "share_delegate_calls": round(delegate / frame, 3),
        "top_ops": {
            k: round(v / frame, 3) for k, v in sorted(total.items(), key=lambda kv: -kv[1])[:8]
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", nargs="+", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = {p.name: profile(p, args.calls) for p in args.artifacts}
    for name, r in rows.items():
        print(
            f"{name}: FC {r['share_fully_connected']:.0%}, other XNNPACK "
            f"{r['share_other_xnnpack_ops']:.0%}, outside {r['share_outside_xnnpack_ops']:.0%}, "
            f"{r['delegate_calls_per_frame']:g} delegate calls per frame"
        )
    report = {
        "command": "python " + " ".join(sys.argv),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "threads": 1,
        "units": "ETDump's time units (shares are unit-free)",
        **PROVENANCE,
        "artifacts": rows,
    }
    write_json_atomic(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

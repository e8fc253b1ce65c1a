"""Robustness of the command line on mutated real files, at scale: the larger run of the
property-based suite (``tests/test_robustness.py``, engine ``tests/fuzz_cli.py``).

Exports a small student once (ONNX, LiteRT and ExecuTorch, the last run through the same
worker: an abort there would be counted as a failure, not end the run), writes a take with
``data synth``, then runs seeded cases round robin over the targets (``data info`` and
``data synth`` on a mutated CMU BVH, ``run`` on a mutated take, ``run`` / ``bench`` /
``validate`` on a mutated manifest, ``run`` / ``bench`` on mutated artifact bytes) until
``--cases`` or ``--budget-s`` seconds. Writes ``benchmarks/results/robustness.json``: the
command, the cases, the failures (must be 0, each with its argv, mutation and problems),
per-target counts and exit codes; exits 1 when any case failed.

Usage:
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/robustness.py --budget-s 540
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the engine lives with the tests

from edgesdk.data.sources import bundled_data_dir, provenance_not_mocap  # noqa: E402
from edgesdk.data.synth import parse_devices, synthesize_dir  # noqa: E402
from edgesdk.io import write_json_atomic  # noqa: E402
from tests.fuzz_cli import TARGETS, Case, Inputs, Outcome, Worker, environment, run_cases  # noqa: E402
from tests.small_models import TinyExports  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "robustness.json"
# What the results file was measured on (top-level "data" and "protocol").
PROVENANCE = provenance_not_mocap(
    "mutated copies of a bundled CMU BVH, a synthesized take, manifests and artifacts",
    "exit codes and error lines of the command line on mutated input, no accuracy",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="at most this many cases")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall time for the cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    backends = ["onnx", "tflite", "executorch"]
    parser.add_argument("--backends", nargs="+", default=backends, choices=backends)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgesdk-robustness-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("EDGESDK_CACHE", str(root / "cache"))
        exports = TinyExports(root / "exports")
        cmu = bundled_data_dir() / "cmu"
        devices = parse_devices("glasses:head,watch:left_wrist,phone:right_pocket")
        (take,) = synthesize_dir(cmu / "002_03.bvh", root / "takes", devices, progress=False)
        inputs = Inputs(
            bvh=cmu / "002_03.bvh",
            take=take,
            artifacts={b: exports[b] for b in args.backends},
            data=cmu,
        )
        setup_s = time.perf_counter() - started
        worker = Worker()
        count, last = [0], [time.perf_counter()]

        def on_case(case: Case, outcome: Outcome, problems: list[str]) -> None:
            count[0] += 1
            if problems or time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                print(
                    f"robustness: {count[0]} cases, {case.target}: {problems[:1]}", file=sys.stderr
                )

        try:
            tally = run_cases(
                inputs,
                args.targets,
                args.cases,
                args.seed,
                root / "cases",
                worker,
                budget_s=args.budget_s,
                on_case=on_case,
            )
        finally:
            worker.close()
    result = {
        "command": "OMP_NUM_THREADS={} python {}".format(
            os.environ.get("OMP_NUM_THREADS", ""), shlex.join(sys.argv)
        ),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()},
        "environment": environment(),
        **PROVENANCE,
        "seed": args.seed,
        "budget_s": args.budget_s,
        "targets": args.targets,
        "backends": args.backends,
        "cases": tally.cases,
        "failures": len(tally.failures),
        "failure_details": tally.failures[:50],
        "per_target": tally.per_target,
        "exit_codes": dict(sorted(tally.exit_codes.items())),
        "setup_s": round(setup_s, 1),
        "cases_s": round(tally.seconds, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "contract": (
            "exit 0 or 2 (validate/bench also 1: gate failed); no traceback; at most one "
            "error line, last, exactly one on exit 2; within 60 s; final output complete or "
            "absent, no temporary file left"
        ),
    }
    write_json_atomic(args.out, result)
    print(json.dumps({k: result[k] for k in ("cases", "failures", "per_target", "wall_s")}))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())

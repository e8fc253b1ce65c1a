"""Benchmark the default students on device runtimes against their teachers, and report.

Every default student (``runs/students/STUDENT-gt``, the ground-truth-only recipe of
``benchmarks/students.py``, where present) is exported to ExecuTorch, LiteRT and ONNX in
fp32 and int8 (the runtime's chosen int8 scheme, and with ``--schemes`` every int8 scheme of
``edgesdk.quantize.schemes``, each in one table per student; calibrated on the train split of
the data; an artifact of the same weights already in ``--artifacts-dir`` is reused) and
measured in its runtime: latency p50 / p90 / p99
per frame at 1 and 2 threads with the state fed back, size, peak RSS in a fresh process, and
MPJPE per device combination on held-out windows. The small teachers
(``runs/teachers/{ego4o,same,head2body,motiongrpo}-small``, where present) are measured in
eager PyTorch on the same CPU (and on CUDA when there is one) on the same windows, so every
student gets its latency ratio to its teacher from the same run. Writes
``benchmarks/results/bench.json``, checks ``benchmarks/budgets.yaml`` (exit 1 on a violation)
and writes the report (Markdown + PNG plots) into ``benchmarks/results/report/``.

    OMP_NUM_THREADS=1 python benchmarks/bench.py --data ../shared/data/mocap

A quick smoke run (one student, ONNX only, 2 windows per combination):

    OMP_NUM_THREADS=1 python benchmarks/bench.py --data ../shared/data/mocap \\
        --students runs/students/same-student-gt --backends onnx --windows 2 \\
        --results /tmp/bench.json --report /tmp/bench-report
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgesdk.bench.budgets import check, load_budgets
from edgesdk.bench.harness import BenchConfig, run_bench, write_results
from edgesdk.bench.report import report
from edgesdk.models import teacher_student_pairs
from edgesdk.targets import runnable_here

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TEACHERS = [p.teacher for p in teacher_student_pairs()]  # the small teachers, e.g. same-small


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mocap", help="mocap folder")
    parser.add_argument("--students", nargs="*", default=None, help="default: each STUDENT-gt")
    parser.add_argument("--teachers-dir", type=Path, default=Path("runs/teachers"))
    parser.add_argument("--backends", nargs="+", default=list(runnable_here()))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--windows", type=int, default=24, help="per device combination")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--schemes", action="store_true", help="every int8 scheme per runtime")
    parser.add_argument("--artifacts-dir", type=Path, default=Path("runs/bench/artifacts"))
    parser.add_argument("--budgets", type=Path, default=HERE / "budgets.yaml")
    parser.add_argument("--results", type=Path, default=RESULTS / "bench.json")
    parser.add_argument("--report", type=Path, default=RESULTS / "report")
    args = parser.parse_args()
    # Every small teacher for the full run; with --students, only those students' teachers
    # (the harness adds each student's teacher from its checkpoint).
    teachers: list[Path] = []
    students = args.students
    if students is None:
        students = [f"runs/students/{p.student}-gt" for p in teacher_student_pairs()]
        students = [s for s in students if Path(s, "config.json").is_file()]
        teachers = [args.teachers_dir / t for t in TEACHERS]
        teachers = [t for t in teachers if (t / "config.json").is_file()]
    budgets = load_budgets(args.budgets)
    cfg = BenchConfig(
        models=[*teachers, *map(Path, students)],
        backends=args.backends,
        precisions=args.precisions,
        data=args.data,
        windows=args.windows,
        calls=args.calls,
        threads=args.threads,
        artifacts_dir=args.artifacts_dir,
        schemes=args.schemes,
        command="python " + " ".join(sys.argv),
        log=lambda m: print(f"bench: {m}", file=sys.stderr, flush=True),
    )
    results = run_bench(cfg)
    violations = check(results, budgets)
    results["budgets"] = {
        "file": str(args.budgets),
        "budgets": budgets,
        "violations": [v.to_dict() for v in violations],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, results)
    written = report(args.results, args.report)
    print(f"results: {args.results}; report: {', '.join(str(p) for p in written)}")
    for v in violations:
        print(f"budget: {v}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())

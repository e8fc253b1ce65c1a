"""``edgesdk bench`` and ``edgesdk report``: the benchmark harness and its report.

``add_bench_parsers(subparsers)`` registers both commands on the ``edgesdk`` parser; their
handlers return the exit code: 0, 1 when a case FAILs (an export or a run failed, outputs
not finite) or ``bench --check`` finds a figure outside its budget, 2 on bad input
(``EdgeSDKError``, printed as one line by ``edgesdk.cli.main``). With ``--artifact FILE``
and no ``--models`` / ``--data`` nothing imports torch: latency, size and peak RSS only.

Example:
    $ edgesdk bench --models runs/students/same-student-gt --backends onnx \\
        --precisions fp32 int8 --data ../shared/data/mocap --windows 4 \\
        --json bench.json --check benchmarks/budgets.yaml --junit bench.xml
    $ edgesdk bench --artifact exports/same-student-int8.onnx --json one.json
    $ edgesdk report --results bench.json --out report/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgesdk import targets
from edgesdk.bench.harness import cases
from edgesdk.cliargs import int_range, non_negative_int, thread_count
from edgesdk.errors import EdgeSDKError

EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2


def _out_file(path: str | None, flag: str) -> None:
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise EdgeSDKError(f"{flag} {path}: the folder {Path(path).parent} does not exist")


def _flat(fig: dict[str, Any], threads: str) -> dict[str, Any]:
    """A figure's headline numbers, flat (JUnit shows them)."""
    lat = fig.get("latency_ms", {}).get(threads, {})
    acc = fig.get("accuracy", {})
    out = {
        "bytes": fig.get("bytes"),
        "p50_ms": lat.get("p50_ms"),
        "p90_ms": lat.get("p90_ms"),
        "p99_ms": lat.get("p99_ms"),
        "latency_ratio_to_teacher": fig.get("latency_ratio_to_teacher", {}).get(threads),
        "peak_rss_mb": fig.get("peak_rss_mb"),
        "mpjpe_mm": acc.get("mpjpe_mm"),
        "mpjpe_delta_mm": acc.get("mpjpe_delta_mm"),
    }
    return {k: v for k, v in out.items() if v is not None}


def junit_reports(results: dict[str, Any], violations: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """One report per model x backend x precision (all its devices): it fails on a budget
    violation, a failed export or run, or a non-finite accuracy.

    Example:
        >>> r = {"models": {"m": {"kind": "student", "int8": {"onnx": {"cpu": {"bytes": 9}}}}}}
        >>> [(x["model"], x["backend"], x["passed"], x["bytes"]) for x in junit_reports(r)]
        [('m', 'onnx', True, 9)]
    """
    threads = str((results.get("settings", {}).get("threads") or [1])[0])
    bad: dict[tuple[str, str, str], list[str]] = {}
    for v in violations:
        bad.setdefault((v.model, v.backend, v.precision), []).append(str(v))
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in cases(results):
        groups.setdefault((c["model"], c["backend"], c["precision"]), []).append(c)
    reports = []
    for (model, backend, precision), cs in groups.items():
        problems = list(bad.get((model, backend, precision), []))
        for c in cs:
            fig = c["figures"]
            if "error" in fig:
                problems.append(f"{c['device']}: {fig['error']}")
            if fig.get("accuracy", {}).get("finite") is False:
                problems.append(f"{c['device']}: non-finite outputs or MPJPE")
        reports.append(
            {
                "model": model,
                "backend": backend,
                "precision": precision,
                "passed": not problems,
                "reason": "; ".join(problems),
                "device": cs[0]["device"],
                **_flat(cs[0]["figures"], threads),
                "devices": {c["device"]: c["figures"] for c in cs},
            }
        )
    return reports


def _summary_line(report: dict[str, Any]) -> str:
    parts = [f"p50 {report['p50_ms']:.3f} ms"] if "p50_ms" in report else []
    if "bytes" in report:
        parts.append(f"{report['bytes'] / 1024:.0f} KB")
    if "mpjpe_mm" in report:
        parts.append(f"MPJPE {report['mpjpe_mm']:.1f} mm")
    if "latency_ratio_to_teacher" in report:
        parts.append(f"{report['latency_ratio_to_teacher']:.4f} x teacher")
    status = "PASS" if report["passed"] else "FAIL"
    name = f"{report['model']} {report['backend']} {report['precision']}"
    tail = f" ({report['reason']})" if report["reason"] else ""
    return f"{status} {name}: {', '.join(parts)}{tail}"


def cmd_bench(args: argparse.Namespace) -> int:
    """``edgesdk bench``: measure, write the JSON (and JUnit), check the budgets."""
    from edgesdk.bench.budgets import check, load_budgets
    from edgesdk.bench.harness import BenchConfig, run_bench, write_results
    from edgesdk.export.junit import write_junit

    _out_file(args.json, "--json")
    _out_file(args.junit, "--junit")
    if args.windows < 0:
        raise EdgeSDKError(f"--windows {args.windows}: must be >= 0 (0: every window)")
    budgets = load_budgets(args.check) if args.check else None
    argv = getattr(args, "argv", None)
    quiet = args.quiet
    cfg = BenchConfig(
        models=[Path(m) for m in args.models],
        artifacts=[Path(a) for a in args.artifact],
        backends=args.backends,
        precisions=args.precisions,
        data=args.data,
        windows=args.windows or None,
        calls=args.calls,
        warmup=args.warmup,
        threads=args.threads,
        artifacts_dir=Path(args.artifacts_dir),
        add_teachers=not args.no_teachers,
        rss=not args.no_rss,
        command=" ".join(["edgesdk", *argv]) if argv is not None else " ".join(sys.argv),
        progress=False,
        log=(lambda _: None) if quiet else (lambda m: print(f"bench: {m}", file=sys.stderr)),
    )
    results = run_bench(cfg)
    violations = check(results, budgets) if budgets is not None else []
    if budgets is not None:
        results["budgets"] = {
            "file": str(args.check),
            "budgets": budgets,
            "violations": [v.to_dict() for v in violations],
        }
    write_results(args.json, results)
    reports = junit_reports(results, violations)
    if args.junit:
        write_junit(args.junit, "edgesdk.bench", reports)
    for r in reports:
        print(_summary_line(r))
    for v in violations:
        print(f"budget: {v}", file=sys.stderr)
    failed = violations or any(not r["passed"] for r in reports)
    return EXIT_VIOLATION if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    """``edgesdk report``: Markdown and plots from a results JSON."""
    from edgesdk.bench.report import report

    written = report(args.results, args.out)
    print(json.dumps({"written": [str(p) for p in written]}))
    return 0


def add_bench_parsers(subparsers: Any) -> None:
    """Register ``bench`` and ``report`` on the ``edgesdk`` command's subparsers."""
    b = subparsers.add_parser("bench", help="latency, size, memory and accuracy on runtimes")
    b.add_argument("--models", nargs="+", default=[], metavar="CKPT", help="checkpoint folders")
    b.add_argument(
        "--artifact",
        action="append",
        default=[],
        metavar="FILE",
        help="an exported artifact (repeatable); alone: latency, size and RSS, no torch",
    )
    b.add_argument(
        "--backends",
        nargs="+",
        default=list(targets.runnable_here()),
        choices=targets.names(),
        help="default: every backend that predicts on this OS",
    )
    b.add_argument(
        "--precisions", nargs="+", default=["fp32", "int8"], choices=targets.precisions()
    )
    b.add_argument("--json", required=True, metavar="OUT", help="results file")
    b.add_argument("--check", default=None, metavar="BUDGETS", help="budgets YAML; 1 if over")
    b.add_argument("--junit", default=None, metavar="FILE", help="write JUnit XML")
    b.add_argument("--data", default=None, metavar="DIR", help="mocap folder (test split)")
    b.add_argument(
        "--windows",
        type=non_negative_int,
        default=8,
        help="held-out windows per device combination (0: all)",
    )
    b.add_argument("--calls", type=int_range(100), default=100, help="timed calls (>= 100)")
    b.add_argument("--warmup", type=non_negative_int, default=10, help="untimed calls first")
    b.add_argument("--threads", type=thread_count, nargs="+", default=[1, 2])
    b.add_argument(
        "--artifacts-dir",
        default="runs/bench/artifacts",
        metavar="DIR",
        help="where students are exported (same weights: reused)",
    )
    b.add_argument("--no-teachers", action="store_true", help="skip the students' teachers")
    b.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocess")
    b.add_argument("--quiet", action="store_true", help="no progress lines")
    b.set_defaults(func=cmd_bench)

    r = subparsers.add_parser("report", help="Markdown and plots from bench results")
    r.add_argument("--results", required=True, metavar="JSON", help="a bench results file")
    r.add_argument("--out", required=True, metavar="DIR", help="output folder")
    r.set_defaults(func=cmd_report)

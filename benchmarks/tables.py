"""README's tables, generated from the results files (``make tables``).

Each table sits in README.md between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``;
this script rewrites what is between the markers from ``benchmarks/results/*.json`` and
leaves the rest of the README alone. ``--check`` rewrites nothing and exits 1 when README
and the results disagree (a test runs it).

    python benchmarks/tables.py           # rewrite README.md's tables
    python benchmarks/tables.py --check   # exit 1 when a table is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgesdk.bench.report import artifacts_table
from edgesdk.io import write_text_atomic
from edgesdk.models import teacher_student_pairs

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the table modules beside this script
import tables_devices
import tables_peers
import tables_understanding

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
# What each teacher reads, and the MLP baseline on exactly those inputs.
TEACHERS = {
    "ego4o-small": ("Ego4o", "1-3 of 5 IMU slots; text: none"),
    "same-small": ("SAME", "head 6DoF (SLAM) + head IMU + 0-2 IMUs"),
    "motiongrpo-small": ("MotionGRPO", "head 6DoF trajectory (SLAM)"),
    "head2body-small": ("Head2Body", "glasses' IMU at 240 Hz"),
}
STUDENTS = tuple(p.student for p in teacher_student_pairs())  # each family's default student


def _load(name: str, results: Path) -> dict[str, Any]:
    path = results / name
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _mm(value: float | None, ci: list[float] | None = None, sign: bool = False) -> str:
    if value is None:
        return "-"
    spec = "+.1f" if sign else ".1f"
    out = format(value, spec)
    if ci:
        out += f" [{format(ci[0], spec)}, {format(ci[1], spec)}]"
    return out


def _diff(d: dict[str, Any] | None) -> str:
    return _mm(d["difference_mm"], d["ci95_mm"], sign=True) if d else "-"


def _seeds(entry: dict[str, Any]) -> str:
    spread = entry.get("seeds", {}).get("realistic")
    if not spread:
        return "1 seed"
    return f"{spread['mean']:.1f} ± {spread['std']:.1f} (n={spread['seeds']})"


def _data_line(report: dict[str, Any]) -> str:
    data = report.get("data", {})
    if "sources" not in data:
        return "Data: not recorded (previous data set)."
    sources = ", ".join(
        f"{name} {s['clips']}" for name, s in sorted(data["sources"].items(), key=lambda x: x[0])
    )
    formats = ", ".join(f"{n} {k.upper()}" for k, n in data.get("formats", {}).items())
    split = data.get("split", {})
    return (
        f"Data: {data['clips']} clips, {data['minutes']:.1f} min ({formats}; {sources}); "
        f"held out: {split.get('test', '-')} files, {data.get('test_frames', '-')} frames."
    )


def _stale(entry: dict[str, Any] | None) -> str:
    """The cell of a model without figures on this data set: its previous figure, if any."""
    if not entry or "overall" not in entry:
        return "not measured"
    return f"stale: {entry['overall']['mpjpe_mm']:.1f} (previous set, clean protocol)"


def _protocol(p: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in p.items() if k != "note")


def teachers_table(results: Path) -> str:
    """The headline: each teacher under the realistic protocol, with clean, oracle text,
    seeds, and the MLP on its inputs."""
    report = _load("teachers.json", results)
    models = report.get("models", {})
    protocol = (
        f"Protocol: {_protocol(report['protocol'])} (clean: "
        f"{_protocol(report.get('clean_protocol', {}))})."
        if report.get("protocol")
        else "Protocol: not recorded (figures of the previous data set, clean protocol)."
    )
    lines = [
        f"{protocol} {_data_line(report)}",
        "",
        "| teacher (`-small`) | reads | realistic MPJPE [95 % CI] | 3 seeds: mean ± sd | "
        "clean MPJPE | cost of realism [95 % CI] | oracle text (upper bound) | MLP, same inputs "
        "| teacher - MLP [95 % CI] | mean pose |",
        "|" + " --- |" * 10,
    ]
    for name, (label, reads) in TEACHERS.items():
        e = models.get(name)
        if not e or "protocol" not in e:
            lines.append(f"| {label} | {reads} | {_stale(e)} |" + " |" * 7)
            continue
        vs = e.get("vs_baselines", {})
        oracle = e.get("text_oracle_label", {}).get("overall", {}).get("mpjpe_mm")
        combos = len(e["per_combination_mpjpe_mm"])
        lines.append(
            f"| {label} | {reads} ({combos} combos) | "
            f"**{_mm(e['overall']['mpjpe_mm'], e['ci95_mpjpe_mm'])}** | {_seeds(e)} | "
            f"{_mm(e['clean']['overall']['mpjpe_mm'], e['clean']['ci95_mpjpe_mm'])} | "
            f"{_diff(e.get('realism_cost_mpjpe_mm'))} | {_mm(oracle)} | "
            f"{_mm(vs.get('mlp_mpjpe_mm'))} ({_baseline(vs, models)}) | "
            f"{_diff(vs.get('teacher_minus_mlp_mpjpe_mm'))}{_over_seeds(vs)} | "
            f"{_mm(e['mean_pose']['overall']['mpjpe_mm'])} |"
        )
    return "\n".join(lines)


def _baseline(vs: dict[str, Any], models: dict[str, Any]) -> str:
    """The MLP's name, and its seeds' mean and spread when it has several."""
    name = vs.get("baseline", "-")
    seeds = models.get(name, {}).get("seeds")
    return f"{name}; seeds {_seeds(models[name])}" if seeds else name


def _over_seeds(vs: dict[str, Any]) -> str:
    """Teacher minus MLP per training seed (seed i against seed i): mean ± sd."""
    o = vs.get("over_seeds")
    return f"; per seed {o['mean']:+.1f} ± {o['std']:.1f} (n={o['seeds']})" if o else ""


def _paper_ratios(e: dict[str, Any], family: str, teachers: dict[str, Any]) -> str:
    cost, mine = teachers.get("cost", {}), e.get("cost", {}).get("gflops_per_s")
    paper = cost.get(family, {}).get("gflops_per_s")
    small = cost.get(f"{family}-small", {}).get("gflops_per_s")
    if not (mine and paper and small):
        return "-"
    return f"{mine:.5f} (1/{paper / mine:.0f}, 1/{small / mine:.0f})"


def students_table(results: Path) -> str:
    """Each default student: ground truth only (the default recipe) against distillation
    from a privileged teacher, realistic protocol, with clean and seeds."""
    report = _load("students.json", results)
    teachers = _load("teachers.json", results)
    students = report.get("students", {})
    lines = [
        "| student | teacher, realistic | ground truth only [95 % CI] | 3 seeds: mean ± sd | "
        "clean | cost of realism [95 % CI] | privileged-distilled [95 % CI] | distilled - "
        "ground truth [95 % CI] | params | GFLOPs per 1 s (/ paper, / small teacher) | "
        "`step` ms |",
        "|" + " --- |" * 11,
    ]
    others = sorted(  # measured variants (the -tiny students) after the defaults
        k
        for k, v in students.items()
        if k not in STUDENTS and "protocol" in v.get("ground_truth_only", {})
    )
    for name in [*STUDENTS, *others]:
        e = students.get(name, {})
        gt, dist = e.get("ground_truth_only"), e.get("privileged_distilled")
        if not gt or "protocol" not in gt:
            lines.append(f"| {name} | - | {_stale(gt)} |" + " |" * 8)
            continue
        cost = e.get("cost", {})
        step = cost.get("step_cpu_ms_per_frame")
        params = cost.get("params")
        dist_cell = _mm(dist["overall"]["mpjpe_mm"], dist["ci95_mpjpe_mm"]) if dist else "-"
        lines.append(
            f"| {name} | {_mm(e.get('teacher_mpjpe_mm'))} | "
            f"**{_mm(gt['overall']['mpjpe_mm'], gt['ci95_mpjpe_mm'])}** | {_seeds(gt)} | "
            f"{_mm(gt['clean']['overall']['mpjpe_mm'])} | "
            f"{_diff(gt.get('realism_cost_mpjpe_mm'))} | {dist_cell} | "
            f"{_diff(e.get('distillation_effect_mpjpe_mm'))} | "
            f"{f'{params / 1e6:.3f} M' if params else '-'} | "
            f"{_paper_ratios(e, name.split('-')[0], teachers)} | "
            f"{f'{step:.2f}' if step else '-'} |"
        )
    stale = sorted(
        k for k, v in students.items() if "protocol" not in v.get("ground_truth_only", {})
    )
    if stale:
        lines += [
            "",
            f"Not re-measured on this data set (kept in students.json, marked stale): "
            f"{', '.join(stale)}.",
        ]
    return "\n".join(lines)


def numerics_table(results: Path) -> str:
    """Artifact minus eager MPJPE and size, per model x backend x precision."""
    sys.path.insert(0, str(HERE))
    from exports import table  # the table of benchmarks/exports.py --table

    path = results / "numerics.json"
    report = _load("numerics.json", results)
    head = f"Protocol: {_protocol(report['protocol'])}. " if "protocol" in report else ""
    return head + _data_line(report) + "\n\n" + (table(path) if path.is_file() else "")


def bench_table(results: Path) -> str:
    """bench.json's artifacts: latency, size, RSS and MPJPE in each runtime."""
    report = _load("bench.json", results)
    if not report:
        return "No bench.json yet."
    head = f"Protocol: {_protocol(report['protocol'])}. " if "protocol" in report else ""
    return head + _data_line(report) + "\n\n" + artifacts_table(report)


def quantization_table(results: Path) -> str:
    """bench.json's quantization summary: per student and runtime, fp32 against the chosen
    int8 scheme (size, p50 at each thread count from the paired timing, MPJPE delta) and the
    fastest scheme within the 3 mm gate; every scheme's row is in the report."""
    report = _load("bench.json", results)
    entries = {k: e for k, e in report.get("models", {}).items() if e.get("quantization")}
    if not entries:
        return "No per-scheme figures in bench.json yet (`bench.py --schemes`)."
    threads = [str(t) for t in report.get("settings", {}).get("threads", [1])]
    ratio = " | ".join(f"int8 / fp32 p50 ({n}t)" for n in threads)
    lines = [
        f"| student | runtime | chosen int8 scheme | fp32 KB | int8 KB | {ratio} | "
        "MPJPE delta mm | fastest within 3 mm | int8 pays |",
        "|" + " --- |" * (7 + len(threads)),
    ]
    for name, entry in entries.items():
        for backend, t in entry["quantization"].items():
            fp32 = t.get("fp32") or {}
            q = t["schemes"].get(t.get("chosen") or "", {})
            kb = [f"{r['bytes'] / 1024:.0f}" if r.get("bytes") else "-" for r in (fp32, q)]
            delta = q.get("mpjpe_delta_mm")
            ratios = " | ".join(
                f"{r:.2f}" if (r := t["int8_vs_fp32_p50"].get(n)) is not None else "-"
                for n in threads
            )
            lines.append(
                f"| {name} | {backend} | {t.get('chosen') or '-'} | {kb[0]} | {kb[1]} | "
                f"{ratios} | {'-' if delta is None else format(delta, '+.2f')} | "
                f"{t.get('fastest_within_gate') or 'none'} | "
                f"{'yes' if t.get('int8_pays') else 'no'} |"
            )
    return _data_line(report) + "\n\n" + "\n".join(lines)


def runtime_table(results: Path) -> str:
    """runtime.json: real-time factor, per-frame overhead, memory, replay vs offline."""
    r = _load("runtime.json", results)
    if not r:
        return "No runtime.json yet."
    long = r["int8_long"]
    trained = r.get("accuracy_trained", {})
    lines = [
        "| replay | artifact | real-time factor | model call us (mean) | overhead per frame us "
        "(median / p99) | RSS MB after warm-up | replay / offline MPJPE (trained) |",
        "|" + " --- |" * 7,
        f"| {long['simulated_s'] / 3600:g} h | {long['artifact']} | "
        f"{long['real_time_factor']:.0f}x | {long['model_call_mean_us']:.0f} | "
        f"{long['overhead_per_frame_us']['median']:.0f} / "
        f"{long['overhead_per_frame_us']['p99']:.0f} | "
        f"{long['rss_mb']['after_warmup_min']:.0f}-{long['rss_mb']['after_warmup_max']:.0f} | "
        f"{trained.get(long['artifact'], {}).get('ratio', '-')} |",
    ]
    for name, m in r.get("one_minute", {}).items():
        lines.append(
            f"| 1 min | {name} | {m['real_time_factor']:.0f}x | {m['model_call_mean_us']:.0f} "
            f"| {m['overhead_per_frame_us']['median']:.0f} / "
            f"{m['overhead_per_frame_us']['p99']:.0f} | - | "
            f"{trained.get(name, {}).get('ratio', '-')} |"
        )
    checkpoint = trained.get("checkpoint", "-")
    machine = r.get("machine", {})
    lines += [
        "",
        f"Trained checkpoint: `{checkpoint}`; Python speed here: `sum(range(1000))` in "
        f"{machine.get('sum_range_1000_us', '-')} us. {_data_line(r)}",
    ]
    return "\n".join(lines)


TABLES: dict[str, Callable[[Path], str]] = {
    "real_devices": tables_devices.real_devices_table,
    "default_model": tables_devices.default_model_table,
    "attitude": tables_devices.attitude_table,
    "calibration": tables_devices.calibration_table,
    "demo": tables_devices.demo_table,
    "peers": tables_peers.peers_table,
    "peers_comparisons": tables_peers.comparisons_table,
    "understanding_scores": tables_understanding.scores_table,
    "understanding_pose": tables_understanding.pose_line,
    "understanding_devices": tables_understanding.devices_table,
    "understanding_exports": tables_understanding.exports_table,
    "teachers": teachers_table,
    "students": students_table,
    "numerics": numerics_table,
    "bench": bench_table,
    "quantization": quantization_table,
    "runtime": runtime_table,
}


def render(readme: str, results: Path = RESULTS) -> str:
    """``readme`` with every table block rewritten from the results files."""
    for name, make in TABLES.items():
        start, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
        pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.DOTALL)
        found = list(pattern.finditer(readme))
        if len(found) != 1:
            raise SystemExit(f"README.md: expected one {start} ... {end} block")
        block = f"{start}\n{make(results)}\n{end}"
        readme = readme[: found[0].start()] + block + readme[found[0].end() :]
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README is stale")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    text = args.readme.read_text()
    new = render(text, args.results)
    if args.check:
        if new != text:
            print(f"{args.readme}: tables differ from {args.results}; run `make tables`")
            return 1
        print(f"{args.readme}: tables match {args.results}")
        return 0
    if new != text:
        write_text_atomic(args.readme, new)
    print(f"{args.readme}: tables {'rewritten' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

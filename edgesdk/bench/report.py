"""The benchmark report: Markdown tables and PNG plots from a results JSON.

Plots: latency vs MPJPE with its Pareto front (students' artifacts and teachers in eager
PyTorch, latency p50 at the first thread count of the run, log scale), MPJPE per device
combination (each student's artifacts beside its teacher), and teacher vs student GFLOPs per
1 s of motion (log scale). Every file is written atomically.

Example:
    $ edgesdk report --results benchmarks/results/bench.json --out benchmarks/results/report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgesdk.bench.harness import EAGER, cases, teacher_entry
from edgesdk.errors import EdgeSDKError
from edgesdk.io import atomic_path, write_text_atomic

FILES = ("report.md", "pareto.png", "accuracy_per_combination.png", "flops.png")


def _load(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise EdgeSDKError(f"{path}: no such results file")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EdgeSDKError(f"{path}: corrupt JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or "models" not in data:
        raise EdgeSDKError(f"{path}: not benchmark results (no 'models')")
    return data


def _threads(results: dict[str, Any]) -> str:
    return str((results.get("settings", {}).get("threads") or [1])[0])


def _lat(fig: dict[str, Any], threads: str, key: str = "p50_ms") -> float | None:
    lat = fig.get("latency_ms", {}).get(threads)
    return None if lat is None else float(lat[key])


def _fmt(v: Any, spec: str = ".2f") -> str:
    return "" if v is None else format(v, spec)


def points(results: dict[str, Any]) -> list[dict[str, Any]]:
    """(label, latency p50 ms, MPJPE mm, kind) of every figure with both measured.

    Example:
        >>> fig = {"latency_ms": {"1": {"p50_ms": 0.2}}, "accuracy": {"mpjpe_mm": 80.0}}
        >>> r = {"settings": {"threads": [1]},
        ...      "models": {"s": {"kind": "student", "int8": {"onnx": {"cpu": fig}}}}}
        >>> [(p["label"], p["latency_ms"], p["mpjpe_mm"]) for p in points(r)]
        [('s onnx int8', 0.2, 80.0)]
    """
    threads = _threads(results)
    out = []
    for c in cases(results):
        fig = c["figures"]
        lat, acc = _lat(fig, threads), fig.get("accuracy", {}).get("mpjpe_mm")
        if acc is None and c["kind"] == "teacher":  # on CUDA: the same model's CPU accuracy
            siblings = results["models"][c["model"]][c["precision"]][c["backend"]].values()
            acc = next((f["accuracy"]["mpjpe_mm"] for f in siblings if "accuracy" in f), None)
        if lat is None or acc is None:
            continue
        label = f"{c['model']} {c['backend']} {c['precision']}"
        if c["kind"] == "teacher":
            label = f"{c['model']} ({c['device'].split(' ')[0]})"
        out.append({"label": label, "latency_ms": lat, "mpjpe_mm": acc, "kind": c["kind"]})
    return out


def pareto_front(pts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats on both latency and MPJPE, by latency."""
    front: list[dict[str, Any]] = []
    for p in sorted(pts, key=lambda p: (p["latency_ms"], p["mpjpe_mm"])):
        if not front or p["mpjpe_mm"] < front[-1]["mpjpe_mm"]:
            front.append(p)
    return front


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return path


def _plot_pareto(results: dict[str, Any], path: Path, plt: Any) -> Path:
    pts = points(results)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for kind, marker, color in (("teacher", "s", "tab:red"), ("student", "o", "tab:blue")):
        sel = [p for p in pts if (p["kind"] == "teacher") == (kind == "teacher")]
        ax.scatter(
            [p["latency_ms"] for p in sel],
            [p["mpjpe_mm"] for p in sel],
            marker=marker,
            color=color,
            label=f"{kind}s" if kind == "teacher" else "student artifacts",
        )
        for p in sel:
            ax.annotate(
                p["label"],
                (p["latency_ms"], p["mpjpe_mm"]),
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )
    front = pareto_front(pts)
    if front:
        ax.step(
            [p["latency_ms"] for p in front],
            [p["mpjpe_mm"] for p in front],
            where="post",
            color="gray",
            linestyle="--",
            label="Pareto front",
        )
    if pts:
        ax.set_xscale("log")
    ax.set_xlabel(f"latency per call, p50, {_threads(results)} thread(s) [ms] (log)")
    ax.set_ylabel("MPJPE, root-aligned [mm] (mean over device combinations)")
    ax.set_title("Latency vs accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def _students(results: dict[str, Any]) -> list[str]:
    return [k for k, e in results["models"].items() if e.get("kind") != "teacher"]


def _teacher_acc(results: dict[str, Any], student: str) -> dict[str, Any]:
    t = teacher_entry(results["models"], results["models"][student].get("teacher"))
    for fig in (t or {}).get("fp32", {}).get(EAGER, {}).values():
        if "accuracy" in fig:
            return fig["accuracy"]  # type: ignore[no-any-return]
    return {}


def _plot_combinations(results: dict[str, Any], path: Path, plt: Any) -> Path:
    students = _students(results) or list(results["models"]) or [""]
    fig, axes = plt.subplots(len(students), 1, figsize=(10, 3.2 * len(students)), squeeze=False)
    for ax, key in zip(axes[:, 0], students, strict=True):
        if not key:
            ax.set_title("no models in the results")
            continue
        combos: list[str] = []
        for c in (c for c in cases(results) if c["model"] == key):
            per = c["figures"].get("accuracy", {}).get("per_combination", {})
            combos = combos or list(per)
            if per:
                ax.plot(
                    range(len(combos)),
                    [per.get(n, {}).get("mpjpe_mm") for n in combos],
                    marker="o",
                    ms=3,
                    label=f"{c['backend']} {c['precision']}",
                )
        teacher = _teacher_acc(results, key).get("per_combination", {})
        if combos and teacher:
            ys = [teacher[n]["mpjpe_mm"] if n in teacher else None for n in combos]
            ax.plot(
                range(len(combos)),
                [float("nan") if y is None else y for y in ys],
                "k--",
                marker="s",
                ms=3,
                label=f"teacher {results['models'][key].get('teacher')}",
            )
        ax.set_xticks(range(len(combos)), combos, rotation=60, ha="right", fontsize=6)
        ax.set_ylabel("MPJPE [mm]")
        ax.set_title(key, fontsize=9)
        ax.grid(True, alpha=0.3)
        if combos:
            ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def _cost_pairs(results: dict[str, Any]) -> list[tuple[str, float, str, float]]:
    """(student, its GFLOPs/s, teacher, the teacher's GFLOPs/s) of every student with both."""
    out = []
    for key in _students(results):
        s = results["models"][key]
        t = teacher_entry(results["models"], s.get("teacher"))
        if "cost" in s and t and "cost" in t:
            out.append((key, s["cost"]["gflops_per_s"], t["model"], t["cost"]["gflops_per_s"]))
    return out


def _plot_flops(results: dict[str, Any], path: Path, plt: Any) -> Path:
    pairs = _cost_pairs(results)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(pairs) + 2), 4.5))
    xs = range(len(pairs))
    ax.bar([x - 0.2 for x in xs], [p[3] for p in pairs], 0.4, label="teacher", color="tab:red")
    ax.bar([x + 0.2 for x in xs], [p[1] for p in pairs], 0.4, label="student", color="tab:blue")
    ax.set_xticks(list(xs), [f"{p[0]}\nvs {p[2]}" for p in pairs], fontsize=7)
    if pairs:
        ax.set_yscale("log")
        values = [v for p in pairs for v in (p[1], p[3])]
        ax.set_ylim(min(values) / 4, max(values) * 4)
        for x, p in zip(xs, pairs, strict=True):
            for dx, v in ((-0.2, p[3]), (0.2, p[1])):
                ax.annotate(f"{v:.3g}", (x + dx, v), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("GFLOPs per 1 s of motion (log)")
    ax.set_title("Compute: teacher vs student (2 FLOPs per multiply-add)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def artifacts_table(results: dict[str, Any]) -> str:
    """One row per measured model x backend x precision: size, latency, RSS, MPJPE."""
    n = _threads(results)
    all_threads = [str(t) for t in results.get("settings", {}).get("threads", [1])]
    other = next((t for t in all_threads if t != n), None)
    lines = [
        f"| model | backend | precision | KB | p50 / p90 / p99 ms ({n}t) | "
        f"p50 ms ({other or '-'}t) | ratio to teacher ({n}t) | peak RSS MB | MPJPE mm | "
        "delta mm | note |",
        "|" + " --- |" * 11,
    ]
    for c in cases(results):
        f = c["figures"]
        lat = [_fmt(_lat(f, n, k), ".3f") for k in ("p50_ms", "p90_ms", "p99_ms")]
        acc = f.get("accuracy", {})
        ratio = f.get("latency_ratio_to_teacher", {}).get(n)
        kb = f["bytes"] / 1024 if "bytes" in f else None
        lines.append(
            f"| {c['model']} | {c['backend']} | {c['precision']} | {_fmt(kb, '.0f')} | "
            f"{' / '.join(lat)} | {_fmt(_lat(f, other) if other else None, '.3f')} | "
            f"{_fmt(ratio, '.4f')} | {_fmt(f.get('peak_rss_mb'), '.0f')} | "
            f"{_fmt(acc.get('mpjpe_mm'), '.1f')} | {_fmt(acc.get('mpjpe_delta_mm'), '+.2f')} | "
            f"{f.get('error', '') or ('on ' + c['device'] if c['kind'] == 'teacher' else '')} |"
        )
    return "\n".join(lines)


def quantization_tables(results: dict[str, Any]) -> str:
    """Per student: runtime x scheme (fp32 first) -> size, p50 / p99 per frame at each thread
    count (and the p50 of the paired timing, fp32 and the schemes in turns), MPJPE delta,
    int8 / fp32 p50; the chosen scheme marked, and per runtime whether int8 pays
    (``edgesdk.bench.quant``)."""
    threads = [str(t) for t in results.get("settings", {}).get("threads", [1])]
    lines: list[str] = []
    for key, entry in results.get("models", {}).items():
        table = entry.get("quantization")
        if not table:
            continue
        lat = " | ".join(f"p50 / p99 (paired p50) ms ({n}t)" for n in threads)
        ratio = " | ".join(f"int8/fp32 ({n}t)" for n in threads)
        lines += [
            f"### {key}",
            "",
            f"| runtime | scheme | KB | {lat} | MPJPE delta mm | {ratio} | note |",
            "|" + " --- |" * (5 + 2 * len(threads)),
        ]
        for backend, t in table.items():
            rows = [("fp32", t.get("fp32") or {}), *t["schemes"].items()]
            for name, r in rows:
                kb = r["bytes"] / 1024 if r.get("bytes") else None
                cells = [
                    f"{_fmt(r.get('p50_ms', {}).get(n), '.3f')} / "
                    f"{_fmt(r.get('p99_ms', {}).get(n), '.3f')} "
                    f"({_fmt(r.get('paired_p50_ms', {}).get(n), '.3f') or '-'})"
                    for n in threads
                ]
                ratios = [_fmt(r.get("latency_ratio_to_fp32", {}).get(n), ".2f") for n in threads]
                notes = []
                if name == t.get("chosen"):
                    notes.append("chosen")
                if name == t.get("fastest_within_gate"):
                    notes.append("fastest within 3 mm")
                if name != "fp32" and not r.get("within_gate"):
                    notes.append("misses the 3 mm gate")
                if name != "fp32" and r.get("claims_speed") is False:
                    notes.append("size only")
                if r.get("error"):
                    notes.append(str(r["error"])[:80])
                delta = "" if name == "fp32" else _fmt(r.get("mpjpe_delta_mm"), "+.2f")
                lines.append(
                    f"| {backend} | {name} | {_fmt(kb, '.0f')} | {' | '.join(cells)} | "
                    f"{delta} | {' | '.join(ratios)} | {', '.join(notes)} |"
                )
        pays = [f"{b}: {'yes' if t.get('int8_pays') else 'no'}" for b, t in table.items()]
        lines += ["", f"int8 (chosen scheme) at least as fast as fp32: {'; '.join(pays)}.", ""]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The report's Markdown: settings, artifacts, teachers, compute, per-combination MPJPE."""
    lines = [
        "# Benchmark: students on device runtimes vs their teachers",
        "",
        f"Command: `{results.get('command', '')}`  ",
        f"Machine: {results.get('machine', {}).get('cpu', '')}; created "
        f"{results.get('created', '')}; settings: `{json.dumps(results.get('settings', {}))}`",
        "",
        "Latency is per call (a student: one frame with its state fed back; a teacher: one "
        "window); MPJPE is root-aligned, mean over each model's device combinations.",
        "",
        "![Pareto](pareto.png)",
        "",
    ]
    lines += artifacts_table(results).splitlines()
    lines += [
        "",
        "![Compute](flops.png)",
        "",
        "| student | GFLOPs/s | teacher | GFLOPs/s | ratio |",
    ]
    lines.append("| --- | --- | --- | --- | --- |")
    for s, sf, t, tf in _cost_pairs(results):
        lines.append(f"| {s} | {sf:.4f} | {t} | {tf:.4f} | {sf / tf:.3f} |")
    lines += ["", "![Per combination](accuracy_per_combination.png)", ""]
    quant = quantization_tables(results)
    if quant:
        lines += ["## Quantization: every int8 scheme per runtime", "", *quant.splitlines()]
    violations = results.get("budgets", {}).get("violations")
    if violations is not None:
        lines += ["## Budgets", "", f"{len(violations)} violation(s).", ""]
        lines += [f"- {v['message']}" for v in violations]
    return "\n".join(lines) + "\n"


def report(results_json: Path | str, out_dir: Path | str) -> list[Path]:
    """Write ``report.md`` and the three PNG plots into ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = _load(results_json)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_text_atomic(out / FILES[0], markdown(results)),
        _plot_pareto(results, out / FILES[1], plt),
        _plot_combinations(results, out / FILES[2], plt),
        _plot_flops(results, out / FILES[3], plt),
    ]

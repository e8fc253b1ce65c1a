"""README tables of ``understanding.json`` (``benchmarks/understanding.py``): held-out scores
of the teacher, the students with an activity head and the baselines; the real recordings'
labels against what a streamed student reports; the cost of the head. No torch here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SCORES = (
    "activity_accuracy",
    "balanced_accuracy",
    "content_accuracy",
    "retrieval_top1",
)


def _load(results: Path) -> dict[str, Any]:
    return dict(json.loads((results / "understanding.json").read_text()))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.0f} %"


def scores_table(results: Path = RESULTS) -> str:
    """One row per method and device setup: the held-out window scores."""
    d = _load(results)
    rows = [
        "| setup | method | activity (15 classes) | balanced | Bandai-Namco content | "
        "description retrieval top-1 | windows |",
        "|" + " --- |" * 7,
    ]
    methods: list[tuple[str, str, dict[str, Any]]] = []
    for setup, s in d.get("teacher", {}).get("setups", {}).items():
        methods += [(setup, r["method"], r) for r in s["rows"]]
    for e in d.get("students", {}).get("students", {}).values():
        for setup, r in e["setups"].items():
            methods.append((setup, f"{e['model']} + activity head (streamed)", r))
    for setup, method, r in sorted(methods, key=lambda m: m[0]):
        rows.append(
            f"| {setup} | {method} | "
            + " | ".join(_pct(r.get(k)) for k in SCORES)
            + f" | {r['windows']} |"
        )
    commands = [d[s]["command"] for s in ("teacher", "students") if s in d]
    if "teacher" not in d:
        rows += ["", "The teacher and the baselines are not measured yet (no `teacher` section)."]
    rows += ["", "Commands: " + "; ".join(f"`{c}`" for c in commands) + "."]
    return "\n".join(rows)


def pose_line(results: Path = RESULTS) -> str:
    """What the activity head costs the pose, and text fed back in closed loop."""
    d = _load(results)
    lines = []
    for e in d.get("students", {}).get("students", {}).values():
        p = e["pose"]
        w, wo = p["with_head"], p.get("without_head")
        text = f"{e['model']}: pose MPJPE with the head {w['overall']['mpjpe_mm']:.1f} mm"
        if wo:
            diff = p["head_minus_without_mm"]
            text += (
                f", without {wo['overall']['mpjpe_mm']:.1f} (head - without "
                f"{diff['difference_mm']:+.1f} [{diff['ci95_mm'][0]:+.1f}, "
                f"{diff['ci95_mm'][1]:+.1f}])"
            )
        loop = p.get("closed_loop")
        if loop:
            diff = loop["minus_no_text_mm"]
            text += (
                f"; its own description fed back as text {loop['overall']['mpjpe_mm']:.1f} "
                f"({diff['difference_mm']:+.1f} [{diff['ci95_mm'][0]:+.1f}, "
                f"{diff['ci95_mm'][1]:+.1f}] against no text)"
            )
        if w.get("true_description_mpjpe_mm") is not None:
            text += f"; the true description (upper bound) {w['true_description_mpjpe_mm']:.1f}"
        lines.append(text + ".")
    return "\n".join(lines) or "Students: not measured yet."


def devices_table(results: Path = RESULTS) -> str:
    """Per real label, the share of frames whose reported activity is the mapped class."""
    d = _load(results).get("devices")
    if not d:
        return "Real recordings: not measured yet (no `devices` section)."
    labels = sorted({k for s in d["summary"].values() for k in s["accuracy_of_mapped_labels"]})
    rows = [
        "| devices | " + " | ".join(labels) + " | TURNING segments with a turn | turn delay (s) |",
        "|" + " --- |" * (len(labels) + 3),
    ]
    for combo, s in d["summary"].items():
        acc = s["accuracy_of_mapped_labels"]
        delay = s["turn_delay_s_median"]
        rows.append(
            f"| {combo} | "
            + " | ".join(_pct(acc.get(k)) for k in labels)
            + f" | {_pct(s['turning_segments_with_a_turn'])} | "
            + ("-" if delay is None else f"{delay:.1f}")
            + " |"
        )
    unmapped = [k for k, v in d["label_map"].items() if v is None]
    rows += [
        "",
        f"Artifact: `{d['artifact']}`. Labels without a mocap class (not scored): "
        f"{', '.join(unmapped) or 'none'}. Command: `{d['command']}`.",
    ]
    return "\n".join(rows)


def exports_table(results: Path = RESULTS) -> str:
    """The student with the head in each runtime: size, validation and the added cost."""
    d = _load(results).get("exports")
    if not d:
        return "Exports: not measured yet (no `exports` section)."
    rows = [
        "| artifact | KB | passed | MPJPE delta (mm) | class agreement with float |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, a in d["artifacts"].items():
        if "error" in a:
            rows.append(f"| {name} | - | no: {a['error']} | - | - |")
            continue
        size = "-" if a.get("bytes") is None else f"{a['bytes'] / 1024:.0f}"
        delta = a.get("mpjpe_delta_mm")
        passed = "yes" if a.get("passed") else "no"
        if a.get("ran") is False:
            passed += " (spec check only: prediction needs macOS)"
        rows.append(
            f"| {name} | {size} | {passed} | "
            f"{'-' if delta is None else f'{delta:+.2f}'} | "
            f"{_pct(a.get('activity_agreement'))} |"
        )
    c = d["cost"]
    added = [
        f"{b} int8 {c[f'{b}_int8_added_p50_ms'] * 1000:+.0f} us p50"
        for b in ("tflite", "onnx")
        if f"{b}_int8_added_p50_ms" in c
    ]
    rows += [
        "",
        f"Added by the head per frame: {c['added_flops_per_frame'] / 1e3:.1f} kFLOPs "
        f"({', '.join(added)}). Command: `{d['command']}`.",
    ]
    return "\n".join(rows)

"""README tables of the real-device results, made from the results files (never pasted):
``real_devices.json``, ``attitude.json``, ``calibration.json`` and ``default_model.json``.

Each function returns the Markdown of one table; ``benchmarks/tables.py`` puts them between
their markers in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str, results: Path) -> dict[str, Any]:
    return dict(json.loads((results / name).read_text()))


def real_devices_table(results: Path = RESULTS) -> str:
    d = _load("real_devices.json", results)
    aims = d["aims"]
    head = (
        "| devices | used (min, after 3 s) | knee flexion seated / walking (deg) | hip flexion "
        "seated / walking (deg) | seated - walking knee (aim >= "
        f"{aims['seated_minus_walking_knee_deg']:g}) | legs alternate: L/R thigh pitch corr "
        f"(aim <= {aims['legs_alternate_max']:g}) | step rate model / phone | turn (deg) | "
        "executions meeting: used / sitting / alternate / step rate / turns |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    rows = []
    for combo, o in d["overall"].items():
        p = o["passed"]
        frac = " / ".join(
            f"{p[k]['fraction'] * 100:.0f} %" if p[k]["fraction"] is not None else "n/a"
            for k in ("used", "sitting", "legs_alternate", "step_rate", "turns")
        )
        k, h = o["knee_flexion_deg"], o["hip_flexion_deg"]
        rows.append(
            f"| {combo} | {o['used_min'] * 100:.0f} % | {k['SEATED']:.0f} / {k['WALKING']:.0f} | "
            f"{h['SEATED']:.0f} / {h['WALKING']:.0f} | {o['seated_minus_walking_knee_deg']:.0f} | "
            f"{o['legs_alternate']:.2f} | {o['step_rate_ratio']:.2f} | "
            f"{o['turn_deg_abs']:.0f} | {frac} |"
        )
    judged = d["overall"]["phone+watch"]["passed"]["sitting"]["judged"]
    n = d["overall"]["phone+watch"]["executions"]
    note = (
        f"\n\n{n} executions; sitting is judged on the {judged} that are seated again after "
        f"the first 3 s. Model: {d['artifact']}. Command: `{d['command']}`."
    )
    return head + "\n".join(rows) + note


def attitude_table(results: Path = RESULTS) -> str:
    d = _load("attitude.json", results)
    head = (
        "| trial | edgesdk tilt median / p95 (deg) | heading drift (deg/min) | CoreMotion tilt "
        "median / p95 (deg) | heading drift (deg/min) |\n| --- | --- | --- | --- | --- |\n"
    )
    rows = []
    for name, t in [*d["trials"].items(), ("overall", d["overall"])]:
        e, c = t["edgesdk"], t["coremotion"]
        rows.append(
            f"| {name} | {e['tilt_median_deg']:.1f} / {e['tilt_p95_deg']:.1f} | "
            f"{e['heading_drift_deg_per_min']:.0f} | {c['tilt_median_deg']:.1f} / "
            f"{c['tilt_p95_deg']:.1f} | {c['heading_drift_deg_per_min']:.0f} |"
        )
    return head + "\n".join(rows) + f"\n\nCommand: `{d['command']}`."


def calibration_table(results: Path = RESULTS) -> str:
    d = _load("calibration.json", results)
    head = (
        "| slots | device | placement right | calibrated at the end | from activity (rest: "
        "N-pose at the start) | first used (s, median) | calibrated (s, median / p90) | mount "
        "error, activity (deg, median / p90) | mount error, N-pose (deg, median / p90) |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    rows = []
    for mode in ("given", "detected"):
        s = d[f"slots_{mode}"]["summary"]
        for kind in ("phone", "watch"):
            k = s[kind]
            fc = k["first_calibrated_s"]
            ma, mn = k["mount_error_deg_activity"], k["mount_error_deg_npose"]
            rows.append(
                f"| {mode} | {kind} | {k['placement_correct'] * 100:.0f} % | "
                f"{k['calibrated_at_end'] * 100:.0f} % | "
                f"{k['calibrated_from_activity'] * 100:.0f} % | "
                f"{k['first_used_s']['median']:.1f} | {_pair(fc, '.1f')} | {_pair(ma, '.0f')} | "
                f"{_pair(mn, '.0f')} |"
            )
    rel = d["slots_given"]["summary"]["relative_heading_error_deg"]
    return (
        head
        + "\n".join(rows)
        + f"\n\nPhone-watch heading error relative to each other (slots given): median "
        f"{rel['median']:.0f}, p90 {rel['p90']:.0f} degrees over {rel['n']} sessions. "
        f"{d['scenarios']} simulated sessions of {d['seconds']:g} s. Command: `{d['command']}`."
    )


def _pair(stats: dict[str, Any], fmt: str) -> str:
    if not stats:
        return "n/a"
    return f"{format(stats['median'], fmt)} / {format(stats['p90'], fmt)}"


def default_model_table(results: Path = RESULTS) -> str:
    d = _load("default_model.json", results)
    head = (
        "| devices | MPJPE realistic (mm) | clean (mm) | mean pose, true heading (mm) |\n"
        "| --- | --- | --- | --- |\n"
    )
    picks = ("right_pocket", "left_wrist", "left_wrist+right_pocket", "head")
    rows = [
        f"| {name} | {d['per_combination'][name]['realistic']:.1f} | "
        f"{d['per_combination'][name]['clean']:.1f} | "
        f"{d['per_combination'][name]['mean_pose']:.1f} |"
        for name in picks
        if name in d["per_combination"]
    ]
    lo, hi = d["ci95_mpjpe_mm"]
    clo, chi = d["clean_ci95_mpjpe_mm"]
    rows.append(
        f"| all 25 combinations | **{d['mpjpe_mm']:.1f}** ({lo:.1f}-{hi:.1f}) | "
        f"{d['clean_mpjpe_mm']:.1f} ({clo:.1f}-{chi:.1f}) | {d['mean_pose_mpjpe_mm']:.1f} |"
    )
    files = ", ".join(f"`{a['file']}` {a['bytes'] / 1000:.0f} KB" for a in d["artifacts"])
    return (
        head
        + "\n".join(rows)
        + f"\n\nFiles: {files} ({d['bytes_total'] / 1000:.0f} KB together). Trained with "
        f"`{d['train_command']}`; packaged with `{d['command']}`."
    )


def demo_table(results: Path = RESULTS) -> str:
    """What the last recorded ``make demo`` did (``demo.json``: its ``summary.json``)."""
    d = _load("demo.json", results)
    data = d["stages"]["data"]
    arts = [a for f in d["stages"]["export"].values() for a in f["artifacts"].values()]
    ran = [a for a in arts if a.get("ran") is True]
    deltas = [a["mpjpe_delta_mm"] for a in ran if "int8" in a["artifact"]]
    before, after = d["machine"]["load_avg_1m_before"], d["machine"]["load_avg_1m_after"]
    load = f", load {before:g} before and {after:g} after"  # benchmarks/demo.py's record
    make = (
        "from a fresh clone, installing `.venv`"
        if d.get("make_includes_install")
        else "with `.venv` installed; a fresh `.venv` adds about 3 min here"
    )
    lines = [
        f"On the shared set ({data['clips']} clips, {data['minutes']} min; clip cache warm) "
        f"the pipeline took {d['wall_s'] / 60:.1f} min on 2 cores ({d['make_wall_s'] / 60:.1f} "
        f"min for `make demo` {make}{load}); "
        f"{sum(a['passed'] for a in arts)} of {len(arts)} artifacts passed validation "
        f"({len(ran)} run in their runtime here, the rest spec-checked; int8 deltas "
        f"{min(deltas):+.2f} to {max(deltas):+.2f} mm), "
        f"{len(d['stages']['bench']['budget_violations'])} budget violations. The brief "
        "training makes these MPJPEs far worse than the trained models' (tables above):",
        "",
        "| student | teacher | teacher MPJPE | teacher ms/window | int8 runtime | int8 MPJPE "
        "(delta) | int8 ms/frame | KB | FLOPs vs teacher |",
        "|" + " --- |" * 9,
    ]
    for r in d["table"]:
        lines.append(
            f"| {r['student']} | {r['teacher']} | {r['teacher_mpjpe_mm']:.1f} | "
            f"{r['teacher_ms_per_window']:.1f} | {r['int8_backend']} | "
            f"{r['int8_mpjpe_mm']:.1f} ({r['int8_delta_mm']:+.2f}) | "
            f"{r['int8_ms_per_frame']:.3f} | {r['int8_kb']} | 1/{1 / r['flops_ratio']:.0f} |"
        )
    return "\n".join(lines)

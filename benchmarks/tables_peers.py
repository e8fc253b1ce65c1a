"""README tables of ``peers.json`` (``benchmarks/peers.py``): every model measured in the run,
and each student against the peers that read the same devices. No torch here: ``make tables``
and ``benchmarks/peers.py --table`` both print these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(results: Path) -> dict[str, Any]:
    return dict(json.loads((results / "peers.json").read_text()))


def _ci(lo_hi: list[float] | None) -> str:
    return f"{lo_hi[0]:.1f}-{lo_hi[1]:.1f}" if lo_hi else "-"


def _x(ratio: float | None) -> str:
    """A student / peer ratio as "N x fewer" or "N x more"."""
    if ratio is None:
        return "-"
    if ratio <= 0:
        return "-"
    factor, word = (1.0 / ratio, "fewer") if ratio <= 1.0 else (ratio, "more")
    return f"{factor:.0f}x {word}" if factor >= 100 else f"{factor:.3g}x {word}"


def peers_table(results: Path = RESULTS) -> str:
    """One row per model of the run: size, cost, fastest runtime and held-out MPJPE."""
    d = _load(results)
    rows = [
        "| model | role (size) | params | GFLOPs / s | fastest runtime (1 thread) | p50 / p99 ms "
        "per frame | MPJPE realistic (mm, 95 % CI) |",
        "|" + " --- |" * 7,
    ]
    for name, e in d["models"].items():
        mpjpe = (
            "not trained (published size: cost only)"
            if e.get("mpjpe_mm") is None
            else f"{e['mpjpe_mm']:.1f} ({_ci(e.get('ci95_mpjpe_mm'))})"
        )
        rows.append(
            f"| {name} | {e['role']} ({e['scale']}) | {e['params'] / 1e6:.2f} M | "
            f"{e['gflops_per_s']:.3g} | {e['backend']} {e['precision']} | "
            f"{e['p50_ms']:.3f} / {e['p99_ms']:.3f} | {mpjpe} |"
        )
    rows += ["", f"Command: `{d['command']}`."]
    return "\n".join(rows)


def comparisons_table(results: Path = RESULTS) -> str:
    """Each student against the most accurate peer on the same devices and combinations."""
    d = _load(results)
    rows = [
        "| devices | student | MPJPE (mm) | most accurate peer | MPJPE (mm) | student - peer "
        "(mm, 95 % CI) | GFLOPs/s vs peer (vs its published size) | p99 vs peer (vs published "
        "size) | aim met: MPJPE / 100x FLOPs / 20x p99 |",
        "|" + " --- |" * 9,
    ]
    for c in d["comparisons"].values():
        best = c["most_accurate_peer"]
        peer = c["peers"][best]
        diff = peer["student_minus_peer_mm"]
        r, aim = c["ratios_student_over_peer"], c["aim"]
        met = " / ".join("yes" if aim[k] else "no" for k in aim)
        rows.append(
            f"| {c['devices']} | {c['student']} | {c['student_mpjpe_mm']:.1f} "
            f"({_ci(c['student_ci95_mpjpe_mm'])}) | {best} | {peer['mpjpe_mm']:.1f} "
            f"({_ci(peer['ci95_mpjpe_mm'])}) | {diff['difference_mm']:+.1f} "
            f"[{diff['ci95_mm'][0]:+.1f}, {diff['ci95_mm'][1]:+.1f}] | "
            f"{_x(r['gflops_per_s'])} ({_x(r['gflops_per_s_vs_published_size'])}) | "
            f"{_x(r['p99_ms'])} ({_x(r['p99_ms_vs_published_size'])}) | {met} |"
        )
    return "\n".join(rows)

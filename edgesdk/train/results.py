"""Held-out figures as results files hold them: cached evaluations, headlines, paired
comparisons, seeds and the data a figure was measured on.

An evaluation of a checkpoint (``evaluate_checkpoint``: the realistic protocol, the clean one,
text variants, per-file sums) takes minutes; ``evaluation`` keeps it beside the checkpoint
(``evaluations/<key>.json``, the key hashing the weights, the data fingerprint, the overrides
and ``EVAL_VERSION``), so that a results file can be rebuilt, and two models compared file by
file, without evaluating again.

Example:
    >>> from edgesdk.train.uncertainty import PerFile
    >>> import numpy as np
    >>> pf = PerFile(["a", "b"], np.array([[10.0, 30.0], [20.0, 40.0]]), np.array([1.0, 1.0]))
    >>> result = {"per_combination": {"head": {}, "left_wrist": {}}, "per_file": pf.to_json()}
    >>> round(per_file(result, ["left_wrist"]).mean(), 1)
    35.0
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.sources import data_summary
from edgesdk.errors import EdgeSDKError
from edgesdk.io import write_json_atomic
from edgesdk.train import checkpoint
from edgesdk.train.data import TrainData
from edgesdk.train.evaluate import CLEAN, MAIN_METRICS, REALISTIC, evaluate_checkpoint
from edgesdk.train.uncertainty import PerFile, paired_difference_ci95, seed_spread

EVAL_VERSION = 1  # bump when evaluate_checkpoint's figures change meaning
EVALUATIONS = "evaluations"


def _weights_digest(ckpt: Path) -> str:
    return hashlib.sha256((ckpt / checkpoint.WEIGHTS).read_bytes()).hexdigest()


def evaluation_key(ckpt: Path | str, data: TrainData, overrides: dict[str, Any] | None) -> str:
    """What an evaluation depends on, hashed: weights, data, inference overrides, version."""
    key = {
        "weights": _weights_digest(Path(ckpt)),
        "data": data.fingerprint,
        "overrides": overrides or {},
        "version": EVAL_VERSION,
        "protocol": REALISTIC.to_json(),
        "clean": CLEAN.to_json(),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def evaluation(
    ckpt: Path | str,
    data_dir: Path | str,
    data: TrainData,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
    cached_only: bool = False,
) -> dict[str, Any] | None:
    """``evaluate_checkpoint(ckpt, ...)`` (realistic protocol, clean beside it), read from the
    checkpoint's cache when it has this evaluation, else computed and cached. With
    ``cached_only``, None instead of evaluating."""
    ckpt = Path(ckpt)
    path = ckpt / EVALUATIONS / f"{evaluation_key(ckpt, data, overrides)}.json"
    if path.is_file():
        return dict(json.loads(path.read_text()))
    if cached_only:
        return None
    result = evaluate_checkpoint(ckpt, data_dir, data=data, overrides=overrides, progress=progress)
    path.parent.mkdir(exist_ok=True)
    write_json_atomic(path, result)
    return result


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(figures[k], 2) for k in MAIN_METRICS if k in figures}


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The figures a results file keeps of one evaluation: the protocol, overall metrics and
    the 95 % interval, per combination, the mean pose, the clean protocol with the cost of
    realism, and for text models the oracle-label (upper bound) and app-hint figures."""
    out: dict[str, Any] = {
        "protocol": result["protocol"],
        "overall": _rounded(result["overall"]),
        "ci95_mpjpe_mm": result["ci95_mpjpe_mm"],
        "per_combination_mpjpe_mm": {
            k: round(v["mpjpe_mm"], 2) for k, v in result["per_combination"].items()
        },
        "mean_pose": {
            "overall": _rounded(result["baseline_mean_pose"]["overall"]),
            "ci95_mpjpe_mm": result["baseline_mean_pose"]["ci95_mpjpe_mm"],
        },
        "split": result["split"],
    }
    if "clean" in result:
        out["clean"] = {
            "protocol": result["clean"]["protocol"],
            "overall": _rounded(result["clean"]["overall"]),
            "ci95_mpjpe_mm": result["clean"]["ci95_mpjpe_mm"],
        }
        out["realism_cost_mpjpe_mm"] = result["realism_cost_mpjpe_mm"]
    for key in ("text_oracle_label", "text_hint"):
        if key in result:
            other = result[key]
            out[key] = {
                "protocol": other["protocol"],
                "overall": _rounded(other["overall"]),
                "ci95_mpjpe_mm": other["ci95_mpjpe_mm"],
                "effect_vs_no_text_mpjpe_mm": other["effect_vs_no_text_mpjpe_mm"],
                **({"note": other["note"]} if "note" in other else {}),
            }
    return out


def per_file(
    result: dict[str, Any], combos: Sequence[str] | None = None, section: str | None = None
) -> PerFile:
    """The per-file sums of a result (or of its ``section``, e.g. ``"clean"``), restricted to
    the device combinations ``combos`` (in that order) when given."""
    part = result[section] if section else result
    table = PerFile.from_json(part["per_file"])
    if combos is None:
        return table
    names = list(part["per_combination"])
    missing = [c for c in combos if c not in names]
    if missing:
        raise EdgeSDKError(f"{result.get('checkpoint', 'result')}: no combination {missing[0]}")
    cols = [names.index(c) for c in combos]
    return PerFile(table.files, table.sum_mm[:, cols], table.frames)


def paired(
    a: dict[str, Any],
    b: dict[str, Any],
    section_a: str | None = None,
    section_b: str | None = None,
) -> dict[str, Any]:
    """``a - b`` of the overall MPJPE over ``a``'s device combinations, paired by held-out
    file, with its 95 % bootstrap interval (``paired_difference_ci95``)."""
    combos = list((a[section_a] if section_a else a)["per_combination"])
    diff = paired_difference_ci95(per_file(a, combos, section_a), per_file(b, combos, section_b))
    return {**diff, "combinations": len(combos)}


def seeds_block(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over training seeds of the realistic and the clean MPJPE, with each
    seed's figure and interval."""
    seeds = sorted(per_seed)
    out: dict[str, Any] = {
        "per_seed": {
            str(s): {
                "mpjpe_mm": round(per_seed[s]["overall"]["mpjpe_mm"], 2),
                "ci95_mpjpe_mm": per_seed[s]["ci95_mpjpe_mm"],
                **(
                    {"clean_mpjpe_mm": round(per_seed[s]["clean"]["overall"]["mpjpe_mm"], 2)}
                    if "clean" in per_seed[s]
                    else {}
                ),
                "checkpoint": per_seed[s].get("checkpoint"),
            }
            for s in seeds
        },
        "realistic": seed_spread([per_seed[s]["overall"]["mpjpe_mm"] for s in seeds]),
    }
    if all("clean" in per_seed[s] for s in seeds):
        out["clean"] = seed_spread([per_seed[s]["clean"]["overall"]["mpjpe_mm"] for s in seeds])
    return out


def data_block(data: TrainData) -> dict[str, Any]:
    """What a results file was measured on: clips and minutes per source and format (BVH and
    ASF/AMC), the split and the data fingerprint."""
    clips = [*data.train, *data.val, *data.test]
    test_frames = int(np.sum([c.num_frames for c in data.test]))
    return {
        **data_summary(clips),
        "split": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "test_frames": test_frames,
        "fingerprint": data.fingerprint,
    }


def provenance(data: TrainData, protocol: Any = REALISTIC) -> dict[str, Any]:
    """The top-level ``data`` and ``protocol`` of a results file whose figures were measured on
    the mocap set ``data`` under ``protocol`` (a ``Protocol``, or a line saying why none applies,
    e.g. a timing or a calibration figure on that set)."""
    return {
        "data": data_block(data),
        "protocol": protocol.to_json() if hasattr(protocol, "to_json") else protocol,
    }

"""Top-level ``data`` and ``protocol`` for results files written before their script recorded
them, without measuring again.

Each file gets the block its script now writes, computed by the same function, after a check
that ties the file's own figures to the data set found now; a file that fails its check is left
alone and named (exit 1). The file records that the block was added afterwards
(``"provenance_added"``: this command and the check). A file that already has both keys is
left alone.

Checks:
- peers.json: every model's held-out mean-pose MPJPE equals default_model.json's, whose data
  fingerprint is the one found now (the mean pose's error depends only on the held-out files).
- understanding.json: the held-out window count of each setup of the students' and teacher's
  sections equals the count on the data found now, for the model's window.
- calibration.json: its recorded data fingerprint is the one found now.
- attitude, real_devices, et_profile, robustness (no mocap), data_info, data_speed: their
  blocks do not depend on the mocap set.

Usage:
    PYTHONPATH=. python benchmarks/backfill_provenance.py --data ../shared/data/mocap
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from edgesdk.io import write_json_atomic  # noqa: E402


@dataclass(frozen=True)
class Where:
    """The mocap folder of this run and the results folder being stamped."""

    data_dir: Path
    results: Path


def _mocap(data: Any) -> dict[str, Any]:
    from edgesdk.train.results import provenance

    return provenance(data)


def _peers(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    reference = json.loads((where.results / "default_model.json").read_text())
    if reference["data"]["fingerprint"] != data.fingerprint:
        raise ValueError("default_model.json was measured on another data set")
    want = reference["mean_pose_mpjpe_mm"]
    got = {n: m.get("mean_pose_mpjpe_mm") for n, m in old["models"].items() if m.get("trained")}
    wrong = {n: v for n, v in got.items() if v != want}
    if not got or wrong:
        raise ValueError(f"mean-pose MPJPE {wrong or 'missing'} != {want} of this data set")
    return _mocap(data), f"mean-pose MPJPE of {len(got)} models = {want} mm (default_model.json)"


def _understanding(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    from edgesdk.models import create_model

    understanding = importlib.import_module("understanding")
    counts = {
        name: len(ds)
        for name, ds in understanding._setups(create_model("ego4o-student"), data).items()
    }
    checked = []
    for section in ("students", "teacher"):
        found = old.get(section, {})
        setups = [found.get("setups", {})] + [
            s.get("setups", {}) for s in found.get("students", {}).values()
        ]
        for setup in setups:
            for name, row in setup.items():
                if name in counts and "windows" in row:
                    if row["windows"] != counts[name]:
                        raise ValueError(f"{section} {name}: {row['windows']} != {counts[name]}")
                    checked.append(f"{section}/{name}")
    if not checked:
        raise ValueError("no held-out window count to check")
    block = _mocap(data)
    for section in ("coverage", "students", "teacher", "exports"):
        if section in old:
            old[section].setdefault("data_fingerprint", data.fingerprint)
    return block, f"held-out windows per setup = {counts} ({len(checked)} rows)"


def _default_model(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    from edgesdk.train.results import data_block

    training = old["data"]
    if training.get("fingerprint") != data.fingerprint:
        raise ValueError(f"data fingerprint {training.get('fingerprint')} != {data.fingerprint}")
    return {"data": {**data_block(data), "training": training}}, (
        "its checkpoint's data fingerprint is this data set's"
    )


def _calibration(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    calibration = importlib.import_module("calibration")
    if old.get("data_fingerprint") != data.fingerprint:
        raise ValueError(f"data fingerprint {old.get('data_fingerprint')} != {data.fingerprint}")
    # The recorded command does not set --min-clip-s: calibration.py's default pool.
    _, block = calibration.held_out(where.data_dir)
    old.pop("data_fingerprint")
    return {"data": block, "protocol": calibration.PROTOCOL}, (
        "its recorded data fingerprint is this data set's"
    )


def _constant(module: str) -> Callable[[dict[str, Any], Any, Where], tuple[dict[str, Any], str]]:
    def check(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
        return dict(importlib.import_module(module).PROVENANCE), "reads no mocap"

    return check


def _data_info(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    return {
        "protocol": importlib.import_module("data_info").PROTOCOL
    }, "its data block is already recorded"


def _data_speed(old: dict[str, Any], data: Any, where: Where) -> tuple[dict[str, Any], str]:
    source = shlex.split(old["command"])
    folder = source[source.index("--data") + 1] if "--data" in source else "default"
    block = {
        "data": {"mocap_files_read": old["inputs"]["bvh_files"], "source": folder},
        "protocol": importlib.import_module("data_speed").PROTOCOL,
    }
    return block, "timing only; files read as recorded in its inputs"


def _complete(result: dict[str, Any]) -> bool:
    data = result.get("data", {})
    counts = (data.get(k) for k in ("clips", "mocap_clips", "mocap_files_read"))
    return "protocol" in result and any(isinstance(n, int) for n in counts)


CHECKS: dict[str, Callable[[dict[str, Any], Any, Where], tuple[dict[str, Any], str]]] = {
    "peers.json": _peers,
    "understanding.json": _understanding,
    "calibration.json": _calibration,
    "default_model.json": _default_model,
    "attitude.json": _constant("attitude"),
    "real_devices.json": _constant("real_devices"),
    "et_profile.json": _constant("et_profile"),
    "robustness.json": _constant("robustness"),
    "data_info.json": _data_info,
    "data_speed.json": _data_speed,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mocap", help="mocap folder")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from edgesdk.train.data import load_train_data

    data = load_train_data(Path(args.data), progress=False)
    command = "PYTHONPATH=. python " + shlex.join(
        ["benchmarks/backfill_provenance.py", *sys.argv[1:]]
    )
    failed = []
    for name, check in CHECKS.items():
        path = args.results / name
        if not path.is_file():
            print(f"{name}: not in {args.results}, skipped")
            continue
        old = json.loads(path.read_text())
        if _complete(old):
            print(f"{name}: has data and protocol, left alone")
            continue
        try:
            block, why = check(old, data, Where(Path(args.data), args.results))
        except (ValueError, KeyError) as exc:
            failed.append(name)
            print(f"{name}: not stamped: {exc}")
            continue
        new = {**old, **block, "provenance_added": {"command": command, "check": why}}
        write_json_atomic(path, new)
        print(f"{name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

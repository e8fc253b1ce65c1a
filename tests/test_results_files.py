"""Every results file says what it was measured on: a top-level ``data`` block and the
evaluation ``protocol`` (or why none applies), all mocap figures on one data set, and no
headline that reads the true label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
FILES = sorted(RESULTS.glob("*.json"))
# Figures whose protocol may read the true description, with a note saying why they are not a
# headline (numerics: each artifact against eager PyTorch on the same inputs).
LABEL_ALLOWED = {"numerics.json"}


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _mocap_files() -> dict[str, dict[str, Any]]:
    loaded = {p.name: _load(p) for p in FILES}
    return {name: r for name, r in loaded.items() if "fingerprint" in r.get("data", {})}


def test_the_results_folder_is_not_empty() -> None:
    assert len(FILES) >= 10, RESULTS


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_has_data_and_protocol(path: Path) -> None:
    result = _load(path)
    assert isinstance(result.get("data"), dict), f"{path.name}: no top-level data block"
    protocol = result.get("protocol")
    if isinstance(protocol, str):
        assert protocol.startswith("not applicable: "), f"{path.name}: protocol {protocol!r}"
        return
    assert isinstance(protocol, dict), f"{path.name}: no protocol"
    assert {"devices", "head", "text"} <= set(protocol), f"{path.name}: protocol {protocol}"
    if protocol["text"] == "label":
        assert path.name in LABEL_ALLOWED and protocol.get("note"), path.name
    assert result["data"].get("clips", 0) > 0, f"{path.name}: a protocol without mocap clips"


def test_mocap_figures_share_one_data_set_with_both_formats() -> None:
    files = _mocap_files()
    assert {"teachers.json", "students.json", "peers.json", "demo.json"} <= set(files)
    fingerprints = {name: r["data"]["fingerprint"] for name, r in files.items()}
    assert len(set(fingerprints.values())) == 1, fingerprints
    for name, result in files.items():
        formats = result["data"].get("formats")
        if formats is not None:  # BVH and ASF/AMC
            assert formats.get("bvh", 0) > 0 and formats.get("amc", 0) > 0, name


def _model_rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = dict(result.get("models", {}))
    for student, entry in result.get("students", {}).items():
        for arm in ("ground_truth_only", "privileged_distilled"):
            if arm in entry:
                rows[f"{student}/{arm}"] = entry[arm]
    return rows


@pytest.mark.parametrize("name", ["teachers.json", "students.json", "peers.json"])
def test_every_model_row_has_protocol_and_interval(name: str) -> None:
    rows = _model_rows(_load(RESULTS / name))
    assert rows, name
    for model, row in rows.items():
        if row.get("mpjpe_mm") is None and "overall" not in row:
            continue  # cost-only rows (untrained published sizes)
        assert "stale" not in row, f"{name}: {model} is stale"
        assert isinstance(row.get("protocol"), dict), f"{name}: {model} has no protocol"
        assert row["protocol"]["text"] != "label", f"{name}: {model} reads the true label"
        lo, hi = row["ci95_mpjpe_mm"]
        assert lo < hi, f"{name}: {model} interval {lo, hi}"


@pytest.mark.parametrize(
    ("name", "key"), [("students.json", "students"), ("numerics.json", "models")]
)
def test_no_stale_rows(name: str, key: str) -> None:
    stale = [k for k, v in _load(RESULTS / name)[key].items() if "stale" in v]
    assert not stale, f"{name}: {stale} measured on another data set"

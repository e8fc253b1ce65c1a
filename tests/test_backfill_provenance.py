"""benchmarks/backfill_provenance.py stamps a results file only when the file's own figures
tie it to the data set found now, and leaves a file that fails its check untouched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgesdk.data.sources import bundled_data_dir
from edgesdk.train.data import load_train_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import backfill_provenance  # noqa: E402


@pytest.fixture(scope="module")
def fingerprint() -> str:
    return load_train_data(bundled_data_dir(), progress=False).fingerprint


def _write(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj))


def _peers(mean_pose: float) -> dict[str, object]:
    row = {"trained": True, "mpjpe_mm": 90.0, "mean_pose_mpjpe_mm": mean_pose}
    return {"command": "python benchmarks/peers.py", "models": {"a": row, "b": dict(row)}}


def test_stamps_only_what_its_check_ties_to_the_data(
    tmp_path: Path, fingerprint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESDK_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    results.mkdir()
    reference = {"data": {"fingerprint": fingerprint, "clips": {"train": 1}}}
    _write(results / "default_model.json", {**reference, "mean_pose_mpjpe_mm": 100.0})
    _write(results / "peers.json", _peers(100.0))
    _write(results / "calibration.json", {"command": "c", "data_fingerprint": "elsewhere"})
    _write(results / "robustness.json", {"command": "r", "cases": 3})
    before = (results / "calibration.json").read_bytes()

    code = backfill_provenance.main(["--data", str(bundled_data_dir()), "--results", str(results)])

    assert code == 1  # calibration.json's fingerprint is another data set's
    assert (results / "calibration.json").read_bytes() == before
    peers = json.loads((results / "peers.json").read_text())
    assert peers["data"]["clips"] == 16 and peers["data"]["fingerprint"] == fingerprint
    assert peers["protocol"] == {"devices": "realistic", "head": "slam", "text": "none"}
    assert "mean-pose MPJPE" in peers["provenance_added"]["check"]
    robustness = json.loads((results / "robustness.json").read_text())
    assert robustness["protocol"].startswith("not applicable: ") and robustness["cases"] == 3
    default = json.loads((results / "default_model.json").read_text())
    assert default["data"]["clips"] == 16 and default["data"]["training"] == reference["data"]


def test_a_mean_pose_of_another_split_is_refused(tmp_path: Path, fingerprint: str) -> None:
    data = load_train_data(bundled_data_dir(), progress=False)
    results = tmp_path
    reference = {"data": {"fingerprint": fingerprint}, "mean_pose_mpjpe_mm": 100.0}
    _write(results / "default_model.json", reference)
    where = backfill_provenance.Where(bundled_data_dir(), results)
    with pytest.raises(ValueError, match="mean-pose MPJPE"):
        backfill_provenance._peers(_peers(97.5), data, where)

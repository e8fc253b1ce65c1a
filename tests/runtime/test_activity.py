"""Activity in the runtime: the manifest's table, the smoothing and its latency, text context
and the closed loop, frames of a Session and `edgesdk run` with an activity head; models
without one unchanged."""

from __future__ import annotations

import argparse
import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import edgesdk.runtime.activity as activity_module
from edgesdk.data.activity import ACTIVITIES
from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.recording import write_take
from edgesdk.errors import EdgeSDKError
from edgesdk.export.activity_table import ActivityTable
from edgesdk.export.export import export_model
from edgesdk.export.manifest import check_manifest, manifest_path, read_manifest
from edgesdk.models.students_core import StreamingStudent
from edgesdk.models.text import TextEncoder
from edgesdk.runtime.activity import ActivityTracker, TextContext
from edgesdk.runtime.replay import replay
from edgesdk.runtime.run_command import add_run_parser
from edgesdk.runtime.session import Session, SessionConfig
from edgesdk.train import checkpoint
from tests.runtime.common import simulated_take
from tests.small_models import small_student

TEXTS = ["normal walk", "active run", "squat"]


def _table(k: int = 3, d: int = 4) -> ActivityTable:
    emb = np.eye(len(TEXTS), d, dtype=np.float32)
    return ActivityTable(tuple(ACTIVITIES[:k]), tuple(TEXTS), emb, "hashed-bow")


@pytest.fixture(scope="module")
def act_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ego4o-student (1 x 16 GRU) with an activity head, its table embedded by the hashed
    bag of words, exported to ONNX fp32."""
    model = small_student("ego4o-student", activity=True)
    assert isinstance(model, StreamingStudent)
    with pytest.MonkeyPatch.context() as mp:
        import edgesdk.models.text as text

        mp.setattr(text, "default_text_encoder", lambda b=None: TextEncoder("hashed-bow"))
        model.prepare(TEXTS)
    assert model.activity_head is not None
    last = model.activity_head.mlp[-1]
    assert isinstance(last, torch.nn.Linear)
    torch.nn.init.normal_(last.weight, std=0.3)
    root = tmp_path_factory.mktemp("act")
    ckpt = checkpoint.save(model, root / "ckpt", data={"fingerprint": "test"})
    return export_model(ckpt, "onnx", "fp32", root / "onnx", progress=False)


@pytest.fixture(scope="module")
def take_dir(walk: Clip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, take = simulated_take(walk, 4.0, [DeviceSpec.watch(), DeviceSpec.phone()], seed=0)
    return write_take(take, tmp_path_factory.mktemp("take") / "take")


def test_table_round_trip_and_checks(act_onnx: Path) -> None:
    manifest = read_manifest(act_onnx)
    table = ActivityTable.from_manifest(manifest["activity"], "m")
    assert table.classes == ACTIVITIES and table.descriptions == tuple(sorted(TEXTS))
    assert table.text_backend == "hashed-bow" and table.dim == 384
    row = table.lookup("  Normal Walk ")
    assert row is not None and table.nearest(row)[0] == table.descriptions.index("normal walk")
    bad = dict(manifest["activity"], embeddings="AAAA")
    with pytest.raises(EdgeSDKError, match=r"activity\.embeddings"):
        ActivityTable.from_manifest(bad, "m.json")
    wrong = dict(manifest, activity=dict(manifest["activity"], classes=["idle", "walk"]))
    with pytest.raises(EdgeSDKError, match=r"activity\.classes"):
        check_manifest(wrong, "m.json")


def test_smoothing_latency_as_stated() -> None:
    fps, tau = 30.0, 0.5
    tracker = ActivityTracker(_table(2), fps, tau)
    assert tracker.update(np.array([[1.0, 0.0]]), np.ones((1, 4)))[0]["label"] == "idle"
    frames = 0
    while tracker.update(np.array([[0.0, 1.0]]), np.ones((1, 4)))[0]["label"] != "walk":
        frames += 1
    # the label switches when the smoothed probability crosses half way: tau ln 2
    assert abs((frames + 1) / fps - tau * math.log(2.0)) <= 1.0 / fps
    assert tracker.half_way_s == pytest.approx(tau * math.log(2.0))
    top3 = tracker.current()[0]["top3"]
    assert [c for c, _ in top3] == ["walk", "idle"] and top3[0][1] > 0.5


def test_text_context_fixed_and_closed_loop() -> None:
    table = _table()
    context = TextContext(table, 4, closed_loop=True, min_confidence=0.6)
    tracker = ActivityTracker(table, 30.0, 0.0)
    emb, mask = context.inputs(2, tracker)
    assert not mask.any()  # no frame yet: nothing to feed back
    tracker.update(np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3]]), np.eye(2, 4))
    emb, mask = context.inputs(2, tracker)
    assert mask.tolist() == [1.0, 0.0]  # fed back once the class is likely enough
    assert np.allclose(emb[0], table.embeddings[0]) and not emb[1].any()
    context.set("squat")  # one of the table's descriptions: no encoder needed
    emb, mask = context.inputs(2, tracker)
    assert mask.tolist() == [1.0, 1.0] and np.allclose(emb, table.embeddings[2])
    context.set(np.ones(4, np.float32))
    assert context.inputs(1)[0].tolist() == [[1.0] * 4]
    with pytest.raises(EdgeSDKError, match="4 finite numbers"):
        context.set(np.ones(3))
    context.set(None)
    assert not context.inputs(1)[1].any()
    with pytest.raises(EdgeSDKError, match="activity head"):
        TextContext(None, 4, closed_loop=True)


def test_session_frames_carry_the_activity(act_onnx: Path, take_dir: Path) -> None:
    frames = replay(act_onnx, take_dir, write=False)
    assert len(frames) > 90
    for f in frames:
        assert f.activity is not None and f.activity["label"] in ACTIVITIES
        assert f.activity["description"] in TEXTS and len(f.activity["top3"]) == 3
    assert "activity" in frames[-1].to_json()
    session = Session(act_onnx, clock="virtual")
    session.set_context("normal walk")
    assert session.context is not None and session.context.fixed is not None
    looped = replay(act_onnx, take_dir, write=False, config=SessionConfig(text_feedback=True))
    assert len(looped) == len(frames)


def test_models_without_a_head_are_unchanged(ego_onnx: Path, take_dir: Path) -> None:
    frames = replay(ego_onnx, take_dir, write=False)
    assert frames and all(f.activity is None for f in frames)
    assert "activity" not in frames[0].to_json()
    with pytest.raises(EdgeSDKError, match="activity head"):
        Session(ego_onnx, SessionConfig(text_feedback=True))  # no table to feed back from


def test_set_context_needs_a_model_that_reads_text(tiny_exports: object) -> None:
    session = Session(tiny_exports["onnx"], clock="virtual")  # type: ignore[index]
    with pytest.raises(EdgeSDKError, match="reads no text"):
        session.set_context("walk")


def test_run_prints_pose_and_activity(
    act_onnx: Path, take_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="edgesdk")
    add_run_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "poses.jsonl"
    argv = ["run", "--artifact", str(act_onnx), "--replay", str(take_dir), "--out", str(out)]
    args = parser.parse_args([*argv, "--context", "active run"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["last_pose"]["head_above_pelvis_m"] > 0.3
    assert summary["activity"]["last"]["label"] in ACTIVITIES
    assert sum(summary["activity"]["fraction_of_frames"].values()) == pytest.approx(1.0, 1e-2)
    line = json.loads(out.read_text().splitlines()[5])
    assert {"pos_rel_m", "activity"} <= set(line)
    assert manifest_path(act_onnx).is_file()


def test_documented() -> None:
    assert doctest.testmod(activity_module).failed == 0

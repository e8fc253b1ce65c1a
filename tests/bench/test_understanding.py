"""Understanding scores: content parsing, the score table, streaming a student as the runtime
does (equal to the sequence), the IMU classifier baseline on real windows."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import torch

import edgesdk.bench.understanding as u
from edgesdk.data.activity import ACTIVITIES, ACTIVITY_INDEX
from edgesdk.data.sources import load_dir
from edgesdk.data.windows import WindowConfig, WindowDataset
from edgesdk.export.activity_table import ActivityTable
from edgesdk.models.students_core import StreamingStudent
from edgesdk.models.text import TextEncoder
from tests.small_models import small_student

TEXTS = ("active walk", "normal walk turn left", "squat")


def _truth() -> u.Targets:
    frames = np.stack(
        [np.full(4, ACTIVITY_INDEX[a]) for a in ("walk", "turn", "squat/bend", "walk")]
    )
    texts = ["active walk", "normal walk turn left", "squat", "active walk"]
    return u.Targets(texts, frames, ["walk", "walk-turn-left", "", "walk"])


def test_score_counts_what_it_says() -> None:
    truth = _truth()
    emb = np.eye(3, dtype=np.float32)
    candidates = ["active walk", "normal walk turn left", "squat"]
    predicted = np.array([ACTIVITY_INDEX[a] for a in ("walk", "walk", "squat/bend", "walk")])
    described = ["happy walk", "active walk", "squat", "active walk"]
    embeddings = np.stack([emb[0], emb[0], emb[2], np.zeros(3, np.float32)])
    row = u.score(
        "m", predicted, described, embeddings, truth, ("walk", "walk-turn-left"), candidates, emb
    )
    assert row["content_windows"] == 3 and row["content_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["activity_accuracy"] == 0.75 and row["recall_per_class"]["turn"] == 0.0
    assert row["balanced_accuracy"] == pytest.approx((1 + 0 + 1) / 3, abs=1e-4)
    assert row["retrieval_top1"] == 0.5  # the zero embedding retrieves nothing
    table = u.confusion(truth.window_class, predicted)
    assert table["turn"] == {"walk": 1} and table["walk"] == {"walk": 2}


def test_stream_equals_the_sequence_and_closes_the_loop() -> None:
    model = small_student("ego4o-student", activity=True)
    assert isinstance(model, StreamingStudent)
    with pytest.MonkeyPatch.context() as mp:
        import edgesdk.models.text as text

        mp.setattr(text, "default_text_encoder", lambda b=None: TextEncoder("hashed-bow"))
        model.prepare(list(TEXTS))
    model.eval()
    assert model.activity_head is not None
    head = model.activity_head
    table = ActivityTable(ACTIVITIES, head.descriptions, head.desc_emb.numpy(), "hashed-bow")
    from tests.models.conftest import make_batch

    batch = make_batch(batch=3, time=12)
    out = u.stream(model, batch, table, smoothing_s=0.0)
    with torch.no_grad():
        seq = model.predict(
            {k: v for k, v in batch.items() if k != "text_emb"} | {"text_mask": torch.zeros(3)}
        )
    assert np.array_equal(out["raw"], seq["activity_prob"].argmax(-1).numpy())
    assert np.array_equal(out["smoothed"], out["raw"])  # no smoothing: the raw class
    torch.testing.assert_close(out["pos_rel_m"], seq["pos_rel_m"], atol=1e-5, rtol=0)
    looped = u.stream(model, batch, table, closed_loop=True)
    assert looped["pos_rel_m"].shape == out["pos_rel_m"].shape


def test_imu_classifier_trains_on_real_windows(cmu_dir: Path) -> None:
    clips = load_dir(cmu_dir, fps=30.0)[:4]
    ds = WindowDataset(clips, WindowConfig(devices="realistic", head="slam"), train=True)
    descriptions = sorted({c.labels.text() for c in clips})
    model, history = u.train_imu_classifier(ds, descriptions, epochs=2, batch_size=16)
    assert len(history) == 2 and all(np.isfinite(h["train_loss"]) for h in history)
    held = WindowDataset(clips, u.held_out_config(ds.config, (1, 4)), train=False)
    classes, texts = u.classifier_predictions(model, held, descriptions)
    assert len(classes) == len(texts) == len(held) and set(texts) <= set(descriptions)
    truth = u.targets(held)
    assert truth.frames.shape == (len(held), 60) and len(truth.texts) == len(held)


def test_documented() -> None:
    assert doctest.testmod(u).failed == 0

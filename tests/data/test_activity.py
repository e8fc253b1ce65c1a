"""Activity classes: every label of the shared set maps to a documented class; frames are
refined by motion (still -> idle, a turning pelvis -> turn); windows carry the labels."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import torch

import edgesdk.data.activity as activity
from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.data.activity import (
    ACTIVITIES,
    ACTIVITY_INDEX,
    REAL_LABELS,
    activity_of_text,
    frame_activities,
)
from edgesdk.data.labels import HDM05_DESCRIPTIONS, hdm05_labels

BANDAI = {
    "walk": "walk",
    "run": "run",
    "dash": "run",
    "walk-back": "walk",
    "walk-left": "walk",
    "walk-right": "walk",
    "bow": "bow",
    "bye": "wave",
    "guide": "gesture",
    "byebye": "wave",
    "respond": "gesture",
    "call": "gesture",
    "punch": "punch/kick",
    "kick": "punch/kick",
    "slash": "punch/kick",
    "dance-long": "dance",
    "dance-short": "dance",
    "walk-turn-left": "turn",
    "walk-turn-right": "turn",
    "wave-both-hands": "wave",
    "wave-left-hand": "wave",
    "wave-right-hand": "wave",
    "raise-up-both-hands": "raise hand",
    "raise-up-left-hand": "raise hand",
    "raise-up-right-hand": "raise hand",
}
HDM05 = {
    "depositFloorR": "squat/bend",
    "elbowToKnee1RepsLelbowStart": "exercise",
    "grabHighR": "raise hand",
    "hopBothLegs1hops": "jump",
    "jogLeftCircle4StepsRstart": "run",
    "kickLFront1Reps": "punch/kick",
    "lieDownFloor": "lie down",
    "rotateArmsBothBackward1Reps": "exercise",
    "sneak2StepsLStart": "walk",
    "squat1Reps": "squat/bend",
    "throwBasketball": "other",
}
CMU = {
    "walk": "walk",
    "run/jog": "run",
    "jump, balance": "jump",
    "punch/strike": "punch/kick",
    "bend over, scoop up, rise, lift arm": "squat/bend",
    "swordplay": "punch/kick",
    "wash self": "other",
    "walk on uneven terrain": "walk",
    "slow walk": "walk",
    "dance - sideways arabesque, turn step, folding arms": "dance",
    "playground - forward jumps, turn around": "jump",
}


@pytest.mark.parametrize("style", ["normal", "elderly", "not-confident"])
def test_bandai_contents_map_with_any_style(style: str) -> None:
    for content, want in BANDAI.items():
        text = f"{style} {content}".replace("-", " ")  # Labels.text() of a Bandai clip
        assert activity_of_text(text) == want, text


def test_hdm05_and_cmu_labels_map() -> None:
    assert set(HDM05) == set(HDM05_DESCRIPTIONS)
    for cls, want in HDM05.items():
        assert activity_of_text(hdm05_labels(cls).text()) == want, cls
    for text, want in CMU.items():
        assert activity_of_text(text) == want, text
    assert set(REAL_LABELS.values()) - {None} <= set(ACTIVITIES)


def _turning_walk(
    T: int = 120, fps: float = 30.0, yaw_dps: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A body walking at 1.2 m/s, every joint turned by ``yaw_dps`` degrees per second."""
    t = np.arange(T) / fps
    yaw = np.radians(yaw_dps) * t
    aa = torch.tensor(np.stack([0 * yaw, yaw, 0 * yaw], -1), dtype=torch.float32)
    R = axis_angle_to_matrix(aa).numpy()
    pos = np.zeros((T, 22, 3))
    pos[:, :, 2] = 1.2 * t[:, None]  # walking at 1.2 m/s
    return pos, np.repeat(R[:, None], 22, 1)


def test_frames_refined_by_motion() -> None:
    pos, R = _turning_walk()
    assert (frame_activities("walk turn left", pos, R, 30.0) == ACTIVITY_INDEX["walk"]).all()
    pos, R = _turning_walk(yaw_dps=60.0)
    assert (frame_activities("normal walk", pos, R, 30.0) == ACTIVITY_INDEX["turn"]).all()
    still = np.zeros_like(pos)
    assert (frame_activities("happy bow", still, R, 30.0) == ACTIVITY_INDEX["idle"]).all()
    # a held pose keeps its class
    assert (frame_activities("lie down on the floor", still, R, 30.0) == 11).all()
    assert ACTIVITIES[11] == "lie down"
    # short clips (shorter than the smoothing) work
    assert frame_activities("run", pos[:5], R[:5], 30.0).shape == (5,)


def test_windows_carry_per_frame_labels(cmu_dir: Path) -> None:
    from edgesdk.data.sources import load_dir
    from edgesdk.data.windows import WindowConfig, WindowDataset

    clips = [c for c in load_dir(cmu_dir, fps=30.0) if c.name == "005_01"]
    item = WindowDataset(clips, WindowConfig(), train=False)[0]["activity"]
    assert isinstance(item, torch.Tensor)
    assert item.shape == (60,) and item.dtype == torch.int64
    assert set(item.tolist()) <= {ACTIVITY_INDEX["walk"], ACTIVITY_INDEX["turn"], 0}


def test_documented() -> None:
    assert doctest.testmod(activity).failed == 0

"""Activity classes: the mocap set's labels merged into one small set, per frame.

The three sources label motion differently (Bandai-Namco: a content class such as
``walk-turn-left`` and a style; CMU: free text such as "run/jog" or "dance - sideways
arabesque"; HDM05: a motion class such as ``squat1Reps``, turned into a short phrase by
``edgesdk.data.labels``). All of them reach the models as one description string
(``Labels.text()``: "active walk turn left", "run/jog", "squat"), and
``activity_of_text`` maps that string onto ``ACTIVITIES`` by the first rule in
``_RULES`` whose keyword is one of its words. The same function reads a description a model
generates, so a teacher's caption and a student's class are scored on the same classes.

| class | from (Bandai-Namco content / CMU text / HDM05 class) |
| --- | --- |
| idle | no source class: frames where the body is still (below) |
| walk | walk, walk-back, walk-left, walk-right / walk, slow or brisk walk, uneven terrain / sneak |
| run | run, dash / run/jog / jogLeftCircle |
| turn | walk-turn-left, walk-turn-right (the frames that turn, below) |
| wave | bye, byebye, wave-{both,left,right}-hand / wave |
| raise hand | raise-up-{both,left,right}-hand(s) / reach, grab / grabHighR |
| gesture | guide, call, respond / point, gesture |
| punch/kick | punch, kick, slash / punch/strike, swordplay, boxing / kickLFront |
| dance | dance-long, dance-short / dance - ... |
| bow | bow |
| squat/bend | / bend over, scoop / squat1Reps, depositFloorR |
| lie down | / / lieDownFloor |
| jump | / jump, hop / hopBothLegs |
| exercise | / / elbowToKnee, rotateArmsBothBackward |
| other | anything else (climb, wash self, throw a basketball) |

A clip's class is refined frame by frame from its motion (``frame_activities``): a frame
whose whole body is still (every joint slower than ``STILL_MPS`` over a second) is ``idle``
unless the clip holds a pose on purpose (lie down, squat/bend); a frame of a walking or
turning clip is ``turn`` where the pelvis turns faster than ``TURN_DPS`` and ``walk``
elsewhere, so the straight steps of a ``walk-turn-left`` clip are walking.

Real recordings (``sp-sw-har``) label SEATED, STANDING_UP, WALKING, TURNING and SITTING_DOWN;
``REAL_LABELS`` maps them where the mocap set has the motion (walking, turning; seated is
scored as ``idle``, the still class, since no mocap clip sits on a chair) and to None where it
has none (standing up, sitting down).

Example:
    >>> activity_of_text("active walk turn left"), activity_of_text("run/jog")
    ('turn', 'run')
    >>> activity_of_text("touch each knee with the opposite elbow")
    'exercise'
    >>> ACTIVITIES.index("idle"), len(ACTIVITIES)
    (0, 15)
"""

from __future__ import annotations

import re

import numpy as np

ACTIVITIES: tuple[str, ...] = (
    "idle",
    "walk",
    "run",
    "turn",
    "wave",
    "raise hand",
    "gesture",
    "punch/kick",
    "dance",
    "bow",
    "squat/bend",
    "lie down",
    "jump",
    "exercise",
    "other",
)
ACTIVITY_INDEX = {name: i for i, name in enumerate(ACTIVITIES)}
# (class, words or word pairs): the first rule with a match wins, so the order matters
# ("dance - ... turn step" is dance, "walk turn left" is turn, "elbow" is not "bow").
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lie down", ("lie", "lying", "lies")),
    ("squat/bend", ("squat", "squats", "bend", "scoop")),
    ("dance", ("dance", "dancing", "pirouette", "pirouettes")),
    ("bow", ("bow", "bowing")),
    ("wave", ("wave", "waving", "bye", "byebye")),
    ("raise hand", ("raise", "reach", "grab")),
    ("punch/kick", ("punch", "kick", "slash", "strike", "swordplay", "boxing")),
    ("jump", ("jump", "jumps", "hop", "hops")),
    ("turn", ("turn",)),
    ("run", ("run", "jog", "dash", "running", "jogging")),
    ("walk", ("walk", "walking", "sneak", "stride")),
    ("gesture", ("guide", "call", "respond", "point", "gesture", "gestures")),
    ("exercise", ("elbow", "rotate", "stretch", "stretches")),
    ("idle", ("idle", "stand", "wait", "waiting")),
)
_WORD_RE = re.compile(r"[a-z]+")
REAL_LABELS: dict[str, str | None] = {
    "SEATED": "idle",
    "STANDING_UP": None,
    "WALKING": "walk",
    "TURNING": "turn",
    "SITTING_DOWN": None,
}
STILL_MPS = 0.25  # every joint slower than this (world, averaged over SMOOTH_S): still
TURN_DPS = 30.0  # pelvis yaw rate (degrees / s, averaged over SMOOTH_S) that is a turn
SMOOTH_S = 1.0
_HELD_POSES = ("lie down", "squat/bend")  # still frames of these clips keep their class


def activity_of_text(text: str) -> str:
    """The class of a description (``other`` when no rule matches, ``idle`` for none).

    Example:
        >>> activity_of_text("dance - sideways arabesque, turn step"), activity_of_text("")
        ('dance', 'idle')
    """
    words = set(_WORD_RE.findall(text.lower()))
    if not words:
        return "idle"
    for name, keys in _RULES:
        if words & set(keys):
            return name
    return "other"


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average along axis 0 (shorter at the ends)."""
    if frames <= 1 or len(x) == 0:
        return x
    T = len(x)
    csum = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, 0)])
    i = np.arange(T)
    lo = np.clip(i - frames // 2, 0, T)
    hi = np.clip(i - frames // 2 + frames, 0, T)
    width = (hi - lo).reshape(-1, *([1] * (x.ndim - 1)))
    return np.asarray((csum[hi] - csum[lo]) / width)


def pelvis_yaw_rad(R_world_pelvis: np.ndarray) -> np.ndarray:
    """``[T]`` heading of the pelvis (its +Z axis on the floor; Y up), unwrapped."""
    fwd = R_world_pelvis[:, :, 2]
    return np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 2]))


def frame_activities(
    text: str, pos_m: np.ndarray, R_world_joint: np.ndarray, fps: float
) -> np.ndarray:
    """``[T]`` class indices of a clip's frames: its description's class, refined by motion
    (module docstring).

    Args:
        text: the clip's description (``Labels.text()``).
        pos_m: ``[T, 22, 3]`` joint positions (m, Y up).
        R_world_joint: ``[T, 22, 3, 3]`` global joint rotations.
        fps: frame rate.

    Example:
        >>> T = 90
        >>> pos = np.zeros((T, 22, 3)); R = np.tile(np.eye(3), (T, 22, 1, 1))
        >>> frame_activities("normal walk", pos, R, 30.0)[:3].tolist()  # standing still
        [0, 0, 0]
    """
    base = activity_of_text(text)
    T = len(pos_m)
    labels = np.full(T, ACTIVITY_INDEX[base], np.int64)
    if T < 2:
        return labels
    n = max(1, round(SMOOTH_S * fps))
    speed = np.linalg.norm(np.gradient(pos_m, 1.0 / fps, axis=0), axis=-1)  # [T, 22]
    still = _smooth(speed, n).max(-1) < STILL_MPS
    if base in ("walk", "turn"):
        yaw_rate = np.degrees(np.gradient(pelvis_yaw_rad(R_world_joint[:, 0]), 1.0 / fps))
        turning = np.abs(_smooth(yaw_rate, n)) > TURN_DPS
        labels[:] = np.where(turning, ACTIVITY_INDEX["turn"], ACTIVITY_INDEX["walk"])
    if base not in _HELD_POSES:
        labels[still] = ACTIVITY_INDEX["idle"]
    return labels


def class_frequencies(labels: np.ndarray) -> np.ndarray:
    """``[len(ACTIVITIES)]`` fraction of frames in each class."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=len(ACTIVITIES))
    return counts / max(int(counts.sum()), 1)

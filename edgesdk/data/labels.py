"""Motion labels of the mocap files: Bandai-Namco content/style, CMU free-text descriptions,
HDM05 motion classes.

- Bandai-Namco: ``walk_001.json`` beside ``walk_001.bvh`` holds ``{"content": i, "style": j}``,
  0-based indices into ``cfg/content_label.txt`` and ``cfg/style_label.txt`` (one label per
  line, each prefixed ``dataset-N_``, which is stripped). The ``cfg`` folder is looked for
  beside the file and in its parent folders.
- CMU: ``cmu-index.csv`` (subject, trial, description, ...) in the folder of the BVH or a
  parent; file ``005_02.bvh`` is subject 5, trial 2.
- HDM05: the motion class is in the file name, ``HDM_<actor>_<class>_<take>_<rate>.amc``
  (``squat1Reps``): the content is the class, the description a short English phrase from
  ``HDM05_DESCRIPTIONS`` (the class name's words for a class not listed there).

Missing or unreadable label files give empty strings, never an error: labels are optional.

Example:
    >>> from edgesdk.data.sources import bundled_data_dir
    >>> load_labels(bundled_data_dir() / "cmu" / "002_03.bvh").description
    'run/jog'
"""

from __future__ import annotations

import csv
import functools
import json
import re
from pathlib import Path

from edgesdk.data.clip import Labels

_CMU_NAME_RE = re.compile(r"^(\d+)_(\d+)$")
_HDM05_NAME_RE = re.compile(r"^HDM_[A-Za-z]+_([A-Za-z0-9]+)_\d+_\d+$")
_CAMEL_RE = re.compile(r"[A-Z]?[a-z]+|\d+|[A-Z]+(?![a-z])")
# The 11 HDM05 classes of the shared set (HDM05 report CG-2007-2, its motion class list).
HDM05_DESCRIPTIONS: dict[str, str] = {
    "depositFloorR": "bend down and put something on the floor with the right hand",
    "elbowToKnee1RepsLelbowStart": "touch each knee with the opposite elbow",
    "grabHighR": "reach up high and grab something with the right hand",
    "hopBothLegs1hops": "hop on both legs",
    "jogLeftCircle4StepsRstart": "jog in a circle to the left",
    "kickLFront1Reps": "kick forward with the left leg",
    "lieDownFloor": "lie down on the floor",
    "rotateArmsBothBackward1Reps": "rotate both arms backward",
    "sneak2StepsLStart": "sneak forward",
    "squat1Reps": "squat",
    "throwBasketball": "throw a basketball",
}
_PREFIX_RE = re.compile(r"^dataset-\d+_")
_MAX_PARENTS = 3


def load_labels(bvh_path: str | Path) -> Labels:
    """Labels for one motion file, from its name or the label files beside it (empty when
    there are none).

    Example:
        >>> load_labels("/nonexistent/walk.bvh")
        Labels(content='', style='', description='')
        >>> load_labels("hdm05/HDM_bd_squat1Reps_001_120.amc").text()
        'squat'
    """
    path = Path(bvh_path)
    hdm05 = _HDM05_NAME_RE.match(path.stem)
    if hdm05:
        return hdm05_labels(hdm05.group(1))
    json_path = path.with_suffix(".json")
    if json_path.is_file():
        return _bandai_namco_labels(json_path)
    match = _CMU_NAME_RE.match(path.stem)
    if match:
        index = _find_upwards(path.parent, "cmu-index.csv")
        if index is not None:
            key = (int(match.group(1)), int(match.group(2)))
            return Labels(description=_cmu_index(str(index)).get(key, ""))
    return Labels()


def hdm05_labels(motion_class: str) -> Labels:
    """Labels of an HDM05 motion class: the class, and its description (the class name's
    words, lower case, for a class ``HDM05_DESCRIPTIONS`` lacks).

    Example:
        >>> hdm05_labels("lieDownFloor").description
        'lie down on the floor'
        >>> hdm05_labels("cartwheelLHandStart1Reps").text()
        'cartwheel l hand start 1 reps'
    """
    words = " ".join(w.lower() for w in _CAMEL_RE.findall(motion_class))
    return Labels(content=motion_class, description=HDM05_DESCRIPTIONS.get(motion_class, words))


def _bandai_namco_labels(json_path: Path) -> Labels:
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Labels()
    if not isinstance(data, dict):
        return Labels()
    cfg = _find_upwards(json_path.parent, "cfg")
    if cfg is None:
        return Labels()
    return Labels(
        content=_lookup(_label_list(str(cfg / "content_label.txt")), data.get("content")),
        style=_lookup(_label_list(str(cfg / "style_label.txt")), data.get("style")),
    )


def _lookup(labels: tuple[str, ...], index: object) -> str:
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(labels):
        return labels[index]
    return ""


@functools.lru_cache(maxsize=16)
def _label_list(path: str) -> tuple[str, ...]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    return tuple(_PREFIX_RE.sub("", line.strip()) for line in lines if line.strip())


@functools.lru_cache(maxsize=8)
def _cmu_index(path: str) -> dict[tuple[int, int], str]:
    """``(subject, trial) -> description`` from a CMU index CSV."""
    table: dict[tuple[int, int], str] = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if len(row) >= 3 and row[0].strip().isdigit() and row[1].strip().isdigit():
                    table[(int(row[0]), int(row[1]))] = row[2].strip()
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    return table


def _find_upwards(folder: Path, name: str) -> Path | None:
    for candidate in [folder, *folder.parents][: _MAX_PARENTS + 1]:
        if (candidate / name).exists():
            return candidate / name
    return None

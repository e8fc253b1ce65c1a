"""The kinds of model input, declared once (in the manner of Qualcomm AI Hub Models' input
specs): each input name a model may read, its shape and dtype, and where each stage of the
pipeline gets it from. Models declare which names they read (``ModelSpec.inputs``); the
window builder, the batcher, the runtime, quantization calibration and export look the
names up here instead of naming inputs themselves. No numpy or torch: the runtime reads it.

Sources, per stage (the functions each name stands for):

- ``window``: the ``edgesdk.data.windows.WindowDataset`` item key it is cut from (None: the
  windows do not have it, and a model is given zeros, i.e. absent);
- ``batch``: ``"stack"`` (stacked by ``edgesdk.models.base.collate``) or ``"text"``
  (``edgesdk.train.data.make_loader`` encodes the window's description with the model's text
  encoder); None when the windows lack it;
- ``runtime``: what fills it per frame in a session: ``"slots"`` (``Fusion`` over the
  calibrated devices in their slots), ``"head_pose"`` (the glasses' SLAM pose), ``"head_imu"``
  (the head device at ``k`` samples per frame), ``"text"`` (``TextContext``, the activity
  fed back as text), or None (zeros);
- ``calibration``: quantization calibration reads it from the realistic ``"windows"``, or
  from ``"text"`` (the window's description encoded), or gives zeros (None).

A kind read at ``k`` samples per frame (shape ``("batch", "k*time", ...)``, ``k`` from the
model's config) names the ``WindowConfig`` field that makes windows carry it at that rate and
the manifest's ``rates`` entry for its sample rate.

Example:
    >>> INPUT_KINDS["head_imu_hr"].sample_shape, samples_per_frame(("batch", "8*time", 12))
    ((12,), 8)
    >>> window_fields([("imu", ("batch", "time", 5, 9)), ("head_imu_hr", ("batch", "8*time", 12))])
    {'head_hr_factor': 8}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edgesdk.errors import EdgeSDKError

Shape = Sequence[int | str]


@dataclass(frozen=True)
class InputKind:
    """One model input name and where each stage gets it (see the module docstring).

    Attributes:
        name: the input's name in ``ModelSpec.inputs`` and in batches.
        sample_shape: one sample's shape after the batch and time axes; ``"dim"`` where a
            model chooses the width (a text embedding); None where the model defines it.
        per_frame: True when it has a time axis (``"time"`` or ``"k*time"``), False for one
            value per window, None where the model chooses.
        description: what it holds, with units.
        window, batch, runtime, calibration: its source in each stage, or None (zeros).
        window_field: the ``WindowConfig`` field that sets its samples per frame (``k*time``
            kinds only).
        rate_key: the manifest's ``rates`` key of its sample rate in Hz (``k*time`` kinds).
    """

    name: str
    sample_shape: tuple[int | str, ...] | None
    per_frame: bool | None
    description: str
    window: str | None
    batch: str | None
    runtime: str | None
    calibration: str | None
    dtype: str = "float32"
    window_field: str | None = None
    rate_key: str | None = None

    def matches(self, shape: Shape) -> bool:
        """Whether a model's declared shape (``TensorSpec.shape``) fits this kind."""
        if not shape or shape[0] != "batch":
            return False
        k = samples_per_frame(shape)
        if self.per_frame is not None and (k > 0) != self.per_frame:
            return False
        if self.sample_shape is None:
            return True
        rest = tuple(shape[2:] if k else shape[1:])
        return len(rest) == len(self.sample_shape) and all(
            (want == "dim" and isinstance(got, int)) or want == got
            for got, want in zip(rest, self.sample_shape, strict=True)
        )


INPUT_KINDS: dict[str, InputKind] = {
    k.name: k
    for k in (
        InputKind(
            "imu",
            (5, 9),
            True,
            "per slot: acc_world_mps2 (3) + R_world_sensor 6D (6); zeros where absent",
            window="imu",
            batch="stack",
            runtime="slots",
            calibration="windows",
        ),
        InputKind(
            "mask",
            (5,),
            True,
            "1 where the slot's device is present",
            window="mask",
            batch="stack",
            runtime="slots",
            calibration="windows",
        ),
        InputKind(
            "head",
            (9,),
            True,
            "head position (m) + R_world_head 6D",
            window="head",
            batch="stack",
            runtime="head_pose",
            calibration="windows",
        ),
        InputKind(
            "head_imu_hr",
            (12,),
            True,
            "head IMU at k x fps: acc_world_mps2, gyro_rads, R_world_sensor 6D",
            window="head_imu_hr",
            batch="stack",
            runtime="head_imu",
            calibration="windows",
            window_field="head_hr_factor",
            rate_key="head_imu_hz",
        ),
        InputKind(
            "text_emb",
            ("dim",),
            False,
            "sentence embedding of the activity description",
            window="text",
            batch="text",
            runtime="text",
            calibration="text",
        ),
        InputKind(
            "text_mask",
            (),
            False,
            "1 where a description is given",
            window="text",
            batch="text",
            runtime="text",
            calibration="text",
        ),
        InputKind(
            "image_feat",
            None,
            None,
            "image features, per window or per frame and camera (no source yet: zeros)",
            window=None,
            batch=None,
            runtime=None,
            calibration=None,
        ),
        InputKind(
            "image_mask",
            None,
            None,
            "1 where image_feat is given",
            window=None,
            batch=None,
            runtime=None,
            calibration=None,
        ),
    )
}


def input_kind(name: str) -> InputKind:
    """The declaration of input ``name``; ``EdgeSDKError`` naming the known ones."""
    kind = INPUT_KINDS.get(name)
    if kind is None:
        raise EdgeSDKError(f"unknown model input {name!r}; inputs are {', '.join(INPUT_KINDS)}")
    return kind


def samples_per_frame(shape: Shape) -> int:
    """Samples per model frame of an input of this declared shape: ``k`` for a
    ``("batch", "k*time", ...)`` input, 1 for ``("batch", "time", ...)``, 0 for none."""
    if len(shape) < 2 or not isinstance(shape[1], str):
        return 0
    if shape[1] == "time":
        return 1
    factor, sep, rest = shape[1].partition("*")
    if sep and rest == "time" and factor.isdigit():
        return int(factor)
    return 0


def window_fields(inputs: Iterable[tuple[str, Shape]]) -> dict[str, int]:
    """``WindowConfig`` fields that make windows carry the inputs read at ``k`` samples per
    frame, from a model's declared ``(name, shape)`` inputs."""
    return {
        kind.window_field: samples_per_frame(shape)
        for name, shape in inputs
        if (kind := INPUT_KINDS.get(name)) is not None and kind.window_field
    }


def manifest_rates(inputs: Iterable[tuple[str, Shape]], fps: float) -> dict[str, float | None]:
    """The manifest's ``rates`` entries of the sub-frame kinds: Hz where the model reads the
    kind, None where it does not."""
    read = {name: samples_per_frame(shape) for name, shape in inputs}
    return {
        kind.rate_key: read[kind.name] * fps if kind.name in read else None
        for kind in INPUT_KINDS.values()
        if kind.rate_key
    }


def reads_text(names: Iterable[str]) -> bool:
    """Whether inputs of these names need the window's description encoded as text."""
    return any(INPUT_KINDS[n].batch == "text" for n in names if n in INPUT_KINDS)

"""Model backends of a session: an exported artifact in its own runtime (ExecuTorch, ONNX
Runtime, LiteRT, Core ML on macOS: chosen by ``edgesdk.export.runners.open_runner`` from the
file's suffix, tensors from its manifest) or a checkpoint folder run in eager PyTorch.

Both are called once per output frame with the frame's named inputs and keep the streaming
state themselves (fed back from the state outputs the manifest pairs with inputs). Torch is
imported only by the eager backend.

Example (an artifact exported by ``edgesdk export``)::

    backend = open_backend("exports/ego4o-student-int8.onnx")
    out = backend.step({"imu": imu, "mask": mask})   # missing inputs are zeros
    out["pos_rel_m"].shape                            # (1, 22, 3)
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.export.activity_table import ActivityTable
from edgesdk.export.manifest import MAX_FPS, manifest_path, read_manifest
from edgesdk.export.runners import check_io, open_runner
from edgesdk.input_kinds import INPUT_KINDS
from edgesdk.targets import TARGETS, suffixes


class ModelBackend(abc.ABC):
    """A streaming pose model: ``step(inputs) -> outputs`` per frame, state kept inside."""

    name = ""

    def __init__(
        self,
        io: Mapping[str, Any],
        fps: float,
        model: str,
        activity: ActivityTable | None = None,
    ) -> None:
        self.model = model
        # the classes and description table of an activity head (outputs activity_prob and
        # activity_emb), or None
        self.activity = activity
        if not (isinstance(fps, int | float) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise EdgeSDKError(f"{model}: frame rate {fps!r}: must be a number in (0, {MAX_FPS:g}]")
        self.fps = float(fps)
        self.inputs: list[tuple[str, tuple[int, ...]]] = [
            (t["name"], tuple(int(d) for d in t["shape"])) for t in io["inputs"]
        ]
        self.outputs: list[str] = [t["name"] for t in io["outputs"]]
        self.state_pairs: list[tuple[str, str]] = [
            (s["output"], s["input"]) for s in io.get("state", [])
        ]
        if not self.state_pairs or "pos_rel_m" not in self.outputs:
            raise EdgeSDKError(
                f"{model}: the runtime needs a streaming student (one frame per call, state "
                "fed back, pos_rel_m out); this artifact is a windowed model"
            )
        self.state_inputs = {i for _, i in self.state_pairs}
        # zeros for inputs a frame does not give, shared by every call (runtimes copy inputs)
        self._zeros = {n: np.zeros(s, np.float32) for n, s in self.inputs}
        # samples per frame of the inputs read faster than the frame rate (``k*time`` kinds
        # of ``edgesdk.input_kinds``: the artifact's shape holds the model's k)
        self.samples_per_frame: dict[str, int] = {
            n: int(s[1]) for n, s in self.inputs if n in INPUT_KINDS and INPUT_KINDS[n].window_field
        }
        self.hr_factor = self.samples_per_frame.get("head_imu_hr", 0)
        self._state: dict[str, np.ndarray] = {}
        self.reset()

    @property
    def input_names(self) -> set[str]:
        return {n for n, _ in self.inputs} - self.state_inputs

    def reset(self) -> None:
        """Start a new stream (state zeros)."""
        shapes = dict(self.inputs)
        self._state = {i: np.zeros(shapes[i], np.float32) for _, i in self.state_pairs}

    def step(self, frame: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one frame; inputs not given are zeros. Returns every output by name."""
        feed = []
        state = self._state
        for name, shape in self.inputs:
            if name in state:
                feed.append(state[name])
            elif name in frame:
                x = frame[name]
                if type(x) is not np.ndarray or x.dtype != np.float32 or x.shape != shape:
                    x = np.asarray(x, np.float32).reshape(shape)
                feed.append(x)
            else:
                feed.append(self._zeros[name])
        outs = dict(zip(self.outputs, self._run(feed), strict=True))
        for out_name, in_name in self.state_pairs:
            self._state[in_name] = outs[out_name]
        return outs

    @abc.abstractmethod
    def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        """The runtime's call: the inputs in ``io`` order -> the outputs in ``io`` order."""


class ArtifactBackend(ModelBackend):
    """An exported artifact run by its runtime."""

    def __init__(self, artifact: Path, threads: int = 1) -> None:
        manifest = read_manifest(artifact)  # fields checked, and the artifact's hash
        self.runner = open_runner(artifact, threads)
        self.name = self.runner.backend
        if manifest["backend"] != self.name:
            raise EdgeSDKError(
                f"{manifest_path(artifact)}: describes a {manifest['backend']} artifact, "
                f"not a {self.name} one"
            )
        check_io(self.runner, manifest["io"], manifest_path(artifact))
        activity = None
        if "activity" in manifest:  # checked by read_manifest against the outputs
            activity = ActivityTable.from_manifest(manifest["activity"], manifest_path(artifact))
        super().__init__(manifest["io"], manifest["rates"]["fps"], str(manifest["model"]), activity)
        self._check_finite(artifact)

    def _check_finite(self, artifact: Path) -> None:
        """One call on a frame without devices: a model whose output is NaN there (e.g.
        NaN weights) would make no frame at all, so it is refused here."""
        try:
            out = self.step({})
        except EdgeSDKError:
            raise
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            first = lines[0][:200] if lines else type(exc).__name__
            raise EdgeSDKError(f"{artifact}: the model fails on its first call ({first})") from None
        bad = [n for n, v in out.items() if not np.isfinite(v).all()]
        self.reset()
        if bad:
            raise EdgeSDKError(
                f"{artifact}: NaN or inf in {', '.join(bad)} on an empty frame (corrupt weights?)"
            )

    def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        return self.runner.run(feed)


class EagerBackend(ModelBackend):
    """A checkpoint folder in eager PyTorch: the export signature's ``step`` module."""

    name = "pytorch"

    def __init__(self, ckpt_dir: Path, threads: int = 1) -> None:
        import torch

        from edgesdk.models.signature import signature_for
        from edgesdk.train import checkpoint

        torch.set_num_threads(threads)
        self._torch = torch
        model = checkpoint.load(ckpt_dir)
        sig = signature_for(model)
        if not sig.streaming:
            raise EdgeSDKError(f"{ckpt_dir}: not a streaming student; export a student")
        self.module = sig.module
        io = sig.to_dict()
        activity = None
        head = getattr(model, "activity_head", None)
        if head is not None:
            activity = ActivityTable(
                head.labels,
                head.descriptions,
                head.desc_emb.numpy(),
                getattr(model.config, "activity_text_backend", ""),
            )
        name = str(checkpoint.read_meta(ckpt_dir)["model"])
        super().__init__(io, model.spec.fps, name, activity)

    def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.no_grad():
            out = self.module(*(torch.from_numpy(np.ascontiguousarray(x)) for x in feed))
        return [o.numpy().astype(np.float32) for o in out]


def open_backend(path: str | Path, threads: int = 1) -> ModelBackend:
    """An artifact file (by suffix) or a checkpoint folder (``config.json`` inside)."""
    path = Path(path)
    folders = [t.suffix for t in TARGETS.values() if t.folder]  # artifacts that are folders
    if path.is_dir() and path.suffix not in folders:
        if not (path / "config.json").is_file():
            raise EdgeSDKError(f"{path}: neither an artifact nor a checkpoint folder")
        return EagerBackend(path, threads)
    if path.suffix not in suffixes():
        raise EdgeSDKError(
            f"{path}: unknown artifact type {path.suffix!r} (expected a checkpoint folder or "
            f"one of {', '.join(suffixes())})"
        )
    if not path.exists():
        raise EdgeSDKError(f"{path}: no such artifact")
    return ArtifactBackend(path, threads)

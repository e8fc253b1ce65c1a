"""Backends: an artifact in its runtime and its checkpoint in eager PyTorch agree frame by
frame with the state fed back; bad paths are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import EdgeSDKError
from edgesdk.export.export import export_model
from edgesdk.runtime.model_backend import ModelBackend, open_backend


def test_artifact_and_eager_agree_and_reset_restarts(ego_onnx: Path, ego_ckpt: Path) -> None:
    onnx, eager = open_backend(ego_onnx), open_backend(ego_ckpt)
    assert (onnx.name, eager.name) == ("onnx", "pytorch")
    assert onnx.input_names == eager.input_names == {"imu", "mask", "text_emb", "text_mask"}
    rng = np.random.default_rng(0)
    frames = [
        {
            "imu": rng.normal(size=(1, 5, 9)).astype(np.float32),
            "mask": np.array([[1, 0, 1, 0, 0]], np.float32),
        }
        for _ in range(20)
    ]
    outs = [[b.step(f)["pos_rel_m"] for f in frames] for b in (onnx, eager)]
    assert np.abs(np.stack(outs[0]) - np.stack(outs[1])).max() < 1e-4
    assert np.abs(outs[0][0] - outs[0][-1]).max() > 1e-3  # the state carries over
    onnx.reset()
    assert np.allclose(onnx.step(frames[0])["pos_rel_m"], outs[0][0], atol=1e-6)


def test_bad_paths_and_windowed_models(tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError, match="unknown artifact type"):
        open_backend(tmp_path / "model.bin")
    with pytest.raises(EdgeSDKError, match="no such artifact"):
        open_backend(tmp_path / "model.onnx")
    with pytest.raises(EdgeSDKError, match="neither an artifact nor a checkpoint"):
        open_backend(tmp_path)
    io = {
        "inputs": [{"name": "imu", "shape": [1, 60, 5, 9]}],
        "outputs": [{"name": "pos_rel_m", "shape": [1, 60, 22, 3]}],
        "state": [],
    }

    class Bare(ModelBackend):
        def _run(self, feed: list[np.ndarray]) -> list[np.ndarray]:
            return []

    with pytest.raises(EdgeSDKError, match="streaming student"):
        Bare(io, 30.0, "ego4o-small")
    del io["state"]  # a manifest may omit it (check_manifest's default): still one line
    with pytest.raises(EdgeSDKError, match="streaming student"):
        Bare(io, 30.0, "ego4o-small")


def test_litert_artifact_runs_a_session_like_onnx(
    ego_ckpt: Path, ego_onnx: Path, tmp_path: Path
) -> None:
    """The backend is chosen from the suffix (ExecuTorch works the same way; its export takes
    about 30 s here, so only LiteRT is exercised besides ONNX)."""
    tflite = export_model(ego_ckpt, "tflite", "fp32", tmp_path, progress=False)
    rng = np.random.default_rng(1)
    frames = [
        {
            "imu": rng.normal(size=(1, 5, 9)).astype(np.float32),
            "mask": np.array([[1, 1, 0, 0, 1]], np.float32),
        }
        for _ in range(10)
    ]
    backends = [open_backend(tflite), open_backend(ego_onnx), open_backend(tflite)]
    assert [b.name for b in backends] == ["tflite", "onnx", "tflite"]
    # The third goes through the interpreter's signature runner on every call, the first
    # through the tensors that runner allocated once: the same numbers, state fed back
    slow = backends[2].runner  # type: ignore[attr-defined]
    assert backends[0].runner._fast is not None  # type: ignore[attr-defined]
    slow._fast = None
    outs = [np.stack([b.step(f)["pos_rel_m"] for f in frames]) for b in backends]
    assert np.abs(outs[0] - outs[1]).max() < 1e-4
    np.testing.assert_array_equal(outs[0], outs[2])
    feed = [np.zeros(shape, np.float32) for _, shape in backends[0].inputs]
    feed[0] = np.zeros((1, 5, 8), np.float32)
    with pytest.raises(EdgeSDKError, match="shape"):
        backends[0].runner.run(feed)  # type: ignore[attr-defined]


def test_litert_integer_inputs_are_quantized_by_value_not_by_identity() -> None:
    """An int8 input (a text embedding) is quantized once while its values repeat, and again
    as soon as they change, even in the same array."""
    from edgesdk.targets.tflite import LiteRTRunner

    runner = LiteRTRunner.__new__(LiteRTRunner)
    runner._cache = {}
    detail = {"dtype": np.int8, "quantization": (0.1, 0)}
    x = np.full(4, 0.5, np.float32)
    first = runner._quantized(2, x, detail)
    assert first.tolist() == [5, 5, 5, 5] and runner._quantized(2, x.copy(), detail) is first
    x[:] = 0.3  # changed in place
    assert runner._quantized(2, x, detail).tolist() == [3, 3, 3, 3]
    assert runner._quantized(0, np.full(4, 9.9, np.float32), detail).tolist() == [99] * 4

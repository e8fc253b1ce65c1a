"""Ego4o's transformer blocks: the multimodal encoder and the motion-captioning decoder.

The multimodal encoder reads, at a quarter of the frame rate, one token per IMU slot and time
step, one text token, one image token, and queries: one per body part and time step (read
out as code logits) and one heading query (the pelvis yaw at the first frame). Every input
that is absent (a slot without a device, no description, no image) is replaced by a learned
"absent" token of its kind, which keeps the graph free of data-dependent attention masks so
that it exports as one static program.

The caption decoder is a small word-level transformer over a vocabulary fitted to the
training descriptions; it cross-attends to the motion codes (and the text / image tokens).

Example:
    >>> tokenize("Basketball - forward dribble"), detokenize(["dance", "-", "arms", ",", "spin"])
    (['basketball', '-', 'forward', 'dribble'], 'dance - arms, spin')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from edgesdk.body.rotations import normalize
from edgesdk.models.ego4o_vqvae import DOWNSAMPLE, NUM_PARTS
from edgesdk.models.layers.attention import MultiHeadAttention

NUM_SLOTS = 5
IMU_CHANNELS = 9
ACC_SCALE = 0.1  # m/s^2 -> about unit range for the token embedding

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(len(SPECIAL_TOKENS))
_TOKEN_RE = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
_NO_SPACE_BEFORE = re.compile(r"\s+([,.;:!?)])")
_MAX_WORD_CHARS = 32


def _init_embedding(shape: tuple[int, ...]) -> nn.Parameter:
    return nn.Parameter(0.02 * torch.randn(*shape))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, MLP."""

    def __init__(self, dim: int, heads: int, cross: bool = False, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.ln_cross: nn.LayerNorm | None = nn.LayerNorm(dim) if cross else None
        self.cross = MultiHeadAttention(dim, heads) if cross else None
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: Tensor, context: Tensor | None = None, causal: bool = False) -> Tensor:
        x = x + self.attn(self.ln1(x), causal=causal)
        if self.cross is not None and self.ln_cross is not None and context is not None:
            x = x + self.cross(self.ln_cross(x), context)
        return x + self.mlp(self.ln2(x))


class MultimodalEncoder(nn.Module):
    """IMU slots + text + image -> per-part code logits ``[B, 6, T/4, N]`` and heading ``[B, 2]``.

    The image slot takes a feature vector (e.g. a frozen image backbone's embedding of an
    egocentric frame). This project has no egocentric images, so in training it is always
    absent (its learned absent token) unless a batch carries ``image_feat``; the projection
    exists so that a model trained with image features keeps the paper's interface.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        layers: int,
        num_codes: int,
        text_dim: int,
        image_dim: int,
        max_steps: int,
    ) -> None:
        super().__init__()
        # A 4-frame patch per token (kernel = stride = 4), with the presence flag as a 10th
        # channel so that a slot joining mid-patch is not mistaken for zero motion.
        self.imu_embed = nn.Conv1d(IMU_CHANNELS + 1, dim, DOWNSAMPLE, stride=DOWNSAMPLE)
        self.imu_mlp = nn.Sequential(nn.GELU(), nn.Linear(dim, dim))
        self.text_proj = nn.Linear(text_dim, dim)
        self.image_proj = nn.Linear(image_dim, dim)
        self.slot_emb = _init_embedding((NUM_SLOTS, dim))
        self.time_emb = _init_embedding((max_steps, dim))
        self.absent_imu = _init_embedding((dim,))
        self.absent_text = _init_embedding((dim,))
        self.absent_image = _init_embedding((dim,))
        self.part_query = _init_embedding((NUM_PARTS, dim))
        self.heading_query = _init_embedding((dim,))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)
        self.code_head_w = nn.Parameter(torch.randn(NUM_PARTS, dim, num_codes) / dim**0.5)
        self.code_head_b = nn.Parameter(torch.zeros(NUM_PARTS, num_codes))
        self.heading_head = nn.Linear(dim, 2)

    def forward(
        self,
        imu: Tensor,
        mask: Tensor,
        text_emb: Tensor,
        text_mask: Tensor,
        image_feat: Tensor,
        image_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        B, T = imu.shape[:2]
        steps = T // DOWNSAMPLE
        present = (mask > 0.5).to(imu.dtype)
        x = torch.cat([imu[..., :3] * ACC_SCALE, imu[..., 3:]], -1) * present[..., None]
        x = torch.cat([x, present[..., None]], -1)  # [B, T, 5, 10]
        x = x.permute(0, 2, 3, 1).reshape(B * NUM_SLOTS, IMU_CHANNELS + 1, T)
        tok = self.imu_embed(x).view(B, NUM_SLOTS, -1, steps).transpose(2, 3)
        tok = tok + self.imu_mlp(tok)
        slot_present = present.reshape(B, steps, DOWNSAMPLE, NUM_SLOTS).amax(2).transpose(1, 2)
        tok = torch.where(slot_present[..., None] > 0, tok, self.absent_imu)
        tok = tok + self.slot_emb[:, None] + self.time_emb[:steps]
        text = torch.where(text_mask[:, None] > 0.5, self.text_proj(text_emb), self.absent_text)
        image = torch.where(
            image_mask[:, None] > 0.5, self.image_proj(image_feat), self.absent_image
        )
        queries = (self.part_query[:, None] + self.time_emb[:steps]).expand(B, -1, -1, -1)
        seq = torch.cat(
            [
                self.heading_query.expand(B, 1, -1),
                text[:, None],
                image[:, None],
                tok.flatten(1, 2),
                queries.flatten(1, 2),
            ],
            1,
        )
        for block in self.blocks:
            seq = block(seq)
        seq = self.ln_f(seq)
        parts = seq[:, -NUM_PARTS * steps :].reshape(B, NUM_PARTS, steps, -1)
        logits = torch.einsum("bpsd,pdn->bpsn", parts, self.code_head_w)
        logits = logits + self.code_head_b[:, None]
        heading = normalize(self.heading_head(seq[:, 0]), eps=1e-6)
        return logits, heading


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks of a description."""
    return _TOKEN_RE.findall(text.lower())


def detokenize(words: Iterable[str]) -> str:
    """Words back to text, without spaces before closing punctuation."""
    return _NO_SPACE_BEFORE.sub(r"\1", " ".join(words))


def build_vocabulary(texts: Iterable[str], max_words: int, max_bytes: int) -> list[str]:
    """The most frequent words of ``texts`` (ties alphabetical), at most ``max_words`` of
    them and ``max_bytes`` bytes of UTF-8 with one separator each."""
    counts = Counter(w for t in texts for w in tokenize(t) if len(w) <= _MAX_WORD_CHARS)
    words: list[str] = []
    size = 0
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cost = len(word.encode("utf-8")) + 1
        if len(words) >= max_words or size + cost > max_bytes:
            break
        words.append(word)
        size += cost
    return words


class Captioner(nn.Module):
    """Motion codes (+ text / image tokens) -> a description, one word at a time.

    The vocabulary is a persistent buffer of fixed size (UTF-8 words joined by newlines), so a
    checkpoint rebuilds it whatever the words are; ``set_vocabulary`` fills it.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        layers: int,
        code_dim: int,
        text_dim: int,
        image_dim: int,
        max_vocab: int,
        max_words: int,
        max_steps: int,
    ) -> None:
        super().__init__()
        self.max_vocab, self.max_words = max_vocab, max_words
        self.code_proj = nn.Linear(code_dim, dim)
        self.part_emb = _init_embedding((NUM_PARTS, dim))
        self.time_emb = _init_embedding((max_steps, dim))
        self.text_proj = nn.Linear(text_dim, dim)
        self.image_proj = nn.Linear(image_dim, dim)
        self.absent_text = _init_embedding((dim,))
        self.absent_image = _init_embedding((dim,))
        self.tok_emb = nn.Embedding(max_vocab, dim)
        nn.init.normal_(self.tok_emb.weight, std=0.02)  # small: it is also the output layer
        self.pos_emb = _init_embedding((max_words + 2, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, cross=True) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, max_vocab, bias=False)
        self.head.weight = self.tok_emb.weight  # tied, as in GPT-2
        self.register_buffer("vocab_utf8", torch.zeros(16 * max_vocab, dtype=torch.uint8))
        self.register_buffer("vocab_size", torch.tensor(len(SPECIAL_TOKENS)))
        self.vocab_utf8: Tensor
        self.vocab_size: Tensor

    def set_vocabulary(self, words: Sequence[str]) -> None:
        """Store the word list (without the special tokens)."""
        data = "\n".join(words).encode("utf-8")
        if len(words) + len(SPECIAL_TOKENS) > self.max_vocab or len(data) > self.vocab_utf8.numel():
            raise ValueError(f"{len(words)} words ({len(data)} bytes) do not fit the buffer")
        buf = torch.zeros_like(self.vocab_utf8)
        buf[: len(data)] = torch.tensor(list(data), dtype=torch.uint8)
        self.vocab_utf8.copy_(buf)
        self.vocab_size.fill_(len(SPECIAL_TOKENS) + len(words))

    def vocabulary(self) -> list[str]:
        """Special tokens then words; the index of a word is its token id."""
        data = bytes(self.vocab_utf8.cpu().tolist()).rstrip(b"\0").decode("utf-8")
        return [*SPECIAL_TOKENS, *(data.split("\n") if data else [])]

    def token_ids(self, texts: Sequence[str]) -> Tensor:
        """Descriptions -> ``[B, max_words + 2]`` ids: BOS, words (UNK when unknown), EOS,
        PAD; a blank description is all PAD (no target)."""
        index = {w: i for i, w in enumerate(self.vocabulary())}
        out = torch.full((len(texts), self.max_words + 2), PAD, dtype=torch.long)
        for row, text in enumerate(texts):
            words = tokenize(text)[: self.max_words]
            if words:
                ids = [BOS, *(index.get(w, UNK) for w in words), EOS]
                out[row, : len(ids)] = torch.tensor(ids)
        return out.to(self.vocab_size.device)

    def memory(
        self,
        z_q: Tensor,
        text_emb: Tensor,
        text_mask: Tensor,
        image_feat: Tensor,
        image_mask: Tensor,
    ) -> Tensor:
        """Codes ``[B, 6, S, D]`` and the text / image inputs -> memory tokens ``[B, M, dim]``."""
        steps = z_q.shape[2]
        codes = self.code_proj(z_q) + self.part_emb[:, None] + self.time_emb[:steps]
        text = torch.where(text_mask[:, None] > 0.5, self.text_proj(text_emb), self.absent_text)
        image = torch.where(
            image_mask[:, None] > 0.5, self.image_proj(image_feat), self.absent_image
        )
        return torch.cat([text[:, None], image[:, None], codes.flatten(1, 2)], 1)

    def forward(self, tokens: Tensor, memory: Tensor) -> Tensor:
        """Teacher forcing: ids ``[B, L]`` -> next-word logits ``[B, L, max_vocab]``."""
        x = self.tok_emb(tokens) + self.pos_emb[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x, memory, causal=True)
        logits: Tensor = self.head(self.ln_f(x))
        unused = torch.arange(self.max_vocab, device=tokens.device) >= self.vocab_size
        return logits.masked_fill(unused, float("-inf"))

    @torch.no_grad()
    def generate(self, memory: Tensor) -> list[str]:
        """Greedy decoding to at most ``max_words`` words per sample."""
        B = memory.shape[0]
        ids = torch.full((B, 1), BOS, dtype=torch.long, device=memory.device)
        done = torch.zeros(B, dtype=torch.bool, device=memory.device)
        for _ in range(self.max_words + 1):
            logits = self(ids, memory)[:, -1]
            logits[:, [PAD, BOS]] = float("-inf")
            nxt = torch.where(done, torch.full_like(done, PAD, dtype=torch.long), logits.argmax(-1))
            ids = torch.cat([ids, nxt[:, None]], 1)
            done = done | (nxt == EOS)
            if bool(done.all()):
                break
        vocab = self.vocabulary()
        out = []
        for row in ids[:, 1:].tolist():
            words = []
            for i in row:
                if i in (EOS, PAD):
                    break
                if i != UNK:
                    words.append(vocab[i])
            out.append(detokenize(words))
        return out

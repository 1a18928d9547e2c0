"""The Vaswani et al. (2017) encoder-decoder transformer, from scratch.

No nn.MultiheadAttention, nn.Transformer* or F.scaled_dot_product_attention: the attention is
viz.attention's functions, so the page shows exactly the math the model runs.

Dimensions: B batch, T tokens (Ts source, Tt target), H heads, D = d_head, C = d_model.

Intermediate tensors are exposed through identity modules (`HookPoint`, as in TransformerLens)
and read with `capture(model)`, which records them for the calling thread until its block ends.
The forward pass itself has no flags: it is the same math whether anyone is watching or not.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from viz.attention import causal_mask, masked_softmax, scaled_scores
from viz.positional import sinusoidal

Positional = Literal["sinusoidal", "learned", "none"]


@dataclass(frozen=True)
class TransformerConfig:
    src_vocab: int
    tgt_vocab: int
    d_model: int = 64
    n_heads: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    d_ff: int = 256
    max_len: int = 32
    dropout: float = 0.0
    positional: Positional = "sinusoidal"
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.d_model < 1 or self.n_heads < 1:
            raise ValueError(f"d_model and n_heads must be >= 1, got {self.d_model}, {self.n_heads}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model = {self.d_model} is not divisible by n_heads = {self.n_heads}: "
                "each head gets d_model / n_heads dimensions"
            )
        if self.positional not in ("sinusoidal", "learned", "none"):
            raise ValueError(f"positional must be sinusoidal, learned or none, got {self.positional!r}")


class HookPoint(nn.Module):
    """Returns its input unchanged; while a `capture` block of this thread is open, records it.

    Not a forward hook: adding and removing eleven hooks cost more than the 2-layer decoder's whole
    forward pass at 64 tokens (benchmarks/decoder.py), and a model with no hooks takes torch's fast
    call path. The recorders are per thread, so sessions sharing a model never mix tensors.
    """

    def forward(self, x: Tensor) -> Tensor:
        for points, store in getattr(_recorders, "open", ()):
            path = points.get(self)
            if path is not None:
                store[path] = x.detach() if x.requires_grad else x  # the last pass wins
        return x


_recorders = threading.local()  # .open: this thread's [(HookPoint -> path, store)], innermost last


@contextmanager
def capture(model: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Record the output of every HookPoint in `model` during the forward passes in the block.

    Yields a dict {module path: tensor}, filled as the model runs (the last pass wins); only this
    thread's passes are recorded, so sessions sharing a model never mix tensors. Blocks nest.
    """
    points = _hook_points.get(model)
    if points is None:  # a model's modules do not change after it is built: walk them once
        points = _hook_points[model] = {m: n for n, m in model.named_modules() if isinstance(m, HookPoint)}
    store: dict[str, Tensor] = {}
    if not hasattr(_recorders, "open"):
        _recorders.open = []
    entry = (points, store)
    _recorders.open.append(entry)
    try:
        yield store
    finally:  # by identity: two open blocks on one model hold equal (points, store) tuples
        _recorders.open[:] = [e for e in _recorders.open if e is not entry]


_hook_points: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {HookPoint: its path}


class MultiHeadAttention(nn.Module):
    """Multi-head attention: concat_i softmax(Q_i K_iᵀ / √D) V_i, then W_O.

    Q = x_query W_Q, K = x_key_value W_K, V = x_key_value W_V. nn.Linear stores each weight as
    (out, in) = (C, C) and computes x Wᵀ, so W_Q as a math matrix (C x C, split into H blocks
    of C x D) is `w_q.weight.T`.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model = {d_model} is not divisible by n_heads = {n_heads}")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.hook_q = HookPoint()  # (B, H, Tq, D)
        self.hook_k = HookPoint()  # (B, H, Tk, D)
        self.hook_v = HookPoint()  # (B, H, Tk, D)
        self.hook_scores = HookPoint()  # (B, H, Tq, Tk), scaled, before the mask
        self.hook_weights = HookPoint()  # (B, H, Tq, Tk)

    def _split(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, D)

    def forward(self, x_query: Tensor, x_key_value: Tensor, mask: Tensor | None = None) -> Tensor:
        """x_query (B, Tq, C), x_key_value (B, Tk, C), mask broadcastable to (B, H, Tq, Tk)."""
        B, Tq, C = x_query.shape
        q = self.hook_q(self._split(self.w_q(x_query)))  # (B, H, Tq, D)
        k = self.hook_k(self._split(self.w_k(x_key_value)))  # (B, H, Tk, D)
        v = self.hook_v(self._split(self.w_v(x_key_value)))  # (B, H, Tk, D)
        scores = self.hook_scores(scaled_scores(q, k))  # (B, H, Tq, Tk)
        weights = self.hook_weights(masked_softmax(scores, mask))  # (B, H, Tq, Tk)
        heads = weights @ v  # (B, H, Tq, D)
        concat = heads.transpose(1, 2).reshape(B, Tq, C)  # (B, Tq, H*D)
        return self.w_o(concat)  # (B, Tq, C)


class FeedForward(nn.Module):
    """Position-wise feed-forward: Linear(C, d_ff) -> ReLU -> Linear(d_ff, C)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward; each sublayer wrapped as LayerNorm(x + sublayer(x))."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.norm1(x + self.drop(self.self_attn(x, x, mask)))
        return self.norm2(x + self.ff(x))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the encoder output, then feed-forward."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.norm3 = nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, y: Tensor, memory: Tensor, self_mask: Tensor, memory_mask: Tensor | None) -> Tensor:
        y = self.norm1(y + self.drop(self.self_attn(y, y, self_mask)))
        y = self.norm2(y + self.drop(self.cross_attn(y, memory, memory_mask)))
        return self.norm3(y + self.ff(y))


class Embedding(nn.Module):
    """Token embedding · √C plus the configured positional encoding."""

    def __init__(self, vocab: int, cfg: TransformerConfig) -> None:
        super().__init__()
        self.scale = math.sqrt(cfg.d_model)
        self.tok = nn.Embedding(vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.positional = cfg.positional
        if cfg.positional == "learned":
            self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        elif cfg.positional == "sinusoidal":
            pe = torch.from_numpy(sinusoidal(cfg.max_len, cfg.d_model))
            self.register_buffer("pe", pe, persistent=False)  # (max_len, C)
        self.drop = nn.Dropout(cfg.dropout)
        self.hook_out = HookPoint()  # (B, T, C): X, the input to the first layer

    def position_table(self) -> Tensor | None:
        """(max_len, C) positional encodings added to the tokens, or None."""
        if self.positional == "learned":
            return self.pos.weight
        if self.positional == "sinusoidal":
            return self.pe
        return None

    def forward(self, ids: Tensor) -> Tensor:
        B, T = ids.shape
        x = self.tok(ids) * self.scale  # (B, T, C)
        table = self.position_table()
        if table is not None:
            if T > table.shape[0]:
                raise ValueError(f"sequence of {T} tokens is longer than max_len = {table.shape[0]}")
            x = x + table[:T]
        return self.hook_out(self.drop(x))


class Transformer(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.src_embed = Embedding(cfg.src_vocab, cfg)
        self.tgt_embed = Embedding(cfg.tgt_vocab, cfg)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        self.generator = nn.Linear(cfg.d_model, cfg.tgt_vocab)

    def key_mask(self, ids: Tensor) -> Tensor:
        """(B, 1, 1, T): True where the key is a real token, not padding."""
        return (ids != self.cfg.pad_id)[:, None, None, :]

    def encode(self, src: Tensor) -> Tensor:
        """src (B, Ts) token ids -> memory (B, Ts, C)."""
        mask = self.key_mask(src)
        x = self.src_embed(src)
        for layer in self.encoder:
            x = layer(x, mask)
        return x

    def decode(self, tgt_in: Tensor, memory: Tensor, src: Tensor) -> Tensor:
        """tgt_in (B, Tt) ids starting with <s>, memory (B, Ts, C) -> logits (B, Tt, V)."""
        Tt = tgt_in.shape[1]
        self_mask = causal_mask(Tt, tgt_in.device) & self.key_mask(tgt_in)  # (B, 1, Tt, Tt)
        y = self.tgt_embed(tgt_in)
        for layer in self.decoder:
            y = layer(y, memory, self_mask, self.key_mask(src))
        return self.generator(y)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self.decode(tgt_in, self.encode(src), src)

    @torch.no_grad()
    def greedy(self, src: Tensor, bos_id: int, eos_id: int, max_len: int) -> Tensor:
        """Batched greedy decoding. Returns (B, <= max_len + 1) ids, starting with <s>.

        Sequences that finished are padded after their </s>.
        """
        memory = self.encode(src)
        out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            nxt = self.decode(out, memory, src)[:, -1].argmax(-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, self.cfg.pad_id), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == eos_id
            if done.all():
                break
        return out

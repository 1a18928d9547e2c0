"""A decoder-only transformer (GPT), from scratch, and its attention.

    model, vocab = load_bundled("induction")          # 2 attention-only layers, 4 heads
    ids = encode(vocab, "the cat sat. the cat sat.")  # [<s>, t, h, e, ...]
    trace = trace_ids(model, ids)                    # AttentionTrace, weights (L, H, T, T)
    logits = model(torch.tensor([ids]))              # (1, T, len(vocab)): the next token's logits

Built from the encoder-decoder's own modules (viz.scratch.model.MultiHeadAttention, HookPoint) and
viz.attention's causal_mask: every block is masked self-attention, so position t reads positions
0..t only. A block is `x = x + attn(ln(x))`, then `x = x + mlp(ln(x))` unless the model is
attention-only; LayerNorm is optional (the induction models have none, as in Elhage et al. 2021).

The vocabulary of the bundled models is characters: `<s>` (id 0, the start of every sequence, the
only special token) and 63 ordinary tokens: lowercase letters, digits, space and punctuation.
Dimensions: B batch, T tokens, L layers, H heads, D = d_head, C = d_model, V vocabulary.
"""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from viz.attention import causal_mask, split_output_projection
from viz.scratch.model import FeedForward, HookPoint, MultiHeadAttention, capture
from viz.trace import AttentionTrace

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
BOS = "<s>"
# 63 ordinary tokens: what a student can type, lowercased.
ORDINARY = tuple("abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?'\"-()/+=*&%#@[]_$~^|")
VOCAB = (BOS, *ORDINARY)
BUNDLED = {"induction": "induction.pt", "induction_1layer": "induction_1layer.pt"}


@dataclass(frozen=True)
class DecoderConfig:
    vocab: int = len(VOCAB)
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    attn_only: bool = True  # no MLP in the blocks
    layer_norm: bool = False

    def __post_init__(self) -> None:
        if min(self.vocab, self.d_model, self.n_heads, self.n_layers, self.max_len) < 1:
            raise ValueError(f"every size of a DecoderConfig must be >= 1, got {self}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model = {self.d_model} is not divisible by n_heads = {self.n_heads}")


class Block(nn.Module):
    """Masked self-attention, then (unless attention-only) an MLP; pre-norm residual as in GPT-2."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        norm = (lambda: nn.LayerNorm(cfg.d_model)) if cfg.layer_norm else nn.Identity
        self.ln1 = norm()
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads)
        self.ln2 = norm() if not cfg.attn_only else None
        self.mlp = FeedForward(cfg.d_model, cfg.d_ff, 0.0) if not cfg.attn_only else None

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, mask)  # (B, T, C)
        if self.mlp is not None:
            x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)  # learned positions
        self.hook_embed = HookPoint()  # (B, T, C): token + position, the residual stream's start
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model) if cfg.layer_norm else nn.Identity()
        self.unembed = nn.Linear(cfg.d_model, cfg.vocab)

    def forward(self, ids: Tensor) -> Tensor:
        """ids (B, T) LongTensor -> next-token logits (B, T, V): row t predicts token t + 1."""
        B, T = ids.shape
        if T > self.cfg.max_len:
            raise ValueError(f"a sequence of {T} tokens is longer than the context, {self.cfg.max_len}")
        positions = torch.arange(T, device=ids.device)
        x = self.hook_embed(self.tok(ids) + self.pos(positions))  # (B, T, C)
        mask = causal_mask(T, ids.device)  # (T, T), broadcast over batch and heads
        for block in self.blocks:
            x = block(x, mask)
        return self.unembed(self.ln_f(x))  # (B, T, V)


# --- vocabulary -----------------------------------------------------------------------------------

class DecoderInputError(ValueError):
    """A text the bundled decoder cannot read; the message says why and what to do."""


def show_token(token: str) -> str:
    """A token as figures label it: a space is drawn as ␣, so it can be seen."""
    return "␣" if token == " " else token


def encode(vocab: tuple[str, ...], text: str, max_len: int | None = None) -> list[int]:
    """<s> then one id per character of `text`, lowercased. DecoderInputError for characters the
    vocabulary lacks or a text longer than max_len - 1 characters."""
    index = {t: i for i, t in enumerate(vocab)}
    text = (text or "").lower()
    if not text.strip():
        raise DecoderInputError("Type some text, or press “Repeat it” for a random sequence and its copy.")
    unknown = list(dict.fromkeys(ch for ch in text if ch not in index or ch == BOS))
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        raise DecoderInputError(f"The model has no token for {shown}. It reads lowercase letters, digits, "
                                "space and the punctuation . , ; : ! ? ' \" - ( ) / + = * & % # @ [ ] _ $ ~ ^ |")
    if max_len is not None and len(text) + 1 > max_len:
        raise DecoderInputError(f"The text has {len(text)} characters; this model's context is {max_len} "
                                f"tokens, <s> and {max_len - 1} characters. Shorten it.")
    return [index[BOS], *(index[ch] for ch in text)]


def random_repeat(rng: np.random.Generator, n: int, vocab_size: int = len(VOCAB),
                  distinct: bool = False) -> list[int]:
    """<s>, n random ordinary tokens (ids 1..vocab_size-1), then the same n again: 2n + 1 ids.
    distinct=True draws the n without replacement, so each token's successor is unique."""
    first = (rng.choice(np.arange(1, vocab_size), size=n, replace=False) if distinct
             else rng.integers(1, vocab_size, size=n))
    return [0, *first.tolist(), *first.tolist()]


# --- checkpoints and traces -----------------------------------------------------------------------

def save(model: GPT, vocab: tuple[str, ...], path: Path, metrics: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "gpt", "config": asdict(model.cfg), "vocab": list(vocab),
                "state_dict": model.state_dict(), "metrics": metrics}, path)


def load(path: Path, device: torch.device | str = "cpu") -> tuple[GPT, tuple[str, ...], dict]:
    """(model, vocab, metrics) from a checkpoint written by save(); weights_only: no pickled code."""
    blob = torch.load(path, map_location=device, weights_only=True)
    model = GPT(DecoderConfig(**blob["config"])).to(device)
    model.load_state_dict(blob["state_dict"])
    return model.eval(), tuple(blob["vocab"]), blob["metrics"]


def load_bundled(name: str = "induction", device: torch.device | str = "cpu") -> tuple[GPT, tuple[str, ...]]:
    """A bundled decoder: "induction" (2 layers) or "induction_1layer" (the control)."""
    if name not in BUNDLED:
        raise ValueError(f"There is no bundled decoder {name!r}; choose one of {', '.join(BUNDLED)}.")
    model, vocab, _ = load(CHECKPOINT_DIR / BUNDLED[name], device)
    return model, vocab


def bundled_metrics(name: str) -> dict:
    return torch.load(CHECKPOINT_DIR / BUNDLED[name], map_location="cpu", weights_only=True)["metrics"]


@torch.no_grad()
def trace_ids(model: GPT, ids: list[int] | Tensor, vocab: tuple[str, ...] = VOCAB) -> AttentionTrace:
    """Every layer's masked self-attention on one sequence: weights (L, H, T, T), the causal mask as
    the trace's mask, Q, K, V and each head's slice of W_O. Tokens are labelled by vocab. Like a
    pretrained trace it keeps no scores array (no view of this model reads every head's): a view
    asks `trace.head_scores(layer, head)`, which recomputes one head's from Q and K."""
    w_o, device = _split_w_o(model)
    ids_t = torch.as_tensor(ids, dtype=torch.long, device=device).reshape(1, -1)
    with capture(model) as store:
        model(ids_t)
    paths = _hook_paths(model.cfg.n_layers)

    def stack(hook: str) -> np.ndarray:  # (L, H, ...) with the batch dropped: one copy to numpy
        return torch.stack([store[path][0] for path in paths[hook]]).float().cpu().numpy()

    shown = _shown(vocab)
    tokens = tuple(shown[i] for i in ids_t[0].tolist())
    return AttentionTrace(tokens, tokens, weights=stack("hook_weights"), scores=None,
                          queries=stack("hook_q"), keys=stack("hook_k"), values=stack("hook_v"),
                          mask=_causal(len(tokens)), name="masked self-attention", w_o=w_o,
                          scaling=1 / math.sqrt(model.cfg.d_model // model.cfg.n_heads))


# A trace's fixed parts, made once. At 64 tokens the 2-layer model's forward is about 0.6 ms, so
# the trace's own work has to be tens of microseconds to stay within 1.2 x of it (benchmarks/decoder.py).

@functools.lru_cache(maxsize=8)
def _shown(vocab: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(show_token(t) for t in vocab)


@functools.lru_cache(maxsize=8)
def _hook_paths(n_layers: int) -> dict[str, tuple[str, ...]]:
    return {hook: tuple(f"blocks.{i}.attn.{hook}" for i in range(n_layers))
            for hook in ("hook_weights", "hook_q", "hook_k", "hook_v")}


@functools.lru_cache(maxsize=8)
def _causal(T: int) -> np.ndarray:
    mask = np.tril(np.ones((T, T), dtype=bool))
    mask.flags.writeable = False  # shared by every trace of this length
    return mask


_w_o_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (versions, (L, H, D, C))


def _split_w_o(model: GPT) -> tuple[np.ndarray, torch.device]:
    """Each layer's W_O split by head, (L, H, D, C), and the model's device; made again only when a
    weight has changed (a training step writes them in place, which bumps the tensor's version)."""
    weights = [b.attn.w_o.weight for b in model.blocks]
    versions = tuple((w.data_ptr(), w._version) for w in weights)
    cached = _w_o_cache.get(model)
    if cached is None or cached[0] != versions:
        w_o = np.stack([split_output_projection(w.detach().float().cpu().numpy(), model.cfg.n_heads)
                        for w in weights])
        w_o.flags.writeable = False
        cached = _w_o_cache[model] = (versions, w_o)
    return cached[1], weights[0].device


@torch.no_grad()
def next_token_logits(model: GPT, ids: list[int]) -> np.ndarray:
    """(V,) float64 logits of the token after `ids`."""
    device = next(model.parameters()).device
    return model(torch.tensor([ids], device=device))[0, -1].double().cpu().numpy()

"""Context-aware vectors: one word's vector after every layer in two sentences, and one head's
output x'_i = Σ_j w_ij · v_j split into its weighted parts.

Shapes: L layers (L + 1 hidden states: the embeddings, then the output of each layer), T tokens,
C = d_model, D = d_head. No torch, no streamlit: the hidden states come in as numpy arrays
(viz.pretrained.text.hidden_states) and the weights and values from an AttentionTrace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viz.trace import AttentionTrace

MAX_WORD = 50


class WordNotFound(ValueError):
    """The word is empty, too long, or not among a sentence's tokens; the message says which."""


def word_candidates(tokenizer, word: str) -> list[list[str]]:
    """How the tokenizer may write `word` inside a sentence: alone, and after a space (BPE models)."""
    word = (word or "").strip()
    if not word:
        raise WordNotFound("Type the word to follow (one word that appears in both sentences).")
    if len(word) > MAX_WORD or len(word.split()) > 1:
        raise WordNotFound(f"Type a single word of at most {MAX_WORD} characters, without spaces.")
    out = []
    for form in (word, " " + word):
        pieces = list(tokenizer.tokenize(form))
        if pieces and pieces not in out:
            out.append(pieces)
    if not out:
        raise WordNotFound("The tokenizer keeps nothing of that word; type letters or digits.")
    return out


def find_word(tokens: Sequence[str], candidates: list[list[str]]) -> list[int]:
    """Positions of the first occurrence of the word's pieces in `tokens`; [] if absent."""
    low = [t.lower() for t in tokens]
    for pieces in candidates:
        p = [x.lower() for x in pieces]
        for s in range(len(low) - len(p) + 1):
            if low[s:s + len(p)] == p:
                return list(range(s, s + len(p)))
    return []


def locate(tokens: Sequence[str], candidates: list[list[str]], word: str, where: str) -> list[int]:
    """find_word, or WordNotFound with a sentence naming the sentence and its tokens."""
    pos = find_word(tokens, candidates)
    if not pos:
        shown = " ".join(t for t in tokens[:40])
        raise WordNotFound(f"'{word}' is not in {where} (its tokens: {shown}). Type a word that appears in it.")
    return pos


def cosine_by_layer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(L + 1, C), (L + 1, C) -> (L + 1,) cosine similarity of the two vectors at each layer."""
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-12)


@dataclass(frozen=True)
class WordDrift:
    word: str
    pieces: tuple[str, ...]
    positions_a: tuple[int, ...]
    positions_b: tuple[int, ...]
    vectors_a: np.ndarray  # (L + 1, C): mean of the word's pieces at each layer
    vectors_b: np.ndarray
    cosine: np.ndarray  # (L + 1,)

    @property
    def least_alike(self) -> int:
        """The 0-based layer after which the two vectors are least alike (embeddings excluded)."""
        return int(np.argmin(self.cosine[1:]))


def word_drift(word: str, candidates: list[list[str]], tokens_a: Sequence[str], hidden_a: np.ndarray,
               tokens_b: Sequence[str], hidden_b: np.ndarray) -> WordDrift:
    """The word's vector (the mean of its word pieces) after every layer in sentence A and in B."""
    pa = locate(tokens_a, candidates, word, "sentence A")
    pb = locate(tokens_b, candidates, word, "sentence B")
    va = hidden_a[:, pa].mean(axis=1)  # (L + 1, C)
    vb = hidden_b[:, pb].mean(axis=1)
    return WordDrift(word, tuple(tokens_a[i] for i in pa), tuple(pa), tuple(pb), va, vb, cosine_by_layer(va, vb))


@dataclass(frozen=True)
class WeightedParts:
    query: int  # i
    weights: np.ndarray  # (T,) w_ij
    parts: np.ndarray  # (T, D) w_ij · v_j
    output: np.ndarray  # (D,) x'_i = Σ_j w_ij · v_j

    @property
    def norms(self) -> np.ndarray:
        return np.linalg.norm(self.parts, axis=-1)  # (T,)


def weighted_parts(trace: AttentionTrace, layer: int, head: int, query: int) -> WeightedParts:
    """One head's output for token `query`, before W_O, as the sum of its weighted values."""
    w = trace.head(layer, head)[query]  # (T,)
    parts = w[:, None] * trace.values[layer, head]  # (T, D)
    return WeightedParts(query, w, parts, parts.sum(axis=0))


def strongest_link(trace: AttentionTrace, query: int, skip_special: bool = True,
                   min_distance: int = 1) -> tuple[int, int, int, float]:
    """(layer, head, key, weight): the largest weight from `query` to a non-special token at least
    `min_distance` positions away (2 skips the neighbours, which positional heads always pick)."""
    keep = np.abs(np.arange(len(trace.key_tokens)) - query) >= max(1, min_distance)
    if skip_special and "special" in trace.meta:
        keep &= ~np.asarray(trace.meta["special"], bool)
    if not keep.any():
        raise WordNotFound("The sentence has no word far enough away to attend to; type a longer sentence.")
    w = np.where(keep, trace.weights[:, :, query, :], -1.0)  # (L, H, T)
    layer, head, key = np.unravel_index(int(np.argmax(w)), w.shape)
    return int(layer), int(head), int(key), float(w[layer, head, key])


# --- a head worth opening on, and what to notice in any head ---------------------------------------

def _far_keys(trace: AttentionTrace) -> np.ndarray:
    """(T, T) True where key j is a word at least two positions from query i (not [CLS]/[SEP],
    which many heads rest on when they have nothing to do, and not a neighbour)."""
    T = len(trace.key_tokens)
    keep = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :]) >= 2
    if "special" in trace.meta:
        keep &= ~np.asarray(trace.meta["special"], bool)[None, :]
    return keep


def telling_head(trace: AttentionTrace) -> tuple[int, int]:
    """(layer, head) whose words look furthest afield most decisively: the largest mean, over the
    words, of each word's biggest weight on another word two or more positions away. A page opens on
    it instead of layer 0, head 0 (a washed-out head on most inputs)."""
    keep = _far_keys(trace)
    words = keep.any(axis=1)
    if "special" in trace.meta:
        words &= ~np.asarray(trace.meta["special"], bool)
    if not words.any():
        return 0, 0
    best = np.zeros((trace.n_layers, trace.n_heads))
    for layer in range(trace.n_layers):  # head by head: a trace may hold Q and K only, not all weights
        for head in range(trace.n_heads):
            best[layer, head] = np.where(keep, trace.head(layer, head), 0.0).max(axis=-1)[words].mean()
    layer, head = np.unravel_index(int(np.argmax(best)), best.shape)
    return int(layer), int(head)


def head_notice(trace: AttentionTrace, layer: int, head: int) -> str:
    """What to notice in one head of a self-attention trace, from its numbers: its habit (previous
    or next token, itself, [CLS] or [SEP], or spread out) and its strongest link between two words."""
    from viz.attention import head_stats

    w = trace.head(layer, head)
    stats = head_stats(w, trace.meta.get("cls_positions", (0,)), trace.meta.get("sep_positions", ()))
    habits = {"the previous token": stats["to_prev"], "the next token": stats["to_next"],
              "itself": stats["to_self"], "[CLS]": stats["to_cls"], "[SEP]": stats["to_sep"]}
    where, share = max(habits.items(), key=lambda kv: float(kv[1]))
    habit = (f"on average a token gives {float(share):.0%} of its attention to {where}" if float(share) >= 0.3
             else f"no single habit: at most {float(share):.0%} on {where}, entropy {float(stats['entropy']):.2f} nats")
    keep = _far_keys(trace)
    link = ""
    if keep.any():
        i, j = np.unravel_index(int(np.argmax(np.where(keep, w, -1.0))), w.shape)
        link = (f" Its strongest link between two words apart: '{trace.query_tokens[i]}' → "
                f"'{trace.key_tokens[j]}' ({w[i, j]:.2f}).")
    return f"Layer {layer}, head {head}: {habit}.{link}"

"""The next token: from a decoder's logits to a distribution over the whole vocabulary, and a draw.

    p = next_token_probs(logits, temperature=0.8, top_k=40, top_p=0.9)   # (V,), sums to 1
    token = sample(p, np.random.default_rng(0))

The order is the usual one (as in transformers' generate): divide by the temperature, keep the k
most likely tokens, then keep the smallest set of the most likely whose probability reaches p, and
renormalise. Temperature 0 is greedy decoding: all the probability on the argmax. Tokens that are cut
keep probability 0, so a figure can still show the whole vocabulary.
"""

from __future__ import annotations

import numpy as np

from viz.attention import softmax_np

MAX_TEMPERATURE = 10.0


def check_settings(temperature: float, top_k: int | None, top_p: float | None, vocab_size: int) -> None:
    """ValueError with a sentence for settings no distribution has."""
    if not (np.isfinite(temperature) and 0 <= temperature <= MAX_TEMPERATURE):
        raise ValueError(f"Temperature must be from 0 to {MAX_TEMPERATURE:g}, got {temperature!r}.")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and 1 <= top_k <= vocab_size):
        raise ValueError(f"Top-k must be a whole number from 1 to {vocab_size}, got {top_k!r}.")
    if top_p is not None and not (np.isfinite(top_p) and 0 < top_p <= 1):
        raise ValueError(f"Top-p must be above 0 and at most 1, got {top_p!r}.")


def next_token_probs(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> np.ndarray:
    """(V,) probabilities from (V,) logits; see the module docstring for the order of the cuts."""
    logits = np.asarray(logits, dtype=np.float64)
    check_settings(temperature, top_k, top_p, logits.shape[-1])
    if temperature == 0:
        p = np.zeros_like(logits)
        p[int(np.argmax(logits))] = 1.0
        return p
    p = softmax_np(logits, temperature)
    order = np.argsort(-p, kind="stable")  # most likely first; ties keep the lower id first
    keep = np.zeros(p.shape, dtype=bool)
    n = len(p) if top_k is None else int(top_k)
    if top_p is not None:
        cumulative = np.cumsum(p[order[:n]] / p[order[:n]].sum())
        n = min(n, int(np.searchsorted(cumulative, top_p - 1e-12)) + 1)  # smallest set reaching p
    keep[order[:n]] = True
    p = np.where(keep, p, 0.0)
    return p / p.sum()


def sample(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One token id drawn from `probs` (a one-hot distribution gives its token)."""
    return int(rng.choice(len(probs), p=probs))

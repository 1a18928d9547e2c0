"""The attention math, as pure functions. Everything else in the app calls these.

Dimension names (used across viz/):
    B batch, T tokens (Tq queries, Tk keys), L layers, H heads, D = d_head, C = d_model.

attention(q, k, v) = softmax(q kᵀ / (√D · temperature)) v, over the last two dims.
It is split into its steps (`scaled_scores`, `masked_softmax`) so that a model can tap
the scores and the weights between the steps without computing anything twice.

Masks follow torch's SDPA convention: boolean, True = this query may attend to this key.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def causal_mask(n: int, device: torch.device | str | None = None) -> Tensor:
    """(n, n) boolean mask, True on and below the diagonal: position i sees positions <= i."""
    if n < 0:
        raise ValueError(f"causal_mask needs n >= 0, got {n}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def scaled_scores(q: Tensor, k: Tensor, temperature: float = 1.0) -> Tensor:
    """q kᵀ / (√D · temperature): (..., Tq, D), (..., Tk, D) -> (..., Tq, Tk)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    d = q.shape[-1]
    return (q @ k.transpose(-2, -1)) / (math.sqrt(d) * temperature)


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over the last dim, with masked keys given exactly zero weight.

    A row whose keys are all masked gets all-zero weights (never NaN): it attends to nothing.
    The max is subtracted before exp, the numerically stable form (exp never overflows).
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    row_max = scores.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    e = torch.exp(scores - row_max)  # exp(-inf) = 0 for masked keys
    total = e.sum(dim=-1, keepdim=True)
    return e / total.clamp_min(torch.finfo(e.dtype).tiny)  # empty row: 0 / tiny = 0


def attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, temperature: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention. Returns (output (..., Tq, Dv), weights (..., Tq, Tk)).

    Leading dims broadcast (batch, heads). `mask` broadcasts to (..., Tq, Tk).
    """
    weights = masked_softmax(scaled_scores(q, k, temperature), mask)
    return weights @ v, weights


def softmax_np(logits: np.ndarray, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of a numpy array, with temperature (for the teaching pages)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def entropy(weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats of probability rows; 0 · log 0 counts as 0."""
    p = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=axis)


def rollout(weights: np.ndarray, head_fusion: str = "mean", discard_ratio: float = 0.0) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): how much each token draws on each input token.

    weights (L, H, T, T) -> (T, T). Per layer: fuse the heads (mean, max or min); optionally zero
    the lowest `discard_ratio` of each row's weights (never column 0, the CLS token); add the
    identity for the residual connection; renormalise each row to sum to 1. Then multiply the
    layers from the first up: R = Â_L ··· Â_1.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ValueError(f"rollout needs self-attention weights (L, H, T, T), got shape {w.shape}")
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}.get(head_fusion)
    if fuse is None:
        raise ValueError(f"head_fusion must be mean, max or min, got {head_fusion!r}")
    T = w.shape[-1]
    eye = np.eye(T)
    result = eye
    n_drop = int(discard_ratio * (T - 1))
    for layer in w:
        a = fuse(layer, axis=0)  # (T, T)
        if n_drop:
            a = a.copy()
            lowest = np.argsort(a[:, 1:], axis=1)[:, :n_drop] + 1  # (T, n_drop), never column 0
            np.put_along_axis(a, lowest, 0.0, axis=1)
        a = a + eye
        a = a / a.sum(axis=1, keepdims=True)
        result = a @ result
    return result

"""How much fine-tuning changed each head's attention, on the same input before and after.

    js, cos = head_change(before.weights, after.weights)    # (L, H) each; weights (L, H, T, T)
    layer_sentence(js_mean_over_heads, accuracy_before, accuracy_after)

Two measures from the literature, per head:
  * Jensen-Shannon divergence of each query's row (base 2, so 0 = the same, 1 = no overlap),
    averaged over the queries (Hao et al. 2020).
  * the cosine of the two flattened T x T maps (Kovaleva et al. 2019, §4.3): 1 = the same pattern.
Both compare rows that are probability distributions over the same tokens, so the two traces must
come from the same tokenizer and input.
"""

from __future__ import annotations

import numpy as np


def head_change(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(JS divergence, cosine), each (L, H), of attention weights (L, H, T, T) before and after."""
    p, q = np.asarray(before, np.float64), np.asarray(after, np.float64)
    if p.shape != q.shape or p.ndim != 4:
        raise ValueError(f"before and after must have the same (L, H, T, T) shape, got {p.shape} and {q.shape}")
    m = (p + q) / 2

    def kl(a: np.ndarray) -> np.ndarray:  # sum over keys of a log2(a / m), 0 where a is 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log2(a / np.where(m > 0, m, 1)), 0.0).sum(axis=-1)

    js = np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0).mean(axis=-1)  # (L, H): mean over queries
    flat_p, flat_q = p.reshape(*p.shape[:2], -1), q.reshape(*q.shape[:2], -1)
    norms = np.linalg.norm(flat_p, axis=-1) * np.linalg.norm(flat_q, axis=-1)
    cos = np.where(norms > 0, (flat_p * flat_q).sum(axis=-1) / np.where(norms > 0, norms, 1), 1.0)
    return js, np.clip(cos, -1.0, 1.0)


def mean_change(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """head_change averaged over several inputs (each pair: weights before, after)."""
    if not pairs:
        raise ValueError("no inputs to compare")
    changes = [head_change(b, a) for b, a in pairs]
    return np.mean([c[0] for c in changes], axis=0), np.mean([c[1] for c in changes], axis=0)


def layer_sentence(js: np.ndarray, before: float | None = None, after: float | None = None) -> str:
    """What the (L, H) divergences say per layer, in words: where attention moved most and least
    (the mean over a layer's heads), and whether held-out accuracy moved with it."""
    per_layer = js.mean(axis=1)
    L = len(per_layer)
    if float(per_layer.max()) < 1e-6:
        text = "No head's attention changed (every divergence is 0)."
    elif L == 1:
        text = f"The one layer's attention changed by a mean Jensen-Shannon divergence of {per_layer[0]:.3f}."
    else:
        top = sorted(int(i) for i in np.argsort(per_layer)[::-1][:2])
        least = int(np.argmin(per_layer))
        where = (", the last two, as Kovaleva et al. (2019) found on most GLUE tasks" if top == [L - 2, L - 1]
                 else "")
        text = (f"Attention changed most in layers {top[0]} and {top[1]} (mean Jensen-Shannon divergence "
                f"{per_layer[top[0]]:.3f} and {per_layer[top[1]]:.3f}){where}; least in layer {least} "
                f"({per_layer[least]:.3f}).")
    if before is not None and after is not None:
        if abs(after - before) <= 0.02:
            text += f" Held-out accuracy stayed at {after:.0%} ({before:.0%} before)"
            text += ": attention moved while accuracy did not." if per_layer.max() > 0.01 else "."
        else:
            text += f" Held-out accuracy {'rose' if after > before else 'fell'} from {before:.0%} to {after:.0%}."
    return text

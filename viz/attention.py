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


# --- Head behaviour and score anatomy (the text page; pure numpy) -------------------------------

HEAD_STAT_COLUMNS = ("entropy", "mean_distance", "to_cls", "to_sep", "to_self", "to_prev", "to_next")


def head_stats(
    weights: np.ndarray, cls_positions: list[int] | tuple[int, ...] = (0,),
    sep_positions: list[int] | tuple[int, ...] = (),
) -> dict[str, np.ndarray]:
    """What each head looks at (Clark et al. 2019, "What does BERT look at?").

    weights (L, H, T, T) or (..., T, T) -> {column: (L, H)}, every number a mean over query rows:
      entropy        Shannon entropy of the row, nats (0 = one key, log T = uniform)
      mean_distance  Σ_j w_ij |i − j|: how many tokens away the attention lands, on average
      to_cls/to_sep  share of the row on the [CLS] / [SEP] positions
      to_self        w_ii;  to_prev  w_i,i−1 (rows i ≥ 1);  to_next  w_i,i+1 (rows i < T−1)
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim < 2 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"head_stats needs self-attention weights (..., T, T), got shape {w.shape}")
    T = w.shape[-1]
    pos = np.arange(T)
    dist = np.abs(pos[:, None] - pos[None, :])  # (T, T)
    diag = np.diagonal(w, axis1=-2, axis2=-1)  # (..., T)
    prev = np.diagonal(w, offset=-1, axis1=-2, axis2=-1)  # (..., T-1): w[i, i-1]
    nxt = np.diagonal(w, offset=1, axis1=-2, axis2=-1)  # (..., T-1): w[i, i+1]
    empty = np.zeros(w.shape[:-2])

    def share(cols) -> np.ndarray:
        cols = [c for c in cols if 0 <= c < T]
        return w[..., cols].sum(axis=-1).mean(axis=-1) if cols else empty

    return {
        "entropy": entropy(w).mean(axis=-1),
        "mean_distance": (w * dist).sum(axis=-1).mean(axis=-1),
        "to_cls": share(cls_positions),
        "to_sep": share(sep_positions),
        "to_self": diag.mean(axis=-1),
        "to_prev": prev.mean(axis=-1) if T > 1 else empty,
        "to_next": nxt.mean(axis=-1) if T > 1 else empty,
    }


def score_terms(q: np.ndarray, k: np.ndarray, scaling: float | None = None) -> dict[str, np.ndarray | float]:
    """How one attention score is built (bertviz's neuron view): q (D,), k (D,).

    Returns q, k, their element-wise product q∘k (D,), its sum q·k, the scaling (1/√D unless
    given) and the score = q·k · scaling, the logit that enters the softmax over the row.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if q.shape != k.shape or q.ndim != 1:
        raise ValueError(f"score_terms needs two vectors of one length, got {q.shape} and {k.shape}")
    scale = float(scaling) if scaling is not None else 1.0 / np.sqrt(q.shape[0])
    product = q * k
    dot = float(product.sum())
    return {"q": q, "k": k, "product": product, "dot": dot, "scaling": scale, "score": dot * scale}


def combined_attention(weights: np.ndarray, rows: list[int] | tuple[int, ...]) -> np.ndarray:
    """Mean attention of several query tokens together: (..., Tq, Tk), rows -> (..., Tk).

    Each selected row sums to 1, so the mean does too: how the selected tokens, as a group,
    spread their attention over the keys.
    """
    w = np.asarray(weights)
    rows = sorted(set(int(r) for r in rows))
    if not rows:
        raise ValueError("Select at least one token to combine.")
    if rows[0] < 0 or rows[-1] >= w.shape[-2]:
        raise ValueError(f"token positions must be in 0..{w.shape[-2] - 1}, got {rows}")
    return w[..., rows, :].mean(axis=-2)


def split_output_projection(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Each head's slice of an output projection, as it multiplies from the right: (H, D, C).

    `weight` is an nn.Linear's (C_out, C_in) matrix: the layer computes concat_h(z_h) @ weightᵀ + b,
    so head h's z_h (D,) meets rows h·D .. (h+1)·D of weightᵀ.
    """
    w = np.asarray(weight, dtype=np.float32)
    c_out, c_in = w.shape
    if n_heads < 1 or c_in % n_heads:
        raise ValueError(f"an output projection of width {c_in} does not split into {n_heads} heads")
    return np.ascontiguousarray(w.T.reshape(n_heads, c_in // n_heads, c_out))  # (H, D, C)


def weighted_norms(weights: np.ndarray, values: np.ndarray, w_o: np.ndarray) -> np.ndarray:
    """The size of what token j sends to token i through head h (Kobayashi et al. 2020):

        out[l, h, i, j] = weights[l, h, i, j] · ‖values[l, h, j] @ w_o[l, h]‖

    weights (L, H, Tq, Tk), values (L, H, Tk, D), w_o (L, H, D, C) -> (L, H, Tq, Tk). A head that
    puts 0.9 of its weight on a token whose transformed value is tiny moves almost nothing.
    """
    weights, values, w_o = (np.asarray(a, dtype=np.float32) for a in (weights, values, w_o))
    L, H, Tq, Tk = weights.shape
    if values.shape[:3] != (L, H, Tk) or w_o.shape[:3] != (L, H, values.shape[3]):
        raise ValueError(f"weighted_norms: weights {weights.shape}, values {values.shape} and w_o {w_o.shape} "
                         "do not fit (L, H, Tq, Tk), (L, H, Tk, D), (L, H, D, C)")
    sent = np.linalg.norm(np.einsum("lhtd,lhdc->lhtc", values, w_o), axis=-1)  # (L, H, Tk)
    return weights * sent[:, :, None, :]


def norm_shares(norms: np.ndarray) -> np.ndarray:
    """Weighted norms (..., Tq, Tk) as each row's shares (rows sum to 1, like the weights): of all
    that token i receives through a head, the part that comes from token j."""
    n = np.asarray(norms, dtype=np.float32)
    total = n.sum(axis=-1, keepdims=True)
    return np.divide(n, total, out=np.zeros_like(n), where=total > 0)


def group_shares(weights: np.ndarray, norms: np.ndarray, groups: dict[str, list[int]]) -> dict[str, tuple]:
    """Per layer, the share of attention weight and the share of weighted norm that go to each
    group of key positions ([CLS], [SEP], punctuation ...), averaged over heads and queries:
    {group: (weight share (L,), norm share (L,))}."""
    w, s = np.asarray(weights, dtype=np.float32), norm_shares(norms)
    out = {}
    for name, cols in groups.items():
        cols = sorted(set(int(c) for c in cols))
        out[name] = (w[..., cols].sum(-1).mean(axis=(1, 2)), s[..., cols].sum(-1).mean(axis=(1, 2)))
    return out


def token_groups(tokens, cls_positions=(), sep_positions=()) -> dict[str, list[int]]:
    """Key positions by kind, for group_shares: [CLS], [SEP] and punctuation (tokens with no letter
    or digit that are not special)."""
    special = set(cls_positions) | set(sep_positions)
    punct = [i for i, t in enumerate(tokens) if i not in special and not any(c.isalnum() for c in str(t))]
    return {"[CLS]": list(cls_positions), "[SEP]": list(sep_positions), "punctuation": punct}


def moves_notice(groups: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """One sentence about the group whose weight most overstates what it moves, in the middle
    layers (all but the first and the last when there are more than two)."""
    L = len(next(iter(groups.values()))[0])
    mid = slice(1, L - 1) if L > 2 else slice(0, L)
    means = {g: (float(np.mean(w[mid])), float(np.mean(n[mid]))) for g, (w, n) in groups.items() if len(w)}
    g, (w, n) = max(means.items(), key=lambda kv: kv[1][0] - kv[1][1])
    where = f"In layers {mid.start} to {mid.stop - 1}" if mid.stop - mid.start > 1 else f"In layer {mid.start}"
    if w - n < 0.01:
        return f"{where}, every group's share of what is moved matches its share of the weight."
    return (f"{where}, {g} gets {w:.0%} of the attention weight but only {n:.0%} of what the heads move: "
            f"looking at it is not sending much from it.")


def qk_projection(queries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries and keys of one head in one 2-D space (AttentionViz, Yeh et al. 2023).

    queries (Tq, D), keys (Tk, D). Keys are first translated so that their mean is the queries'
    mean (a softmax row does not change when the same vector is added to every key, so only the
    keys' spread around their mean matters); then both sets are centred together and projected on
    their two principal axes, each signed so that its largest entry is positive. Returns
    (queries (Tq, 2), keys (Tk, 2), the share of the variance each axis explains (2,)).
    """
    q = np.asarray(queries, dtype=np.float64)
    k = np.asarray(keys, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"qk_projection needs (Tq, D) queries and (Tk, D) keys, got {q.shape} and {k.shape}")
    k = k - k.mean(axis=0) + q.mean(axis=0)
    both = np.vstack([q, k])
    centred = both - both.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]  # (2, D)
    # An SVD axis may come out as v or -v, and which one can change with the last bits of the
    # input (the same sentence traced alone or in a padded batch): make each axis's largest
    # entry positive, so the same input always gives the same picture, not its mirror image.
    axes = axes * np.where(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    if axes.shape[0] < 2:  # D == 1: a second axis of zeros
        axes = np.vstack([axes, np.zeros_like(axes)])
        s = np.append(s, 0.0)
    var = s**2
    explained = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    points = centred @ axes.T  # (Tq + Tk, 2)
    return points[: len(q)], points[len(q):], explained


def aligned_positions(a_tokens, b_tokens) -> tuple[list[int], list[int]]:
    """Positions of the tokens two inputs share, in order (the longest matching blocks, difflib):
    ([i in A], [j in B]) with A[i] == B[j], both increasing. What a difference of two inputs of
    different lengths can be drawn on."""
    import difflib

    matcher = difflib.SequenceMatcher(a=list(a_tokens), b=list(b_tokens), autojunk=False)
    ia, ib = [], []
    for block in matcher.get_matching_blocks():
        ia += range(block.a, block.a + block.size)
        ib += range(block.b, block.b + block.size)
    return ia, ib

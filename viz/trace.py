"""AttentionTrace: the one type passed from models to figures.

numpy only, batch removed, validated on creation, so a figure never receives a trace whose
shapes disagree with its tokens.

Shapes (L layers, H heads, Tq queries, Tk keys, D = d_head):
    weights  (L, H, Tq, Tk)  softmax output; rows sum to 1 (0 for a row with nothing to attend),
                             or None at creation: then computed from Q and K when first read
    scores   (L, H, Tq, Tk)  the scaled logits fed to the softmax: q·k / √D, or None: then
                             head_scores() recomputes one head's from queries and keys on demand
    queries  (L, H, Tq, D)
    keys     (L, H, Tk, D)
    values   (L, H, Tk, D)
    mask     (Tq, Tk) bool or None; True = may attend (masked cells are drawn as masked)
    scaling  the factor the model multiplied q·kᵀ by (1/√D for most); needed when scores is None
    w_o      (L, H, D, C) or None: each head's slice of the output projection (weighted_norms)

A pretrained trace keeps no scores array (at 512 tokens it is as big as the weights, 75 MB, and
only the neuron view and the softmax page read it): `head_scores(layer, head)` and
`row_scores(layer, head, query)` compute them from Q and K when a view asks. A trace with
captured scores (the from-scratch model's) returns those.

A pretrained text trace is made without its weights as well (`weights=None`): the forward pass
runs the model's fused attention, which never writes them (75 MB at 512 tokens, the part of a
trace that cost more than the forward itself), and keeps Q and K. `head(layer, head)` computes
one head's softmax(q·kᵀ·scaling) when a view asks, and the first read of `trace.weights` computes
every head once and keeps them (read-only). `nbytes` counts them either way, so a cache bounded by
bytes stays bounded whichever views its users open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

_materialize = threading.Lock()  # one full-weights computation at a time (shared, cached traces)


class TraceError(ValueError):
    """An AttentionTrace was built from inconsistent parts; the message says which."""


def softmax_weights(q: np.ndarray, k: np.ndarray, scaling: float, mask: np.ndarray | None) -> np.ndarray:
    """softmax(q·kᵀ·scaling) over keys, float32: q (..., Tq, D), k (..., Tk, D), mask (Tq, Tk) bool
    or None (True = may attend). Masked keys get 0; a row with no key left is all 0, not NaN. A NaN
    or inf in q or k comes out as NaN or inf (the caller refuses it)."""
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.multiply(q, scaling, dtype=np.float32) @ np.swapaxes(k.astype(np.float32, copy=False), -1, -2)
        if mask is not None:
            w[..., ~mask] = -np.inf
        top = w.max(axis=-1, keepdims=True)
        top[np.isneginf(top)] = 0.0  # a row with every key masked: exp(-inf) = 0 below, not NaN
        w -= top
        np.exp(w, out=w)
        total = w.sum(axis=-1, keepdims=True)
        np.divide(w, total, out=w, where=total > 0)
    return w


@dataclass(frozen=True, eq=False)
class AttentionTrace:
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    weights: np.ndarray | None = field(repr=False)  # None: computed from Q and K on first read
    scores: np.ndarray | None
    queries: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    mask: np.ndarray | None = None
    name: str = "attention"
    # Free-form facts about where the trace came from (model id, truncation, segment ids ...).
    meta: dict = field(default_factory=dict)
    scaling: float | None = None
    # Each head's slice of the attention's output projection, as it multiplies from the right:
    # (L, H, D, C). Model weights, not activations: one array shared by every trace of a model, so
    # it is not counted in nbytes. None where the model's projection is unknown.
    w_o: np.ndarray | None = None
    # How weights left out (weights=None) are computed: f(q, k, scaling, mask) with softmax_weights'
    # contract. None: softmax_weights itself (numpy); viz.pretrained.text passes torch's, whose
    # softmax is one pass where numpy's takes four (1.3x faster at 512 tokens).
    weights_fn: Callable[[np.ndarray, np.ndarray, float, np.ndarray | None], np.ndarray] | None = field(
        default=None, repr=False)

    def __post_init__(self) -> None:
        same = self.key_tokens is self.query_tokens  # self-attention: one tuple, converted once
        object.__setattr__(self, "query_tokens", tuple(map(str, self.query_tokens)))
        object.__setattr__(self, "key_tokens", self.query_tokens if same else tuple(map(str, self.key_tokens)))
        lazy = self.weights is None
        for name in ("weights", "scores", "queries", "keys", "values"):
            if getattr(self, name) is None and name in ("weights", "scores"):
                if self.scaling is None or not np.isfinite(self.scaling):
                    raise TraceError(f"a trace without {name} needs the model's scaling to recompute them")
                continue
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 4:
                raise TraceError(
                    f"{name} must have 4 dims (layers, heads, ...), got shape {arr.shape}"
                )
            if arr.dtype.kind != "f":  # np.issubdtype(dtype, np.floating), at a tenth of the cost
                raise TraceError(f"{name} must be floating point, got {arr.dtype}")
            object.__setattr__(self, name, arr)
        # the shapes every other array is checked against: the weights', or without them Q's and K's
        L, H, Tq, Tk = (*self.queries.shape[:3], self.keys.shape[2]) if lazy else self.weights.shape
        if L < 1 or H < 1:
            raise TraceError(f"weights need at least one layer and one head, got shape ({L}, {H}, {Tq}, {Tk})")
        if Tq != len(self.query_tokens):
            raise TraceError(
                f"Attention has {Tq} query positions, while number of query tokens is {len(self.query_tokens)}"
            )
        if Tk != len(self.key_tokens):
            raise TraceError(
                f"Attention has {Tk} key positions, while number of key tokens is {len(self.key_tokens)}"
            )
        if self.scores is not None and self.scores.shape != (L, H, Tq, Tk):
            raise TraceError(f"scores shape {self.scores.shape} differs from weights shape {(L, H, Tq, Tk)}")
        for name, t in (("queries", Tq), ("keys", Tk), ("values", Tk)):
            arr = getattr(self, name)
            if arr.shape[:3] != (L, H, t):
                raise TraceError(f"{name} shape {arr.shape} should start with (L={L}, H={H}, T={t})")
        if self.queries.shape[3] != self.keys.shape[3]:
            raise TraceError(
                f"queries have d_head {self.queries.shape[3]} but keys have {self.keys.shape[3]}: q·k needs them equal"
            )
        if self.w_o is not None:
            w_o = np.asarray(self.w_o)
            if w_o.ndim != 4 or w_o.shape[:3] != (L, H, self.values.shape[3]):
                raise TraceError(f"w_o shape {w_o.shape} should start with (L={L}, H={H}, D={self.values.shape[3]})")
            object.__setattr__(self, "w_o", w_o)
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.dtype != np.bool_ or mask.shape != (Tq, Tk):
                raise TraceError(f"mask must be bool of shape ({Tq}, {Tk}), got {mask.dtype} {mask.shape}")
            object.__setattr__(self, "mask", mask)
        if lazy:
            object.__delattr__(self, "weights")  # now the first read goes to __getattr__
            if not self._scores_surely_finite():
                _ = self.weights  # computes every weight now, and raises if one is NaN or inf
        elif not np.isfinite(self.weights).all():
            raise TraceError("weights contain NaN or inf")

    def _scores_surely_finite(self) -> bool:
        """True when every q·k·scaling is finite, so that every softmax of them is: finite Q and K
        small enough that no product of D of their entries overflows float32 (a NaN or inf in
        either makes a max NaN or inf, and the comparison False). 2 x 4.7 MB read at 512 tokens,
        against 75 MB of weights."""
        def largest(a: np.ndarray) -> float:  # max |a| without an |a| array; NaN if a holds one
            return float(np.maximum(a.max(), -a.min()))

        bound = largest(self.queries) * largest(self.keys) * self.d_head * abs(self.scaling)
        return bound < 1e38

    def __getattr__(self, name: str):
        """Only reached for `weights` of a trace made without them (and for names that do not
        exist): compute every head's weights once, keep them read-only, return them."""
        if name != "weights" or "queries" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        with _materialize:
            weights = self.__dict__.get("weights")
            if weights is None:
                weights = self._softmax(self.queries, self.keys, self.mask)
                if not np.isfinite(weights).all():
                    raise TraceError("weights contain NaN or inf")
                weights.flags.writeable = False
                object.__setattr__(self, "weights", weights)
        return weights

    @property
    def weights_computed(self) -> bool:
        """False while a trace made without weights has not been asked for all of them."""
        return "weights" in self.__dict__

    def _softmax(self, q: np.ndarray, k: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """The weights of q (..., Tq, D) against k (..., Tk, D), one head or all of them, by
        weights_fn (the producer's) or softmax_weights (numpy's); float32."""
        return (self.weights_fn or softmax_weights)(q, k, float(self.scaling), mask)

    @property
    def n_layers(self) -> int:
        return self.queries.shape[0]

    @property
    def n_heads(self) -> int:
        return self.queries.shape[1]

    @property
    def d_head(self) -> int:
        return self.queries.shape[3]

    def head(self, layer: int, head: int) -> np.ndarray:
        """(Tq, Tk) weights of one head, with a readable error for an index out of range."""
        if not (0 <= layer < self.n_layers and 0 <= head < self.n_heads):
            raise IndexError(
                f"layer {layer}, head {head} is out of range: this trace has "
                f"{self.n_layers} layers x {self.n_heads} heads"
            )
        if self.weights_computed:
            return self.weights[layer, head]
        mask = self.mask
        return self._softmax(self.queries[layer, head], self.keys[layer, head], mask)

    def head_scores(self, layer: int, head: int) -> np.ndarray:
        """(Tq, Tk) scaled logits of one head: the captured ones, or q·kᵀ·scaling recomputed.

        Masked cells (mask False) are -inf, as the model's additive mask made them.
        """
        self.head(layer, head)  # the readable range check
        if self.scores is not None:
            return self.scores[layer, head]
        q = self.queries[layer, head].astype(np.float32) * np.float32(self.scaling)  # (Tq, D)
        s = q @ self.keys[layer, head].astype(np.float32).T  # (Tq, Tk)
        if self.mask is not None:
            s[~self.mask] = -np.inf
        return s

    def row_scores(self, layer: int, head: int, query: int) -> np.ndarray:
        """(Tk,) scaled logits of one query of one head (see head_scores)."""
        self.head(layer, head)
        if not 0 <= query < len(self.query_tokens):
            raise IndexError(f"query {query} is out of range: this trace has {len(self.query_tokens)} queries")
        if self.scores is not None:
            return self.scores[layer, head, query]
        q = self.queries[layer, head, query].astype(np.float32) * np.float32(self.scaling)  # (D,)
        s = self.keys[layer, head].astype(np.float32) @ q  # (Tk,)
        if self.mask is not None:
            s[~self.mask[query]] = -np.inf
        return s

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Every array the trace holds now (scores only when captured, weights once computed)."""
        names = ("weights", "scores", "queries", "keys", "values", "mask")
        return tuple(a for a in (self.__dict__.get(n) for n in names) if a is not None)

    @property
    def nbytes(self) -> int:
        """Bytes of every array, counting the weights (float32) even before they are computed: a
        view may compute them at any time, and a cache bounded by bytes must stay bounded then."""
        held = sum(a.nbytes for a in self.arrays())
        if not self.weights_computed:
            held += 4 * self.n_layers * self.n_heads * len(self.query_tokens) * len(self.key_tokens)
        return held

"""AttentionTrace: the one type passed from models to figures.

numpy only, batch removed, validated on creation, so a figure never receives a trace whose
shapes disagree with its tokens.

Shapes (L layers, H heads, Tq queries, Tk keys, D = d_head):
    weights  (L, H, Tq, Tk)  softmax output; rows sum to 1 (0 for a row with nothing to attend)
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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class TraceError(ValueError):
    """An AttentionTrace was built from inconsistent parts; the message says which."""


@dataclass(frozen=True, eq=False)
class AttentionTrace:
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    weights: np.ndarray
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
    # True where the producer has already established that the weights are finite without reading
    # them again (viz.pretrained.text checks each layer's attention output, which is finite exactly
    # when its weights are): creation then skips that scan, 75 MB at 512 tokens. Not part of repr.
    weights_checked_finite: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_tokens", tuple(str(t) for t in self.query_tokens))
        object.__setattr__(self, "key_tokens", tuple(str(t) for t in self.key_tokens))
        for name in ("weights", "scores", "queries", "keys", "values"):
            if name == "scores" and self.scores is None:
                if self.scaling is None or not np.isfinite(self.scaling):
                    raise TraceError("a trace without scores needs the model's scaling to recompute them")
                continue
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 4:
                raise TraceError(
                    f"{name} must have 4 dims (layers, heads, ...), got shape {arr.shape}"
                )
            if not np.issubdtype(arr.dtype, np.floating):
                raise TraceError(f"{name} must be floating point, got {arr.dtype}")
            object.__setattr__(self, name, arr)
        L, H, Tq, Tk = self.weights.shape
        if L < 1 or H < 1:
            raise TraceError(f"weights need at least one layer and one head, got shape {self.weights.shape}")
        if Tq != len(self.query_tokens):
            raise TraceError(
                f"Attention has {Tq} query positions, while number of query tokens is {len(self.query_tokens)}"
            )
        if Tk != len(self.key_tokens):
            raise TraceError(
                f"Attention has {Tk} key positions, while number of key tokens is {len(self.key_tokens)}"
            )
        if self.scores is not None and self.scores.shape != self.weights.shape:
            raise TraceError(f"scores shape {self.scores.shape} differs from weights shape {self.weights.shape}")
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
        if not self.weights_checked_finite and not np.isfinite(self.weights).all():
            raise TraceError("weights contain NaN or inf")
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.dtype != np.bool_ or mask.shape != (Tq, Tk):
                raise TraceError(f"mask must be bool of shape ({Tq}, {Tk}), got {mask.dtype} {mask.shape}")
            object.__setattr__(self, "mask", mask)

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[1]

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
        return self.weights[layer, head]

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
        """Every array the trace holds (scores only when captured)."""
        names = ("weights", "scores", "queries", "keys", "values", "mask")
        return tuple(a for a in (getattr(self, n) for n in names) if a is not None)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())

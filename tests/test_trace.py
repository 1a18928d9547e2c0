import numpy as np
import pytest

from viz.trace import AttentionTrace, TraceError


def make(L=2, H=3, Tq=4, Tk=5, D=6, **over):
    rng = np.random.default_rng(0)
    w = rng.random((L, H, Tq, Tk))
    parts = dict(
        query_tokens=[f"q{i}" for i in range(Tq)], key_tokens=[f"k{i}" for i in range(Tk)],
        weights=w / w.sum(-1, keepdims=True), scores=rng.normal(size=(L, H, Tq, Tk)),
        queries=rng.normal(size=(L, H, Tq, D)), keys=rng.normal(size=(L, H, Tk, D)),
        values=rng.normal(size=(L, H, Tk, D)),
    )
    parts.update(over)
    return AttentionTrace(**parts)


def test_valid_trace():
    t = make()
    assert (t.n_layers, t.n_heads, t.d_head) == (2, 3, 6)
    assert t.head(1, 2).shape == (4, 5)


def test_token_count_mismatch_says_what_is_wrong():
    with pytest.raises(TraceError, match="Attention has 5 key positions, while number of key tokens is 4"):
        make(key_tokens=["a", "b", "c", "d"])


def test_shape_errors():
    with pytest.raises(TraceError, match="4 dims"):
        make(weights=np.ones((4, 5)))
    with pytest.raises(TraceError, match="scores shape"):
        make(scores=np.ones((2, 3, 4, 4)))
    with pytest.raises(TraceError, match="keys shape"):
        make(keys=np.ones((2, 3, 4, 6)))
    with pytest.raises(TraceError, match="mask"):
        make(mask=np.ones((4, 4), dtype=bool))
    with pytest.raises(TraceError, match="NaN"):
        make(weights=np.full((2, 3, 4, 5), np.nan))


def test_head_out_of_range_is_readable():
    with pytest.raises(IndexError, match="2 layers x 3 heads"):
        make().head(2, 0)


def _without_scores(mask=None, L=2, H=3, T=5, D=4, scaling=0.5):
    """A trace whose weights are softmax(q·kᵀ·scaling) with the mask, scores not kept; and the full scores."""
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(L, H, T, D)).astype(np.float32), rng.normal(size=(L, H, T, D)).astype(np.float32)
    full = (q * np.float32(scaling)) @ k.transpose(0, 1, 3, 2)  # (L, H, T, T), the old full array
    if mask is not None:
        full = np.where(mask, full, -np.inf)
    e = np.exp(full - full.max(-1, keepdims=True))
    w = e / e.sum(-1, keepdims=True)
    toks = [f"t{i}" for i in range(T)]
    t = AttentionTrace(toks, toks, weights=w, scores=None, queries=q, keys=k, values=k, mask=mask, scaling=scaling)
    return t, full


def test_scores_recomputed_on_demand_equal_the_full_array():
    t, full = _without_scores()
    assert t.scores is None
    for layer in range(t.n_layers):
        for head in range(t.n_heads):
            np.testing.assert_allclose(t.head_scores(layer, head), full[layer, head], rtol=1e-6, atol=1e-6)
            for q in range(5):
                np.testing.assert_allclose(t.row_scores(layer, head, q), full[layer, head, q], rtol=1e-6, atol=1e-6)
    assert t.nbytes == sum(a.nbytes for a in (t.weights, t.queries, t.keys, t.values))


def test_recomputed_scores_carry_the_mask():
    mask = np.tril(np.ones((5, 5), dtype=bool))  # causal
    t, full = _without_scores(mask)
    s = t.head_scores(1, 2)
    assert np.isneginf(s[~mask]).all() and np.isfinite(s[mask]).all()
    np.testing.assert_allclose(s[mask], full[1, 2][mask], rtol=1e-6, atol=1e-6)
    assert np.isneginf(t.row_scores(1, 2, 0)[1:]).all()


def test_captured_scores_are_returned_as_they_are():
    t = make()
    assert t.head_scores(1, 2) is not None
    np.testing.assert_array_equal(t.head_scores(1, 2), t.scores[1, 2])
    np.testing.assert_array_equal(t.row_scores(1, 2, 3), t.scores[1, 2, 3])


def test_a_trace_without_scores_needs_its_scaling_and_checks_indices():
    with pytest.raises(TraceError, match="scaling"):
        make(scores=None)
    t, _ = _without_scores()
    with pytest.raises(IndexError, match="2 layers x 3 heads"):
        t.head_scores(0, 3)
    with pytest.raises(IndexError, match="query 5"):
        t.row_scores(0, 0, 5)

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


def _lazy(q, k, mask=None, scaling=0.5):
    L, H, Tq, _ = q.shape
    Tk = k.shape[2]
    return AttentionTrace(query_tokens=[f"q{i}" for i in range(Tq)], key_tokens=[f"k{i}" for i in range(Tk)],
                          weights=None, scores=None, queries=q, keys=k, values=np.ones_like(k), mask=mask,
                          scaling=scaling)


def _reference_softmax(q, k, scaling, mask=None):
    """float64, one row at a time: the definition, not the trace's vectorised arithmetic."""
    out = np.zeros(q.shape[:-1] + (k.shape[-2],))
    for idx in np.ndindex(*q.shape[:-1]):
        lh, i = idx[:-1], idx[-1]
        s = np.array([float(np.dot(q[idx], k[lh + (j,)])) * scaling for j in range(k.shape[-2])])
        allowed = np.ones(len(s), bool) if mask is None else mask[i]
        if allowed.any():
            e = np.where(allowed, np.exp(s - s[allowed].max()), 0.0)
            out[idx] = e / e.sum()
    return out


def test_weights_made_from_q_and_k_when_read():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(2, 3, 4, 6)).astype(np.float32), rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    t = _lazy(q, k)
    assert not t.weights_computed and t.arrays() == (t.queries, t.keys, t.values)
    assert t.nbytes == q.nbytes + 2 * k.nbytes + 4 * 2 * 3 * 4 * 5  # the weights counted before they exist
    ref = _reference_softmax(q.astype(np.float64), k.astype(np.float64), 0.5)
    np.testing.assert_allclose(t.head(1, 2), ref[1, 2], atol=1e-6)
    assert not t.weights_computed  # one head: computed on its own
    np.testing.assert_allclose(t.weights, ref, atol=1e-6)
    assert t.weights_computed and t.weights.dtype == np.float32 and not t.weights.flags.writeable
    assert t.weights is t.weights and t.nbytes == q.nbytes + 2 * k.nbytes + t.weights.nbytes
    np.testing.assert_array_equal(t.head(1, 2), t.weights[1, 2])


def test_weights_made_when_read_respect_the_mask_and_empty_rows():
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(1, 2, 4, 3)), rng.normal(size=(1, 2, 4, 3))
    mask = np.tril(np.ones((4, 4), bool))
    mask[2] = False  # a query with nothing to attend: weights 0, not NaN
    t = _lazy(q, k, mask)
    ref = _reference_softmax(q, k, 0.5, mask)
    np.testing.assert_allclose(t.head(0, 1), ref[0, 1], atol=1e-6)
    np.testing.assert_allclose(t.weights, ref, atol=1e-6)
    assert (t.weights[:, :, 2] == 0).all() and (t.weights[:, :, 0, 1:] == 0).all()


def test_non_finite_q_or_k_is_refused_when_the_trace_is_made():
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(1, 2, 4, 3)), rng.normal(size=(1, 2, 4, 3))
    bad = q.copy()
    bad[0, 1, 2, 0] = np.nan
    with pytest.raises(TraceError, match="NaN or inf"):
        _lazy(bad, k)
    with pytest.raises(TraceError, match="NaN or inf"):  # finite, but q·k overflows float32
        _lazy(q * 1e20, k * 1e20)
    assert not _lazy(q * 1e5, k * 1e5).weights_computed  # large and finite: nothing computed yet
    with pytest.raises(TraceError, match="without weights needs the model's scaling"):
        _lazy(q, k, scaling=None)


def test_threads_reading_the_weights_at_once_get_one_array():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    t = _lazy(rng.normal(size=(3, 4, 64, 8)).astype(np.float32), rng.normal(size=(3, 4, 64, 8)).astype(np.float32))
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: t.weights, range(16)))
    assert all(g is got[0] for g in got)

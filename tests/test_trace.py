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

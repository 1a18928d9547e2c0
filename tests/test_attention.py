import math

import numpy as np
import pytest
import torch

from viz.attention import attention, causal_mask, entropy, masked_softmax, scaled_scores, softmax_np


def test_hand_computed_2x2():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out, w = attention(q, k, v)
    # scores = q kᵀ / √2 = I / √2, so each row puts e^(1/√2) on its own key and e^0 on the other.
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    expected_w = torch.tensor([[a, 1 - a], [1 - a, a]])
    torch.testing.assert_close(w, expected_w)
    expected_out = torch.tensor([[a * 1 + (1 - a) * 3, a * 2 + (1 - a) * 4],
                                 [(1 - a) * 1 + a * 3, (1 - a) * 2 + a * 4]])
    torch.testing.assert_close(out, expected_out)


def test_shapes_broadcast_and_rows_sum_to_one():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 8, generator=g)  # (B, H, Tq, D)
    k = torch.randn(2, 3, 7, 8, generator=g)  # (B, H, Tk, D)
    v = torch.randn(2, 3, 7, 4, generator=g)  # (B, H, Tk, Dv)
    out, w = attention(q, k, v)
    assert out.shape == (2, 3, 5, 4)
    assert w.shape == (2, 3, 5, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))


def test_matches_torch_sdpa_with_mask():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 6, 8, generator=g) for _ in range(3))
    mask = causal_mask(6)
    out, _ = attention(q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected)


def test_masked_keys_get_exactly_zero_weight():
    scores = torch.randn(4, 4)
    w = masked_softmax(scores, causal_mask(4))
    assert (w.triu(1) == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(4))


def test_row_with_nothing_to_attend_is_zero_not_nan():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    out, w = attention(q, k, v, mask)
    assert not torch.isnan(w).any() and not torch.isnan(out).any()
    assert (w[1] == 0).all() and (out[1] == 0).all()
    torch.testing.assert_close(w[[0, 2]].sum(-1), torch.ones(2))


def test_temperature_sharpens_and_flattens():
    # One query, keys whose dot products with it are 0, 1, 2, 3 (times √D, undone by the scale).
    D = 4
    q = torch.tensor([[1.0, 0, 0, 0]])
    k = torch.tensor([[0.0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]]) * D**0.5
    maxima = [masked_softmax(scaled_scores(q, k, t)).max().item() for t in (0.05, 0.5, 1, 2, 10)]
    assert maxima == sorted(maxima, reverse=True)
    assert maxima[0] > 0.999  # the largest logit takes nearly everything when cold
    assert maxima[-1] < 0.3  # close to uniform (0.25) when hot
    with pytest.raises(ValueError, match="temperature"):
        scaled_scores(q, k, temperature=0.0)


def test_large_logits_do_not_overflow():
    scores = torch.tensor([[1000.0, 999.0, -1000.0]])
    w = masked_softmax(scores)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w[0, 0] / w[0, 1], torch.tensor(math.e))


def test_causal_mask():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(0).shape == (0, 0)


def test_numpy_softmax_and_entropy():
    p = softmax_np(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(p, np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    assert entropy(np.array([0.5, 0.5, 0.0])) == pytest.approx(math.log(2))
    assert entropy(np.array([1.0, 0.0])) == 0.0


def test_rollout_two_layer_hand_computed():
    from viz.attention import rollout

    a1 = np.array([[1.0, 0.0], [0.5, 0.5]])  # layer 1 (one head)
    a2 = np.array([[0.0, 1.0], [1.0, 0.0]])  # layer 2
    # Â = (A + I) / row sums
    h1 = np.array([[1.0, 0.0], [0.25, 0.75]])
    h2 = np.array([[0.5, 0.5], [0.5, 0.5]])
    expected = h2 @ h1  # the second layer applied after the first
    np.testing.assert_allclose(rollout(np.stack([a1[None], a2[None]])), expected)
    np.testing.assert_allclose(expected, [[0.625, 0.375], [0.625, 0.375]])


def test_rollout_fusion_discard_and_rows():
    from viz.attention import rollout

    rng = np.random.default_rng(0)
    w = rng.random((3, 4, 6, 6))
    w /= w.sum(-1, keepdims=True)
    for fusion in ("mean", "max", "min"):
        r = rollout(w, fusion, discard_ratio=0.5)
        np.testing.assert_allclose(r.sum(-1), 1.0)  # rows renormalised (vit-explain forgets to)
    one_layer = rollout(w[:1], "max", discard_ratio=0.4)  # drops int(0.4 * 5) = 2 per row
    fused = w[0].max(0)
    for row in range(6):
        dropped = np.argsort(fused[row, 1:])[:2] + 1
        off_diagonal = dropped[dropped != row]  # the identity keeps the diagonal non-zero
        assert (one_layer[row, off_diagonal] == 0).all()
        assert one_layer[row, 0] > 0  # CLS column is never dropped
    with pytest.raises(ValueError, match="head_fusion"):
        rollout(w, "median")

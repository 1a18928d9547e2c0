"""viz.attention.qk_projection against an independent computation (eigenvectors of the covariance
matrix instead of an SVD), and its figure."""

from __future__ import annotations

import numpy as np
import pytest

from viz.attention import qk_projection
from viz.figures.qk import qk_figure


def test_projection_equals_the_covariance_eigenvectors_up_to_sign():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(7, 16)), rng.normal(size=(9, 16)) + 5.0  # keys far off: translated first
    q2, k2, explained = qk_projection(q, k)
    kt = k - k.mean(0) + q.mean(0)
    both = np.vstack([q, kt])
    c = both - both.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(c.T, bias=True))
    top = vecs[:, np.argsort(vals)[::-1][:2]]  # (D, 2)
    want = c @ top
    got = np.vstack([q2, k2])
    for a in range(2):
        sign = np.sign(want[:, a] @ got[:, a])
        np.testing.assert_allclose(got[:, a], sign * want[:, a], atol=1e-8)
    np.testing.assert_allclose(explained, np.sort(vals)[::-1][:2] / vals.sum(), atol=1e-10)


def test_the_axes_sign_is_fixed_so_a_tiny_change_never_mirrors_the_picture():
    """Each axis is signed so that its largest entry is positive (checked against the covariance
    eigenvectors signed that way), so the same input traced alone or in a padded batch, equal to
    the last bits, gives the same picture, not its mirror image."""
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(9, 12)), rng.normal(size=(11, 12))
    q2, k2, _ = qk_projection(q, k)
    kt = k - k.mean(0) + q.mean(0)
    c = np.vstack([q, kt]) - np.vstack([q, kt]).mean(0)
    vals, vecs = np.linalg.eigh(np.cov(c.T, bias=True))
    top = vecs[:, np.argsort(vals)[::-1][:2]]
    top = top * np.sign(top[np.abs(top).argmax(0), np.arange(2)])  # largest entry positive
    np.testing.assert_allclose(np.vstack([q2, k2]), c @ top, atol=1e-8)
    for _ in range(20):
        nudged = qk_projection(q + rng.normal(size=q.shape) * 1e-7, k + rng.normal(size=k.shape) * 1e-7)
        np.testing.assert_allclose(nudged[0], q2, atol=1e-5)


def test_translating_the_keys_changes_no_softmax_row_and_no_projection():
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(5, 8)), rng.normal(size=(6, 8))
    shift = rng.normal(size=8) * 10
    a, b = qk_projection(q, k), qk_projection(q, k + shift)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-8)
    with pytest.raises(ValueError, match="needs"):
        qk_projection(q, k[:, :4])


def test_the_figure_names_tokens_escaped_and_draws_the_chosen_querys_attention():
    rng = np.random.default_rng(3)
    q2, k2 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    row = np.array([0.7, 0.2, 0.1])
    fig = qk_figure(q2, k2, (0.6, 0.3), ["a", "<b>", "c"], ["a", "<b>", "c"], row, 1, "t")
    lines = [d for d in fig.data if d.mode == "lines"]
    assert len(lines) == 3 and lines[0].line.width > lines[-1].line.width  # strongest first, thickest
    assert [tuple(d.x) for d in lines][0] == (q2[1, 0], k2[0, 0])
    hovers = [t for d in fig.data if d.text is not None for t in d.text]
    assert "query &lt;b&gt; (#1)" in hovers and "key a (#0): weight 0.700" in hovers
    assert not any("<b>" in t for t in hovers)

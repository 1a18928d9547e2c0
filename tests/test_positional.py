import math

import numpy as np
import pytest

from viz.positional import sinusoidal


def test_known_values():
    pe = sinusoidal(3, 4)
    # d_model = 4: frequencies 1 and 1/10000^(2/4) = 1/100
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(pe[2], [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)], rtol=1e-6)


def test_even_dims_sin_odd_dims_cos():
    pe = sinusoidal(50, 16).astype(np.float64)
    pos = np.arange(50)
    for i in range(8):
        freq = 1 / 10000 ** (2 * i / 16)
        np.testing.assert_allclose(pe[:, 2 * i], np.sin(pos * freq), atol=1e-6)
        np.testing.assert_allclose(pe[:, 2 * i + 1], np.cos(pos * freq), atol=1e-6)


def test_odd_d_model():
    pe = sinusoidal(10, 5)
    assert pe.shape == (10, 5)
    np.testing.assert_allclose(pe[:, 4], np.sin(np.arange(10) / 10000 ** (4 / 5)), atol=1e-6)


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        sinusoidal(4, 0)
    with pytest.raises(ValueError):
        sinusoidal(-1, 8)


# ---------------------------------------------------------------- the teaching page's math

from viz import positional as pos  # noqa: E402


def test_wavelengths_run_from_2pi_towards_10000_2pi():
    wl = pos.wavelengths(512)
    assert wl[0] == pytest.approx(2 * np.pi) and wl[1] == wl[0]
    assert wl[-1] == pytest.approx(2 * np.pi * 10000 ** (510 / 512))
    assert np.all(np.diff(wl[::2]) > 0)


@pytest.mark.parametrize("k", [0, 1, 3, 17, 250])
@pytest.mark.parametrize("d_model", [2, 16, 64, 512])
def test_pe_of_pos_plus_k_is_a_fixed_rotation_of_pe_of_pos(k, d_model):
    positions = np.arange(0, 300, 7)
    r = pos.rotation_matrix(k, d_model)
    before = pos.sinusoidal_f64(positions, d_model)
    after = pos.sinusoidal_f64(positions + k, d_model)
    np.testing.assert_allclose(before @ r.T, after, atol=1e-9)  # the same R_k for every position
    np.testing.assert_allclose(r @ r.T, np.eye(d_model), atol=1e-12)  # a rotation: orthogonal
    assert np.linalg.det(r) == pytest.approx(1.0)
    table = pos.sinusoidal(300, d_model)  # the float32 table the model adds
    np.testing.assert_allclose(table[: 300 - k] @ r.T.astype(np.float32), table[k:], atol=1e-4)


def test_rotation_check_reports_the_error_and_refuses_odd_d():
    cols, err = pos.rotation_check(10, 3, 64)
    assert err < 1e-12 and len(cols["PE(pos + k)"]) == 8
    np.testing.assert_allclose(cols["R_k · PE(pos)"], cols["PE(pos + k)"], atol=1e-12)
    with pytest.raises(ValueError, match="even d_model"):
        pos.rotation_matrix(2, 7)


def test_sinusoidal_similarity_depends_on_the_offset_only():
    pe = pos.sinusoidal(200, 64)
    curves = pos.similarity_by_offset(pe, [0, 25, 90], 100)
    np.testing.assert_allclose(curves[0], curves[1], atol=1e-5)
    np.testing.assert_allclose(curves[0], curves[2], atol=1e-5)
    assert curves[0, 0] == pytest.approx(1.0) and curves[0, 1] > curves[0, 20]  # near looks alike
    with pytest.raises(ValueError, match="beyond"):
        pos.similarity_by_offset(pe, [150], 100)


@pytest.mark.parametrize("seed", range(4))
def test_rope_scores_depend_only_on_the_offset(seed):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(32), rng.standard_normal(32)
    for m, n in [(0, 0), (3, 7), (10, 2), (40, 41)]:
        ref = pos.rope(q[None], [m])[0] @ pos.rope(k[None], [n])[0]
        for shift in (1, 5, 123):
            moved = pos.rope(q[None], [m + shift])[0] @ pos.rope(k[None], [n + shift])[0]
            assert moved == pytest.approx(ref, abs=1e-9)
    grid = pos.rope_score_grid(q, k, 24)
    assert pos.diagonal_spread(grid) < 1e-9  # Toeplitz
    assert grid[0, 0] == pytest.approx(q @ k)  # position 0 is no rotation
    assert pos.diagonal_spread(pos.absolute_score_grid(q, k, 24)) > 0.1  # added PE is not


def test_rope_preserves_norms_and_needs_even_d():
    x = np.random.default_rng(0).standard_normal((5, 8))
    np.testing.assert_allclose(np.linalg.norm(pos.rope(x, np.arange(5)), axis=1), np.linalg.norm(x, axis=1))
    with pytest.raises(ValueError, match="even"):
        pos.rope(np.ones((2, 5)), [0, 1])


def test_position_table_checks_its_grid():
    pos.PositionTable("vit-like", np.zeros((196, 8)), grid=(14, 14))
    with pytest.raises(ValueError, match="14x14 grid needs 196"):
        pos.PositionTable("bad", np.zeros((197, 8)), grid=(14, 14))
    sim = pos.cosine_similarity(np.eye(3))
    np.testing.assert_allclose(sim, np.eye(3))

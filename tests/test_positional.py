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

"""Positional encodings.

Sinusoidal (Vaswani et al. 2017, section 3.5):
    PE(pos, 2i)   = sin(pos / base^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / base^(2i / d_model))
One of the course notes prints sin for both lines; the paper has cos for 2i+1, as here.
"""

from __future__ import annotations

import numpy as np


def sinusoidal(n_positions: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """(n_positions, d_model) float32: sin on even dimensions, cos on odd ones.

    Dimensions 2i and 2i+1 share the frequency 1 / base^(2i / d_model). Odd d_model works:
    the last (even) dimension is a sin with no cos partner.
    """
    if n_positions < 0 or d_model < 1:
        raise ValueError(
            f"sinusoidal needs n_positions >= 0 and d_model >= 1, got {n_positions}, {d_model}"
        )
    if not base > 0:
        raise ValueError(f"base must be > 0, got {base}")
    pos = np.arange(n_positions, dtype=np.float64)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (ceil(C/2),)
    angles = pos / base ** (two_i / d_model)  # (T, ceil(C/2))
    pe = np.zeros((n_positions, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe.astype(np.float32)

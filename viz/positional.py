"""Positional encodings.

Sinusoidal (Vaswani et al. 2017, section 3.5):
    PE(pos, 2i)   = sin(pos / base^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / base^(2i / d_model))
One of the course notes prints sin for both lines; the paper has cos for 2i+1, as here.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def wavelengths(d_model: int, base: float = 10000.0) -> np.ndarray:
    """(d_model,) wavelength of each dimension: 2π · base^(2i / d_model), from 2π up to about base·2π."""
    two_i = (np.arange(d_model) // 2) * 2
    return 2 * np.pi * base ** (two_i / d_model)


def cosine_similarity(table: np.ndarray) -> np.ndarray:
    """(P, C) -> (P, P): cosine of the angle between every pair of position vectors."""
    t = np.asarray(table, dtype=np.float64)
    norms = np.linalg.norm(t, axis=1, keepdims=True)
    u = t / np.where(norms > 0, norms, 1.0)
    return u @ u.T


def similarity_by_offset(table: np.ndarray, from_positions, max_offset: int) -> np.ndarray:
    """(len(from_positions), max_offset + 1): cosine similarity of position p and p + k, k = 0..max_offset.

    For sinusoidal PE every row is the same curve: PE(p)·PE(p+k) = Σ_i cos(ω_i k) does not
    depend on p (the norm is constant too, √(d/2)).
    """
    sim = cosine_similarity(table)
    P = sim.shape[0]
    rows = []
    for p in from_positions:
        if not (0 <= p and p + max_offset < P):
            raise ValueError(f"position {p} + offset {max_offset} is beyond the {P} positions of the table")
        rows.append(sim[p, p:p + max_offset + 1])
    return np.array(rows)


def rotation_matrix(k: float, d_model: int, base: float = 10000.0) -> np.ndarray:
    """(d_model, d_model) R_k with PE(pos + k) = R_k · PE(pos) for every pos.

    Block diagonal: for each frequency ω_i the pair (sin ω_i·pos, cos ω_i·pos) turns by the angle
    ω_i·k, [[cos, sin], [-sin, cos]] (angle-sum identities). It depends on k only, never on pos.
    """
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model = {d_model}: the rotation needs an even d_model, so that every sin has its cos")
    omega = 1.0 / base ** (np.arange(0, d_model, 2) / d_model)  # (C/2,)
    c, s = np.cos(omega * k), np.sin(omega * k)
    r = np.zeros((d_model, d_model))
    r[0::2, 0::2] = np.diag(c)
    r[0::2, 1::2] = np.diag(s)
    r[1::2, 0::2] = np.diag(-s)
    r[1::2, 1::2] = np.diag(c)
    return r


def sinusoidal_f64(positions: np.ndarray, d_model: int, base: float = 10000.0) -> np.ndarray:
    """Sinusoidal PE at arbitrary (even fractional) positions, float64: (len(positions), d_model)."""
    pos = np.asarray(positions, dtype=np.float64)[:, None]
    angles = pos / base ** (np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((len(pos), d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe


def rope(x: np.ndarray, positions, base: float = 10000.0) -> np.ndarray:
    """Rotary position embedding (Su et al. 2021): x (..., T, D) with D even, positions (T,).

    Pair (x_2i, x_2i+1) of the vector at position m is rotated by the angle m·θ_i,
    θ_i = base^(-2i / D). Then rope(q, m)·rope(k, n) = q·R_(n-m)·k depends on n - m only.
    """
    x = np.asarray(x, dtype=np.float64)
    D = x.shape[-1]
    if D % 2:
        raise ValueError(f"RoPE rotates pairs of dimensions: D = {D} must be even")
    theta = base ** (-np.arange(0, D, 2) / D)  # (D/2,)
    ang = np.asarray(positions, dtype=np.float64)[:, None] * theta  # (T, D/2)
    c, s = np.cos(ang), np.sin(ang)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * c - odd * s
    out[..., 1::2] = even * s + odd * c
    return out


def rope_score_grid(q: np.ndarray, k: np.ndarray, n_positions: int, base: float = 10000.0) -> np.ndarray:
    """(P, P) S[m, n] = rope(q at m) · rope(k at n): the same q and k placed at every position.

    Constant along each diagonal (a Toeplitz matrix): the score sees only the offset n - m.
    """
    pos = np.arange(n_positions)
    qs = rope(np.broadcast_to(q, (n_positions, len(q))), pos, base)
    ks = rope(np.broadcast_to(k, (n_positions, len(k))), pos, base)
    return qs @ ks.T


def absolute_score_grid(q: np.ndarray, k: np.ndarray, n_positions: int, base: float = 10000.0) -> np.ndarray:
    """(P, P) S[m, n] = (q + PE(m)) · (k + PE(n)): added sinusoidal positions, for contrast.

    Not constant along diagonals: q·PE(n) and PE(m)·k depend on where the pair sits.
    """
    pe = sinusoidal_f64(np.arange(n_positions), len(q), base)
    return (q + pe) @ (k + pe).T


@dataclass(frozen=True)
class PositionTable:
    """A model's position embeddings, for the "pretrained models" section of the positional page.

    table (P, C): one row per position. grid (rows, cols) for image patches laid out in 2-D
    (ViT: 14 x 14, without the CLS row), None for a sequence (BERT, the scratch model).
    """
    name: str
    table: np.ndarray
    grid: tuple[int, int] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        t = np.asarray(self.table, dtype=np.float64)
        if t.ndim != 2 or t.shape[0] < 1:
            raise ValueError(f"a position table is (positions, dims), got shape {t.shape}")
        if self.grid is not None and self.grid[0] * self.grid[1] != t.shape[0]:
            raise ValueError(f"a {self.grid[0]}x{self.grid[1]} grid needs {self.grid[0] * self.grid[1]} "
                             f"positions, the table has {t.shape[0]}")
        object.__setattr__(self, "table", t)


def rotation_check(pos: int, k: int, d_model: int, n_show: int = 8, base: float = 10000.0):
    """PE(pos), R_k·PE(pos) and PE(pos + k) side by side: (columns for a table, max |error|)."""
    r = rotation_matrix(k, d_model, base)
    pe = sinusoidal_f64(np.array([pos, pos + k]), d_model, base)
    moved = r @ pe[0]
    cols = {"dimension": list(range(min(n_show, d_model))),
            "PE(pos)": pe[0, :n_show], "R_k · PE(pos)": moved[:n_show], "PE(pos + k)": pe[1, :n_show]}
    return cols, float(np.abs(moved - pe[1]).max())


def diagonal_spread(scores: np.ndarray) -> float:
    """Largest range (max - min) along any diagonal of a square matrix: 0 for a Toeplitz one."""
    n = scores.shape[0]
    return float(max(np.ptp(np.diagonal(scores, o)) for o in range(-(n - 1), n)))

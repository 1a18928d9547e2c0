"""An image as tokens: the patch grid, its labels, and maps from attention rows to pixels.

A ViT cuts an (S, S) image into a (gh, gw) grid of p x p patches. Tokens are the prefix tokens
(CLS, and for some models distillation or register tokens) followed by the patches in row-major
order: token n_prefix + r * gw + c is the patch in row r, column c, labelled "r{r}c{c}".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchGrid:
    rows: int  # gh
    cols: int  # gw
    patch: int  # p, pixels per side
    n_prefix: int = 1  # tokens before the first patch (CLS, ...)

    @property
    def n_patches(self) -> int:
        return self.rows * self.cols

    def tokens(self, prefix: tuple[str, ...] = ("CLS",)) -> tuple[str, ...]:
        prefix = tuple(prefix)[: self.n_prefix] + tuple(f"extra{i}" for i in range(len(prefix), self.n_prefix))
        return prefix + tuple(f"r{r}c{c}" for r in range(self.rows) for c in range(self.cols))

    def token_of(self, row: int, col: int) -> int:
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise IndexError(f"patch r{row}c{col} is outside the {self.rows} x {self.cols} grid")
        return self.n_prefix + row * self.cols + col

    def cell_of(self, token: int) -> tuple[int, int] | None:
        """(row, col) of a patch token; None for a prefix token such as CLS."""
        i = token - self.n_prefix
        if not 0 <= i < self.n_patches:
            return None
        return divmod(i, self.cols)

    def token_at(self, x: float, y: float) -> int | None:
        """The patch token under pixel (x, y) of the model's input image; None outside it."""
        col, row = int(np.floor(x / self.patch)), int(np.floor(y / self.patch))
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            return None
        return self.token_of(row, col)

    def to_grid(self, row_weights: np.ndarray) -> np.ndarray:
        """One attention row over all T keys -> its (gh, gw) patch part (prefix keys dropped)."""
        w = np.asarray(row_weights)
        if w.shape != (self.n_prefix + self.n_patches,):
            raise ValueError(
                f"an attention row over this image has {self.n_prefix + self.n_patches} keys, got shape {w.shape}"
            )
        return w[self.n_prefix:].reshape(self.rows, self.cols)  # (gh, gw)


def upsample(grid: np.ndarray, patch: int) -> np.ndarray:
    """(gh, gw) -> (gh * p, gw * p): every patch's value fills exactly that patch's pixels."""
    return np.repeat(np.repeat(np.asarray(grid), patch, axis=0), patch, axis=1)


def token_from_selection(points: list[dict], grid: PatchGrid) -> int | None:
    """The patch token of the first clicked point of a plotly selection event (x, y in pixels)."""
    for point in points or []:
        x, y = point.get("x"), point.get("y")
        if x is not None and y is not None:
            return grid.token_at(float(x), float(y))
    return None

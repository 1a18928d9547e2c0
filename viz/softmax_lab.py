"""The softmax and scaling lab's math: parsing typed numbers, why √d_k, masking, overflow.

Pure numpy/torch functions, no Streamlit. The page (app_pages/softmax.py) only draws them.

Dimension names: R rows (queries), K keys, D = d_k.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from viz.attention import causal_mask, entropy, masked_softmax, softmax_np

MAX_NUMBERS = 64


class NumberListError(ValueError):
    """A typed list of numbers can't be used; the message says why and what to type."""


def parse_numbers(text: str, what: str = "logits", max_count: int = MAX_NUMBERS) -> np.ndarray:
    """'2, 1, 0.5' (commas, spaces or semicolons between) -> float64 array, or NumberListError.

    Refuses what the softmax can't take: an empty list, a word, NaN, ±inf and numbers too large
    for a float64 (1e309 reads as inf), with a sentence that names the culprit.
    """
    parts = [p for p in re.split(r"[,;\s]+", (text or "").strip()) if p]
    if not parts:
        raise NumberListError(f"Type at least one number for the {what}, for example: 2, 1, 0.1")
    if len(parts) > max_count:
        raise NumberListError(f"That is {len(parts)} {what}; type at most {max_count}.")
    values = []
    for p in parts:
        try:
            v = float(p.replace("−", "-"))  # a typographic minus, as pasted from notes
        except ValueError:
            raise NumberListError(
                f"{p!r} is not a number. Type the {what} as numbers separated by commas, e.g. 2, 1, 0.1"
            ) from None
        if math.isnan(v):
            raise NumberListError(f"{p!r} is not a number (NaN): every one of the {what} must be a real value.")
        if math.isinf(v):
            detail = "is infinite" if "inf" in p.lower() else "is too large for a 64-bit float (it overflows to infinity)"
            raise NumberListError(f"{p!r} {detail}; use finite numbers, for example 1000 or -1000.")
        values.append(v)
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class SoftmaxResult:
    weights: np.ndarray  # (K,) sums to 1
    entropy: float  # nats
    max_entropy: float  # log K: the entropy of the uniform distribution


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> SoftmaxResult:
    w = softmax_np(logits, temperature)
    return SoftmaxResult(w, float(entropy(w)), math.log(len(w)))


def temperature_sweep(logits: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """(n_T, K) softmax weights of `logits` at each temperature."""
    return np.stack([softmax_np(logits, t) for t in temperatures])


# ---------------------------------------------------------------- why divide by √d_k


@dataclass(frozen=True)
class ScalingSample:
    d_k: int
    dots: np.ndarray  # (R, K) raw q·k
    scaled: np.ndarray  # (R, K) q·k / √d_k
    max_weight_raw: np.ndarray  # (R,) largest softmax weight of each row, unscaled
    max_weight_scaled: np.ndarray  # (R,)
    entropy_raw: np.ndarray  # (R,) nats
    entropy_scaled: np.ndarray  # (R,)


def scaling_sample(d_k: int, n_rows: int = 400, n_keys: int = 16, seed: int = 0) -> ScalingSample:
    """Sample q (R, D) and k (R, K, D) with independent N(0, 1) components; score them both ways.

    Each q·k is a sum of d_k products of unit-variance terms, so its variance is d_k: the
    scores spread out as √d_k and the softmax saturates unless they are divided by √d_k.
    """
    if not 1 <= d_k <= 4096:
        raise ValueError(f"d_k must be between 1 and 4096, got {d_k}")
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_rows, 1, d_k), dtype=np.float32)  # (R, 1, D)
    k = rng.standard_normal((n_rows, n_keys, d_k), dtype=np.float32)  # (R, K, D)
    dots = (q * k).sum(-1, dtype=np.float64)  # (R, K)
    scaled = dots / math.sqrt(d_k)
    w_raw, w_scaled = softmax_np(dots), softmax_np(scaled)
    return ScalingSample(
        d_k=d_k, dots=dots, scaled=scaled,
        max_weight_raw=w_raw.max(-1), max_weight_scaled=w_scaled.max(-1),
        entropy_raw=entropy(w_raw), entropy_scaled=entropy(w_scaled),
    )


DEFAULT_DKS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def saturation_curve(d_ks=DEFAULT_DKS, n_rows: int = 200, n_keys: int = 16, seed: int = 0):
    """Mean max-weight against d_k: (d_ks, unscaled (n,), scaled (n,))."""
    raw, scaled = [], []
    for d in d_ks:
        s = scaling_sample(d, n_rows, n_keys, seed)
        raw.append(s.max_weight_raw.mean())
        scaled.append(s.max_weight_scaled.mean())
    return np.asarray(d_ks), np.asarray(raw), np.asarray(scaled)


# ---------------------------------------------------------------- masking

MASK_KINDS = ("causal", "padding", "causal + padding")


@dataclass(frozen=True)
class MaskDemo:
    tokens: tuple[str, ...]
    scores: np.ndarray  # (T, T)
    mask: np.ndarray  # (T, T) bool, True = may attend
    weights: np.ndarray  # (T, T), exactly 0 where masked
    empty_rows: tuple[int, ...]  # queries with nothing to attend to: all-zero rows


def mask_demo(words: list[str], kind: str, n_pad: int, pad_side: str = "right", seed: int = 0) -> MaskDemo:
    """Self-attention of `words` plus `n_pad` <pad> tokens under a causal and/or padding mask.

    With causal masking and left padding, the first query sees only padding: a fully masked row.
    Its weights are zeros (it attends to nothing), not NaN as exp(-inf) / 0 would give.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
    if pad_side not in ("left", "right"):
        raise ValueError(f"pad_side must be left or right, got {pad_side!r}")
    if n_pad < 0:
        raise ValueError(f"n_pad must be >= 0, got {n_pad}")
    pads = ["<pad>"] * n_pad
    tokens = tuple(pads + list(words) if pad_side == "left" else list(words) + pads)
    T = len(tokens)
    if T == 0:
        raise ValueError("mask_demo needs at least one token")
    scores = torch.from_numpy(np.random.default_rng(seed).normal(0, 1.5, (T, T)))
    is_real = torch.tensor([t != "<pad>" for t in tokens])
    mask = torch.ones(T, T, dtype=torch.bool)
    if "causal" in kind:
        mask &= causal_mask(T)
    if "padding" in kind:
        mask &= is_real[None, :]  # no query may attend to a padding key
    weights = masked_softmax(scores, mask)
    empty = tuple(int(i) for i in torch.nonzero(~mask.any(-1)).flatten())
    return MaskDemo(tokens, scores.numpy(), mask.numpy(), weights.numpy(), empty)


# ---------------------------------------------------------------- overflow

DTYPES = {"float16": np.float16, "float32": np.float32}


@dataclass(frozen=True)
class OverflowRow:
    dtype: str
    inputs: np.ndarray  # the logits as that dtype holds them (may already be inf)
    naive: np.ndarray  # exp(x) / Σ exp(x)
    stable: np.ndarray  # exp(x - max x) / Σ exp(x - max x)
    overflow_at: float  # exp(x) is inf for x above this
    notes: tuple[str, ...]


def overflow_demo(logits: np.ndarray, dtype: str) -> OverflowRow:
    """Softmax of `logits` computed entirely in `dtype`, the naive way and the max-subtracted way."""
    t = DTYPES[dtype]
    info = np.finfo(t)
    notes = []
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.asarray(logits, dtype=np.float64).astype(t)
        too_big = np.abs(logits) > float(info.max)
        if too_big.any():
            notes.append(f"{', '.join(f'{v:g}' for v in np.asarray(logits)[too_big])} does not fit in "
                         f"{dtype} (largest {float(info.max):g}): it is stored as ±inf before any exp.")
        e = np.exp(x)
        naive = e / e.sum(dtype=t)
        z = np.exp(x - x.max())
        stable = z / z.sum(dtype=t)
    return OverflowRow(dtype, x, naive.astype(t), stable.astype(t), math.log(float(info.max)), tuple(notes))


TEMPERATURES = tuple(float(f"{10 ** (i / 20):.3g}") for i in range(-26, 21))  # 0.05 .. 10, log-spaced, 1 included


def overflow_table(logits: np.ndarray) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """Columns for a side-by-side table (logit, then naive and stable softmax in each dtype),
    values as text so inf and NaN read as such, plus the notes about values that did not fit."""
    cols: dict[str, list[str]] = {"logit": [f"{v:g}" for v in logits]}
    notes: list[str] = []
    for dtype in DTYPES:
        row = overflow_demo(logits, dtype)
        with np.errstate(over="ignore"):
            cols[f"exp(x) in {dtype}"] = [f"{v:.4g}" for v in np.exp(row.inputs)]
        cols[f"naive softmax, {dtype}"] = [f"{v:.4g}" for v in row.naive]
        cols[f"max-subtracted, {dtype}"] = [f"{v:.4g}" for v in row.stable]
        notes.extend(row.notes)
    return cols, tuple(notes)

"""Why positions matter: without them, self-attention is permutation-equivariant.

Permute the input tokens and, with no positional encoding, the encoder's output rows and its
attention weights are permuted the same way (enc(P x) = P enc(x), A(P x) = P A(x) Pᵀ): the
model cannot tell "dog bites man" from "man bites dog". With positions added, it can.

The same trained weights serve both: the sinusoidal table is a non-persistent buffer, so a
checkpoint's state dict loads into a config with positional="none" unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from viz.scratch.model import Transformer, capture
from viz.scratch.run import prepare_input
from viz.scratch.tasks import Task

PERMUTATIONS = ("reverse", "rotate by one", "shuffle")


def make_permutation(kind: str, n: int, seed: int = 0) -> np.ndarray:
    """Indices perm with permuted[j] = original[perm[j]]."""
    if kind == "reverse":
        return np.arange(n)[::-1].copy()
    if kind == "rotate by one":
        return np.roll(np.arange(n), -1)
    if kind == "shuffle":
        return np.random.default_rng(seed).permutation(n)
    raise ValueError(f"permutation must be one of {PERMUTATIONS}, got {kind!r}")


def without_positions(model: Transformer) -> Transformer:
    """The same weights in a model that adds no positional encoding."""
    bare = Transformer(replace(model.cfg, positional="none"))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith(".pos.weight")}
    bare.load_state_dict(state)  # strict: every other weight must match
    return bare.to(next(model.parameters()).device).eval()


@dataclass(frozen=True)
class Equivariance:
    positional: str  # the model's positional setting
    weights: np.ndarray  # (L, H, T, T) encoder self-attention on the original input
    weights_permuted: np.ndarray  # (L, H, T, T) the same on the permuted input
    weights_restored: np.ndarray  # (L, H, T, T) weights_permuted with rows and columns put back in order
    output_error: float  # max |enc(P x) - P enc(x)|
    weights_error: float  # max |A(P x) - P A(x) Pᵀ| over every layer and head


@dataclass(frozen=True)
class PermutationDemo:
    tokens: tuple[str, ...]
    permuted_tokens: tuple[str, ...]
    perm: np.ndarray
    with_positions: Equivariance
    without_positions: Equivariance


@torch.no_grad()
def _encode(model: Transformer, src: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Encoder output (T, C) and every encoder self-attention (L, H, T, T)."""
    with capture(model) as store:
        out = model.encode(src)
    w = np.stack([store[f"encoder.{i}.self_attn.hook_weights"][0].cpu().numpy()
                  for i in range(model.cfg.n_encoder_layers)])
    return out[0].cpu().numpy(), w


def _check(model: Transformer, src: torch.Tensor, perm: np.ndarray) -> Equivariance:
    out, w = _encode(model, src)
    out_p, w_p = _encode(model, src[:, torch.as_tensor(perm, device=src.device)])
    inv = np.argsort(perm)
    return Equivariance(
        positional=model.cfg.positional,
        weights=w, weights_permuted=w_p, weights_restored=w_p[:, :, inv][:, :, :, inv],
        output_error=float(np.abs(out_p - out[perm]).max()),
        weights_error=float(np.abs(w_p - w[:, :, perm][:, :, :, perm]).max()),
    )


def permutation_demo(model: Transformer, task: Task, text: str, kind: str, seed: int = 0) -> PermutationDemo:
    """Run the encoder on `text` and on its permutation, with the model's positions and without."""
    prepared = prepare_input(task, text)  # InputError with a sentence for unusable text
    src = torch.tensor([task.encode_src(prepared.text)], device=next(model.parameters()).device)
    perm = make_permutation(kind, src.shape[1], seed)
    tokens = tuple(prepared.text)
    return PermutationDemo(
        tokens=tokens, permuted_tokens=tuple(tokens[i] for i in perm), perm=perm,
        with_positions=_check(model, src, perm),
        without_positions=_check(without_positions(model), src, perm),
    )

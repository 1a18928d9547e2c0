"""Induction heads: the data that makes them, the scores that find them, the training that forms them.

    result = train_induction(InductionConfig(n_layers=2))   # about 30 s on 2 cores
    scores = head_scores(trace.weights, ids)                # {"prefix": (L, H), "previous": ..., ...}
    evaluate(result.model)                                  # best prefix score, repeated-half top-1

A sequence is <s>, n random tokens, then the same n tokens again (Olsson et al. 2022). A model can
predict the second copy only by looking back: find where the current token occurred before, and
copy the token that followed it. Two heads do that in two layers (Elhage et al. 2021): a layer-0
*previous-token* head writes "my previous token was A" into each position, and a layer-1
*induction* head whose keys read that (K-composition) attends from the current A to the token
after the earlier A, and copies it.

Head detectors (as TransformerLens names them; computed here, no TransformerLens): for each head,
the mean over queries of the attention that falls on the query's target positions,
    previous   the position before the query (t - 1)
    duplicate  earlier positions holding the same token as the query
    prefix     positions right after an earlier occurrence of the query's token (prefix matching)
Queries without a target (the first copy, for prefix and duplicate) are left out of the mean.

Training follows a recipe measured here (2 layers, 4 heads, d_model 64, no LayerNorm, AdamW lr 1e-3,
batch 64, n from 8 to 31 drawn per batch): the repeated half's loss falls suddenly between steps 750
and 1,250. A fixed n lets a model use a position shortcut that is not induction; lr 3e-3 forms none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viz.scratch.gpt import GPT, VOCAB, DecoderConfig, random_repeat, show_token
from viz.scratch.model import capture

EVAL_N = 20  # tokens in each half of the evaluation sequences (issue: "20 ordinary tokens repeated")


@dataclass(frozen=True)
class InductionConfig:
    n_layers: int = 2
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    min_n: int = 8
    max_n: int = 31  # 2 * 31 + 1 = 63 tokens: within a context of 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.n_layers <= 6:
            raise ValueError(f"layers must be from 1 to 6, got {self.n_layers}")
        if not 1 <= self.min_n <= self.max_n:
            raise ValueError(f"need 1 <= min_n <= max_n, got {self.min_n}, {self.max_n}")


# --- detectors ------------------------------------------------------------------------------------

def target_masks(ids: list[int] | np.ndarray) -> dict[str, np.ndarray]:
    """(T, T) boolean masks, rows = queries, of each detector's target keys for a sequence."""
    ids = np.asarray(ids)
    T = len(ids)
    same = (ids[:, None] == ids[None, :]) & np.tri(T, k=-1, dtype=bool)  # earlier key, same token
    previous = np.eye(T, k=-1, dtype=bool)
    prefix = np.zeros((T, T), dtype=bool)
    prefix[:, 1:] = same[:, :-1]  # the key after an earlier occurrence of the query's token
    prefix &= np.tri(T, dtype=bool)  # (never the query's own future)
    if T:  # position 0 (<s>) is no one's token
        same[:, 0] = prefix[:, 0] = False
    return {"previous": previous, "duplicate": same, "prefix": prefix}


def head_scores(weights: np.ndarray, ids: list[int] | np.ndarray) -> dict[str, np.ndarray]:
    """{detector: (L, H) scores in [0, 1]} for attention weights (L, H, T, T) on the sequence `ids`."""
    out = {}
    for name, target in target_masks(ids).items():
        rows = target.any(axis=1)  # queries with at least one target
        if not rows.any():
            out[name] = np.zeros(weights.shape[:2])
            continue
        mass = (weights[..., rows, :] * target[rows]).sum(axis=-1)  # (L, H, queries)
        out[name] = mass.mean(axis=-1)
    return out


def best_head(scores: np.ndarray) -> tuple[int, int, float]:
    """(layer, head, score) of the highest-scoring head of an (L, H) table."""
    layer, head = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(layer), int(head), float(scores[layer, head])


def k_composition(matrices: list[tuple[np.ndarray, ...]], n_heads: int, layer: int, head: int) -> np.ndarray:
    """(layer, H) K-composition scores of head `head` of `layer` with every head of the layers before
    it (Elhage et al. 2021): how much of what head h1 writes the keys of head h2 read,

        ||W_QK^{h2} (W_OV^{h1})ᵀ||_F / (||W_QK^{h2}||_F ||W_OV^{h1}||_F)

    with row-vector math matrices W_QK = W_Q W_Kᵀ and W_OV = W_V W_O (both C x C, rank D).
    `matrices[l]` is layer l's (W_Q, W_K, W_V, W_O), each (C, C); head h owns columns h·D..(h+1)·D
    of W_Q, W_K, W_V and those rows of W_O. Biases are left out. Computed through QR factors, so
    every product is D x D (GPT-2's C = 768 would otherwise make 768 x 768 matrices per pair)."""
    C = matrices[0][0].shape[0]
    D = C // n_heads

    def block(w: np.ndarray, h: int, rows: bool = False) -> np.ndarray:
        return w[h * D:(h + 1) * D].T if rows else w[:, h * D:(h + 1) * D]  # (C, D)

    wq, wk, _, _ = (np.asarray(m, dtype=np.float64) for m in matrices[layer])
    rq, rk = np.linalg.qr(block(wq, head))[1], np.linalg.qr(block(wk, head))[1]  # W = Q R, R (D, D)
    qk_norm = np.linalg.norm(rq @ rk.T)  # ||W_Q W_Kᵀ||_F
    out = np.zeros((layer, n_heads))
    for l1 in range(layer):
        wv, wo = (np.asarray(m, dtype=np.float64) for m in matrices[l1][2:])
        for h1 in range(n_heads):
            rv = np.linalg.qr(block(wv, h1))[1]
            ro = np.linalg.qr(block(wo, h1, rows=True))[1]  # W_O's rows for h1, as (C, D) = Q R
            ov_norm = np.linalg.norm(rv @ ro.T)  # ||W_V W_O||_F
            # W_QK W_OVᵀ = W_Q (W_Kᵀ W_Oᵀ) W_Vᵀ; with W_Q = Qq Rq and W_V = Qv Rv its norm is
            # ||Rq (W_Kᵀ W_Oᵀ) Rvᵀ||_F, and W_Kᵀ W_Oᵀ = (D, C)(C, D) is small
            middle = block(wk, head).T @ block(wo, h1, rows=True)  # (D, D)
            out[l1, h1] = np.linalg.norm(rq @ middle @ rv.T) / (qk_norm * ov_norm)
    return out


def gpt_matrices(model: GPT) -> list[tuple[np.ndarray, ...]]:
    """Each layer's (W_Q, W_K, W_V, W_O) as row-vector math matrices (C, C): nn.Linear stores Wᵀ."""
    with torch.no_grad():
        return [tuple(w.weight.T.double().cpu().numpy() for w in (b.attn.w_q, b.attn.w_k, b.attn.w_v, b.attn.w_o))
                for b in model.blocks]


# --- data, loss, evaluation -----------------------------------------------------------------------

def batch(rng: np.random.Generator, size: int, n: int) -> torch.Tensor:
    """(size, 2n + 1) ids: <s>, n random tokens, the same n again."""
    return torch.tensor([random_repeat(rng, n) for _ in range(size)])


def repeated_half_loss(logits: torch.Tensor, ids: torch.Tensor, n: int) -> torch.Tensor:
    """Cross-entropy of the predictable tokens: positions n+1..2n predict tokens n+2..2n+1 (the
    second copy after its first token, which nothing in the sequence can predict)."""
    pred = logits[:, n + 1:-1]  # (B, n - 1, V)
    return nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), ids[:, n + 2:].reshape(-1))


@torch.no_grad()
def batch_weights(model: GPT, ids: torch.Tensor) -> np.ndarray:
    """(B, L, H, T, T) attention weights of a batch of sequences, in one forward pass."""
    with capture(model) as store:
        model(ids)
    return np.stack([store[f"blocks.{i}.attn.hook_weights"].float().cpu().numpy()
                     for i in range(model.cfg.n_layers)], axis=1)


@torch.no_grad()
def evaluate(model: GPT, n_sequences: int = 100, n: int = EVAL_N, seed: int = 1234,
             distinct: bool = False) -> dict:
    """On n_sequences random sequences of n tokens repeated: the repeated half's top-1 accuracy and
    loss, and every head's mean detector scores. distinct=True: no token twice in a half."""
    rng = np.random.default_rng(seed)
    seqs = [random_repeat(rng, n, model.cfg.vocab, distinct) for _ in range(n_sequences)]
    ids = torch.tensor(seqs, device=next(model.parameters()).device)
    logits = model(ids)
    top1 = (logits[:, n + 1:-1].argmax(-1) == ids[:, n + 2:]).float().mean().item()
    loss = repeated_half_loss(logits, ids, n).item()
    weights = batch_weights(model, ids)
    totals: dict[str, np.ndarray] = {}
    for seq, w in zip(seqs, weights, strict=True):
        for name, sc in head_scores(w, seq).items():
            totals[name] = totals.get(name, 0) + sc / n_sequences
    layer, head, prefix = best_head(totals["prefix"])
    return {"top1": top1, "loss": loss, "scores": totals, "best_head": (layer, head), "best_prefix": prefix}


# --- training -------------------------------------------------------------------------------------

@dataclass
class InductionResult:
    model: GPT
    losses: list[float]  # the repeated half's loss, per step
    seconds: float
    control: GPT | None = None  # the 1-layer control, trained on the same batches when asked
    control_losses: list[float] | None = None


def train_induction(cfg: InductionConfig = InductionConfig(), device: torch.device | str = "cpu",
                    on_step: Callable[[int, float, GPT], None] | None = None,
                    on_control_step: Callable[[int, float, GPT], None] | None = None) -> InductionResult:
    """Train a fresh attention-only decoder on repeated random sequences; seeded (data, weights).
    `on_step(step, loss, model)` is called after every step. With `on_control_step`, a 1-layer
    control learns from the same batches beside it (its callback first, each step)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = GPT(DecoderConfig(n_layers=cfg.n_layers)).to(device)
    pairs = [(model, torch.optim.AdamW(model.parameters(), lr=cfg.lr), [], on_step)]
    if on_control_step is not None:
        control = GPT(DecoderConfig(n_layers=1)).to(device)
        pairs.insert(0, (control, torch.optim.AdamW(control.parameters(), lr=cfg.lr), [], on_control_step))
    start = time.perf_counter()
    for m, *_ in pairs:
        m.train()
    for step in range(cfg.steps):
        n = int(rng.integers(cfg.min_n, cfg.max_n + 1))  # one length per batch: no padding
        ids = batch(rng, cfg.batch_size, n).to(device)
        for m, opt, losses, callback in pairs:
            logits = m(ids)  # (B, 2n + 1, V)
            # train on every next token; report the repeated half, the part induction can predict
            loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, len(VOCAB)), ids[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(repeated_half_loss(logits.detach(), ids, n).item())
            if callback is not None:
                callback(step, losses[-1], m)
    for m, *_ in pairs:
        m.eval()
    seconds = time.perf_counter() - start
    if on_control_step is None:
        return InductionResult(model, pairs[0][2], seconds)
    return InductionResult(model, pairs[1][2], seconds, pairs[0][0], pairs[0][2])


# --- live training (a job of viz.jobs' queue, in a child process as viz.scratch.live's) ----------

LIVE_STEPS = 1500  # the phase change comes between steps 750 and 1,250
MAX_LIVE_STEPS = 3000
PROBE_EVERY = 50  # steps between measurements of every head's prefix-matching score
PROBE_SEQUENCES = 16


@dataclass(frozen=True)
class LiveInduction:
    steps: int
    seconds: float
    top1: float  # repeated-half top-1 on 100 sequences of 20 tokens repeated
    best_head: tuple[int, int]
    best_prefix: float
    control_top1: float | None  # the 1-layer control trained beside it, when asked
    probe_tokens: tuple[str, ...]  # the axes of the snapshots' attention patterns


def probe_sequence() -> list[int]:
    """The fixed sequence whose best head's attention the snapshots show: <s>, 12 distinct letters
    (ids 1..26), then the same 12 again."""
    return random_repeat(np.random.default_rng(7), 12, 27, distinct=True)


def check_live(steps: int) -> None:
    if not isinstance(steps, int) or not 100 <= steps <= MAX_LIVE_STEPS:
        raise ValueError(f"Steps must be a whole number from 100 to {MAX_LIVE_STEPS}, got {steps!r}.")


def train_live(progress, steps: int, control: bool, device: str = "cpu") -> LiveInduction:
    """Train the 2-layer model (and, with `control`, the 1-layer one on the same batches), reporting
    each step's repeated-half loss and, every PROBE_EVERY steps, a snapshot dict: step, every head's
    prefix-matching score on PROBE_SEQUENCES sequences, every head's attention on probe_sequence(),
    and the control's loss and scores."""
    rng_probe = np.random.default_rng(99)
    probe_n = EVAL_N
    probes = torch.tensor([random_repeat(rng_probe, probe_n) for _ in range(PROBE_SEQUENCES)], device=device)
    fixed = torch.tensor([probe_sequence()], device=device)
    controls: dict[str, float | np.ndarray] = {}

    def measure(model: GPT) -> np.ndarray:
        w = batch_weights(model, probes)
        return np.mean([head_scores(wi, seq)["prefix"] for wi, seq in zip(w, probes.tolist(), strict=True)], axis=0)

    def report_control(step: int, loss: float, model: GPT) -> None:
        controls["loss"] = loss
        if (step + 1) % PROBE_EVERY == 0 or step == 0:
            controls["prefix"] = measure(model)

    def on_step(step: int, loss: float, model: GPT) -> None:
        progress.check()  # raises JobCancelled: training stops here
        snapshot = None
        if (step + 1) % PROBE_EVERY == 0 or step == 0:
            snapshot = {"step": step + 1, "prefix": measure(model), "pattern": batch_weights(model, fixed)[0],
                        "control_loss": controls.get("loss"), "control_prefix": controls.get("prefix")}
        progress.update(step + 1, loss=loss, snapshot=snapshot)

    check_live(steps)
    result = train_induction(InductionConfig(steps=steps), device, on_step, report_control if control else None)
    ev = evaluate(result.model)
    control_top1 = evaluate(result.control)["top1"] if control else None
    return LiveInduction(steps, result.seconds, ev["top1"], ev["best_head"], ev["best_prefix"], control_top1,
                         tuple(show_token(VOCAB[i]) for i in fixed[0].tolist()))


def induction_job(steps: int = LIVE_STEPS, control: bool = False, device: str = "cpu", isolate: bool = True,
                  nice: int | None = None, threads: int = 1):
    """`job(progress) -> LiveInduction` for viz.jobs.JobQueue, in a niced one-thread child process
    (viz.child) unless isolate=False. Refuses impossible steps now, with a sentence."""
    from viz.child import run_in_child
    from viz.jobs import env_int
    from viz.scratch.live import ENV_NICE

    check_live(steps)
    if nice is None:
        nice = min(19, env_int(ENV_NICE, 19, 0))

    def job(progress) -> LiveInduction:
        if isolate:
            return run_in_child(progress, "viz.scratch.induction:train_live", (steps, control, device), nice, threads)
        return train_live(progress, steps, control, device)

    return job

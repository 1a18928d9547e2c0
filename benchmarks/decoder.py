"""The decoder page's costs, in one run: a trace against a plain forward, a next-token step, and
live training's phase change.

    python -m benchmarks.decoder [--repeats 30] [--no-training]

1. `trace_ids` (hooks on, every weight, Q, K, V and scores copied to numpy) against the model's
   plain forward on the same ids, at 64 tokens (the bundled model) and 512 tokens (the same
   architecture with a context of 512, random weights), called in turn: the median of `repeats`
   each (ten times that at 64 tokens, where a call is under a millisecond), one thread.
2. A next-token step as the page's button runs it at 64 tokens: logits, the distribution with
   temperature, top-k and top-p, a draw, then the new sequence's trace (what the page draws next).
3. Live training as the page's queue runs it (viz.scratch.induction.train_live in this process, one
   thread, not niced): the step where the repeated half's loss first falls below half its start
   (50-step mean), the wall seconds to that step, and the best head's prefix-matching score then.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from viz.sampling import next_token_probs, sample
from viz.scratch import gpt, induction


def median_ms(fn, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def paired_ms(a, b, repeats: int) -> tuple[float, float]:
    """Median ms of a and of b, called in turn (a, b, a, b, ...) so that a noisy neighbour slows
    both alike: this machine is shared, and the ratio is what the goal is about."""
    a(), b()  # warm
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(ta), 1000 * statistics.median(tb)


def trace_vs_forward(repeats: int) -> list[tuple[int, float, float]]:
    rows = []
    bundled, _ = gpt.load_bundled("induction")
    torch.manual_seed(0)
    long = gpt.GPT(gpt.DecoderConfig(max_len=512)).eval()
    for T, model in ((64, bundled), (512, long)):
        ids = [0, *np.random.default_rng(0).integers(1, 64, T - 1).tolist()]
        x = torch.tensor([ids])

        def forward(model=model, x=x):
            with torch.no_grad():
                model(x)

        rows.append((T, *paired_ms(forward, lambda model=model, ids=ids: gpt.trace_ids(model, ids),
                                   repeats * (10 if T <= 64 else 1))))
    return rows


def step_ms(repeats: int) -> float:
    model, vocab = gpt.load_bundled("induction")
    rng = np.random.default_rng(0)
    ids = gpt.random_repeat(rng, 31)[:63]  # 63 tokens; the step makes 64

    def step():
        probs = next_token_probs(gpt.next_token_logits(model, ids), 0.8, 20, 0.9)
        token = sample(probs, rng)
        gpt.trace_ids(model, [*ids, token], vocab)

    return median_ms(step, repeats)


class _Progress:
    def __init__(self):
        self.losses, self.snaps, self.times = [], [], []
        self.start = time.perf_counter()

    def check(self):
        pass

    def restart(self):
        pass

    def update(self, step, loss=None, snapshot=None):
        self.losses.append(loss)
        self.times.append(time.perf_counter() - self.start)
        if snapshot is not None:
            self.snaps.append(snapshot)


def training(steps: int) -> dict:
    p = _Progress()
    result = induction.train_live(p, steps, control=False)
    losses = np.asarray(p.losses)
    start = losses[:50].mean()
    windows = np.convolve(losses, np.ones(50) / 50, mode="valid")
    below = np.flatnonzero(windows < start / 2)
    at = int(below[0]) + 50 if len(below) else None
    snap = next((s for s in p.snaps if at is not None and s["step"] >= at), p.snaps[-1])
    return {"steps": steps, "phase_step": at, "phase_s": p.times[at - 1] if at else None,
            "prefix_then": float(snap["prefix"].max()), "ms_per_step": 1000 * p.times[-1] / steps,
            "top1": result.top1, "best_prefix": result.best_prefix, "wall_s": p.times[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=induction.LIVE_STEPS)
    parser.add_argument("--no-training", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| tokens | plain forward (ms) | trace_ids (ms) | trace / forward |\n|---|---|---|---|")
    for T, f, t in trace_vs_forward(args.repeats):
        print(f"| {T} | {f:.2f} | {t:.2f} | {t / f:.2f} |")
    print(f"\nnext-token step at 64 tokens (logits, sampling, retrace): {step_ms(args.repeats):.2f} ms median")
    if not args.no_training:
        r = training(args.steps)
        print(f"\nlive training, {r['steps']} steps, one thread: {r['ms_per_step']:.1f} ms a step (probes included); "
              f"loss below half its start by step {r['phase_step']} ({r['phase_s']:.0f} s), best prefix score "
              f"then {r['prefix_then']:.2f}; at the end top-1 {r['top1']:.1%}, best prefix {r['best_prefix']:.2f}, "
              f"{r['wall_s']:.0f} s")


if __name__ == "__main__":
    main()

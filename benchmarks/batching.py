"""Does batching pay? k short inputs traced one after another vs as one padded forward pass.

    python -m benchmarks.batching [--threads 1 2] [--batch 2 4 8] [--tokens 15] [--repeats 9] [--device cpu]
    python -m benchmarks.batching --page scratch [--task reverse]     # the scratch page's words

The scratch page (--page scratch) times viz.scratch.run.run k times against one run_many of the
same k random words (greedy decoding batched, attention then recorded per word).

A class sends many short sentences (the default example is 12-15 tokens). For each torch thread
count and batch size k this times `trace_text` k times in a row against one `trace_texts` of the
same k inputs (different sentences, lengths within a few tokens, so padding is realistic),
alternating the two in one process, and prints the medians as a markdown table. The
micro-batcher (viz.tracecache.MicroBatcher) also waits up to ATTENTION_LENS_BATCH_MS (5 ms) to
collect a batch; that wait is not in these numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from viz.pretrained import load_text_model, trace_text
from viz.pretrained.text import trace_texts

WORDS = ("the cat sat on the mat because it was tired and the dog barked at a bird in the old tree "
         "while children played near the river").split()


def inputs(tokenizer, k: int, n_tokens: int) -> list[str]:
    """k different sentences of about n_tokens tokens ([CLS] and [SEP] included), a few shorter."""
    out = []
    for i in range(k):
        words = WORDS[i % 7:] + WORDS[:i % 7]
        text, n = "", n_tokens - 2 - (i % 3)  # lengths n_tokens, n_tokens-1, n_tokens-2
        for w in words:
            if len(tokenizer(f"{text} {w}".strip(), add_special_tokens=False)["input_ids"]) > n:
                break
            text = f"{text} {w}".strip()
        out.append(text)
    return out


def _work(args):
    """(one input, a batch of inputs, k -> inputs, what they are) for the page measured."""
    if args.page == "scratch":
        import numpy as np

        from viz.scratch.run import run, run_many
        from viz.scratch.tasks import TASKS
        from viz.scratch.train import checkpoint_path, load_checkpoint

        model, _ = load_checkpoint(checkpoint_path(args.task), args.device)
        task = TASKS[args.task]
        rng = np.random.default_rng(0)
        return (lambda t: run(model, task, t), lambda ts: run_many(model, task, ts),
                lambda k: [task.sample(rng) for _ in range(k)], f"scratch page, {args.task} task, random inputs")
    tm = load_text_model(None, args.device)
    return (lambda t: trace_text(tm, t), lambda ts: trace_texts(tm, [(t, None) for t in ts]),
            lambda k: inputs(tm.tokenizer, k, args.tokens), f"text page, ~{args.tokens}-token inputs")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--tokens", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--page", choices=["text", "scratch"], default="text")
    ap.add_argument("--task", default="reverse", help="the scratch page's task (--page scratch)")
    args = ap.parse_args(argv)
    one, many, make_inputs, what = _work(args)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for k in args.batch:
            texts = make_inputs(k)

            def one_by_one(texts=texts):
                for t in texts:
                    one(t)
                sync(args.device)

            def batched(texts=texts):
                many(texts)
                sync(args.device)

            one_by_one(), batched()  # warm-up
            a, b = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                one_by_one()
                t1 = time.perf_counter()
                batched()
                t2 = time.perf_counter()
                a.append(t1 - t0)
                b.append(t2 - t1)
            sa, sb = statistics.median(a) * 1000, statistics.median(b) * 1000
            rows.append((threads, k, sa, sb))
            print(f"threads {threads}, k {k}: one by one {sa:.1f} ms, batched {sb:.1f} ms", flush=True)
    print(f"\n{args.device}, {what}, medians of {args.repeats} alternating runs\n")
    print("| torch threads | inputs | one by one (ms) | one batch (ms) | batch / one by one |")
    print("|---|---|---|---|---|")
    for threads, k, sa, sb in rows:
        print(f"| {threads} | {k} | {sa:.1f} | {sb:.1f} | {sb / sa:.2f} |")


if __name__ == "__main__":
    main()

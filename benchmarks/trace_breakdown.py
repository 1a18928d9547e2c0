"""Where the text trace's time goes beyond the plain SDPA forward, at one input length.

    python -m benchmarks.trace_breakdown [--tokens 510] [--threads 1] [--repeats 7]

Each step adds one thing to the one before: SDPA forward (no weights) -> eager forward (the
attention matrices materialised) -> output_attentions -> Q/K/V hooks -> trace_text (scores,
stacking, numpy, validation). Medians of --repeats runs, all in one process, so the ratios are
comparable even on a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import AutoModel

from viz.bench import text_of
from viz.pretrained import default_model_dir, load_text_model, trace_text
from viz.pretrained.text import capture_qkv, tokenize


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=510, help="word pieces (plus [CLS] and [SEP])")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tm = load_text_model(None, "cpu")
    sdpa = AutoModel.from_pretrained(str(default_model_dir()), attn_implementation="sdpa").eval()
    text = text_of(tm.tokenizer, args.tokens)
    enc, _ = tokenize(tm, text, None)
    enc.pop("special_tokens_mask")

    def hooked():
        with capture_qkv(tm):
            tm.model(**enc, output_attentions=True)

    steps = {
        "forward, SDPA": lambda: sdpa(**enc),
        "forward, eager": lambda: tm.model(**enc),
        "+ output_attentions": lambda: tm.model(**enc, output_attentions=True),
        "+ Q/K/V hooks": hooked,
        "trace_text (all of it)": lambda: trace_text(tm, text),
    }
    with torch.no_grad():
        ms = {name: median_ms(fn, args.repeats) for name, fn in steps.items()}
    base = ms["forward, SDPA"]
    print(f"{args.tokens + 2} tokens, torch {torch.__version__}, {args.threads} thread(s), "
          f"median of {args.repeats}\n")
    print("| step | ms | / SDPA forward |\n|---|---|---|")
    for name, v in ms.items():
        print(f"| {name} | {v:.1f} | {v / base:.2f} |")


if __name__ == "__main__":
    main()

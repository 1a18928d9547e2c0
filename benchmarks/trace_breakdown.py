"""Where the text trace's time goes beyond the plain SDPA forward, at one input length.

    python -m benchmarks.trace_breakdown [--tokens 510] [--threads 1] [--repeats 7]
    THP_MEM_ALLOC_ENABLE=0 python -m benchmarks.trace_breakdown     # without huge pages

Rows: the SDPA forward (the baseline) and the eager forward with and without output_attentions,
then trace_text both ways it can run: the traced attention (what the bundled model uses: SDPA
keeping Q, K and V, weights computed when read; alone, with one head read, with every weight read)
and eager output_attentions (the fallback, see viz/pretrained/text.py). Medians of
--repeats runs, all in one process, so the ratios are comparable even on a noisy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch
from transformers import AutoModel

from benchmarks.text_trace import text_of

# importing viz sets THP_MEM_ALLOC_ENABLE (viz/__init__.py) before any tensor exists
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
    assert tm.traced_attention, "the bundled model should pass the load-time probe"
    path = str(default_model_dir())
    sdpa = AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    eager = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    tm_eager = replace(tm, model=eager, traced_attention=False)
    text = text_of(tm.tokenizer, args.tokens)
    enc, _ = tokenize(tm, text, None)
    enc.pop("special_tokens_mask")

    def hooked():
        with capture_qkv(tm):
            tm.model(**enc)

    steps = {
        "forward, SDPA": lambda: sdpa(**enc),
        "forward, eager": lambda: eager(**enc),
        "forward, eager + output_attentions": lambda: eager(**enc, output_attentions=True),
        "forward, SDPA + Q/K/V hooks": hooked,
        "trace_text, eager output_attentions": lambda: trace_text(tm_eager, text),
        "trace_text, traced attention (shipped)": lambda: trace_text(tm, text),
        "  + one head's weights (the heatmap)": lambda: trace_text(tm, text).head(0, 0),
        "  + every weight (head table, rollout)": lambda: trace_text(tm, text).weights,
    }
    with torch.no_grad():
        ms = {name: median_ms(fn, args.repeats) for name, fn in steps.items()}
    base = ms["forward, SDPA"]
    thp = os.environ.get("THP_MEM_ALLOC_ENABLE", "")
    print(f"{args.tokens + 2} tokens, torch {torch.__version__}, {args.threads} thread(s), "
          f"median of {args.repeats}, THP_MEM_ALLOC_ENABLE={thp}\n")
    print("| step | ms | / SDPA forward |\n|---|---|---|")
    for name, v in ms.items():
        print(f"| {name} | {v:.1f} | {v / base:.2f} |")


if __name__ == "__main__":
    main()

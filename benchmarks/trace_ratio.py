"""Trace / plain SDPA forward at each length, robust to a busy machine: wall and CPU time.

    python -m benchmarks.trace_ratio [--sizes 64 128 256 510] [--repeats 15]

benchmarks.text_trace's ratio divides wall-clock medians; on a shared machine other processes preempt either
run at random. With one torch thread all the work runs in the calling thread, so the thread's
CPU time (time.thread_time) counts only the time it actually ran. Forward and trace alternate in
one process; the table gives both clocks' medians, and the ratio of the CPU-time medians.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from transformers import AutoModel

from benchmarks.text_trace import alternating_ms, text_of
from viz.pretrained import default_model_dir, load_text_model, trace_text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 510], help="word pieces")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    tm = load_text_model(None, "cpu")
    sdpa = AutoModel.from_pretrained(default_model_dir(), attn_implementation="sdpa").eval()
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} alternating runs, "
          f"loadavg before: {os.getloadavg()[0]:.1f}\n")
    print("| tokens | forward wall (ms) | trace wall (ms) | wall ratio | forward CPU (ms) | trace CPU (ms) "
          "| CPU ratio | trace + every weight CPU (ms) | its CPU ratio |\n|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        text = text_of(tm.tokenizer, n)
        enc = tm.tokenizer(text, return_tensors="pt")

        def forward(enc=enc):
            with torch.no_grad():
                sdpa(**enc)

        def trace(text=text):
            trace_text(tm, text)

        def every_weight(text=text):  # what the head table or the rollout reads the first time
            _ = trace_text(tm, text).weights

        ms = alternating_ms({"f": forward, "t": trace, "a": every_weight}, args.repeats,
                            {"wall": time.perf_counter, "cpu": time.thread_time})
        mw, mc = ms["wall"], ms["cpu"]
        print(f"| {n + 2} | {mw['f']:.1f} | {mw['t']:.1f} | {mw['t'] / mw['f']:.2f} | {mc['f']:.1f} | "
              f"{mc['t']:.1f} | {mc['t'] / mc['f']:.2f} | {mc['a']:.1f} | {mc['a'] / mc['f']:.2f} |", flush=True)
    print(f"\nloadavg after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""What transparent huge pages do for the trace's big arrays: one child process each way.

    python -m benchmarks.huge_pages [--tokens 512] [--threads 1]

Times, at the trace's sizes (6 layers x 12 heads x T x T floats, 75 MB at 512 tokens): a fresh
array filled with zeros, the batched scores q·kᵀ, and their softmax. Every operation allocates a
new result, as trace_text does. Medians of 9; the two columns run one after the other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import statistics, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
L, H, T, D = 6, 12, int(sys.argv[1]), 32
q, k = torch.randn(L, H, T, D), torch.randn(L, H, T, D)
scores = q @ k.transpose(-2, -1)

def median_ms(fn):
    fn()
    times = []
    for _ in range(9):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000

print(median_ms(lambda: torch.empty(L, H, T, T).fill_(0)),
      median_ms(lambda: q @ k.transpose(-2, -1)),
      median_ms(lambda: scores.softmax(-1)))
"""


def run(thp: str, tokens: int, threads: int) -> list[float]:
    env = {**os.environ, "THP_MEM_ALLOC_ENABLE": thp}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tokens), str(threads)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return [float(x) for x in out.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    mode = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    small, huge = run("0", args.tokens, args.threads), run("1", args.tokens, args.threads)
    mb = 6 * 12 * args.tokens ** 2 * 4 / 1e6
    print(f"{args.tokens} tokens ({mb:.0f} MB per array), {args.threads} thread(s), kernel THP: {mode}\n")
    print("| operation | ms, 4 KiB pages | ms, huge pages | ratio |\n|---|---|---|---|")
    for name, a, b in zip(("fresh array, zero-filled", "scores q·kᵀ", "softmax(scores)"), small, huge, strict=True):
        print(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.1f} |")


if __name__ == "__main__":
    main()

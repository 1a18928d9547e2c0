"""How much a live training in a background thread slows a student's answer, per thread setting.

    python -m benchmarks.train_background [--rounds 3] [--inputs 8]

The foreground is what the text page does for one input: a BERT (bundled MiniLM) trace of a
sentence and the layers x heads figure, each input in a fresh thread, as Streamlit runs each
script run in a fresh thread. The background is one live training (reverse task) in a worker
thread, set up as viz.jobs' worker would be:

- none: no training (the baseline)
- thread, default: training in the worker thread, torch's default threads, normal priority
- thread, 1 torch thread: viz.cpu.limit_torch_threads(1) in the worker thread
- thread, ..., nice 19: also viz.cpu.lower_priority(19) on the worker thread
- child process (what the page ships): viz.scratch.live's default, a child process at nice 19
  on one torch thread; the worker thread only relays its reports

Modes alternate within each round, in one process. Prints a markdown table: median and p95 of
the foreground time, the ratio to "none", and the training steps per second meanwhile.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from viz.cpu import limit_torch_threads, lower_priority
from viz.jobs import JobQueue

MODES = {"none": None, "thread, default": (None, 0, False), "thread, 1 torch thread": (1, 0, False),
         "thread, 1 torch thread, nice 19": (1, 19, False),
         "child process, 1 torch thread, nice 19 (shipped)": (1, 19, True)}
SENTENCE = "The {} sat near the river bank at dawn while the students watched the water."
ANIMALS = "cat dog horse cow sheep goat pig duck goose eagle owl fox wolf bear lion tiger".split()


def foreground(tm, i: int) -> float:
    from viz.attention import head_stats
    from viz.figures.text import model_grid
    from viz.pretrained import trace_text

    out = {}

    def go():
        t0 = time.perf_counter()
        trace = trace_text(tm, SENTENCE.format(ANIMALS[i % len(ANIMALS)]))
        stats = head_stats(trace.weights, trace.meta["cls_positions"], trace.meta["sep_positions"])
        model_grid(trace, stats).to_json()
        out["s"] = time.perf_counter() - t0

    t = threading.Thread(target=go)
    t.start()
    t.join()
    return out["s"]


def start_training(threads: int | None, nice: int, isolate: bool):
    """A queue with one worker set up as asked, training reverse for far more steps than needed."""
    from viz.scratch.live import training_job

    def setup():
        if threads and not isolate:
            limit_torch_threads(threads)
        if not isolate:
            lower_priority(nice)

    q = JobQueue(workers=1, thread_setup=setup)
    q.submit("bench", training_job("reverse", 3000, isolate=isolate, nice=nice, threads=threads or 1),
             total=3000)
    return q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inputs", type=int, default=8, help="foreground inputs per mode and round")
    args = ap.parse_args()
    from viz.pretrained import load_text_model

    tm = load_text_model(None, "cpu")
    foreground(tm, 0)  # warm-up
    times: dict[str, list[float]] = {m: [] for m in MODES}
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode, setting in MODES.items():
            q = start_training(*setting) if setting else None
            if q is not None:
                while (v := q.latest("bench")).step < 5:  # training under way
                    time.sleep(0.05)
                step0, t0 = v.step, time.perf_counter()
            for i in range(args.inputs):
                times[mode].append(foreground(tm, r * 100 + i))
            if q is not None:
                rates[mode].append((q.latest("bench").step - step0) / (time.perf_counter() - t0))
                q.shutdown(timeout=30)
    base = statistics.median(times["none"])
    base95 = float(np.percentile(times["none"], 95))
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"foreground: MiniLM trace + head stats + model grid, {args.rounds} rounds x {args.inputs} "
          f"inputs per mode; load average before/after: {' '.join(load)}")
    print("| background training | median s | p95 s | median / none | p95 / none | training steps/s |")
    print("|---|---|---|---|---|---|")
    for mode in MODES:
        med, p95 = statistics.median(times[mode]), float(np.percentile(times[mode], 95))
        rate = f"{statistics.median(rates[mode]):.1f}" if rates[mode] else "-"
        print(f"| {mode} | {med:.3f} | {p95:.3f} | {med / base:.2f} | {p95 / base95:.2f} | {rate} |")


if __name__ == "__main__":
    main()

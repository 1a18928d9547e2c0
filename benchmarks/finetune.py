"""The default fine-tuning runs, timed: held-out accuracy, wall time and peak memory per task.

    python -m benchmarks.finetune [--tasks agreement sentiment] [--threads 1] [--nice 0]

Each task runs `python -m viz.finetune` (the page's code) in a child process with the page's
default steps and learning rate, as the page's queue runs it: one torch thread unless told
otherwise. Prints one markdown row per task: steps, held-out accuracy (all and per subset),
training seconds, wall seconds (load, evaluations, saving and the attention comparison
included), peak resident memory of the process, and the mean attention change of the first and
last layers (Jensen-Shannon divergence).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def run(task: str, threads: int, nice: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "viz.finetune", "--task", task, "--threads", str(threads), "--out", out]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=(lambda: os.nice(nice)) if nice else None)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        text, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{task} failed: {err[-2000:]}")
    acc = re.search(r"held-out accuracy ([\d.]+) on (\d+) examples \(([^)]*)\); before fine-tuning ([\d.]+)", text)
    took = re.search(r"training took ([\d.]+) s for (\d+) steps", text)
    layers = re.findall(r"layer (\d+): ([\d.]+)  ([\d.]+)", text)
    return {"task": task, "steps": int(took.group(2)), "accuracy": float(acc.group(1)), "subsets": acc.group(3),
            "before": float(acc.group(4)), "train_s": float(took.group(1)), "wall_s": wall,
            "rss_gb": usage.ru_maxrss / 1024 / 1024, "js_first": float(layers[0][1]), "js_last": float(layers[-1][1])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["agreement", "sentiment"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the page's child uses 1)")
    ap.add_argument("--nice", type=int, default=0)
    args = ap.parse_args()
    print(f"threads {args.threads}, nice {args.nice}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| task | steps | held-out accuracy (subsets) | before | training s | wall s | peak RSS GB | JS layer 0 | JS last layer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in args.tasks:
        r = run(task, args.threads, args.nice)
        print(f"| {r['task']} | {r['steps']} | {r['accuracy']:.3f} ({r['subsets']}) | {r['before']:.3f} | "
              f"{r['train_s']:.0f} | {r['wall_s']:.0f} | {r['rss_gb']:.2f} | {r['js_first']:.4f} | {r['js_last']:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()

"""viz.cpu: a worker thread's torch threads and priority change that thread only."""

import os
import threading

import torch

from viz.cpu import limit_torch_threads, lower_priority, thread_nice


def in_new_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("v", fn()))
    t.start()
    t.join()
    return out["v"]


def test_limit_applies_to_the_calling_thread_only():
    # Both read before the worker runs: an earlier test in this process (the text benchmark's
    # one-thread timing) may have left the main thread and new threads with different counts.
    here, default = torch.get_num_threads(), in_new_thread(torch.get_num_threads)

    n = 2 if here == 1 else 1  # a count this process does not use already (make test runs 1 thread)

    def worker():
        ok = limit_torch_threads(n)
        torch.ones(1000) @ torch.ones(1000)  # a first op does not reset it
        return ok, torch.get_num_threads()

    assert in_new_thread(worker) == (True, n)
    assert torch.get_num_threads() == here  # this thread is untouched ...
    assert in_new_thread(torch.get_num_threads) == default  # ... and so is a thread started later


def test_lower_priority_applies_to_the_calling_thread_only():
    before = thread_nice()

    def worker():
        lower_priority(5)
        return thread_nice()

    assert in_new_thread(worker) == min(19, before + 5)
    assert thread_nice() == before
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_torch_set_num_threads_would_leak_to_later_threads():
    """Why viz.cpu exists: torch.set_num_threads in one thread changes threads started later
    (in a child process, so this test's process keeps its settings)."""
    import subprocess
    import sys

    code = """
import threading, torch
out = {}
def run(name, fn):
    t = threading.Thread(target=lambda: out.__setitem__(name, fn())); t.start(); t.join()
run("before", torch.get_num_threads)
run("worker", lambda: torch.set_num_threads(1))
run("after", torch.get_num_threads)
print(out["before"], out["after"])
"""
    before, after = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True, env={**os.environ, "OMP_NUM_THREADS": "2"}).stdout.split()
    assert (before, after) == ("2", "1")

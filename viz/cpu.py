"""Keep a background thread (live training) from taking the CPU away from everyone else.

Two per-thread settings, both measured in this torch build (2.13.0+cpu, OpenMP backend, libgomp):

- `limit_torch_threads(n)`: torch's intra-op thread count *for the calling thread only*.
  `torch.set_num_threads` is not that: it calls omp_set_num_threads for the calling thread but
  also stores the number in a process-wide variable, which every thread that first uses torch
  afterwards adopts. Streamlit runs each script run in a fresh thread, so every student's
  inference would drop to that number too (tests/test_cpu.py shows the leak). OpenMP's thread
  count is per thread (an ICV of the calling thread), so we call libgomp's omp_set_num_threads
  directly, after torch has initialised this thread's count, and leave the process-wide
  variable alone. MKL and oneDNN run on the same OpenMP runtime and follow it.
- `lower_priority(nice)`: on Linux, setpriority(PRIO_PROCESS, <native thread id>) changes the
  niceness of that one thread, not the process. Raising it needs no privilege (lowering it
  back does, so a worker thread keeps it for its whole life).
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import cache
from pathlib import Path

import torch


@cache
def _libgomp():
    """The OpenMP runtime torch loaded (the same handle), or None if torch was built without it."""
    candidates = sorted((Path(torch.__file__).parent / "lib").glob("libgomp*.so*"))
    for path in [*candidates, "libgomp.so.1"]:
        try:
            lib = ctypes.CDLL(str(path))
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            lib.omp_get_max_threads.restype = ctypes.c_int
            return lib
        except OSError:
            continue
    return None


def limit_torch_threads(n: int) -> bool:
    """Make torch use at most `n` threads for ops run *from the calling thread*. Other threads,
    and threads started later, keep torch's default. False if this build has no libgomp to ask
    (then nothing is changed)."""
    if n < 1:
        raise ValueError(f"a thread needs at least 1 torch thread, got {n}")
    lib = _libgomp()
    if lib is None:
        return False
    torch.get_num_threads()  # torch initialises this thread's OpenMP count on first use: do it now,
    lib.omp_set_num_threads(n)  # so that it does not overwrite ours later
    return torch.get_num_threads() == n


def lower_priority(nice: int) -> bool:
    """Raise the calling thread's niceness by `nice` (Linux: that thread only). False elsewhere."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
    except OSError:
        return False
    return True


def thread_nice(tid: int | None = None) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid or threading.get_native_id())

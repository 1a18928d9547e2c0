"""One torch thread per forward pass in the app server, and a short GIL switch interval.

torch runs each operator on a pool of intra-op threads (one per core by default). For the
app's small inputs (a 15-token sentence) the extra thread buys little, and it waits for work by
spinning, which is CPU time the other sessions could have used: on this 2-core machine, with the
second thread, a new sentence on the text page cost 440 ms of server CPU; with one, 90 ms
(`python -m benchmarks.interaction_cost --config shipped 1thread`, measured under load; see
docs/capacity.md). A classroom server gets its parallelism from its sessions, which Streamlit
runs in threads of their own.

ATTENTION_LENS_TORCH_THREADS=N sets another number; 0 leaves torch's default.
"""

from __future__ import annotations

import os

_done = False


def wanted() -> int:
    value = os.environ.get("ATTENTION_LENS_TORCH_THREADS", "1")
    return int(value) if value.isdigit() else 1


def limit_torch_threads() -> int:
    """Set torch's intra-op threads once per process, before any model runs; returns the number in use."""
    global _done
    import torch

    n = wanted()
    if not _done and n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _done = True
    return torch.get_num_threads()


def gil_switch_ms() -> float:
    """ATTENTION_LENS_GIL_SWITCH_MS, 0.1 to 100; 1 when unset or unreadable."""
    try:
        ms = float(os.environ.get("ATTENTION_LENS_GIL_SWITCH_MS", "1"))
    except ValueError:
        return 1.0
    return ms if 0.1 <= ms <= 100 else 1.0


def shorten_gil_switch() -> float:
    """Set Python's switch interval (how long a thread that wants the GIL waits before it asks the
    running one to let go; Python's default is 5 ms) for this server; returns it in ms.

    Every session runs in a thread of this process, and the event loop that talks to every browser
    is one more thread. Each socket write, each new script thread and each file read gives the GIL
    up and then waits up to the interval to get it back whenever a session is computing. With thirty
    students following the teacher, sampling the event loop found it there most of its busy time;
    1 ms gave the class a lower p95 follow latency than 5 ms in alternating runs (docs/capacity.md)."""
    import sys

    sys.setswitchinterval(gil_switch_ms() / 1000)
    return round(sys.getswitchinterval() * 1000, 3)

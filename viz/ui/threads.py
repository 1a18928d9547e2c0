"""One torch thread per forward pass in the app server.

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

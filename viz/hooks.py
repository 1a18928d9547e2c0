"""Forward hooks that record module outputs, safely on a model shared between sessions.

The app loads each model once per process (st.cache_resource) and Streamlit runs every session
in its own thread. A forward hook added by one session fires for every thread's forward pass on
that model, so a plain hook would hand session A the tensors of session B's input. Each hook
here records only when called from the thread that opened the block.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager

from torch import Tensor, nn


@contextmanager
def recording(modules: Iterable[tuple[Hashable, nn.Module]]) -> Iterator[dict[Hashable, Tensor]]:
    """Yield {key: output} for each (key, module), filled by this thread's forward passes only.

    The last pass wins. Hooks are removed in `finally`, also when the forward pass raises.
    """
    owner = threading.get_ident()
    store: dict[Hashable, Tensor] = {}
    handles = []
    try:
        for key, module in modules:
            def hook(_module, _inputs, output, key=key):
                if threading.get_ident() == owner:
                    store[key] = output.detach()
            handles.append(module.register_forward_hook(hook))
        yield store
    finally:
        for h in handles:
            h.remove()

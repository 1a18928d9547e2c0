"""Keep Python's cycle collector away from the objects that live as long as the server.

Streamlit ends every script run with a full `gc.collect(2)` (`runner.postScriptGC`), and a
full collection walks every container object the process holds. Once torch and transformers
are imported that is hundreds of thousands of functions, classes and dicts, which never
become garbage: walking them cost 250-300 ms of CPU per interaction on the text page, more
than the model's forward pass.

`gc.freeze()` moves every object that exists now into a permanent generation that no
collection walks (or frees; reference counting still frees them). Almost all long-lived
objects come from imports, so after any run that imported modules (the first visit to a
model page) we collect once, then freeze what survived. Later full collections, Streamlit's
after every run and Python's own, then walk only what the sessions created since.

ATTENTION_LENS_GC_FREEZE=0 turns this off (the benchmarks compare both ways).
"""

from __future__ import annotations

import gc
import os
import sys
import threading

_lock = threading.Lock()
_modules_at_freeze = 0


def enabled() -> bool:
    return os.environ.get("ATTENTION_LENS_GC_FREEZE", "1") != "0"


def freeze_after_imports() -> bool:
    """Collect and freeze if modules were imported since the last freeze; True if it did.

    Cheap when nothing was imported (one len()). Called at the start of every run, so the
    run that loaded a model is frozen at the start of the next one.
    """
    global _modules_at_freeze
    if not enabled() or len(sys.modules) == _modules_at_freeze:
        return False
    with _lock:
        n = len(sys.modules)
        if n == _modules_at_freeze:
            return False
        gc.collect()  # garbage that exists now must not be frozen: it would never be freed
        gc.freeze()
        _modules_at_freeze = n
    return True

"""Every st.cache_* of the app lives here, keyed by plain strings.

Models: cache_resource (one per process, shared by all sessions).
Runs of the small scratch model: cache_data, bounded, so a long session cannot grow without end.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from viz.device import run_on_device
from viz.scratch.run import ScratchRun, run
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint


@st.cache_resource(show_spinner="Loading the trained model ...", max_entries=8)
def scratch_model(task_name: str, device: str):
    """(model, metrics) of the bundled checkpoint for `task_name`, on `device`."""
    return load_checkpoint(checkpoint_path(task_name), device)


@st.cache_data(show_spinner=False, max_entries=64)
def scratch_run(task_name: str, text: str, device: str) -> ScratchRun:
    """Run the bundled model; if the GPU fails, the CPU answers and the result says so."""

    def go(dev: str) -> ScratchRun:
        model, _ = scratch_model(task_name, dev)
        return run(model, TASKS[task_name], text)

    result, note = run_on_device(go, device)
    return replace(result, notes=(*result.notes, note)) if note else result


# --- the text page --------------------------------------------------------------------------
# Traces use cache_resource, not cache_data: cache_data would pickle ~150 MB (512 tokens) into
# the cache and unpickle it on every rerun. Traces are frozen and never mutated by the page.
# Bounded: 4 traces at 512 tokens hold ~650 MB at most; an hour without use frees them.

@st.cache_resource(show_spinner="Loading the model ...", max_entries=2)
def text_model(name: str, device: str, dtype: str):
    """A TextModel; name "" is the bundled all-MiniLM-L6-v2. Raises ModelLoadError (not cached)."""
    from viz.pretrained import load_text_model

    return load_text_model(name or None, device, dtype)


@st.cache_resource(show_spinner="Running the model on your text ...", max_entries=4, ttl=3600)
def text_trace(name: str, device: str, dtype: str, text: str, pair: str):
    """One forward pass per (model, text, pair); layer, head and view changes reuse it."""
    from viz.pretrained import trace_text

    trace = trace_text(text_model(name, device, dtype), text, pair or None)
    for arr in (trace.weights, trace.scores, trace.queries, trace.keys, trace.values):
        arr.flags.writeable = False  # shared by every session: nobody may change it in place
    return trace


@st.cache_resource(show_spinner="Measuring every head ...", max_entries=4, ttl=3600)
def text_head_stats(name: str, device: str, dtype: str, text: str, pair: str) -> dict:
    from viz.attention import head_stats

    t = text_trace(name, device, dtype, text, pair)
    return head_stats(t.weights, t.meta["cls_positions"], t.meta["sep_positions"])


@st.cache_resource(show_spinner=False, max_entries=4, ttl=3600)
def text_rollout(name: str, device: str, dtype: str, text: str, pair: str):
    from viz.attention import rollout

    return rollout(text_trace(name, device, dtype, text, pair).weights)


@st.cache_resource(show_spinner="Drawing every head ...", max_entries=4, ttl=3600)
def text_model_grid(name: str, device: str, dtype: str, text: str, pair: str):
    """The layers x heads figure (one PNG). Callers must not modify the returned figure."""
    from viz.figures.text import model_grid

    t = text_trace(name, device, dtype, text, pair)
    return model_grid(t, text_head_stats(name, device, dtype, text, pair))


@st.cache_resource(show_spinner="Following the word through every layer ...", max_entries=8, ttl=3600)
def text_hidden(name: str, device: str, dtype: str, text: str):
    """(tokens, (L + 1, T, C) hidden states) of one sentence alone: the context-vector views."""
    from viz.pretrained.text import hidden_states

    tokens, hidden = hidden_states(text_model(name, device, dtype), text)
    hidden.flags.writeable = False
    return tokens, hidden

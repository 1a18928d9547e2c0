"""Every st.cache_* of the app lives here, keyed by plain strings.

Models: cache_resource (one per process, shared by all sessions).
Runs of the small scratch model and traces of the pretrained ones: one byte-bounded LRU shared
by all sessions (trace_store()).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import streamlit as st

from viz.device import run_on_device
from viz.scratch.run import ScratchRun, prepare_input, run_many
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint
from viz.tracecache import MicroBatcher, TraceCache, batch_window_s, batching_enabled


@st.cache_resource(show_spinner="Loading the trained model ...", max_entries=8)
def scratch_model(task_name: str, device: str):
    """(model, metrics) of the bundled checkpoint for `task_name`, on `device`."""
    return load_checkpoint(checkpoint_path(task_name), device)


# --- traces, shared by every session ----------------------------------------------------------
# One byte-bounded LRU (viz.tracecache, ATTENTION_LENS_TRACE_CACHE_MB, default 2 GB) for the text
# and image pages' traces and what is derived from them: an entry-bounded cache_resource kept 4
# traces for the whole server, so in a class of 30 a layer or head change usually ran the model
# again. Not cache_data: that would pickle ~90 MB (512 tokens) on every rerun. One computation per
# key at a time (concurrent identical requests wait for it); arrays are read-only (shared).

_MISSING = object()


@st.cache_resource
def trace_store() -> TraceCache:
    """The process's one trace cache (a cache_resource so that it survives module reloads)."""
    return TraceCache.from_env()


def shared(key: tuple, compute, spinner: str | None = None):
    """trace_store().get_or_compute(key, compute), with a spinner only when it has to compute."""
    store = trace_store()
    value = store.get(key, _MISSING)
    if value is not _MISSING:
        return value
    with st.spinner(spinner) if spinner else contextlib.nullcontext():
        return store.get_or_compute(key, compute)


# --- the scratch page ---------------------------------------------------------------------------

@st.cache_resource(max_entries=8)
def scratch_batcher(task_name: str, device: str) -> MicroBatcher:
    """Words that students send within a few ms of each other decode as one batch (run_many):
    8 words cost about what one does (docs/capacity.md)."""
    model, _ = scratch_model(task_name, device)
    task = TASKS[task_name]
    return MicroBatcher(lambda texts: run_many(model, task, texts), enabled=batching_enabled(device),
                        window_s=batch_window_s())


def scratch_run(task_name: str, text: str, device: str) -> ScratchRun:
    """Run the bundled model, once per (task, text, device) for the whole server, in the shared
    byte-bounded trace cache: a layer or head change reads it back without a copy (a cache_data
    entry was unpickled on every rerun). If the GPU fails, the CPU answers and the result says so.
    Raises InputError (not cached) before anything runs."""
    prepare_input(TASKS[task_name], text)  # a bad input never joins another student's batch

    def compute() -> ScratchRun:
        def go(dev: str) -> ScratchRun:
            return scratch_batcher(task_name, dev).submit(text)

        result, note = run_on_device(go, device)
        return replace(result, notes=(*result.notes, note)) if note else result

    return shared(("scratch_run", task_name, text, device), compute)


# --- the text page --------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading the model ...", max_entries=2)
def text_model(name: str, device: str, dtype: str):
    """A TextModel; name "" is the bundled all-MiniLM-L6-v2. Raises ModelLoadError (not cached)."""
    from viz.pretrained import load_text_model

    return load_text_model(name or None, device, dtype)


@st.cache_resource(max_entries=2)
def text_batcher(name: str, device: str, dtype: str) -> MicroBatcher:
    """Inputs that arrive within a few ms from different sessions run as one padded forward pass
    (ATTENTION_LENS_BATCH=off to switch off; it pays on CPU too, docs/benchmarks.md)."""
    from viz.pretrained.text import trace_texts

    tm = text_model(name, device, dtype)
    return MicroBatcher(lambda items: trace_texts(tm, items), enabled=batching_enabled(device),
                        window_s=batch_window_s())


def text_trace(name: str, device: str, dtype: str, text: str, pair: str):
    """One forward pass per (model, text, pair) for the whole server; layer, head and view changes
    reuse it. Raises ModelLoadError / TextInputError (not cached)."""
    def compute():
        text_model(name, device, dtype)  # load (with its own spinner) before batching
        return text_batcher(name, device, dtype).submit((text, pair or None))

    return shared(("text_trace", name, device, dtype, text, pair), compute, "Running the model on your text ...")


def text_head_stats(name: str, device: str, dtype: str, text: str, pair: str) -> dict:
    from viz.attention import head_stats

    def compute():
        t = text_trace(name, device, dtype, text, pair)
        return head_stats(t.weights, t.meta["cls_positions"], t.meta["sep_positions"])

    return shared(("text_head_stats", name, device, dtype, text, pair), compute, "Measuring every head ...")


def text_moves(name: str, device: str, dtype: str, text: str, pair: str):
    """(shares (L, H, T, T): each key's share of what a head moves to each query, the per-layer
    shares of [CLS], [SEP] and punctuation), once per input: neither depends on layer or head.
    None when the model's output projection is unknown."""
    from viz.attention import group_shares, norm_shares, token_groups, weighted_norms

    def compute():
        t = text_trace(name, device, dtype, text, pair)
        if t.w_o is None:
            return None
        shares = norm_shares(weighted_norms(t.weights, t.values, t.w_o))
        groups = token_groups(t.key_tokens, t.meta["cls_positions"], t.meta["sep_positions"])
        return shares, group_shares(t.weights, shares, groups)

    return shared(("text_moves", name, device, dtype, text, pair), compute, "Weighing what each head moves ...")


def text_rollout(name: str, device: str, dtype: str, text: str, pair: str):
    from viz.attention import rollout

    return shared(("text_rollout", name, device, dtype, text, pair),
                  lambda: rollout(text_trace(name, device, dtype, text, pair).weights))


def text_model_grid(name: str, device: str, dtype: str, text: str, pair: str):
    """The layers x heads figure (one PNG). Callers must not modify the returned figure."""
    from viz.figures.text import model_grid

    def compute():
        t = text_trace(name, device, dtype, text, pair)
        return model_grid(t, text_head_stats(name, device, dtype, text, pair))

    return shared(("text_model_grid", name, device, dtype, text, pair), compute, "Drawing every head ...")


def text_hidden(name: str, device: str, dtype: str, text: str):
    """(tokens, (L + 1, T, C) hidden states) of one sentence alone: the context-vector views."""
    from viz.pretrained.text import hidden_states

    def compute():
        tokens, hidden = hidden_states(text_model(name, device, dtype), text)
        hidden.flags.writeable = False
        return tokens, hidden

    return shared(("text_hidden", name, device, dtype, text), compute,
                  "Following the word through every layer ...")

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

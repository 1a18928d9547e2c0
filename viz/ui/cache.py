"""Every st.cache_* of the app lives here, keyed by plain strings.

Models: cache_resource (one per process, shared by all sessions).
Runs of the small scratch model: cache_data, bounded, so a long session cannot grow without end.
"""

from __future__ import annotations

import streamlit as st

from viz.scratch.run import ScratchRun, run
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint


@st.cache_resource(show_spinner="Loading the trained model ...", max_entries=8)
def scratch_model(task_name: str, device: str):
    """(model, metrics) of the bundled checkpoint for `task_name`, on `device`."""
    return load_checkpoint(checkpoint_path(task_name), device)


@st.cache_data(show_spinner=False, max_entries=64)
def scratch_run(task_name: str, text: str, device: str) -> ScratchRun:
    model, _ = scratch_model(task_name, device)
    return run(model, TASKS[task_name], text)

"""The last guard around every page: an error nobody foresaw becomes a sentence, not a traceback.

Each page already turns the errors it expects (bad input, a model that does not load) into its
own message. This catches the rest, logs the traceback on the server, and keeps the session
alive. Tests treat this message as a failure (tests/apptest_helpers.py, tests/browser), so
the guard hides nothing from us, only from the student.

One failure it mends: the GPU failing during a page (out of memory, a driver error). The session
switches to the CPU, the page runs again, and a note on the page and in the sidebar says so.
"""

from __future__ import annotations

import logging

import streamlit as st

from viz.device import gpu_fault
from viz.ui.sidebar import FALLBACK_KEY, current_device, fallback_note

UNEXPECTED = "Something unexpected went wrong on this page"
log = logging.getLogger("attention_lens")


def run_guarded(page) -> None:
    reason = st.session_state.get(FALLBACK_KEY)
    if reason:
        st.warning(fallback_note(reason))
    try:
        page.run()
    except Exception as err:  # st.stop() and st.rerun() are BaseExceptions and pass through
        fault = gpu_fault(err)
        if fault and not reason and current_device().device.type == "cuda":
            # The GPU failed (out of memory, a driver error): run the page again on the CPU, with a
            # note on the page and in the sidebar, for this session (viz.ui.sidebar.current_device).
            log.warning("page %s: the GPU failed (%s); rerunning on the CPU", getattr(page, "url_path", page), err)
            st.session_state[FALLBACK_KEY] = fault
            st.rerun()
        log.exception("page %s failed", getattr(page, "url_path", page))
        st.error(f"{UNEXPECTED} ({type(err).__name__}). The rest of the app still works: change the "
                 "input or open the page again. The details are in the server's log.")


def pass_gpu_faults(err: BaseException) -> None:
    """For pages that turn errors into sentences: re-raise a GPU failure so that run_guarded can
    move the session to the CPU, instead of a sentence that leaves the page without a figure."""
    if gpu_fault(err) and not st.session_state.get(FALLBACK_KEY) and current_device().device.type == "cuda":
        raise err

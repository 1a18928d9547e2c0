"""The last guard around every page: an error nobody foresaw becomes a sentence, not a traceback.

Each page already turns the errors it expects (bad input, a model that does not load) into its
own message. This catches the rest, logs the traceback on the server, and keeps the session
alive. Tests treat this message as a failure (tests/apptest_helpers.py, tests/browser), so
the guard hides nothing from us, only from the student.
"""

from __future__ import annotations

import logging

import streamlit as st

UNEXPECTED = "Something unexpected went wrong on this page"
log = logging.getLogger("attention_lens")


def run_guarded(page) -> None:
    try:
        page.run()
    except Exception as err:  # st.stop() and st.rerun() are BaseExceptions and pass through
        log.exception("page %s failed", getattr(page, "url_path", page))
        st.error(f"{UNEXPECTED} ({type(err).__name__}). The rest of the app still works: change the "
                 "input or open the page again. The details are in the server's log.")

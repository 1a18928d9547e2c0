"""The text page's "Context vectors" view: the same word in the page's sentence and in another,
its vector after every layer, and the chosen head's output for it as weighted parts."""

from __future__ import annotations

import streamlit as st

from viz.lesson import context_data, context_figure, context_notice
from viz.ui.figure_alt import plotly_chart
from viz.ui.image_ui import md_escape
from viz.ui.sources import CachedSources

DEFAULT_B = "The dog barked all night because it was hungry."


def context_view(trace, req, layer: int, head: int) -> None:
    """A missing word, an empty or unreadable sentence: a sentence on the page, the user's text escaped."""
    c1, c2 = st.columns([3, 1])
    other = c1.text_input("Sentence B: the same word in another context", DEFAULT_B, key="text_ctx_other")
    word = c2.text_input("Word in both sentences", "it", key="text_ctx_word")
    if not other.strip():
        st.info("Type a second sentence that uses the same word in another sense.")
        return
    try:
        d = context_data(CachedSources(req.name, req.device, req.dtype), req.text, other, word, layer, head)
    except ValueError as err:  # WordNotFound, TextInputError
        st.error(md_escape(str(err)))
        return
    plotly_chart(st, context_figure(d), key="text_chart_context")
    for note in d["notes"]:
        st.caption(md_escape(note))
    st.caption(md_escape(context_notice(d)))
    st.caption("Top: each sentence runs through the model alone; the word's vector (the mean of its word "
               "pieces) is compared after every layer. Bottom: in the layer and head chosen above, the word's "
               "output in your sentence (before W_O) is the sum of every token's value vector times its weight.")

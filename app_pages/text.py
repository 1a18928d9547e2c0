import streamlit as st

from viz.ui import text_ui as ui

st.title("Text: attention inside BERT")
st.caption(
    "Type a sentence (or two) and see what every head of a pretrained BERT does with it. "
    "The bundled model is all-MiniLM-L6-v2, a 6-layer × 12-head BERT that runs offline; "
    "any encoder of the BERT family loads by Hub id or local folder."
)
url = ui.url_state()
req = ui.inputs(url)
trace, req = ui.load_trace(req)
if trace is not None:
    view, layer, head = ui.pick_view(trace, url)
    ui.show_view(view, trace, req, layer, head)
    ui.downloads(trace, layer, head)
ui.save_view_state(url, req)

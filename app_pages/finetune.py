import streamlit as st

from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import finetune_ui as ui
from viz.ui.sidebar import current_device

st.title("Fine-tuning: what changes")
st.caption(
    "Transfer learning, live: the bundled all-MiniLM-L6-v2 (a 6-layer BERT) gets a two-class head and is "
    "fine-tuned here, offline, on generated sentences or your own file, as the course notes fine-tune BERT on "
    "CoLA and IMDB. Then see what changed: accuracy, and every head's attention on your own sentence before "
    "and after."
)
url = url_state.page("finetune")
device = str(current_device().device)
request = ui.request_ui(url)
if request is not None:
    result = ui.start_ui(request, device)
    if result is not None:
        ui.result_ui(result, url, device)
        st.caption(COUNTED_FROM_0)
url.save()

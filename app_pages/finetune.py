import streamlit as st

from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import finetune_ui as ui
from viz.ui import finetune_vision_ui as vision_ui
from viz.ui.sidebar import current_device

st.title("Fine-tuning: what changes")
st.caption(
    "Transfer learning, live: the bundled all-MiniLM-L6-v2 (a 6-layer BERT) gets a two-class head and is "
    "fine-tuned here, offline, on generated sentences or your own file, as the course notes fine-tune BERT on "
    "CoLA and IMDB. Then see what changed: accuracy, and every head's attention on your own sentence before "
    "and after. Or fine-tune the image page's Vision Transformer on generated shapes (or your pictures) and "
    "measure whether CLS learns to look at the object."
)
url = url_state.page("finetune")
device = str(current_device().device)
MODELS = {"text": "Text: BERT (all-MiniLM-L6-v2)", "vit": "Pictures: a Vision Transformer (DINOv2-small)"}
model = st.radio("Fine-tune", list(MODELS), format_func=MODELS.get, horizontal=True,
                 key=url.bind("ft_model", "model", url_state.Choice.of(MODELS), "text"))
if model == "text":
    request = ui.request_ui(url)
    if request is not None:
        result = ui.start_ui(request, device)
        if result is not None:
            ui.result_ui(result, url, device)
            st.caption(COUNTED_FROM_0)
else:
    request = vision_ui.request_ui(url)
    if request is not None:
        result = vision_ui.start_ui(request, device)
        if result is not None:
            vision_ui.result_ui(result, url, device)
            st.caption(COUNTED_FROM_0)
url.save()

"""Entry point: page config, navigation and the shared sidebar. Nothing else."""

import streamlit as st

from viz.ui.figure_alt import install_css
from viz.ui.guard import run_guarded
from viz.ui.heap import freeze_after_imports
from viz.ui.sidebar import device_sidebar
from viz.ui.threads import limit_torch_threads, shorten_gil_switch

limit_torch_threads()  # one torch thread per forward: no second thread spinning (viz/ui/threads.py)
shorten_gil_switch()  # the event loop and waiting sessions get the GIL back sooner (viz/ui/threads.py)
freeze_after_imports()  # keeps Streamlit's after-run gc.collect off the models (viz/ui/heap.py)
st.set_page_config(page_title="Attention Lens", layout="wide")  # the default icon is served locally

PAGES = [
    st.Page("app_pages/home.py", title="Home", default=True),
    st.Page("app_pages/lesson.py", title="Lesson", url_path="lesson"),
    st.Page("app_pages/scratch.py", title="From-scratch transformer", url_path="scratch"),
    st.Page("app_pages/softmax.py", title="Softmax and scaling lab", url_path="softmax"),
    st.Page("app_pages/dimensions.py", title="Q/K/V dimension tracer", url_path="dimensions"),
    st.Page("app_pages/positional.py", title="Positional encodings", url_path="positional"),
    st.Page("app_pages/text.py", title="Text (BERT)", url_path="text"),
    st.Page("app_pages/finetune.py", title="Fine-tuning", url_path="finetune"),
    st.Page("app_pages/image.py", title="Image (ViT)", url_path="image"),
    st.Page("app_pages/decoder.py", title="Decoder (GPT)", url_path="decoder"),
]

page = st.navigation(PAGES)
device_sidebar()
install_css()  # figures' text alternatives stay out of the layout (viz/ui/figure_alt.py)
run_guarded(page)

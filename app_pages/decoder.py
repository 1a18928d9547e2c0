import streamlit as st

from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import decoder_ui as ui
from viz.ui.sidebar import current_device

st.title("Decoder (GPT): the next token")
st.caption(
    "A decoder-only transformer, as GPT is: every layer is masked self-attention, so each position reads only "
    "the tokens before it, and the last position's output is a distribution over the next token. The bundled "
    "model is ours, from scratch (2 attention-only layers, 4 heads, characters as tokens), trained to continue "
    "sequences that repeat: it grew an induction head. A GPT-2 model loads by Hub id or folder."
)
url = url_state.page("decoder")
device = str(current_device().device)
chosen = ui.model_ui(url, device)
ids = ui.sequence_ui(url, *chosen, device) if chosen else None
TABS = {"attention": "Attention and heads", "next": "The next token", "train": "Train live"}
# Only the open tab is drawn (url.bind's keep holds the closed tabs' widgets)
tab_attention, tab_next, tab_train = st.tabs(list(TABS.values()), on_change="rerun", key=url.bind(
    "dec_tab", "tab", url_state.Choice(TABS), TABS["attention"]))
if tab_train.open:
    with tab_train:
        ui.train_ui(device)
elif ids is not None:
    name, dec = chosen
    report = ui.decoder_report(name, device)
    if tab_attention.open:
        with tab_attention:
            ui.attention_ui(url, name, dec, device, ids, report)
            st.caption(COUNTED_FROM_0 + " Head 1.1 is layer 1, head 1.")
            ui.heads_ui(report)
    elif tab_next.open:
        with tab_next:
            ui.next_token_ui(url, name, dec, device, ids, report)
url.save()

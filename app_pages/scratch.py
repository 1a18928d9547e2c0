import streamlit as st

from viz.figures import attention_heatmap, heads_grid
from viz.scratch.run import InputError
from viz.scratch.tasks import TASKS
from viz.ui import COUNTED_FROM_0, url_state
from viz.ui.cache import scratch_model, scratch_run
from viz.ui.figure_alt import plotly_chart
from viz.ui.scratch_ui import live_training_ui, moves_ui
from viz.ui.sidebar import current_device

device = str(current_device().device)
url = url_state.page("scratch")
st.title("From-scratch transformer")
st.caption(
    "An encoder-decoder transformer built from nn.Linear, LayerNorm and the attention formula "
    "softmax(QKᵀ/√d_k)V: 2 encoder and 2 decoder layers, 4 heads, d_model = 64."
)
VIEWS = {
    "Cross-attention (decoder → encoder)": "cross",
    "Encoder self-attention": "encoder",
    "Decoder masked self-attention": "decoder_self",
}
TABS = {"attention": "Attention on your input", "train": "Train live"}
tab_attention, tab_train = st.tabs(list(TABS.values()), on_change="rerun",  # reports the tab, for the link
                                   key=url.bind("scratch_tab", "tab", url_state.Choice(TABS), TABS["attention"]))

with tab_attention:
    name = st.selectbox("Task", list(TASKS), format_func=lambda n: TASKS[n].title,
                        key=url.bind("scratch_task", "task", url_state.Choice.of(TASKS), next(iter(TASKS))))
    task = TASKS[name]
    st.caption(task.description)
    text = st.text_input("Your input", max_chars=200,
                         key=url.bind(f"scratch_text_{name}", "text", url_state.Text(200), task.example))
    try:
        result = scratch_run(name, text, device)
    except InputError as err:
        st.error(str(err))
        result = None
    if result is not None:
        for note in result.notes:
            st.warning(note)
        _, metrics = scratch_model(name, "cpu")  # the checkpoint's numbers, whatever the device
        verdict = "correct" if result.correct else f"expected: {result.expected_text}"
        st.markdown(f"**{result.source}** → **{result.output_text or '(nothing)'}** ({verdict}). "
                    f"This model scores {metrics['held_out_exact_match']:.1%} exact match on held-out inputs.")
        view = st.radio("Attention", list(VIEWS), horizontal=True, key=url.bind(
            "scratch_view", "view", url_state.Choice({v: k for k, v in VIEWS.items()}), next(iter(VIEWS))))
        trace = getattr(result, VIEWS[view])
        L, H = trace.n_layers, trace.n_heads
        c1, c2 = st.columns(2)
        layer = c1.selectbox("Layer", range(L), key=url.bind("scratch_layer", "layer", url_state.Int(0, L - 1), L - 1))
        head = c2.selectbox("Head", range(H), key=url.bind("scratch_head", "head", url_state.Int(0, H - 1), 0))
        st.caption(COUNTED_FROM_0)
        plotly_chart(st,
            attention_heatmap(trace.head(layer, head), trace.query_tokens, trace.key_tokens, trace.mask,
                              title=f"{trace.name}, layer {layer}, head {head}"),
            key="scratch_heatmap",
        )
        st.caption("Rows: the token each position writes (decoder) or reads (encoder). "
                   "Columns: the tokens it attends to. Grey cells are masked: that position cannot see them.")
        plotly_chart(st, heads_grid(trace, layer, title=f"All heads of layer {layer}"), key="scratch_grid")
        moves_ui(trace, layer, head)

with tab_train:
    live_training_ui(current_device().device)
url.save()

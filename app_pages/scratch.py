import streamlit as st

from viz.figures import attention_heatmap, heads_grid
from viz.scratch.run import InputError
from viz.scratch.tasks import TASKS
from viz.ui.cache import scratch_model, scratch_run
from viz.ui.scratch_ui import live_training_ui
from viz.ui.sidebar import current_device

device = str(current_device().device)
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
tab_attention, tab_train = st.tabs(["Attention on your input", "Train live"])

with tab_attention:
    name = st.selectbox("Task", list(TASKS), format_func=lambda n: TASKS[n].title, key="scratch_task")
    task = TASKS[name]
    st.caption(task.description)
    text = st.text_input("Your input", value=task.example, key=f"scratch_text_{name}", max_chars=200)
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
        view = st.radio("Attention", list(VIEWS), horizontal=True, key="scratch_view")
        trace = getattr(result, VIEWS[view])
        c1, c2 = st.columns(2)
        layer = c1.selectbox("Layer", range(trace.n_layers), index=trace.n_layers - 1, key="scratch_layer")
        head = c2.selectbox("Head", range(trace.n_heads), key="scratch_head")
        st.plotly_chart(
            attention_heatmap(trace.head(layer, head), trace.query_tokens, trace.key_tokens, trace.mask,
                              title=f"{trace.name}, layer {layer}, head {head}"),
            key="scratch_heatmap",
        )
        st.caption("Rows: the token each position writes (decoder) or reads (encoder). "
                   "Columns: the tokens it attends to. Grey cells are masked: that position cannot see them.")
        st.plotly_chart(heads_grid(trace, layer, title=f"All heads of layer {layer}"), key="scratch_grid")

with tab_train:
    live_training_ui(current_device().device)

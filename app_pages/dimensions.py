import streamlit as st

from viz import dimensions as dims
from viz.figures import teaching as fig
from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import teaching as ui
from viz.ui.cache import scratch_model
from viz.ui.figure_alt import plotly_chart
from viz.ui.url_state import Bool, Choice, Int, Text

st.title("Q/K/V dimension tracer")
st.caption("Follow every tensor through one multi-head attention layer: its shape, and the "
           "parameters of each weight matrix.")
url = url_state.page("dimensions")
TABS = {"tracer": "Tracer", "worksheet": "Worksheet"}
tab_trace, tab_sheet = st.tabs(list(TABS.values()), on_change="rerun",  # reports the tab, for the link
                               key=url.bind("dims_tab", "tab", Choice(TABS), "Tracer"))

with tab_trace:
    c = st.columns(4)
    sentence = c[0].text_input("Sentence (n = number of words)",
                               key=url.bind("dims_sentence", "sentence", Text(2000), "the fish swam near the bank"))
    n = len(sentence.split()) or c[0].number_input("n (no sentence typed)", 0, 100_000,
                                                   key=url.bind("dims_n", "n", Int(0, 100_000), 0))
    d_model = c[1].number_input("d_model", 0, 1_000_000, key=url.bind("dims_d_model", "d_model", Int(0, 1_000_000), 512))
    h = c[2].number_input("heads h", 0, 10_000, key=url.bind("dims_h", "h", Int(0, 10_000), 8))
    batch = c[3].number_input("batch B (0 = no batch)", 0, 10_000, key=url.bind("dims_batch", "batch", Int(0, 10_000), 0))
    d_k = d_v = None
    if st.toggle("Choose d_k and d_v myself (default d_model / h)", key=url.bind("dims_override", "own", Bool(), False)):
        o = st.columns(2)
        d_k = o[0].number_input("d_k", 0, 1_000_000, key=url.bind("dims_d_k", "d_k", Int(0, 1_000_000), 64))
        d_v = o[1].number_input("d_v", 0, 1_000_000, key=url.bind("dims_d_v", "d_v", Int(0, 1_000_000), 64))
    try:
        d = dims.make_dims(n, d_model, h, d_k, d_v, batch or None)
    except dims.DimensionError as err:
        st.error(str(err))
        d = None
    if d is not None:
        steps = dims.trace_shapes(d)
        plotly_chart(st, fig.shape_diagram([(s.name, f"{s.symbolic} = {dims.format_shape(s.shape)}", s.note)
                                           for s in steps], title=f"n = {d.n}, d_model = {d.d_model}, h = {d.h}, "
                                          f"d_k = {d.d_k}, d_v = {d.d_v}"), key="dims_diagram")
        rows = dims.parameter_table(d)
        st.dataframe({"matrix": [r.matrix for r in rows], "shape": [r.shape for r in rows],
                      "count": [r.count for r in rows], "weights": [r.weights for r in rows],
                      "biases": [r.biases for r in rows]}, hide_index=True, key="dims_params")
        st.markdown(f"**Total: {dims.total_parameters(d, biases=False):,} weights, "
                    f"{dims.total_parameters(d):,} with biases.**")
    st.info("**Why some notes write W_Q as (d_k × d_model).** PyTorch's `nn.Linear(d_model, d_k)` stores "
            "its weight as (out, in) = (d_k × d_model) and computes x·Wᵀ. In the math, Q = X·W_Q with X "
            "(n × d_model), so W_Q must be (d_model × d_k): the same numbers, transposed.")

    st.header("Real values: the from-scratch model")
    run = ui.scratch_input_ui("dims", url)
    if run is not None:
        model, _ = scratch_model(ui.TASK, "cpu")  # only its weights are read, for display
        attn = model.encoder[0].self_attn
        H = run.encoder.n_heads
        head = st.selectbox("Head", range(H), key=url.bind("dims_head", "head", Int(0, H - 1), 0))
        st.caption(COUNTED_FROM_0)
        plotly_chart(st, fig.first_layer_tensors(run.embeddings, run.encoder, head,
                                                "First encoder layer, one token per letter"), key="dims_real")
        w = attn.w_q.weight.detach().cpu().numpy()
        err = dims.projection_error(run.embeddings, w, attn.w_q.bias.detach().cpu().numpy(),
                                    run.encoder.queries[0, head], head, run.encoder.n_heads)
        st.caption(f"This model's `w_q.weight` has shape {tuple(w.shape)} = (out, in). Head {head}'s W_Q is "
                   f"its rows {head * run.encoder.d_head}..{(head + 1) * run.encoder.d_head - 1}, transposed: "
                   f"{w.shape[1]} × {run.encoder.d_head}. Recomputing X·W_Q,{head} + b gives the Q above "
                   f"to within {err:.1e}.")

with tab_sheet:
    ui.worksheet_ui("dims", url)
url.save()

import numpy as np
import streamlit as st

from viz import positional as pos
from viz.figures import teaching as fig
from viz.scratch.permutation import PERMUTATIONS
from viz.scratch.run import InputError
from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import teaching as ui
from viz.ui.figure_alt import plotly_chart
from viz.ui.position_sources import pretrained_positions_ui
from viz.ui.sidebar import current_device
from viz.ui.url_state import Choice, Int, IntList, Text

st.title("Positional encodings")
st.caption("Attention compares every token with every other one and never looks at where they sit. "
           "Position has to be added to the vectors, or built into the scores.")
url = url_state.page("positional")
ui.jump_links({"sinusoidal": "Sinusoidal", "rotation": "A rotation", "learned": "Learned embeddings",
               "rope": "RoPE", "order": "Without positions"})

st.header("Sinusoidal (Vaswani et al. 2017)", anchor="sinusoidal")
st.latex(r"PE_{(pos,\,2i)} = \sin\!\big(pos / 10000^{2i/d}\big) \qquad PE_{(pos,\,2i+1)} = \cos\!\big(pos / 10000^{2i/d}\big)")
st.caption("Even dimensions use sin and odd ones cos (a course note prints sin twice; the paper has cos).")
c1, c2 = st.columns(2)
n = c1.slider("positions", 8, 256, key=url.bind("pos_n", "n", Int(8, 256), 64))
DS = [4, 8, 16, 32, 64, 128, 256, 512]
d = c2.select_slider("d_model", DS, key=url.bind("pos_d", "d", Choice.of(DS), 64))
pe = pos.sinusoidal(n, d)
plotly_chart(st, fig.pe_heatmap(pe, f"PE, {n} positions × {d} dimensions"), key="pos_heatmap")
dims = st.multiselect("Dimensions to plot", list(range(d)),
                      key=url.bind(f"pos_dims_{d}", "dims", IntList(0, d - 1), sorted({0, 1, d // 4, d - 2})))
plotly_chart(st, fig.pe_curves(pe, dims, pos.wavelengths(d)[dims]), key="pos_curves")
starts = [0, n // 4, n // 2]
offsets = np.arange(n - n // 2)
plotly_chart(st, fig.similarity_and_offset(pos.cosine_similarity(pe), offsets,
                                          pos.similarity_by_offset(pe, starts, len(offsets) - 1),
                                          "Similarity depends on the offset, not on the position: the lines coincide", starts),
                key="pos_similarity")

st.header("PE(pos + k) is a rotation of PE(pos)", anchor="rotation")
c1, c2 = st.columns(2)
k = c1.slider("offset k", 0, 50, key=url.bind("pos_k", "k", Int(0, 50), 3))
p0 = c2.slider("position pos", 0, 200, key=url.bind("pos_pos", "pos", Int(0, 200), 10))
cols, err = pos.rotation_check(p0, k, d)
st.dataframe(cols, hide_index=True, key="pos_rotation_table")
st.markdown(f"Each (sin, cos) pair turns by the angle k·ωᵢ: one fixed matrix R_k for every position. "
            f"Over all {d} dimensions, max |R_k·PE(pos) − PE(pos + k)| = **{err:.1e}**.")
plotly_chart(st, fig.pe_heatmap(pos.rotation_matrix(k, d), f"R_k for k = {k}: 2 × 2 rotation blocks",
                               x_title="column", y_title="row"), key="pos_rotation")

st.header("Learned position embeddings", anchor="learned")
pretrained_positions_ui("pos", url)

st.header("Rotary (RoPE): position inside the score", anchor="rope")
c1, c2 = st.columns(2)
d_rope = c1.select_slider("d (per head)", DS[:6], key=url.bind("pos_rope_d", "rope_d", Choice.of(DS[:6]), 16))
seed = c2.number_input("random q and k (seed)", 0, 10_000, key=url.bind("pos_rope_seed", "seed", Int(0, 10_000), 0))
q, kv = np.random.default_rng(int(seed)).standard_normal((2, d_rope))
rope, absolute = pos.rope_score_grid(q, kv, 32), pos.absolute_score_grid(q, kv, 32)
plotly_chart(st, fig.matrix_pair(rope, absolute, ("RoPE: q rotated by m, k by n", "sinusoidal added: (q+PE_m)·(k+PE_n)"),
                                "key position n", "query position m", "The same q and k placed at every pair of positions",
                                shared=False),
                key="pos_rope")
st.markdown(f"RoPE scores are constant along every diagonal (largest spread along one: "
            f"**{pos.diagonal_spread(rope):.1e}**): they depend only on n − m. Added sinusoids spread by "
            f"**{pos.diagonal_spread(absolute):.2f}**.")

st.header("Without positions, order is invisible", anchor="order")
c1, c2 = st.columns([2, 1])
text = c1.text_input("A word for the from-scratch model", max_chars=40,
                     key=url.bind("pos_text", "word", Text(40), "attention"))
kind = c2.selectbox("Permutation", PERMUTATIONS, key=url.bind("pos_perm", "perm", Choice.of(PERMUTATIONS), PERMUTATIONS[0]))
try:
    demo = ui.permutation_demo(text, kind, 0, str(current_device().device))
except InputError as e:
    st.error(str(e))
    demo = None
if demo is not None:
    a, b = demo.without_positions, demo.with_positions
    st.markdown(f"**{''.join(demo.tokens)}** → **{''.join(demo.permuted_tokens)}**. Encoder output moved with "
                f"the tokens to within **{a.output_error:.1e}** without positions, **{b.output_error:.2f}** with them.")
    t, c = demo.tokens, st.columns(2)
    n_l, n_h = a.weights.shape[:2]
    L = c[0].selectbox("Layer", range(n_l), key=url.bind("pos_perm_layer", "layer", Int(0, n_l - 1), 0))
    H = c[1].selectbox("Head", range(n_h), key=url.bind("pos_perm_head", "head", Int(0, n_h - 1), 1))
    st.caption(COUNTED_FROM_0)
    plotly_chart(st, fig.attention_pair([("no positions: original", a.weights[L, H], t, t),
                                        ("no positions: permuted, put back in order", a.weights_restored[L, H], t, t),
                                        ("sinusoidal: original", b.weights[L, H], t, t),
                                        ("sinusoidal: permuted, put back in order", b.weights_restored[L, H], t, t)],
                                       f"Encoder self-attention, layer {L}, head {H}"), key="pos_permutation")
url.save()

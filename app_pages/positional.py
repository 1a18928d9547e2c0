import numpy as np
import streamlit as st

from viz import positional as pos
from viz.figures import teaching as fig
from viz.scratch.permutation import PERMUTATIONS
from viz.scratch.run import InputError
from viz.ui import teaching as ui
from viz.ui.position_sources import pretrained_positions_ui
from viz.ui.sidebar import current_device

st.title("Positional encodings")
st.caption("Attention compares every token with every other one and never looks at where they sit. "
           "Position has to be added to the vectors, or built into the scores.")

st.header("Sinusoidal (Vaswani et al. 2017)")
st.latex(r"PE_{(pos,\,2i)} = \sin\!\big(pos / 10000^{2i/d}\big) \qquad PE_{(pos,\,2i+1)} = \cos\!\big(pos / 10000^{2i/d}\big)")
st.caption("Even dimensions use sin and odd ones cos (a course note prints sin twice; the paper has cos).")
c1, c2 = st.columns(2)
n = c1.slider("positions", 8, 256, 64, key="pos_n")
d = c2.select_slider("d_model", [4, 8, 16, 32, 64, 128, 256, 512], value=64, key="pos_d")
pe = pos.sinusoidal(n, d)
st.plotly_chart(fig.pe_heatmap(pe, f"PE, {n} positions × {d} dimensions"), key="pos_heatmap")
dims = st.multiselect("Dimensions to plot", list(range(d)), default=sorted({0, 1, d // 4, d - 2}), key=f"pos_dims_{d}")
st.plotly_chart(fig.pe_curves(pe, dims, pos.wavelengths(d)[dims]), key="pos_curves")
starts = [0, n // 4, n // 2]
offsets = np.arange(n - n // 2)
st.plotly_chart(fig.similarity_and_offset(pos.cosine_similarity(pe), offsets,
                                          pos.similarity_by_offset(pe, starts, len(offsets) - 1),
                                          "Similarity depends on the offset, not on the position: the lines coincide", starts),
                key="pos_similarity")

st.header("PE(pos + k) is a rotation of PE(pos)")
c1, c2 = st.columns(2)
k = c1.slider("offset k", 0, 50, 3, key="pos_k")
p0 = c2.slider("position pos", 0, 200, 10, key="pos_pos")
cols, err = pos.rotation_check(p0, k, d)
st.dataframe(cols, hide_index=True, key="pos_rotation_table")
st.markdown(f"Each (sin, cos) pair turns by the angle k·ωᵢ: one fixed matrix R_k for every position. "
            f"Over all {d} dimensions, max |R_k·PE(pos) − PE(pos + k)| = **{err:.1e}**.")
st.plotly_chart(fig.pe_heatmap(pos.rotation_matrix(k, d), f"R_k for k = {k}: 2 × 2 rotation blocks",
                               x_title="column", y_title="row"), key="pos_rotation")

st.header("Learned position embeddings")
pretrained_positions_ui("pos")

st.header("Rotary (RoPE): position inside the score")
c1, c2 = st.columns(2)
d_rope = c1.select_slider("d (per head)", [4, 8, 16, 32, 64, 128], value=16, key="pos_rope_d")
seed = c2.number_input("random q and k (seed)", 0, 10_000, 0, key="pos_rope_seed")
q, kv = np.random.default_rng(int(seed)).standard_normal((2, d_rope))
rope, absolute = pos.rope_score_grid(q, kv, 32), pos.absolute_score_grid(q, kv, 32)
st.plotly_chart(fig.matrix_pair(rope, absolute, ("RoPE: q rotated by m, k by n", "sinusoidal added: (q+PE_m)·(k+PE_n)"),
                                "key position n", "query position m", "The same q and k placed at every pair of positions",
                                shared=False),
                key="pos_rope")
st.markdown(f"RoPE scores are constant along every diagonal (largest spread along one: "
            f"**{pos.diagonal_spread(rope):.1e}**): they depend only on n − m. Added sinusoids spread by "
            f"**{pos.diagonal_spread(absolute):.2f}**.")

st.header("Without positions, order is invisible")
c1, c2 = st.columns([2, 1])
text = c1.text_input("A word for the from-scratch model", "attention", key="pos_text", max_chars=40)
kind = c2.selectbox("Permutation", PERMUTATIONS, key="pos_perm")
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
    L, H = c[0].selectbox("Layer", range(a.weights.shape[0]), key="pos_perm_layer"), c[1].selectbox(
        "Head", range(a.weights.shape[1]), index=1, key="pos_perm_head")
    st.plotly_chart(fig.attention_pair([("no positions: original", a.weights[L, H], t, t),
                                        ("no positions: permuted, put back in order", a.weights_restored[L, H], t, t),
                                        ("sinusoidal: original", b.weights[L, H], t, t),
                                        ("sinusoidal: permuted, put back in order", b.weights_restored[L, H], t, t)],
                                       f"Encoder self-attention, layer {L}, head {H}"), key="pos_permutation")

import numpy as np
import streamlit as st

from viz import softmax_lab as lab
from viz.attention import softmax_np
from viz.figures import teaching as fig
from viz.ui import teaching as ui
from viz.ui import url_state
from viz.ui.figure_alt import plotly_chart
from viz.ui.url_state import Choice, Int, Text

st.title("Softmax and scaling lab")
st.caption("softmax(x)ᵢ = exp(xᵢ / T) / Σⱼ exp(xⱼ / T): type your own logits and move the temperature T.")
url = url_state.page("softmax")
SECTIONS = {"temperature": "Temperature", "scaling": "Why divide by √d_k?", "masking": "Masking",
            "stability": "Numerical stability", "real-model": "A real model's scores"}
ui.jump_links(SECTIONS)

st.header("Softmax and temperature", anchor="temperature")
c1, c2 = st.columns([2, 1])
typed = c1.text_input("Logits (numbers separated by commas)",
                      key=url.bind("softmax_logits", "logits", Text(500), "2, 1, 0.5, -1"))
T = c2.select_slider("Temperature T (log scale)", lab.TEMPERATURES,
                     key=url.bind("softmax_temperature", "temperature", Choice.of(lab.TEMPERATURES, "{:g}".format), 1.0))
try:
    logits = lab.parse_numbers(typed)
except lab.NumberListError as err:
    st.error(str(err))
    logits = None
if logits is not None:
    res = lab.softmax_with_temperature(logits, T)
    st.markdown(f"Entropy **{res.entropy:.3f} nats** (0 = all weight on one logit; "
                f"{res.max_entropy:.3f} = log {len(logits)} = uniform). Largest weight **{res.weights.max():.3f}**.")
    plotly_chart(st, fig.softmax_bars(logits, res.weights, f"softmax at T = {T:g}"), key="softmax_bars")
    temps = np.geomspace(0.05, 10, 120)
    plotly_chart(st, fig.temperature_sweep(temps, lab.temperature_sweep(logits, temps), logits, T),
                    key="softmax_sweep")

st.header("Why divide by √d_k?", anchor="scaling")
st.markdown("Give q and k independent components of variance 1. Then q·k is a sum of d_k such "
            "products: its variance is d_k. Large scores push the softmax to one-hot; dividing by "
            "√d_k brings the variance back to 1, whatever d_k is.")
DKS = [2**i for i in range(11)]
d_k = st.select_slider("d_k", DKS, key=url.bind("softmax_dk", "dk", Choice.of(DKS), 64))
s = ui.scaling_sample(d_k)
m = st.columns(4)
m[0].metric("variance of q·k", f"{s.dots.var():.1f}")
m[1].metric("variance of q·k / √d_k", f"{s.scaled.var():.2f}")
m[2].metric("largest weight: raw → scaled",
            f"{s.max_weight_raw.mean():.2f} → {s.max_weight_scaled.mean():.2f}")
m[3].metric("entropy (nats): raw → scaled",
            f"{s.entropy_raw.mean():.2f} → {s.entropy_scaled.mean():.2f}")
plotly_chart(st, ui.scaling_figure(d_k), key="softmax_hist")
plotly_chart(st, ui.saturation_figure(d_k), key="softmax_saturation")

st.header("Masking", anchor="masking")
c1, c2, c3 = st.columns(3)
kind = c1.radio("Mask", lab.MASK_KINDS, key=url.bind("softmax_mask_kind", "mask", Choice(
    dict(zip(["causal", "padding", "both"], lab.MASK_KINDS, strict=True))), lab.MASK_KINDS[2]))
n_pad = c2.slider("Padding tokens", 0, 4, key=url.bind("softmax_pad", "pad", Int(0, 4), 1))
side = c3.radio("Padding side", ["left", "right"], key=url.bind("softmax_pad_side", "side", Choice.of(["left", "right"]), "left"))
demo, mask_figure = ui.mask_demo(kind, n_pad, side)
plotly_chart(st, mask_figure, key="softmax_mask")
if demo.empty_rows:
    st.info(f"Row {', '.join(demo.tokens[i] + f' (position {i})' for i in demo.empty_rows)} has every key "
            "masked. exp(-inf) / Σ exp(-inf) would be 0/0 = NaN; the app's masked_softmax gives the row "
            "all zeros instead: that query attends to nothing, and its output is the zero vector.")

st.header("Numerical stability: float16 and float32", anchor="stability")
big = st.text_input("Large logits", key=url.bind("softmax_big", "big", Text(500), "10, 12, 90"))
try:
    cols, notes = lab.overflow_table(lab.parse_numbers(big))
    st.dataframe(cols, hide_index=True, key="softmax_overflow")
    for note in notes:
        st.warning(note)
    st.caption("exp overflows to inf above 11.09 in float16 and 88.72 in float32; inf/inf is NaN. "
               "Subtracting the row's maximum first changes nothing mathematically and keeps every "
               "exponent ≤ 0, so exp stays in 0..1.")
except lab.NumberListError as err:
    st.error(str(err))

st.header("A real model's scores", anchor="real-model")
run = ui.scratch_input_ui("softmax", url)
if run is not None:
    VIEWS = {"encoder": "encoder self-attention", "cross": "cross-attention"}
    trace = run.encoder if st.radio("Attention", list(VIEWS.values()), horizontal=True, key=url.bind(
        "softmax_view", "view", Choice(VIEWS), VIEWS["encoder"])).startswith("encoder") else run.cross
    layer, head, q = ui.layer_head_ui("softmax", trace, url, query=True)
    real_T = st.select_slider("Temperature T for this query (log scale)", lab.TEMPERATURES, key=url.bind(
        "softmax_real_temperature", "real_t", Choice.of(lab.TEMPERATURES, "{:g}".format), 1.0))
    scores = trace.scores[layer, head, q]
    plotly_chart(st, fig.real_scores_and_weights(trace.key_tokens, scores, softmax_np(scores, real_T),
                                                trace.weights[layer, head, q], real_T,
                                                f"{trace.name}, layer {layer}, head {head}, query {trace.query_tokens[q]!r}"),
                    key="softmax_real")
    st.caption("At T = 1 the bars sit on the dots: the model's own weights.")
url.save()

import streamlit as st

from viz.figures.image import (
    attention_map,
    attention_overlay_figure,
    image_with_grid,
    overlays_grid,
)
from viz.pretrained.image import cls_notice, object_head
from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import image_views as views
from viz.ui.figure_alt import plotly_chart
from viz.ui.image_cache import image_rollout, image_trace, position_figure
from viz.ui.image_ui import clicked_patch, image_ui, model_ui, npy_bytes
from viz.ui.sidebar import current_device
from viz.ui.url_state import Choice, Float, Int

device = str(current_device().device)
st.title("Image: attention inside a Vision Transformer")
st.caption("A Vision Transformer cuts the image into square patches; each patch is a token, and a CLS "
           "token is added in front. Every head of every layer decides how much each token reads from the others.")
url = url_state.page("image")
with st.sidebar:  # the model box and the weights' provenance: the first screen is the picture's
    model_name, model = model_ui(device, url)
    st.caption(f"Weights: {model.source}.")
picked = image_ui(url)
if picked is None:
    url.save()
    st.stop()
image_key, image = picked
trace = image_trace(model_name, device, image_key, image)
grid, pixels = trace.meta["grid"], trace.meta["image"]
st.caption(f"The model sees {pixels.shape[1]} x {pixels.shape[0]} pixels: {grid.rows} x {grid.cols} patches of "
           f"{grid.patch} px, {len(trace.query_tokens)} tokens.")
if "top5" in trace.meta:
    st.markdown("**Top-5 predictions:** " + ", ".join(f"{lab} ({p:.1%})" for lab, p in trace.meta["top5"]))
else:
    st.caption("This model has no classifier head, so there are no predicted labels.")

c1, c2, c3 = st.columns(3)
L, H = trace.n_layers, trace.n_heads
layer = c1.selectbox("Layer", range(L), key=url.bind("image_layer", "layer", Int(0, L - 1), L - 1))
# A fresh visit opens on the last layer's head whose CLS attention lands away from the edges (on the
# object; viz.pretrained.image.object_head), not head 0, which looks at the corners on most pictures.
# The head is always in the URL (as on the text page): its default depends on the picture, so a
# link without it could open on another head than the one it was copied from.
first = object_head(trace)[0] if "image_head" not in st.session_state else 0
head = c2.selectbox("Head", range(H), key=url.bind("image_head", "head", Int(0, H - 1), first, always=True))
opacity = c3.slider("Overlay opacity", 0.0, 1.0, step=0.05, key=url.bind("image_opacity", "opacity", Float(0, 1), 0.6))
st.caption(COUNTED_FROM_0)
TABS = dict(zip(["cls", "heads", "rollout", "click", "positions", "moves", "qk"],
                ["CLS attention", "All heads", "Rollout", "Click a patch", "Position embeddings", "What moves",
                 "Queries & keys"], strict=True))
# Only the open tab is drawn (the others' figures would cost the server and the network on every
# run: 570 kB for all seven); its widgets keep their values while closed (url.bind's keep).
cls_tab, heads_tab, rollout_tab, click_tab, pos_tab, moves_tab, qk_tab = st.tabs(
    list(TABS.values()), on_change="rerun", key=url.bind("image_tab", "tab", Choice(TABS), "CLS attention"))

if cls_tab.open:
    with cls_tab:
        cls_map = grid.to_grid(trace.head(layer, head)[0])
        notice = cls_notice(trace, layer, head)
        left, right = st.columns(2)
        plotly_chart(left, attention_overlay_figure(  # the model's name in the figure's own title
            pixels, cls_map, grid, f"{trace.meta['model']}: CLS → patches, layer {layer}, head {head}", opacity),
            notice=notice, key="image_cls_overlay")
        plotly_chart(right, attention_map(cls_map, grid, "the same weights as a map"), key="image_cls_map")
        st.markdown(f"**What to notice:** {notice}")
        st.caption(f"Where the CLS token reads from, colour from 0 to this map's largest weight "
                   f"({cls_map.max():.3f}); CLS keeps {trace.head(layer, head)[0, 0]:.3f} for itself."
                   + ("" if model_name else " In late layers DINOv2 puts much weight on a few background patches "
                      "that it uses as scratch space (Darcet et al. 2024, 'Vision Transformers Need Registers')."))

if heads_tab.open:
    with heads_tab:
        maps = [grid.to_grid(trace.head(layer, h)[0]) for h in range(trace.n_heads)]
        plotly_chart(st, overlays_grid(pixels, maps, grid, [f"head {h}" for h in range(trace.n_heads)], opacity,
                                      title=f"CLS attention of every head in layer {layer}"), key="image_heads")
        st.caption("Each head is coloured from 0 to its own largest weight.")

if rollout_tab.open:
    with rollout_tab:
        r1, r2 = st.columns(2)
        fusion = r1.radio("Head fusion", ["mean", "max", "min"], horizontal=True, key=url.bind(
            "image_fusion", "fusion", Choice.of(["mean", "max", "min"]), "mean", keep=True))
        discard = r2.slider("Discard ratio (lowest weights per row dropped)", 0.0, 0.95, step=0.05,
                            key=url.bind("image_discard", "discard", Float(0, 0.95), 0.0, keep=True))
        rolled = image_rollout(model_name, device, image_key, fusion, discard, trace)
        plotly_chart(st, attention_overlay_figure(pixels, grid.to_grid(rolled[0]), grid,
                                                 f"Attention rollout to CLS ({fusion} of heads, discard {discard:.0%})",
                                                 opacity), key="image_rollout")
        st.caption("Rollout (Abnar & Zuidema 2020) multiplies the layers' attention, each with the identity added "
                   "for the residual path and rows renormalised: how much CLS draws on each input patch overall.")

if click_tab.open:
    with click_tab:
        left, right = st.columns(2)
        event = plotly_chart(left, image_with_grid(pixels, grid, "click a patch", clickable=True), key="image_click",
                                  on_select="rerun", selection_mode="points")
        token = clicked_patch(url, event.selection.points, grid)
        cell = grid.cell_of(token)
        plotly_chart(right, attention_overlay_figure(pixels, grid.to_grid(trace.head(layer, head)[token]), grid,
                                                    f"where patch {trace.query_tokens[token]} attends, layer {layer}, "
                                                    f"head {head}", opacity, highlight=cell), key="image_patch")

if pos_tab.open:
    with pos_tab:
        plotly_chart(st, position_figure(model_name, device, grid.rows, grid.cols, trace), key="image_positions")
        st.caption("Tile (r, c) shows how similar the position embedding of patch r{r}c{c} is to every patch's: "
                   "the model learned the 2-D grid from 1-D positions (Dosovitskiy et al. 2021, figure 7).")

if moves_tab.open:
    with moves_tab:
        views.moves_tab((model_name, device, image_key), trace, layer, head, opacity)

if qk_tab.open:
    with qk_tab:
        views.qk_tab(trace, layer, head, url)

st.download_button("Download the attention weights (NPY: layers x heads x tokens x tokens)",
                   data=lambda: npy_bytes(trace.weights), file_name="attention.npy",
                   mime="application/octet-stream", key="image_npy", on_click="ignore")
st.caption("Every chart exports as PNG from its toolbar (camera icon).")
url.save()

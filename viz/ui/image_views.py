"""The image page's "What moves" and "Queries & keys" tabs (viz.figures.moves, viz.figures.qk on
the image's trace). Kept apart so that app_pages/image.py stays a flat list of tabs."""

from __future__ import annotations

import numpy as np
import streamlit as st

from viz.attention import group_shares, moves_notice, norm_shares, qk_projection, weighted_norms
from viz.figures.image import attention_overlay_figure
from viz.figures.moves import shares_figure
from viz.figures.qk import qk_figure
from viz.trace import AttentionTrace
from viz.ui import url_state
from viz.ui.figure_alt import plotly_chart
from viz.ui.image_cache import shared
from viz.ui.image_ui import md_escape
from viz.ui.url_state import Choice


def _moved(key: tuple, trace: AttentionTrace) -> tuple[np.ndarray, dict] | None:
    """(shares (L, H, T, T) of what each head moves, per-layer shares of CLS and the most looked-at
    patches), once per image for the whole server: every run with the tab open draws it."""
    if trace.w_o is None:
        return None

    def compute():
        shares = norm_shares(weighted_norms(trace.weights, trace.values, trace.w_o))
        groups = {"CLS": [0]} | ({"the 4 most looked-at patches": _most_looked_at(trace, 4)}
                                 if len(trace.key_tokens) > 5 else {})
        return shares, group_shares(trace.weights, shares, groups)

    return shared(("image_moves", *key), compute)


def moves_tab(key: tuple, trace: AttentionTrace, layer: int, head: int, opacity: float) -> None:
    moved = _moved(key, trace)
    if moved is None:
        st.info("This model keeps its attention's output projection where the app does not look: "
                "the view needs W_O.")
        return
    shares, groups = moved
    grid, pixels = trace.meta["grid"], trace.meta["image"]
    left, right = st.columns(2)
    plotly_chart(left, attention_overlay_figure(pixels, grid.to_grid(trace.weights[layer, head, 0]), grid,
                                               f"CLS looks at (weights), layer {layer}, head {head}", opacity),
                      key="image_moves_weights")
    plotly_chart(right, attention_overlay_figure(pixels, grid.to_grid(shares[layer, head, 0]), grid,
                                                "CLS receives from (share of ‖w·v·W_O‖)", opacity),
                       key="image_moves_moved")
    plotly_chart(st, shares_figure(groups), key="image_moves_layers")
    st.markdown(md_escape(moves_notice(groups)))
    st.caption("Left: where CLS looks. Right: of what CLS receives through this head, the part each patch sends: "
               "weight × the length of its value after W_O (Kobayashi et al. 2020). Both coloured from 0 to "
               "their own largest value.")


def _most_looked_at(trace: AttentionTrace, n: int) -> list[int]:
    """The n patches that receive the most weight over every layer, head and query."""
    received = trace.weights[..., 1:].sum(axis=(0, 1, 2))  # (T - 1,)
    return [int(j) + 1 for j in np.argsort(-received)[:n]]


def qk_tab(trace: AttentionTrace, layer: int, head: int, url: url_state.PageState) -> None:
    grid = trace.meta["grid"]
    by = st.radio("Colour patches by", ["row", "column"], horizontal=True,
                  key=url.bind("image_qk_colour", "qk_colour", Choice.of(["row", "column"]), "row", keep=True))
    cells = [grid.cell_of(t) for t in range(len(trace.query_tokens))]
    colour = np.array([-1 if c is None else c[0 if by == "row" else 1] for c in cells], dtype=float) + 1
    q2, k2, explained = qk_projection(trace.queries[layer, head], trace.keys[layer, head])
    plotly_chart(st, qk_figure(q2, k2, explained, trace.query_tokens, trace.key_tokens, trace.weights[layer, head, 0],
                              0, f"Layer {layer}, head {head}: queries and keys of every patch",
                              position_labels=(f"patch {by} (0 = CLS)", ""), positions=(colour, colour)),
                    key="image_qk")
    st.caption("Every patch's query (circle) and key (diamond) in this head, projected together after moving the "
               "keys' mean onto the queries'; colour is the patch's " + by + ". Red lines: CLS's attention.")

"""Streamlit pieces of the text page: inputs, view state in the URL, the views, downloads.

Every widget key starts with `text_`. The math is in viz.attention, the figures in
viz.figures.text, the model in viz.pretrained; this module only wires them to widgets.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from viz.attention import (
    HEAD_STAT_COLUMNS,
    aligned_positions,
    combined_attention,
    moves_notice,
    qk_projection,
    score_terms,
)
from viz.bertviz_html import MAX_TOKENS as BERTVIZ_MAX
from viz.bertviz_html import BertvizError, bertviz_html
from viz.context import head_notice, telling_head
from viz.figures.moves import moves_figure, shares_figure
from viz.figures.qk import qk_figure
from viz.figures.text import (
    HOVER_MAX_CELLS,
    WINDOW,
    combined_figure,
    compare_figure,
    head_figure,
    lines_figure,
    matrix_figure,
    neuron_figure,
    rollout_figure,
    window_figure,
)
from viz.pretrained import DEFAULT_NAME, ModelLoadError, TextInputError
from viz.pretrained.text import DTYPES
from viz.trace import AttentionTrace
from viz.ui import COUNTED_FROM_0, cache
from viz.ui import url_state as url
from viz.ui.context_ui import context_view
from viz.ui.figure_alt import plotly_chart
from viz.ui.guard import pass_gpu_faults
from viz.ui.image_ui import md_escape
from viz.ui.sidebar import current_device

EXAMPLE = "The cat sat on the mat because it was tired."
VIEWS = {
    "heatmap": "Heatmap", "model": "Model grid", "lines": "Lines", "neuron": "Neuron (q·k)",
    "table": "Head table", "rollout": "Rollout", "compare": "Compare", "combine": "Combine tokens",
    "context": "Context vectors", "moves": "What moves", "qk": "Queries & keys", "bertviz": "bertviz",
}
URL_TEXT_MAX = 1500  # longer texts are not written into the link (browsers cap URLs)
STAT_LABELS = {"entropy": "entropy (nats)", "mean_distance": "mean distance", "to_cls": "→ [CLS]",
               "to_sep": "→ [SEP]", "to_self": "→ self", "to_prev": "→ previous", "to_next": "→ next"}


@dataclass(frozen=True)
class TextRequest:
    name: str  # "" = the bundled model
    device: str
    dtype: str
    text: str
    pair: str

    @property
    def args(self) -> tuple[str, str, str, str, str]:
        return (self.name, self.device, self.dtype, self.text, self.pair)


# --- view state <-> URL query parameters (viz.ui.url_state) --------------------------------------

def url_state() -> url.PageState:
    """The page's URL state; call first. The link carries model, text, pair, layer, head and view."""
    return url.page("text")


def save_view_state(state: url.PageState, req: TextRequest) -> None:
    """Write the view into the URL, so the link reproduces it."""
    state.save()
    if len(req.text) > URL_TEXT_MAX:
        st.caption(f"The text is longer than {URL_TEXT_MAX} characters, so the page's link does not carry it.")


# --- inputs and the trace -----------------------------------------------------------------------

def inputs(state: url.PageState) -> TextRequest:
    dtype = st.sidebar.selectbox("Precision (text page)", list(DTYPES), key="text_dtype",
                                 help="Half precision halves memory; float16 is meant for a CUDA GPU.")
    name = st.sidebar.text_input(
        "Model (text page)", key=state.bind("text_model", "model", url.Text(200), ""), placeholder="bundled all-MiniLM-L6-v2",
        help="A Hugging Face Hub id (bert-base-uncased, distilbert-base-uncased, roberta-base, ...) or a "
             "folder with safetensors weights inside models/ (or ATTENTION_LENS_MODEL_DIRS). Empty: the bundled "
             "all-MiniLM-L6-v2, offline.",
    )
    text = st.text_area("Your text", key=state.bind("text_text", "text", url.Text(URL_TEXT_MAX), EXAMPLE), height=68)
    pair = st.text_input("Second sentence (optional): BERT reads the two as a pair",
                         key=state.bind("text_pair", "pair", url.Text(URL_TEXT_MAX), ""))
    return TextRequest(name.strip(), str(current_device().device), dtype, text, pair.strip())


def load_trace(req: TextRequest) -> tuple[AttentionTrace | None, TextRequest]:
    """The trace for the request; on a model that does not load, say so and use the bundled one."""
    try:
        try:
            trace = cache.text_trace(*req.args)
        except ModelLoadError as err:
            if not req.name:
                raise
            st.error(f"{err} Showing {DEFAULT_NAME} instead.")
            req = replace(req, name="")
            trace = cache.text_trace(*req.args)
    except (ModelLoadError, TextInputError) as err:
        pass_gpu_faults(err)
        st.error(str(err))
        return None, req
    except Exception as err:  # a last guard: a sentence, never a traceback
        pass_gpu_faults(err)  # the GPU failing: the page runs again on the CPU (viz.ui.guard)
        st.error(f"The model could not run on this text ({type(err).__name__}: {err}). "
                 "Try a shorter text or the bundled model.")
        return None, req
    for note in trace.meta["notes"]:
        st.warning(note)
    pair_note = " Dotted red lines mark where the second sentence begins." if trace.meta["pair_start"] else ""
    st.caption(f"{trace.meta['model']}: {trace.n_layers} layers × {trace.n_heads} heads, "
               f"{len(trace.query_tokens)} tokens, {trace.meta['dtype']} on {trace.meta['device']}.{pair_note}")
    return trace, req


def _valid(key: str, n: int, default: int) -> None:
    """Keep an index widget's stored value inside 0..n-1 (the text or model may have changed)."""
    v = st.session_state.get(key)
    if not isinstance(v, int) or not 0 <= v < n:
        st.session_state[key] = min(default, n - 1)


def _token_name(trace: AttentionTrace):
    return lambda i: f"{i}: {trace.query_tokens[i]}"


# One line per view: what it shows (under the view picker).
VIEW_HELP = {
    "heatmap": "One head's weights: row = the token attending, column = the token attended to, each row sums to 1.",
    "model": "Every head of every layer at once, small: spot the patterns (diagonals, columns) to open.",
    "lines": "The head as lines from each token to the tokens it attends to, thicker for larger weights.",
    "neuron": "How one score is built: q and k dimension by dimension, their product, the scaling, the softmax.",
    "table": "Numbers per head: how much each rests on [CLS], [SEP], itself, its neighbours; entropy and distance.",
    "rollout": "Attention multiplied through the layers (with the residual): what each token ends up mixing in.",
    "compare": "The same head on another input, or two heads, side by side and as a difference.",
    "combine": "The mean attention of several tokens you pick, in one head and per layer.",
    "context": "The same word in two sentences: how its vector drifts apart layer by layer.",
    "moves": "What a head moves, not only where it looks: each key's share of ‖w·v·W_O‖ beside its weight.",
    "qk": "Queries and keys of one head projected to 2-D: close pairs get large scores.",
    "bertviz": "bertviz's own head and model views, drawn offline in the page.",
}


def pick_view(trace: AttentionTrace, state: url.PageState) -> tuple[str, int, int]:
    """View, layer and head; unlike other pages' values these are in the link even at their defaults,
    as they were before viz.ui.url_state (links already shared, tests/test_page_text.py). A fresh
    visit opens on the head where the words look furthest afield most decisively
    (viz.context.telling_head), not on layer 0, head 0 (washed out on most inputs)."""
    view = st.radio("View", list(VIEWS), format_func=VIEWS.get, horizontal=True,
                    key=state.bind("text_view", "view", url.Choice.of(VIEWS), "heatmap", always=True))
    st.caption(VIEW_HELP[view])
    fresh = "text_layer" not in st.session_state  # only a fresh visit opens on the chosen head
    best_layer, best_head = telling_head(trace) if fresh else (0, 0)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(trace.n_layers),
                         key=state.bind("text_layer", "layer", url.Int(0, trace.n_layers - 1), best_layer, always=True))
    head = c2.selectbox("Head", range(trace.n_heads),
                        key=state.bind("text_head", "head", url.Int(0, trace.n_heads - 1), best_head, always=True))
    st.caption(COUNTED_FROM_0)
    if view in ("heatmap", "lines", "neuron", "moves", "qk"):  # views of the one head chosen
        st.markdown(f"**What to notice:** {md_escape(head_notice(trace, layer, head))}")
    return view, layer, head


def _chart(fig, view: str, layer: int, head: int) -> None:
    config = {"displaylogo": False, "toImageButtonOptions": {
        "format": st.session_state.get("text_export", "png"), "filename": f"attention_{view}_layer{layer}_head{head}",
        "scale": 2}}
    plotly_chart(st, fig, key=f"text_chart_{view}", config=config)


# --- the views ----------------------------------------------------------------------------------

def _window_sliders(T: int, key: str) -> tuple[int, int]:
    """The first query and key of a WINDOW-token window over T tokens (sliders `key`_q, `key`_k)."""
    st.markdown(f"**Read any {WINDOW} tokens with every label.** Above, {T} tokens thin the labels out.")
    _valid(f"{key}_q", T - WINDOW + 1, 0)
    _valid(f"{key}_k", T - WINDOW + 1, 0)
    c1, c2 = st.columns(2)
    q0 = c1.slider("Queries from position", 0, T - WINDOW, key=f"{key}_q", step=1)
    k0 = c2.slider("Keys from position", 0, T - WINDOW, key=f"{key}_k", step=1)
    return q0, k0


def _heatmap(trace, req, layer, head):
    # The model's name in the title: the figure itself says which model drew it, e.g. after a model
    # that did not load and the bundled one stood in (tests/browser/catalogue.py reads it there).
    _chart(head_figure(trace, layer, head, model=trace.meta.get("model", "")), "heatmap", layer, head)
    st.caption("Row = the token attending (query), column = the token attended to (key); each row sums to 1.")
    T = len(trace.query_tokens)
    if T > WINDOW:  # the whole matrix thins its labels: a window shows every one, with hover names
        q0, k0 = _window_sliders(T, "text_window")
        _chart(window_figure(trace, layer, head, q0, k0), "heatmap_window", layer, head)


def _model(trace, req, layer, head):
    _chart(cache.text_model_grid(*req.args), "model", layer, head)
    st.caption("bertviz's model view: one tile per head. Hover a tile for its entropy and mean distance; "
               "pick its layer and head above for the full heatmap.")


def _lines(trace, req, layer, head):
    T = len(trace.query_tokens)
    st.session_state.setdefault("text_lines_heads", [head])
    st.session_state["text_lines_heads"] = [h for h in st.session_state["text_lines_heads"] if h < trace.n_heads]
    c1, c2, c3 = st.columns(3)
    heads = c1.multiselect("Heads (one colour each)", range(trace.n_heads), key="text_lines_heads")
    min_w = c2.slider("Draw weights from", 0.01, 0.9, 0.1, step=0.01, key="text_lines_min")
    if st.session_state.get("text_lines_focus") is not None and st.session_state["text_lines_focus"] >= T:
        st.session_state["text_lines_focus"] = None
    focus = c3.selectbox("Only the lines of", [None, *range(T)], key="text_lines_focus",
                         format_func=lambda i: "every token" if i is None else _token_name(trace)(i))
    if not heads:
        st.info("Pick at least one head to draw its lines.")
        return
    _chart(lines_figure(trace, layer, heads, min_w, query=focus), "lines", layer, head)
    st.caption("bertviz's head view, drawn natively: a line from each query (left) to each key (right) "
               "it attends to, thicker in colour where the weight is larger.")


def _neuron(trace, req, layer, head):
    T = len(trace.query_tokens)
    _valid("text_neuron_q", T, 1)
    _valid("text_neuron_k", T, 2)
    c1, c2 = st.columns(2)
    qi = c1.selectbox("Query token", range(T), key="text_neuron_q", format_func=_token_name(trace))
    ki = c2.selectbox("Key token", range(T), key="text_neuron_k", format_func=_token_name(trace))
    terms = score_terms(trace.queries[layer, head, qi], trace.keys[layer, head, ki], trace.meta["scaling"])
    _chart(neuron_figure(terms, trace.head(layer, head)[qi], trace.key_tokens, trace.query_tokens[qi], ki),
           "neuron", layer, head)
    st.caption(f"score = Σ_d q_d·k_d × {terms['scaling']:.4f} = {terms['score']:.4f}; the model's own score "
               f"for this cell: {trace.row_scores(layer, head, qi)[ki]:.4f}. The softmax of the row's scores "
               "gives the weights below.")


def _select_head(H: int) -> None:
    """Head table row clicked: show that head's heatmap."""
    rows = st.session_state["text_table"]["selection"]["rows"]
    if rows:
        st.session_state["text_layer"], st.session_state["text_head"] = divmod(int(rows[0]), H)
        st.session_state["text_view"] = "heatmap"


def _table(trace, req, layer, head):
    stats = cache.text_head_stats(*req.args)
    L, H = trace.n_layers, trace.n_heads
    layers, heads = np.divmod(np.arange(L * H), H)
    df = pd.DataFrame({"layer": layers, "head": heads} | {
        STAT_LABELS[c]: stats[c].ravel().round(3) for c in HEAD_STAT_COLUMNS})
    df["link"] = [f"?{_link_query(req, int(la), int(h))}" for la, h in zip(layers, heads, strict=True)]
    st.dataframe(df, key="text_table", on_select=functools.partial(_select_head, H), selection_mode="single-row",
                 hide_index=True, column_config={"link": st.column_config.LinkColumn("link", display_text="open")})
    st.caption("Every number is a mean over the query tokens (Clark et al. 2019): entropy of the row, "
               "how many tokens away the attention lands, and the share of it on [CLS], [SEP], the token "
               "itself and its neighbours. Click a column to sort; select a row for its heatmap; "
               "'open' is a link to it.")
    st.download_button("Head table (CSV)", df.drop(columns="link").to_csv(index=False), "head_table.csv",
                       "text/csv", key="text_dl_table", on_click="ignore")


def _link_query(req: TextRequest, layer: int, head: int) -> str:
    from urllib.parse import urlencode

    q = {"view": "heatmap", "layer": layer, "head": head}
    if req.name:
        q["model"] = req.name
    if len(req.text) <= URL_TEXT_MAX:
        q["text"] = req.text
    if req.pair:
        q["pair"] = req.pair
    return urlencode(q)


def _rollout(trace, req, layer, head):
    _chart(rollout_figure(cache.text_rollout(*req.args), trace.query_tokens, trace.meta["pair_start"]),
           "rollout", layer, head)
    st.caption("Abnar & Zuidema (2020): each layer's heads averaged, plus the identity for the residual "
               "connection, rows renormalised, multiplied up through the layers. It does not depend on "
               "the layer and head chosen above.")


def _compare(trace, req, layer, head):
    mode = st.radio("Compare with", ["another head", "another input", "another model"], horizontal=True,
                    key="text_cmp_mode")
    a = trace.head(layer, head)
    if mode == "another model":
        _compare_models(trace, req, layer, head)
        return
    if mode == "another head":
        _valid("text_cmp_layer", trace.n_layers, layer)
        _valid("text_cmp_head", trace.n_heads, (head + 1) % trace.n_heads)
        c1, c2 = st.columns(2)
        lb = c1.selectbox("Layer B", range(trace.n_layers), key="text_cmp_layer")
        hb = c2.selectbox("Head B", range(trace.n_heads), key="text_cmp_head")
        fig = compare_figure(a, trace.head(lb, hb), trace.query_tokens, trace.key_tokens,
                             f"A = layer {layer} head {head}  minus  B = layer {lb} head {hb}",
                             trace.meta["pair_start"])
    else:
        other = st.text_input("Input B (any length: the difference is drawn where the tokens align)",
                              key="text_cmp_text")
        if not other.strip():
            st.info("Type a second input to compare the same head on both.")
            return
        try:
            tb = cache.text_trace(req.name, req.device, req.dtype, other, req.pair)
        except (ModelLoadError, TextInputError) as err:
            st.error(str(err))
            return
        if len(tb.query_tokens) != len(trace.query_tokens):
            _compare_lengths(trace, tb, layer, head)
            return
        tokens = [t if t == u else f"{t}/{u}" for t, u in zip(trace.query_tokens, tb.query_tokens, strict=True)]
        fig = compare_figure(a, tb.head(layer, head), tokens, tokens,
                             f"Layer {layer} head {head}: input A minus input B", trace.meta["pair_start"])
    _chart(fig, "compare", layer, head)
    st.caption("Red: A attends more than B; blue: B more than A; white: the same. Scale fixed at −1..1.")


def _compare_models(trace, req, layer, head):
    """The same head of two models on the same input, e.g. a model before and after fine-tuning
    (the Fine-tuning page's folders load by name): both side by side, and A − B."""
    from viz.pretrained.names import finetuned_dir

    saved = sorted((p for p in finetuned_dir().glob("*/config.json")), key=lambda p: p.stat().st_mtime, reverse=True) \
        if finetuned_dir().is_dir() else []
    hint = f" (newest fine-tuned here: {saved[0].parent.name})" if saved else ""
    other = st.text_input(f"Model B: a Hub id or folder name, empty for the bundled model{hint}",
                          key="text_cmp_model", max_chars=200)
    try:
        tb = cache.text_trace(other.strip(), req.device, req.dtype, req.text, req.pair)
    except (ModelLoadError, TextInputError) as err:
        st.error(str(err))
        return
    if tb.meta["model"] == trace.meta["model"]:
        st.info("Model B is the page's model: choose another (a fine-tuned folder, a Hub id) to compare.")
        return
    if (tb.n_layers, tb.n_heads) != (trace.n_layers, trace.n_heads) or list(tb.query_tokens) != list(trace.query_tokens):
        st.info(f"{tb.meta['model']} has {tb.n_layers} layers × {tb.n_heads} heads and splits the input into "
                f"{len(tb.query_tokens)} tokens; the page's model {trace.n_layers} × {trace.n_heads} and "
                f"{len(trace.query_tokens)}. Compare models of one shape and tokenizer (a model and its fine-tuned copy).")
        return
    c1, c2 = st.columns(2)
    with c1:
        _chart(matrix_figure(trace.head(layer, head), trace.query_tokens, trace.key_tokens,
                             title=f"A: {trace.meta['model']}"), "compare_a", layer, head)
    with c2:
        _chart(matrix_figure(tb.head(layer, head), tb.query_tokens, tb.key_tokens,
                             title=f"B: {tb.meta['model']}"), "compare_b", layer, head)
    _chart(compare_figure(trace.head(layer, head), tb.head(layer, head), trace.query_tokens, trace.key_tokens,
                          f"Layer {layer} head {head}: model A minus model B", trace.meta["pair_start"]),
           "compare", layer, head)
    st.caption("Red: A attends more than B; blue: B more than A; white: the same. Scale fixed at −1..1.")


def _compare_lengths(ta, tb, layer, head):
    """Two inputs of different lengths: both heads on the shared 0..1 scale, and A − B on the tokens
    they share in order."""
    ia, ib = aligned_positions(ta.query_tokens, tb.query_tokens)
    # three matrices: float32 numbers while all three fit one matrix's byte budget, else whole percents
    compact = len(ta.query_tokens) ** 2 + len(tb.query_tokens) ** 2 + len(ia) ** 2 > HOVER_MAX_CELLS
    c1, c2 = st.columns(2)
    with c1:
        _chart(matrix_figure(ta.head(layer, head), ta.query_tokens, ta.key_tokens, compact=compact,
                             title=f"A ({len(ta.query_tokens)} tokens)"), "compare_a", layer, head)
    with c2:
        _chart(matrix_figure(tb.head(layer, head), tb.query_tokens, tb.key_tokens, compact=compact,
                             title=f"B ({len(tb.query_tokens)} tokens)"), "compare_b", layer, head)
    if len(ia) < 2:
        st.info("Fewer than two tokens of A and B line up, so there is no difference to draw: both heads are "
                "shown above on the same scale.")
        return
    a, b = ta.head(layer, head)[np.ix_(ia, ia)], tb.head(layer, head)[np.ix_(ib, ib)]
    _chart(compare_figure(a, b, [ta.query_tokens[i] for i in ia], [ta.key_tokens[i] for i in ia],
                          f"A − B on the {len(ia)} tokens both inputs share, in order", compact=compact),
           "compare", layer, head)
    st.caption(f"A has {len(ta.query_tokens)} tokens and B {len(tb.query_tokens)}; {len(ia)} line up (the same "
               "token in the same order, difflib's matching blocks). Red: A attends more; blue: B more.")


def _combine(trace, req, layer, head):
    T = len(trace.query_tokens)
    default = [i for i in range(T) if not trace.meta["special"][i]][:2]
    kept = [i for i in st.session_state.get("text_combine", default) if i < T]
    st.session_state["text_combine"] = kept
    rows = st.multiselect("Tokens to combine", range(T), key="text_combine", format_func=_token_name(trace))
    if not rows:
        st.info("Select one or more tokens to see where they attend together.")
        return
    c = combined_attention(trace.weights, rows)  # (L, H, T)
    _chart(combined_figure(c[layer, head], c.mean(axis=1), trace.key_tokens,
                           [trace.query_tokens[i] for i in rows], layer, head), "combine", layer, head)
    st.caption("The mean of the selected tokens' rows: where they attend as a group.")


def _bertviz(trace, req, layer, head):
    kind = st.radio("bertviz view", ["head", "model"], horizontal=True, key="text_bv_kind")
    T = len(trace.query_tokens)
    start = 0
    if T > BERTVIZ_MAX:
        _valid("text_bv_start", T - BERTVIZ_MAX + 1, 0)
        start = st.slider(f"bertviz's {BERTVIZ_MAX} tokens, from position", 0, T - BERTVIZ_MAX, key="text_bv_start")
    try:
        html, notes = bertviz_html(trace, kind, layer, start=start)
    except BertvizError as err:
        st.warning(str(err))
        return
    for note in notes:
        st.info(note)
    T = min(T, BERTVIZ_MAX)
    height = 25 * T + 160 if kind == "head" else 120 + 110 * trace.n_layers
    st.iframe(html, height=int(min(height, 2400)))
    st.caption(f"bertviz {kind}_view, embedded as it ships, with its scripts served from this machine. "
               "Its data arrive as text: " + f"{len(html) / 1e6:.1f} MB for this input.")


def _moves(trace, req, layer, head):
    moved = cache.text_moves(*req.args)
    if moved is None:
        st.info(f"{trace.meta.get('model', 'This model')} has no output projection where its family keeps it: "
                "the view needs W_O.")
        return
    shares, groups = moved
    _chart(moves_figure(trace, shares, layer, head), "moves", layer, head)
    T = len(trace.query_tokens)
    if T > WINDOW:  # as the heatmap view: a window with every label, and a hover string per cell
        q0, k0 = _window_sliders(T, "text_moves")
        _chart(moves_figure(trace, shares, layer, head, window=(q0, k0, WINDOW)), "moves_window", layer, head)
    _chart(shares_figure(groups), "moves_layers", layer, head)
    st.markdown(md_escape(moves_notice(groups)))
    st.caption("Left: the head's weights. Right: of everything token i receives through this head, the part "
               "that comes from token j: ‖w_ij · v_j · W_O‖ as a share of the row (Kobayashi et al. 2020). "
               "A head can look hard at a token whose transformed value is tiny and move almost nothing.")


def _qk(trace, req, layer, head):
    T = len(trace.query_tokens)
    _valid("text_qk_q", T, min(T - 1, 1))
    qi = st.selectbox("Query whose attention to draw", range(T), key="text_qk_q", format_func=_token_name(trace))
    q2, k2, explained = qk_projection(trace.queries[layer, head], trace.keys[layer, head])
    _chart(qk_figure(q2, k2, explained, trace.query_tokens, trace.key_tokens, trace.head(layer, head)[qi], qi,
                     f"Layer {layer}, head {head}: queries and keys in one space"), "qk", layer, head)
    st.caption("AttentionViz's joint view, live on your input: every query (circle) and key (diamond) of this head, "
               "projected together on their two principal axes after moving the keys' mean onto the queries' "
               "(which changes no weight). A query lands near the keys it scores high; colour is position. "
               "Red lines: the chosen query's attention, thicker for more weight.")


_VIEWS = {"heatmap": _heatmap, "model": _model, "lines": _lines, "neuron": _neuron, "table": _table,
          "rollout": _rollout, "compare": _compare, "combine": _combine, "context": context_view, "moves": _moves, "qk": _qk,
          "bertviz": _bertviz}


def show_view(view: str, trace: AttentionTrace, req: TextRequest, layer: int, head: int) -> None:
    try:
        _VIEWS[view](trace, req, layer, head)
    except ValueError as err:  # a view's own message (an empty selection, mismatched shapes)
        st.error(str(err))


# --- downloads ----------------------------------------------------------------------------------

def _head_csv(trace: AttentionTrace, layer: int, head: int) -> str:
    cols = [f"{i}:{t}" for i, t in enumerate(trace.key_tokens)]
    rows = [f"{i}:{t}" for i, t in enumerate(trace.query_tokens)]
    return pd.DataFrame(trace.head(layer, head), index=rows, columns=cols).to_csv(index_label="query \\ key")


def _all_npy(trace: AttentionTrace) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(trace.weights))
    return buf.getvalue()


def downloads(trace: AttentionTrace, layer: int, head: int) -> None:
    """CSV of the head shown, NPY of every weight (built only when clicked), and the format the
    chart's camera icon saves in (read on the next run: changing it reruns the page)."""
    L, H, T = trace.n_layers, trace.n_heads, len(trace.query_tokens)
    c1, c2, c3 = st.columns(3)
    c3.selectbox("The camera icon saves figures as", ["png", "svg"], key="text_export")
    c1.download_button(f"Layer {layer}, head {head} weights (CSV)", lambda: _head_csv(trace, layer, head),
                       f"attention_layer{layer}_head{head}.csv", "text/csv", key="text_dl_csv", on_click="ignore")
    c2.download_button(f"All weights, ({L}, {H}, {T}, {T}) float32 (NPY)", lambda: _all_npy(trace),
                       "attention_weights.npy", "application/octet-stream", key="text_dl_npy", on_click="ignore")

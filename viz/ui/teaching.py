"""Streamlit pieces shared by the three teaching pages: caches and the from-scratch input box.

Every st.cache_* of the teaching pages lives here (the app's rule: caches only in viz/ui/).
"""

from __future__ import annotations

import streamlit as st

from viz import dimensions, softmax_lab
from viz.figures import attention_heatmap, teaching
from viz.figures.spec import SharedFigure, shared
from viz.scratch import permutation
from viz.scratch.permutation import PermutationDemo
from viz.scratch.run import InputError, ScratchRun
from viz.scratch.tasks import TASKS
from viz.trace import AttentionTrace
from viz.ui import COUNTED_FROM_0, url_state
from viz.ui.cache import scratch_model, scratch_run
from viz.ui.sidebar import current_device

TASK = "reverse"  # letters in, letters out: any lowercase word is a valid input


# The softmax lab's figures that do not depend on the temperature are made once per server and
# shown as SharedFigures (no copy per show): a temperature move then rebuilds only the two
# temperature figures, themselves built in one call (viz.figures.spec): 270 -> 90 ms of server CPU
# per temperature move (docs/capacity.md). Resources, not cache_data:
# cache_data would unpickle the arrays on every run; nothing changes them.

@st.cache_resource(show_spinner=False, max_entries=32)
def scaling_sample(d_k: int) -> softmax_lab.ScalingSample:
    return softmax_lab.scaling_sample(d_k)


@st.cache_resource(show_spinner=False, max_entries=4)
def saturation_curve(n_keys: int = 16):
    return softmax_lab.saturation_curve(n_keys=n_keys)


@st.cache_resource(show_spinner=False, max_entries=32)
def scaling_figure(d_k: int) -> SharedFigure:
    s = scaling_sample(d_k)
    return shared(teaching.scaling_histograms(s.dots, s.scaled, s.max_weight_raw, s.max_weight_scaled, d_k))


@st.cache_resource(show_spinner=False, max_entries=32)
def saturation_figure(d_k: int) -> SharedFigure:
    return shared(teaching.saturation_curve(*saturation_curve(), n_keys=scaling_sample(d_k).dots.shape[1],
                                            current=d_k))


@st.cache_resource(show_spinner=False, max_entries=64)
def mask_demo(kind: str, n_pad: int, side: str) -> tuple[softmax_lab.MaskDemo, SharedFigure]:
    demo = softmax_lab.mask_demo(["the", "cat", "sat", "down"], kind, n_pad, side)
    return demo, shared(attention_heatmap(demo.weights, demo.tokens, demo.tokens, demo.mask,
                                          title=f"{kind} mask: grey cells get exactly 0"))


def scratch_input_ui(prefix: str, url: url_state.PageState | None = None,
                     default: str = "attention") -> ScratchRun | None:
    """A text box for the from-scratch reverse model (URL: word); its run, or None after showing why not."""
    url = url or url_state.Unbound()
    text = st.text_input("A word for the from-scratch model (lowercase letters, one token each)", max_chars=40,
                         key=url.bind(f"{prefix}_text", "word", url_state.Text(40), default))
    try:
        result = scratch_run(TASK, text, str(current_device().device))
    except InputError as err:
        st.error(str(err))
        return None
    for note in result.notes:
        st.warning(note)
    return result


def layer_head_ui(prefix: str, trace: AttentionTrace, url: url_state.PageState | None = None,
                  query: bool = False) -> tuple[int, int, int]:
    """Layer, head (and a query token when asked) selectors in one row: (layer, head, query).
    URL: layer, head, query."""
    url = url or url_state.Unbound()
    cols = st.columns(3 if query else 2)
    L, H, T = trace.n_layers, trace.n_heads, len(trace.query_tokens)
    layer = cols[0].selectbox("Layer", range(L), key=url.bind(f"{prefix}_layer", "layer", url_state.Int(0, L - 1), 0))
    head = cols[1].selectbox("Head", range(H), key=url.bind(f"{prefix}_head", "head", url_state.Int(0, H - 1), 0))
    st.caption(COUNTED_FROM_0)
    q = 0
    if query:
        q = cols[2].selectbox("Query token", range(T), format_func=lambda i: f"{i}: {trace.query_tokens[i]}",
                              key=url.bind(f"{prefix}_query", "query", url_state.Int(0, T - 1), 0))
    return layer, head, q


def worksheet_ui(prefix: str, url: url_state.PageState | None = None) -> None:
    """A seeded sheet of dimension questions, typed answers checked on submit, scores kept per sheet.
    URL: sheet."""
    url = url or url_state.Unbound()
    seed = st.number_input("Sheet number (the same number gives the same sheet)", 0, 1_000_000,
                           key=url.bind(f"{prefix}_seed", "sheet", url_state.Int(0, 1_000_000), 1))
    sheet = dimensions.worksheet(int(seed))
    with st.form(f"{prefix}_form"):
        typed = [st.text_input(f"{q.number}. {q.text}", key=f"{prefix}_answer_{seed}_{q.number}",
                               placeholder="e.g. 10 x 64, or 32768") for q in sheet]
        submitted = st.form_submit_button("Check my answers", key=f"{prefix}_check")
    scores = st.session_state.setdefault(f"{prefix}_scores", {})
    if submitted:
        right = 0
        for q, text in zip(sheet, typed, strict=True):
            try:
                ok = dimensions.check_answer(q, text)
            except dimensions.AnswerError as err:
                st.warning(f"{q.number}. {err}")
                continue
            right += ok
            (st.success if ok else st.error)(f"{q.number}. {'right' if ok else 'not quite: check the shapes again'}")
        scores[int(seed)] = max(right, scores.get(int(seed), 0))
        st.markdown(f"**Score: {right} / {len(sheet)}**")
    if scores:
        st.caption("Best this session: " + ", ".join(f"sheet {s}: {v}/{len(sheet)}" for s, v in sorted(scores.items())))
    if st.toggle("Show the answers (for the teacher)", key=f"{prefix}_reveal"):
        st.table({"question": [q.number for q in sheet], "answer": [q.answer_text for q in sheet]})


@st.cache_data(show_spinner=False, max_entries=32)
def permutation_demo(text: str, kind: str, seed: int, device: str) -> PermutationDemo:
    """The bundled (sinusoidal) reverse model on `text` and its permutation, with and without positions."""
    model, _ = scratch_model(TASK, device)
    return permutation.permutation_demo(model, TASKS[TASK], text, kind, seed)


def jump_links(sections: dict[str, str]) -> None:
    """A line of links to the page's sections ({anchor: title}) under its title: the softmax lab and
    the positional page run to several screens."""
    st.markdown("Jump to: " + " · ".join(f"[{title}](#{anchor})" for anchor, title in sections.items()))

"""The Lesson page's pieces: the step in the URL, presenter mode, one step's inputs, figure,
"what to notice" line and question. The lesson itself (steps, notices, checkers) is viz.lesson.

URL: ?step=N (1-based; a step's slug works too), &present=1 for presenter mode, and the step's
fields by name (?step=1&text=...&word=...). Widget keys start with `lesson_`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from viz.figures.spec import shared
from viz.jobs import env_int
from viz.lesson import STEPS, LessonNotReady, Question, Step, find_step
from viz.pretrained import ModelLoadError
from viz.pretrained.dinov2_onnx import ConversionError
from viz.pretrained.image import ImageModelError
from viz.tracecache import nbytes_of
from viz.ui import COUNTED_FROM_0, cache, url_state
from viz.ui.figure_alt import plotly_chart
from viz.ui.guard import pass_gpu_faults
from viz.ui.image_ui import md_escape
from viz.ui.sources import CachedSources

STEP_KEY, PRESENT_KEY = "lesson_step", "lesson_present"
URL_TEXT_MAX = 1500  # longer inputs are not written into the link
PLACEHOLDER = {"number": "a number, e.g. 0.42 or 3", "shape": "a shape, e.g. 10 x 64", "token": "a word, e.g. cat"}
# Presenter mode: a projector at 1280 x 720 or 1024 x 768 shows the step's title, its whole figure
# and its question on the first screen (tests/browser/test_lesson_projector.py measures it).
PRESENTER_FIG_HEIGHT = 470  # px; the top bar and the page's padding take about 110
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.6rem 1.6rem 1rem 1.6rem; max-width: 100%; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.55rem; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stMain"] input, [data-testid="stMain"] [data-baseweb="select"] { font-size: 1.25rem !important; }
[data-testid="stMain"] h2 { font-size: 1.75rem !important; padding: 0; line-height: 1.2; }
.st-key-lesson_prev button, .st-key-lesson_next button { min-height: 3rem; }
.st-key-lesson_prev button, .st-key-lesson_next button { padding: 0 0.5rem; }
.st-key-lesson_prev button p, .st-key-lesson_next button p { font-size: 1.1rem !important; font-weight: 700; }
</style>"""
# Every mode: a disabled step button looks disabled, and the keyboard focus is visible (3:1).
LESSON_CSS = """<style>
.st-key-lesson_prev button:disabled, .st-key-lesson_next button:disabled { opacity: 0.35; }
[data-testid="stMain"] :is(button, input, [role="combobox"], [role="switch"], a):focus-visible,
[data-testid="stMain"] [data-baseweb="checkbox"]:focus-within { outline: 3px solid #1a4fa0 !important;
  outline-offset: 2px; }
.st-key-class_keeper { position: absolute !important; width: 1px; height: 1px; overflow: hidden; }
</style>"""
# → / PageDown: next step, ← / PageUp: previous (a presentation clicker sends these), except while
# typing in a box or choosing in a list. The buttons are clicked, so a locked step stays locked.
KEYS_JS = """
export default function ({ parentElement }) {
  const doc = parentElement.ownerDocument;
  doc.__lessonKeys && doc.removeEventListener("keydown", doc.__lessonKeys);
  doc.__lessonKeys = (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return;
    const which = { ArrowRight: "next", PageDown: "next", ArrowLeft: "prev", PageUp: "prev" }[e.key];
    if (!which) return;
    const t = e.target;
    if (t && t.closest && t.closest('input, textarea, select, [contenteditable="true"], [role="listbox"], '
                                    + '[role="slider"], [role="combobox"], [data-baseweb="popover"]')) return;
    const button = doc.querySelector(`.st-key-lesson_${which} button`);
    if (!button || button.disabled) return;
    e.preventDefault();
    button.click();
  };
  doc.addEventListener("keydown", doc.__lessonKeys);
}
"""


def field_key(step: Step, name: str) -> str:
    return f"lesson_{step.slug}_{name}"


def field_spec(f) -> url_state.Spec:
    return url_state.Choice.of(f.options) if f.options else url_state.Text(URL_TEXT_MAX)


# ?step= takes the 1-based number (what the lesson writes) or the step's slug
STEP_SPEC = url_state.Choice({**{str(i + 1): i for i in range(len(STEPS))}, **{s.slug: i for i, s in enumerate(STEPS)}})


def restore(url: url_state.PageState) -> None:
    """The step, presenter mode and the URL step's inputs, from a link (a visit's first run).

    Before the class's sync (which may set the teacher's step and inputs over them) and before the
    widgets. The step is a session value that a visit from the sidebar (which drops the query
    string) keeps; the inputs are read for the URL's step only, so reading stops here."""
    url.bind(STEP_KEY, "step", STEP_SPEC, 0, always=True, widget=False, session=True)
    url.bind(PRESENT_KEY, "present", url_state.Bool(), False)
    step = STEPS[st.session_state[STEP_KEY]]
    for f in step.fields:
        value = url.read(f.name, field_spec(f))
        if value is not None:
            st.session_state[field_key(step, f.name)] = value
    problems = []
    for name, raw in url.ignored:
        if name == "step":
            problems.append(find_step(raw)[1] or f"There is no step '{raw[:40]}'. Showing step 1.")
        f = next((f for f in step.fields if f.name == name and f.options), None)
        if f is not None:
            problems.append(f"The link's {f.name} = '{raw[:40]}' is not one of the choices for "
                            f"'{f.label}' ({', '.join(f.options)}); using {f.default}.")
    st.session_state["_lesson_url_problems"] = problems


def presenting() -> bool:
    """Presenter mode, as the toggle will show it on this run."""
    return bool(st.session_state.get(PRESENT_KEY))


def _go(delta: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state.get(STEP_KEY, 0) + delta, 0), len(STEPS) - 1)


@st.cache_resource
def _keys():
    return st.components.v2.component("attention_lens_lesson_keys", js=KEYS_JS)


def _step_buttons(where, index: int, locked: str) -> None:
    """◀ / ▶ in `where` (two columns), named for screen readers; no tooltip (it stayed on the slide)."""
    prev, nxt = where
    prev.button("Previous step", key="lesson_prev", on_click=_go, args=(-1,), icon=":material/arrow_back:",
                disabled=bool(locked) or index == 0, width="stretch")
    nxt.button("Next step", key="lesson_next", on_click=_go, args=(1,), icon=":material/arrow_forward:",
               disabled=bool(locked) or index == len(STEPS) - 1, width="stretch")


def _step_picker(locked: str, label_visibility: str = "visible") -> None:
    """The step picker. The step itself lives in session_state[STEP_KEY], no widget's key: a widget's
    state is dropped on a run that does not draw it (the picker moves into the Teacher drawer and
    back with presenter mode). The picker has a key per step shown, so that a stale value from the
    browser is ignored: a closed popover's widgets keep their old value there, and a fragment's
    rerun (the class's counts, every second) sent it back and undid ▶."""
    index = st.session_state.get(STEP_KEY, 0)
    key = f"lesson_pick_{index}"
    st.session_state[key] = index

    def jump() -> None:
        st.session_state[STEP_KEY] = st.session_state[key]

    st.selectbox("Go to step", range(len(STEPS)), key=key, disabled=bool(locked), on_change=jump,
                 format_func=lambda i: f"Step {i + 1} of {len(STEPS)}: {STEPS[i].title}",
                 label_visibility=label_visibility)


def navigation(locked: str = "", teacher_tools: Callable[[], None] | None = None) -> tuple[int, bool]:
    """The step buttons, the step picker and presenter mode; (0-based step, presenter mode).
    `locked`: why the student cannot step on their own now (they follow the teacher).
    In presenter mode the top bar is ◀, the step's title, ▶ and a small "Teacher" drawer that holds
    the presenter toggle, the step picker, the answer switch and `teacher_tools` (the class)."""
    for problem in st.session_state.pop("_lesson_url_problems", []):
        st.warning(md_escape(problem))
    st.html(LESSON_CSS)
    _keys()(key="lesson_keys")
    index = st.session_state.get(STEP_KEY, 0)
    if presenting():
        st.html(PRESENTER_CSS)
        prev, title, nxt, drawer = st.columns([1.7, 5.2, 1.7, 1.2], vertical_alignment="center")
        _step_buttons((prev, nxt), index, locked)
        title.header(f"{index + 1}. {STEPS[index].title}", anchor=False)
        with drawer.popover("Teacher", width="stretch"):
            st.toggle("Presenter mode (for a projector: no sidebar, large text)", key=PRESENT_KEY)
            _step_picker(locked)
            st.toggle("Show the answer (teacher)", key=field_key(STEPS[index], "reveal"))
            st.caption(COUNTED_FROM_0)
            if teacher_tools:
                teacher_tools()
    else:
        st.toggle("Presenter mode (for a projector: no sidebar, large text)", key=PRESENT_KEY)
        c1, c2, c3 = st.columns([1, 4, 1], vertical_alignment="center")
        _step_buttons((c1, c3), index, locked)
        with c2:
            _step_picker(locked, label_visibility="collapsed")
    if locked:
        st.caption(locked)
    return st.session_state[STEP_KEY], presenting()


def _inputs(step: Step, url: url_state.PageState) -> dict[str, str]:
    values = {}
    for f in step.fields:
        key = url.bind(field_key(step, f.name), f.name, field_spec(f), f.default, always=True)
        if f.options:
            values[f.name] = st.selectbox(f.label, f.options, key=key)
        else:
            values[f.name] = st.text_input(f.label, key=key)
    return values


TICK_PX, TITLE_PX, TEXT_PX = 16, 21, 16  # presenter mode's figure text (ticks at least 16 px)


def _enlarge(fig: go.Figure, height: int = PRESENTER_FIG_HEIGHT) -> go.Figure:
    """A copy of the figure for the projector: larger text, a height that fits the first screen,
    and tick labels thinned where they would no longer fit at that size (fit_ticks)."""
    fig = go.Figure(fig)  # a copy: cached figures stay as they are
    fig.update_layout(font=dict(size=TEXT_PX), title_font_size=TITLE_PX, height=height)
    fig.update_annotations(selector=lambda a: a.font.size is None, font_size=TEXT_PX)
    fig.update_xaxes(tickfont_size=TICK_PX, title_font_size=TEXT_PX)  # explicit: the theme sets small ones
    fig.update_yaxes(tickfont_size=TICK_PX, title_font_size=TEXT_PX)
    fig.update_xaxes(selector=lambda a: a.tickangle not in (None, 0), tickangle=-90)  # boxes as drawn
    bar = dict(tickfont_size=TICK_PX, title_side="right")  # a title on top lay on the top tick
    for name in [k for k in fig.layout.to_plotly_json() if k.startswith("coloraxis")]:
        fig.layout[name].colorbar.update(bar)
    for trace in fig.data:
        if "colorbar" in trace:
            trace.colorbar.update(bar)
    layout = fit_ticks(fig.layout.to_plotly_json(), height, TICK_PX)
    fig.update_layout({k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))})
    return fig


def fit_ticks(layout: dict, height: int, font_px: int, width: int = 560) -> dict:
    """Thin every axis's listed tick labels (tickmode "array") to what fits at font_px: rows need
    1.5 line heights each, columns that much when their labels are turned, else the label's width.
    `width`: the narrowest the figure is drawn (presenter mode's column at 1024 px)."""
    margin = layout.get("margin", {})
    plot_h = max(height - margin.get("t", 60) - margin.get("b", 40) - 60, 50)
    plot_w = width - 120
    for name, axis in layout.items():
        if not (name.startswith(("xaxis", "yaxis")) and axis.get("tickmode") == "array" and axis.get("ticktext")):
            continue
        texts, values = list(axis["ticktext"]), list(axis["tickvals"])
        lo, hi = axis.get("domain", [0, 1])
        if name.startswith("y"):
            room, need = plot_h * (hi - lo), 1.5 * font_px
        elif axis.get("tickangle") not in (None, 0, "auto"):
            room, need = plot_w * (hi - lo), 1.5 * font_px
        else:
            room, need = plot_w * (hi - lo), 0.62 * font_px * max(len(str(t)) for t in texts) + 8
        fits = max(1, int(room // need))
        if len(texts) > fits:
            every = -(-len(texts) // fits)
            axis["tickvals"], axis["ticktext"] = values[::every], texts[::every]
    return layout


def question(step: Step, q: Question, present: bool = False) -> bool:
    """The step's question for one student on their own: type, check, and the answer on demand.
    True once it is answered: checked right, or the answer shown (the "what to notice" line and
    any figure text that gives the answer away wait for that). In presenter mode the answer switch
    sits in the Teacher drawer (navigation)."""
    st.markdown(f"**Question.** {md_escape(q.prompt)}")
    with st.form(f"lesson_form_{step.slug}", border=False):
        typed = st.text_input("Your answer", key=field_key(step, "answer"), placeholder=PLACEHOLDER[q.kind])
        sent = st.form_submit_button("Check my answer", key=field_key(step, "check"))
    if sent:
        st.session_state[field_key(step, "result")] = (q.prompt, q.answer_text, *q.check(typed))
    result = st.session_state.get(field_key(step, "result"))
    right = False
    if result and result[:2] == (q.prompt, q.answer_text):  # a result for this very question
        (st.success if result[2] else st.error)(md_escape(result[3]))
        right = bool(result[2])
    shown = (st.session_state.get(field_key(step, "reveal")) if present
             else st.toggle("Show the answer (teacher)", key=field_key(step, "reveal")))
    if shown:
        st.markdown(f"Answer: **{md_escape(q.answer_text)}**")
    return right or bool(shown)


@dataclass(frozen=True)
class View:
    """One step's view for one set of inputs: the figure while its question is open (`open_fig`,
    which gives nothing away) and once answered (`fig`), notes, the notice and the question."""
    open_fig: go.Figure
    fig: go.Figure
    notes: tuple[str, ...]
    notice: str
    question: Question

    @property
    def nbytes(self) -> int:  # for the byte-bounded cache (viz.tracecache.nbytes_of)
        figs = (self.fig,) if self.open_fig is self.fig else (self.open_fig, self.fig)
        return nbytes_of(figs)


def view(step: Step, values: dict[str, str], present: bool, sources: CachedSources | None = None) -> View:
    """The step's view for these inputs, built once for the whole server: when a class follows the
    teacher, thirty sessions ask for the same view within a second (the shared byte-bounded cache,
    viz.ui.cache.shared; errors are not cached)."""
    sources = sources or CachedSources()

    def build():
        data = step.compute(sources, values)
        figs = [step.figure(data)]
        if step.open_figure:
            figs.insert(0, step.open_figure(data))
        figs = [shared(_enlarge(f) if present else f) for f in figs]  # each dict made once, not per show
        return View(figs[0], figs[-1], tuple(data.get("notes", ())), step.notice(data), step.question(data))

    return cache.shared(view_key(step, values, present, sources.device), build)


def view_key(step: Step, values: dict[str, str], present: bool, device: str) -> tuple:
    return ("lesson", step.slug, json.dumps(values, sort_keys=True), present, device)


class _QuietWarmUp(logging.Filter):
    """Streamlit logs a warning whenever a thread without a script run asks for one; the warm-up
    thread has none on purpose (it draws nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != WARM_THREAD


WARM_THREAD = "lesson-warm-up"
_warming = threading.Lock()
_warmed: dict[str, int] = {}  # device -> steps whose views are built (len(STEPS) when done)
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_QuietWarmUp())


def warm_up(device: str) -> bool:
    """Build every step's view for its default inputs, for the screen and the projector, in a
    background thread; False if one is running or has run for this device. A teacher's first ▶
    onto a step otherwise waits for that step's model to run (1 to 3 s here), and the whole class
    waits with them; afterwards each view comes from the shared cache. Each server process (each
    replica) warms its own cache: the teacher's start and a student's join both call this."""
    if device in _warmed or not _warming.acquire(blocking=False):
        return False
    _warmed[device] = 0

    def work() -> None:
        try:
            sources = CachedSources(device=device)
            for i, step in enumerate(STEPS[:warm_steps()]):
                values = {f.name: f.default for f in step.fields}
                for present in (False, True):
                    try:
                        view(step, values, present, sources)
                    except Exception:  # noqa: BLE001 - the step's own page run shows its message
                        pass
                _warmed[device] = i + 1
        finally:
            _warming.release()

    threading.Thread(target=work, name=WARM_THREAD, daemon=True).start()
    return True


def warm_steps() -> int:
    """How many of the lesson's first steps a class start builds ahead: $ATTENTION_LENS_WARM_STEPS,
    default all. A small server shared by several replicas may warm fewer: each replica builds its
    own, and all of them at once hold the cores for a while (the failover test runs 3 on 2 cores)."""
    return min(len(STEPS), env_int("ATTENTION_LENS_WARM_STEPS", len(STEPS), 0))


def warm_progress(device: str) -> int | None:
    """Steps whose views the warm-up has built on this server (None: no warm-up has started)."""
    return _warmed.get(device)


def show_step(index: int, present: bool, url: url_state.PageState,
              ask: Callable[[int, Question, bool], bool] | None = None,
              publish: Callable[[int, dict, Question | None], None] | None = None,
              url_extra: dict[str, str] | None = None) -> None:
    """One step: explanation, inputs, figure, question, and once answered what to notice. In a
    class, `ask` replaces the question (viz.ui.class_ui) and `publish` hands the teacher's step,
    inputs and question on; `url_extra` is the class's part of the link (a student's join code and
    id), written with the step and its inputs. Presenter mode: the explanation, question and (folded) inputs on the
    left, the figure on the right, the title in the top bar (navigation)."""
    step = STEPS[index]
    ask = ask or (lambda i, q, present: question(STEPS[i], q, present))
    publish = publish or (lambda i, values, q: None)
    if present:
        left, right = st.columns([2, 3], gap="medium")
    else:
        st.header(f"{index + 1}. {step.title}", anchor=False)
        left = right = st.container()
    with left:
        st.markdown(step.explanation)
        slip = st.container()
        if present:
            with st.expander("Change the input"):
                values = _inputs(step, url)
        else:
            values = _inputs(step, url)
    with right:
        figure_box = st.container()
        notice_box = st.container()
    with left if present else right:
        question_box = st.container()
    try:
        v = view(step, values, present)
    except LessonNotReady as err:  # the lesson's fine-tune has not run on this server
        from viz.ui import lesson_finetune

        lesson_finetune.not_ready(figure_box, str(err), CachedSources().device)
        publish(index, values, None)
        url.save(url_extra)
        return
    except (ValueError, ModelLoadError, ImageModelError, ConversionError) as err:
        pass_gpu_faults(err)
        figure_box.error(md_escape(str(err)))
        publish(index, values, None)
        url.save(url_extra)
        return
    publish(index, values, v.question)  # before the figure is sent: a class waits for this, not for our chart
    with question_box:
        answered = ask(index, v.question, present)
    if step.slip and (answered or not step.slip_gives_answer):
        slip.info(f"**A slip in the notes.** {step.slip}")
    plotly_chart(figure_box, v.fig if answered else v.open_fig, notice=v.notice if answered else "",
                 key=f"lesson_fig_{step.slug}")
    with notice_box:
        for note in v.notes:
            st.caption(md_escape(note))
        if answered:
            st.markdown(f"**What to notice:** {md_escape(v.notice)}")
    if not present:
        st.caption(f"Built from: {step.uses}.")
    url.save(url_extra)


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

import plotly.graph_objects as go
import streamlit as st

from viz.figures.spec import shared
from viz.lesson import STEPS, Question, Step, find_step
from viz.pretrained import ModelLoadError
from viz.pretrained.dinov2_onnx import ConversionError
from viz.pretrained.image import ImageModelError
from viz.ui import cache
from viz.ui.guard import pass_gpu_faults
from viz.ui.image_ui import md_escape
from viz.ui.sources import CachedSources

STEP_KEY, PRESENT_KEY = "lesson_step", "lesson_present"
URL_TEXT_MAX = 1500  # longer inputs are not written into the link
URL_KEYS = {"step", "present"} | {f.name for s in STEPS for f in s.fields}
PLACEHOLDER = {"number": "a number, e.g. 0.42 or 3", "shape": "a shape, e.g. 10 x 64", "token": "a word, e.g. cat"}
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2rem 2rem 2rem; max-width: 100%; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stMain"] input, [data-testid="stMain"] [data-baseweb="select"] { font-size: 1.3rem !important; }
[data-testid="stMain"] h2 { font-size: 2.1rem !important; padding-top: 0; }
.st-key-lesson_prev button, .st-key-lesson_next button { min-height: 3.6rem; }
.st-key-lesson_prev button p, .st-key-lesson_next button p { font-size: 1.9rem !important; font-weight: 700; }
</style>"""


def field_key(step: Step, name: str) -> str:
    return f"lesson_{step.slug}_{name}"


def restore_from_url() -> None:
    """On the session's first visit, open the URL's step, presenter mode and the step's inputs."""
    if st.session_state.get("_lesson_url_restored"):
        return
    st.session_state["_lesson_url_restored"] = True
    params = st.query_params
    index, problem = find_step(params.get("step"))
    problems = [problem] if problem else []
    st.session_state[STEP_KEY] = index
    st.session_state[PRESENT_KEY] = params.get("present", "").lower() in ("1", "true", "yes", "on")
    step = STEPS[index]
    for f in step.fields:
        if f.name not in params:
            continue
        value = params[f.name]
        if f.options and value not in f.options:
            problems.append(f"The link's {f.name} = '{value[:40]}' is not one of the choices for "
                            f"'{f.label}' ({', '.join(f.options)}); using {f.default}.")
            continue
        st.session_state[field_key(step, f.name)] = value
    st.session_state["_lesson_url_problems"] = problems


def presenting() -> bool:
    """Presenter mode, as the toggle will show it on this run."""
    return bool(st.session_state.get(PRESENT_KEY))


def _go(delta: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state.get(STEP_KEY, 0) + delta, 0), len(STEPS) - 1)


def navigation(locked: str = "") -> tuple[int, bool]:
    """Presenter toggle, ◀ / ▶ and the step picker; (0-based step, presenter mode). `locked`: why the
    student cannot step on their own now (they follow the teacher)."""
    for problem in st.session_state.pop("_lesson_url_problems", []):
        st.warning(md_escape(problem))
    present = st.toggle("Presenter mode (for a projector: no sidebar, large text)", key=PRESENT_KEY)
    if present:
        st.html(PRESENTER_CSS)
    index = st.session_state.get(STEP_KEY, 0)
    c1, c2, c3 = st.columns([1, 4, 1], vertical_alignment="center")
    c1.button("◀", key="lesson_prev", on_click=_go, args=(-1,), disabled=bool(locked) or index == 0,
              width="stretch", help="Previous step")
    c2.selectbox("Step", range(len(STEPS)), key=STEP_KEY, label_visibility="collapsed", disabled=bool(locked),
                 format_func=lambda i: f"Step {i + 1} of {len(STEPS)}: {STEPS[i].title}")
    c3.button("▶", key="lesson_next", on_click=_go, args=(1,), disabled=bool(locked) or index == len(STEPS) - 1,
              width="stretch", help="Next step")
    if locked:
        st.caption(locked)
    return st.session_state[STEP_KEY], present


def _inputs(step: Step) -> dict[str, str]:
    values = {}
    for f in step.fields:
        key = field_key(step, f.name)
        if f.options:
            if st.session_state.get(key) not in f.options:
                st.session_state[key] = f.default
            values[f.name] = st.selectbox(f.label, f.options, key=key)
        else:
            st.session_state.setdefault(key, f.default)
            values[f.name] = st.text_input(f.label, key=key)
    return values


def _enlarge(fig: go.Figure) -> go.Figure:
    fig = go.Figure(fig)  # a copy: cached figures stay as they are
    fig.update_layout(font=dict(size=17), title_font_size=22, height=max(fig.layout.height or 450, 560))
    fig.update_annotations(font_size=19)
    fig.update_xaxes(tickfont_size=15, title_font_size=17)  # explicit: the app's plotly theme sets small ones
    fig.update_yaxes(tickfont_size=15, title_font_size=17)
    return fig


def question(step: Step, q: Question) -> None:
    """The step's question for one student on their own: type, check, and the answer on demand."""
    st.markdown(f"**Question.** {md_escape(q.prompt)}")
    with st.form(f"lesson_form_{step.slug}"):
        typed = st.text_input("Your answer", key=field_key(step, "answer"), placeholder=PLACEHOLDER[q.kind])
        sent = st.form_submit_button("Check my answer", key=field_key(step, "check"))
    if sent:
        st.session_state[field_key(step, "result")] = (q.prompt, q.answer_text, *q.check(typed))
    result = st.session_state.get(field_key(step, "result"))
    if result and result[:2] == (q.prompt, q.answer_text):  # a result for this very question
        (st.success if result[2] else st.error)(md_escape(result[3]))
    if st.toggle("Show the answer (teacher)", key=field_key(step, "reveal")):
        st.markdown(f"Answer: **{md_escape(q.answer_text)}**")


def view(step: Step, values: dict[str, str], present: bool,
         sources: CachedSources | None = None) -> tuple[go.Figure, tuple[str, ...], str, Question]:
    """The step's figure, notes, notice and question for these inputs, built once for the whole
    server: when a class follows the teacher, thirty sessions ask for the same view within a second
    (the shared byte-bounded cache, viz.ui.cache.shared; errors are not cached)."""
    sources = sources or CachedSources()

    def build():
        data = step.compute(sources, values)
        fig = step.figure(data)
        fig = shared(_enlarge(fig) if present else fig)  # its dict is made once, not on every show
        return fig, tuple(data.get("notes", ())), step.notice(data), step.question(data)

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
            for i, step in enumerate(STEPS):
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


def warm_progress(device: str) -> int | None:
    """Steps whose views the warm-up has built on this server (None: no warm-up has started)."""
    return _warmed.get(device)


def show_step(index: int, present: bool, ask: Callable[[int, Question], None] | None = None,
              publish: Callable[[int, dict, Question | None], None] | None = None) -> None:
    """One step: explanation, inputs, figure, what to notice, question. In a class, `ask` replaces
    the question (viz.ui.class_ui) and `publish` hands the teacher's step, inputs and question on."""
    step = STEPS[index]
    ask = ask or (lambda i, q: question(STEPS[i], q))
    publish = publish or (lambda i, values, q: None)
    st.header(f"{index + 1}. {step.title}")
    left, right = st.columns([2, 3], gap="large") if present else (st.container(), st.container())
    with left:
        st.markdown(step.explanation)
        if step.slip:
            st.info(f"**A slip in the notes.** {step.slip}")
        values = _inputs(step)
    with right:
        try:
            fig, notes, notice, q = view(step, values, present)
        except (ValueError, ModelLoadError, ImageModelError, ConversionError) as err:
            pass_gpu_faults(err)
            st.error(md_escape(str(err)))
            publish(index, values, None)
            _save_url(index, step, values, present)
            return
        publish(index, values, q)  # before the figure is sent: a class waits for this, not for our chart
        st.plotly_chart(fig, key=f"lesson_fig_{step.slug}")
        for note in notes:
            st.caption(md_escape(note))
        st.markdown(f"**What to notice:** {md_escape(notice)}")
    with left if present else right:
        ask(index, q)
    st.caption(f"Built from: {step.uses}.")
    _save_url(index, step, values, present)


def _save_url(index: int, step: Step, values: dict[str, str], present: bool) -> None:
    """The step, presenter mode and the step's inputs into the URL: the link reopens this view."""
    want = {"step": str(index + 1)} | ({"present": "1"} if present else {})
    want |= {k: v for k, v in values.items() if len(v) <= URL_TEXT_MAX}
    now = st.query_params.to_dict()
    new = {k: v for k, v in now.items() if k not in URL_KEYS} | want
    if new != now:
        st.query_params.from_dict(new)  # one message to the browser, not one per parameter

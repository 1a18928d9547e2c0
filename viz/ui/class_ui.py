"""A class that follows the teacher's lesson: start or join, follow the teacher's step, answer live,
and (the teacher) see the class's answers and reveal the right one. The state is viz.classroom's.

The lesson page calls, in order:
    sync_before_widgets()   # a following student takes the class's step and inputs
    panel(present)          # start / join, or the class's banner
    locked()                # why a following student's step buttons are off ("" when they are on)
    ask, publish            # passed to lesson_ui.show_step: the class's question, the teacher's moves

A student's browser waits on the server for the class's next version (server.py's route, which
awaits viz.classroom.beacon.next_version) with a few lines of JavaScript and reruns the page when the number
changes, so it follows within one page run; served as plain app.py, the script fetches the
version file every half second (BEACON_MS) instead. A fragment that asks the class store every 4
to 6 s stays as a safety net (a browser whose script is blocked, a server that cannot write
static/class/). Session keys start with `class_`;
the teacher key lives only in the teacher's session (and on their screen, folded, when asked).
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import threading
from contextlib import contextmanager

import segno
import streamlit as st

from viz.classroom import ClassError, ClassState, ClassStore, beacon
from viz.figures.classroom import answer_counts_figure
from viz.lesson import STEPS, Question, tally
from viz.ui import lesson_finetune, url_state
from viz.ui.figure_alt import plotly_chart
from viz.ui.image_ui import md_escape
from viz.ui.lesson_ui import (
    PLACEHOLDER,
    PRESENT_KEY,
    STEP_KEY,
    field_key,
    question,
    warm_progress,
    warm_steps,
    warm_up,
)
from viz.ui.sources import CachedSources

WATCH_S = 1.0  # how often the teacher's counts look at the class
# Without server.py's waiting route: how often a student's browser fetches the class's version
# file (ATTENTION_LENS_BEACON_MS); each fetch costs the server about 4 ms of CPU (docs/capacity.md).
# Also the pause before asking the route again after a network error.
BEACON_MS = int(os.environ.get("ATTENTION_LENS_BEACON_MS", "500"))
# The safety-net fragment asks the store every SAFETY_MIN_S to SAFETY_MAX_S seconds, each student
# at their own period, drawn once: with one period for all, the browsers' timers restart together
# after every follow and the next check arrives as thirty runs at once.
SAFETY_MIN_S, SAFETY_MAX_S = 4.0, 6.0
WATCH_JS = """
export default function ({ data, setTriggerValue, parentElement }) {
  // Rerun the page (a trigger) when the class's version changes. Ask the server's waiting route
  // (server.py): it answers when the version differs from ours, or after 25 s, and we ask again.
  // Without that route (the app run as app.py: 404), fetch the version file every every_ms.
  // A hidden tab asks nothing (a browser opens at most 6 connections to one server, and a page
  // nobody sees need not rerun at every step): once shown again, it catches up at once.
  parentElement.__classWatchStop?.();
  const ctrl = new AbortController();
  let seen = data.version, timer = null;
  parentElement.__classWatchStop = () => { ctrl.abort(); clearInterval(timer); };
  const moved = (v) => { if (v !== seen) { seen = v; setTriggerValue("moved", v); } };
  const pause = () => new Promise((ok) => setTimeout(ok, data.every_ms));
  const shown = () => new Promise((ok) => {
    if (!document.hidden) return ok();
    const on = () => {
      if (document.hidden && !ctrl.signal.aborted) return;
      document.removeEventListener("visibilitychange", on);
      ok();
    };
    document.addEventListener("visibilitychange", on);
    ctrl.signal.addEventListener("abort", on);
  });
  const poll = () => { timer = setInterval(async () => {
    if (document.hidden) return;
    try { const r = await fetch(data.url, { cache: "no-store" }); if (r.ok) moved((await r.json()).v); }
    catch (e) { /* a network blip: the next tick tries again */ }
  }, data.every_ms); };
  (async () => {
    while (!ctrl.signal.aborted) {
      await shown();
      if (ctrl.signal.aborted) return;
      let r;
      try { r = await fetch(`${data.wait_url}?since=${seen}`, { cache: "no-store", signal: ctrl.signal }); }
      catch (e) { if (ctrl.signal.aborted) return; await pause(); continue; }
      if (r.status === 404) { poll(); return; }  // no waiting route on this server
      if (r.status === 410) return;  // the class ended: the page's own check says so
      if (!r.ok) { await pause(); continue; }
      moved((await r.json()).v);
    }
  })();
  return () => parentElement.__classWatchStop();
}
"""
# The teacher's tab keeps the class's code and key in its own sessionStorage: never in the URL, never
# drawn, never sent to a student. A teacher whose replica died comes back through the balancer as a
# fresh session on another replica (or reloads the tab); the page asks the tab, and the class is the
# teacher's again. Storage off (a browser policy): "Take a class back" by hand still works.
KEEP_JS = """
export default function ({ data, setTriggerValue }) {
  const NAME = "attention-lens-teacher";
  try {
    if (data.hold) sessionStorage.setItem(NAME, JSON.stringify(data.hold));
    else if (data.forget) sessionStorage.removeItem(NAME);
    else if (data.ask) {
      const kept = sessionStorage.getItem(NAME);
      if (kept) setTriggerValue("found", JSON.parse(kept));
    }
  } catch (e) { /* no storage here: the teacher takes the class back by hand */ }
}
"""
FOLLOW_TURNS = 2  # following students' page runs at once in this process (turn())
ROLE, CODE, KEY, SID = "class_role", "class_code", "class_key", "class_sid"
FOLLOW, SEEN, VERSION, SENT = "class_follow", "class_seen", "class_version", "class_published"
IN_URL, JOIN_SCREEN, PEEK = "class_in_url", "class_join_screen", "class_peek"
KEEPER, FORGET = "class_keeper", "class_forget"


@st.cache_resource
def store() -> ClassStore:
    """One store per server process: in memory, or the file in ATTENTION_LENS_CLASS_DB (replicas)."""
    return ClassStore.from_env()


def _client() -> str:
    """Who a wrong code counts against: the address the server sees."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "unknown"  # None without a browser connection (AppTest)


def role() -> str:
    return st.session_state.get(ROLE, "")


def following() -> bool:
    return role() == "student" and st.session_state.get(FOLLOW, True)


def _leave(message: str = "") -> None:
    if role() == "teacher":
        st.session_state[FORGET] = True  # the tab forgets the key (keep_teacher)
    for k in (ROLE, CODE, KEY, VERSION, SEEN, SENT, IN_URL, JOIN_SCREEN):
        st.session_state.pop(k, None)
    if message:
        st.session_state["class_message"] = message


def _state() -> ClassState | None:
    """The class this session is in, or None (and the session leaves it) once it has ended."""
    code = st.session_state.get(CODE)
    state = store().state(code) if code else None
    if code and state is None:
        _leave(f"Class {code} has ended.")
    return state


_turns = threading.BoundedSemaphore(FOLLOW_TURNS)


@contextmanager
def turn():
    """A following student's page run waits its turn, first come first served, FOLLOW_TURNS at a time.

    When the teacher moves, thirty page runs arrive within a second and share one Python process.
    Run all at once they take turns on the GIL every few milliseconds and all finish near the end
    of the burst; in turns, the first student has the new step after one page run and the last no
    later than before (docs/capacity.md). The teacher and students on their own never wait."""
    if not following():
        yield
        return
    with _turns:
        yield


# --- before the widgets: a follower takes the teacher's step and inputs ------------------------------

def sync_before_widgets() -> None:
    if role() != "student":
        return
    state = _state()
    if state is None:
        return
    st.session_state[VERSION] = state.version
    if not following():
        return
    seen = (state.step, json.dumps(state.inputs, sort_keys=True))
    if st.session_state.get(SEEN) == seen:
        return  # nothing new: the student's own changes to the inputs stay
    st.session_state[SEEN] = seen
    st.session_state[STEP_KEY] = state.step
    step = STEPS[state.step]
    for f in step.fields:
        value = state.inputs.get(f.name)
        if value is not None and (not f.options or value in f.options):
            st.session_state[field_key(step, f.name)] = value


def locked() -> str:
    return ("You follow the teacher's steps. Turn off 'Follow the teacher' to look around on your own."
            if following() else "")


# --- the class box at the top of the page ------------------------------------------------------------

def _start() -> None:
    try:
        code, key = store().start()
    except ClassError as err:
        st.session_state["class_message"] = str(err)
        return
    _leave()
    st.session_state.update({ROLE: "teacher", CODE: code, KEY: key})
    _signal(store().state(code))
    beacon.prune(store().limits.hours * 3600 + 60)  # files of classes that have expired
    warm_up(CachedSources().device)  # while the class joins, the steps' views get built
    lesson_finetune.start(CachedSources().device)  # and the fine-tuning step's model is trained


def _join(typed: str | None = None, sid: str | None = None) -> bool:
    typed = st.session_state.get("class_join_code", "") if typed is None else typed
    try:
        code, sid = store().join(typed, _client(), sid or st.session_state.get(SID))
    except ClassError as err:
        st.session_state["class_message"] = str(err)
        return False
    _leave()
    st.session_state.update({ROLE: "student", CODE: code, SID: sid, FOLLOW: True, "class_join_code": ""})
    st.session_state[IN_URL] = {"join": code, "sid": sid}
    warm_up(CachedSources().device)  # with replicas, the student's server may not be the teacher's
    return True


def join_from_url(url: url_state.PageState) -> None:
    """A visit's first run with ?join=CODE (the teacher's join link or QR code) joins that class;
    with &sid=, the student id this browser had, so a student whose server died and whose page came
    back as a fresh session on another replica is back in the class, answers and all. The link is
    the student's own: it holds no teacher key. A session already in a class stays in it."""
    code = (url.read("join", url_state.Text(url_state.MAX_RAW)) or "")[:40]  # a wrong code gets a sentence
    sid = url.read("sid", url_state.Text(16))
    if code and not role():
        _join(code, sid if sid and re.fullmatch(r"[0-9a-f]{16}", sid) else None)


def url_params() -> dict[str, str]:
    """The class's part of the lesson's URL: a student's join code and id (empty otherwise)."""
    return dict(st.session_state.get(IN_URL, {})) if role() == "student" else {}


def _resume() -> None:
    ss = st.session_state
    try:
        code = store().check_key(ss.get("class_resume_code", ""), ss.get("class_resume_key", ""), _client())
    except ClassError as err:
        ss["class_message"] = str(err)
        return
    _take_back(code, ss.get("class_resume_key", ""))
    ss["class_resume_key"] = ""


def _take_back(code: str, key: str) -> None:
    """This session is the teacher of class `code` again (its key checked), on the class's step."""
    _leave()
    state = store().state(code)
    st.session_state.update({ROLE: "teacher", CODE: code, KEY: key})
    if state is not None:
        st.session_state[STEP_KEY] = state.step
    warm_up(CachedSources().device)  # this replica builds the steps' views too


def keep_teacher() -> None:
    """Early in every lesson run: a teacher's tab keeps the class's code and key (KEEP_JS); a
    session in no class asks its tab for them, and takes the class back if the key still opens it."""
    ss = st.session_state
    if role() == "teacher":
        ss.pop(FORGET, None)
        data = {"hold": {"code": ss[CODE], "key": ss.get(KEY, "")}}
    elif ss.pop(FORGET, False):
        data = {"forget": True}
    elif role():
        return
    else:
        data = {"ask": True}
    _keeper()(data=data, key=KEEPER, on_found_change=_found)


@st.cache_resource
def _keeper():
    return st.components.v2.component("attention_lens_class_keep", js=KEEP_JS)


def _found() -> None:
    """The tab held a class's code and key: the class is this session's again, on the class's step."""
    value = st.session_state.get(KEEPER)
    found = value.get("found") if isinstance(value, dict) else getattr(value, "found", None)
    if role() or not isinstance(found, dict):
        return
    key = str(found.get("key", ""))[:80]
    try:
        code = store().check_key(str(found.get("code", ""))[:40], key, _client())
    except ClassError:
        st.session_state[FORGET] = True  # the class ended or expired: nothing to take back
        return
    _take_back(code, key)


def _signal(state: ClassState | None, version: int | None = None) -> None:
    """Tell the students' browsers that the class changed (its version file)."""
    if state is None or not state.watch:
        return
    try:
        beacon.write(state.watch, state.version if version is None else version)
    except OSError:
        pass  # the students' safety-net fragment still finds the change, a few seconds later


def _end() -> None:
    before = store().state(st.session_state.get(CODE, ""))
    try:
        store().end(st.session_state.get(CODE, ""), st.session_state.get(KEY, ""), _client())
    except ClassError as err:
        st.session_state["class_message"] = str(err)
        return
    _signal(before, None if before is None else before.version + 1)  # the students see it has ended
    _leave("The class has ended: its code no longer works.")


def panel(present: bool) -> None:
    message = st.session_state.pop("class_message", "")
    if role() and message:
        st.warning(md_escape(message))
    if role() == "teacher":
        if not present:  # presenter mode: the Teacher drawer (teacher_tools) and the join screen
            _teacher_banner()
    elif role() == "student":
        _student_banner()
    elif not present:
        _start_or_join(message)


def _start_or_join(message: str) -> None:
    # The message goes inside: an element above would move the expander, and Streamlit would
    # draw it again closed, hiding the box the student just typed into.
    with st.expander("Class: follow a teacher's lesson, or teach one", expanded=bool(message)):
        if message:
            st.warning(md_escape(message))
        join, teach = st.columns(2, gap="large")
        with join:
            st.markdown("**Student.** Type the code your teacher reads out. No name needed.")
            with st.form("class_join_form", border=False):
                st.text_input("Class code", key="class_join_code", max_chars=40, placeholder="e.g. K7M2QX")
                st.form_submit_button("Join the class", key="class_join", on_click=_join)
        with teach:
            st.markdown("**Teacher.** Start a class: you get a code to read out, and the class follows "
                        "your steps and answers your questions.")
            st.button("Start a class", key="class_start", on_click=_start)
            with st.popover("Take a class back (after a reload)"):
                st.text_input("Your class's code", key="class_resume_code", max_chars=40)
                st.text_input("Teacher key", key="class_resume_key", type="password", max_chars=80)
                st.button("Take it back", key="class_resume", on_click=_resume)


def join_link(code: str) -> str:
    """/lesson?join=CODE on the address the teacher's browser used (students need the same server:
    open the app by its network address, not localhost, before starting the class)."""
    url = st.context.url or ""
    m = re.match(r"(https?://[^/?#]+)", url)
    return f"{m.group(1) if m else ''}/lesson?join={code}"


def qr_img(link: str, px: int) -> str:
    """The link as a QR code: an <img> of an SVG data URI about px wide, drawn here by segno
    (nothing fetched; st.html keeps an <img>, where it strips an inline <svg>)."""
    qr = segno.make(link, error="m")
    scale = max(2, px // qr.symbol_size(border=2)[0])
    uri = qr.svg_data_uri(scale=scale, border=2, dark="#000", light="#fff")
    return f'<img class="class-qr" src="{html.escape(uri)}" alt="QR code of the join link {html.escape(link)}">'



def _join_box(code: str, big: bool) -> None:
    """The join link (escaped: its host comes from the request) and its QR code."""
    link = join_link(code)
    size, qr = ("4.5rem", 330) if big else ("1.1rem", 150)
    st.html(f'<div style="display:flex;gap:2rem;align-items:center;flex-wrap:wrap">'
            f"<div>{qr_img(link, qr)}</div>"
            f'<div style="font-size:{size};line-height:1.25">Class code <b style="letter-spacing:0.12em">{code}</b>'
            f'<div style="font-size:{"1.6rem" if big else "1rem"}">or open <code>{html.escape(link)}</code></div>'
            "</div></div>")


def join_screen_shown() -> bool:
    """Presenter mode's join screen is up (the teacher turned it on in the Teacher drawer)."""
    return role() == "teacher" and bool(st.session_state.get(JOIN_SCREEN)) and _state() is not None


def show_join_screen() -> None:
    state = _state()
    st.header("Join the class", anchor=False)
    _join_box(state.code, big=True)
    st.markdown(f"**{state.students}** joined. Scan the code or open the link; no name needed.")


def teacher_tools() -> None:
    """The class part of presenter mode's Teacher drawer (the projector shows it only when opened)."""
    state = _state() if role() == "teacher" else None
    if state is None:
        if not role():
            st.button("Start a class", key="class_start", on_click=_start)
        return
    st.markdown(f"Class **{state.code}** · {state.students} joined")
    st.toggle("Show the join screen (code, link and QR code)", key=JOIN_SCREEN)
    st.button("End the class", key="class_end", on_click=_end, width="stretch")


@st.fragment(run_every=WATCH_S * 2)
def _teacher_banner() -> None:
    """Outside presenter mode: the code, the join link and its QR code, End, the teacher key."""
    state = _state()
    if state is None:
        st.rerun()
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    with c1:
        _join_box(state.code, big=False)
        st.caption(f"{state.students} joined. Presenter mode shows the code large (Teacher drawer: "
                   "'Show the join screen').")
    ready = warm_progress(CachedSources().device)
    if ready is not None and ready < warm_steps():
        c1.caption(f"Getting the lesson ready on this server: {ready} of {warm_steps()} steps built. "
                   "Until then a step's first view waits for its model.")
    c2.button("End the class", key="class_end", on_click=_end, width="stretch")
    with st.expander("Teacher key (never on the projector)"):
        st.caption("Only this browser tab holds it, and it takes the class back by itself after a reload or "
                   "when its server restarts. Keep it to take the class back from another tab or browser "
                   "('Take a class back').")
        st.code(st.session_state.get(KEY, ""), language=None)


def _student_banner() -> None:
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="center")
    with c1:
        st.markdown(f"In class **{st.session_state[CODE]}**.")
        _watch_beacon()
        every = st.session_state.setdefault("class_watch_s", round(random.uniform(SAFETY_MIN_S, SAFETY_MAX_S), 2))
        st.fragment(_watch, run_every=every)()
    c2.toggle("Follow the teacher", key=FOLLOW, on_change=lambda: st.session_state.pop(SEEN, None))
    c3.button("Leave", key="class_leave", on_click=_leave, args=("You left the class; join again with its code.",))


def _watch_beacon() -> None:
    """The JavaScript watcher: it waits on the server for the class's next version (or fetches the
    version file) and reruns the page when it changes."""
    state = _state()
    if state is None or not state.watch:
        return
    _watcher()(data={"url": beacon.url(state.watch), "wait_url": beacon.wait_url(state.watch),
                     "version": state.version, "every_ms": BEACON_MS},
               key="class_beacon", on_moved_change=_noop)


def _noop() -> None:
    pass  # the trigger's rerun is what counts: sync_before_widgets takes the class's step


@st.cache_resource
def _watcher():
    return st.components.v2.component("attention_lens_class_watch", js=WATCH_JS)


def _watch() -> None:
    """The safety net, a fragment that the student's browser runs every class_watch_s seconds: one read
    of the class, and a whole page run only when the teacher has moved or revealed."""
    state = _state()
    if state is None or (following() and state.version != st.session_state.get(VERSION)):
        st.rerun()  # the class ended, or the teacher moved: run the page again, synced
    if not following() and state.step != st.session_state.get(STEP_KEY):
        st.caption(f"The teacher is on step {state.step + 1}.")


# --- the teacher's moves and the class's question ---------------------------------------------------

def publish(index: int, values: dict, q: Question | None) -> None:
    """The teacher's step, inputs and question go to the class (only when they changed)."""
    if role() != "teacher":
        return
    sent = (index, json.dumps(values, sort_keys=True), None if q is None else json.dumps(q.to_dict(), sort_keys=True))
    if st.session_state.get(SENT) == sent:
        return
    try:
        state = store().move(st.session_state[CODE], st.session_state.get(KEY, ""), index, values,
                             None if q is None else q.to_dict(), _client())
    except ClassError as err:
        _leave(str(err))
        return
    _signal(state)
    st.session_state[SENT] = sent


def ask(index: int, q: Question, present: bool = False) -> bool:
    """The step's question: the class's for the teacher and a following student, else one's own.
    True once it is answered: for a class, once the teacher has revealed the answer."""
    state = _state() if role() else None
    if state is None or state.step != index or state.question is None or (role() == "student" and not following()):
        return question(STEPS[index], q, present)
    class_q = Question.from_dict(state.question)
    if role() == "teacher":
        _teacher_question(state, class_q)
    else:
        _student_question(state, class_q)
    return bool(state.answer_revealed)


def _reveal() -> None:
    ss = st.session_state
    try:
        _signal(store().reveal(ss.get(CODE, ""), ss.get(KEY, ""), ss.get(STEP_KEY, 0), _client()))
    except ClassError as err:
        ss["class_message"] = str(err)


def _teacher_question(state: ClassState, q: Question) -> None:
    """While the question is open the screen (projected, in presenter mode) shows how many have
    answered, not what: the room would see the majority answer before voting ends. Outside
    presenter mode the teacher may peek on their own screen. After Reveal: the counts and the answer."""
    present = bool(st.session_state.get(PRESENT_KEY))
    st.markdown(f"**Question for the class.** {md_escape(q.prompt)}")
    revealed = state.answer_revealed
    peek = False if present or revealed else st.toggle("Peek at the answers (your screen only)", key=PEEK)
    _counts(state.code, state.step, state.question, 18 if present else 13, revealed or peek)
    if revealed:
        st.success(f"Answer shown to the class: **{md_escape(q.answer_text)}**")
    else:
        st.button("Reveal the answer to the class", key="class_reveal", on_click=_reveal, type="primary")


@st.fragment(run_every=WATCH_S)
def _counts(code: str, step: int, q_dict: dict, font_size: int, show: bool) -> None:
    state = store().state(code)
    if state is None:
        return
    answers = store().answers(code, step)
    if not show:
        st.markdown(f"**{len(answers)} of {state.students}** have answered.")
        return
    rows = tally(Question.from_dict(q_dict), answers)
    plotly_chart(st, answer_counts_figure(rows, state.students, step in state.revealed, font_size=font_size),
                    key=f"class_counts_{step}", config={"displayModeBar": False})


def _send(state: ClassState) -> None:
    ss = st.session_state
    try:
        store().answer(state.code, ss.get(SID, ""), state.step, ss.get("class_answer", ""))
    except ClassError as err:
        ss["class_message"] = str(err)
        return
    ss["class_answer"] = ""


@st.fragment
def _student_question(state: ClassState, q: Question) -> None:
    """In a fragment: sending an answer reruns this part only, not the student's whole page."""
    st.markdown(f"**Class question.** {md_escape(q.prompt)}")
    step = STEPS[state.step]
    mine = {f.name: st.session_state.get(field_key(step, f.name)) for f in step.fields}
    if any(state.inputs.get(k) not in (None, v) for k, v in mine.items()):
        st.caption("You changed the input: the class question is about the teacher's input.")
    sent = store().my_answer(state.code, st.session_state.get(SID, ""), state.step)
    if state.answer_revealed:
        st.info(f"The answer: **{md_escape(q.answer_text)}**")
        if sent is not None:
            ok, message = q.check(sent)
            (st.success if ok else st.error)(f"You answered '{md_escape(sent)}'. {md_escape(message)}")
        return
    with st.form("class_answer_form", border=False):
        st.text_input("Your answer", key="class_answer", max_chars=100, placeholder=PLACEHOLDER[q.kind])
        st.form_submit_button("Send my answer", key="class_send", on_click=_send, args=(state,))
    if sent is not None:
        st.caption(f"Sent: '{md_escape(sent)}'. You can change it until the teacher shows the answer.")

"""Streamlit pieces of the from-scratch page that are more than one widget: live training.

Training runs in the server's job queue (viz.jobs), never in the session's script thread. The
"Train a fresh model" button (key `train_go`) queues a job for this session; a fragment that
reruns every second while the job is queued or running shows its place in the queue, or its
progress, loss curve and snapshots so far, with a Cancel button (key `train_cancel`). When the job
ends, the page reruns once and shows the result without polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from viz.figures import loss_curve, snapshots_grid
from viz.jobs import CANCELLED, DONE, FAILED, QUEUED, JobQueue, JobRefused, JobView
from viz.scratch.live import MAX_STEPS, POSITIONALS, snapshot_axes, training_job
from viz.scratch.tasks import TASKS
from viz.ui.figure_alt import plotly_chart

POLL_SECONDS = 1.0
KIND = "train"  # this page's jobs in the queue (the fine-tuning page's are "finetune")
log = logging.getLogger("attention_lens")


@st.cache_resource(show_spinner=False)
def train_queue() -> JobQueue:
    """The server's one training queue, shared by every session (see viz.jobs for the settings).
    A training whose page has been closed or reloaded for 30 s is cancelled: nobody will see it."""
    return JobQueue.from_env(owner_alive=_session_alive)


def _session_alive(session_id: str) -> bool:
    from streamlit import runtime

    return not runtime.exists() or runtime.get_instance().is_active_session(session_id)


def session_owner() -> str:
    """This browser session's id: its jobs are found again on every rerun and page switch."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def live_training_ui(device: torch.device) -> None:
    """Queue a fresh model's training; show its queue place, progress, snapshots and result."""
    c1, c2, c3 = st.columns(3)
    name = c1.selectbox("Task", list(TASKS), format_func=lambda n: TASKS[n].title, key="train_task")
    steps = c2.slider("Steps", 100, MAX_STEPS, 600, step=100, key="train_steps",
                      help="The bundled models used 2500 steps (about 2 minutes on 2 CPU cores).")
    positional = c3.selectbox("Positional encoding", list(POSITIONALS), key="train_pos")
    task = TASKS[name]
    st.caption(
        f"Snapshots show the last decoder layer's cross-attention (mean over heads) on "
        f"{task.example!r}, with the correct answer fed to the decoder so the axes stay fixed. "
        "Trainings wait in one queue for the whole server, so a class's trainings do not slow "
        "everyone's pages."
    )
    queue, owner = train_queue(), session_owner()
    if st.button("Train a fresh model", key="train_go", type="primary"):
        try:
            queue.submit(owner, training_job(name, steps, positional, str(device)), total=steps,
                         label=f"{task.title}, {steps} steps", meta=name, kind=KIND)
        except (JobRefused, ValueError) as err:
            st.warning(str(err))
    job = queue.latest(owner, KIND)
    if job is None:
        return
    if job.active:
        _live_panel()
    else:
        _job_panel(job)


def cancel_job(job_id: int) -> None:
    """A Cancel button's on_click: cancel this session's job (the queue checks the owner)."""
    train_queue().cancel(job_id, session_owner())


_cancel = cancel_job


def live_panel(kind: str, draw: Callable[[JobView], None], what: str):
    """A fragment that draws this session's latest job of `kind` with `draw` every POLL_SECONDS
    while it is queued or running, and reruns the whole page once when it ends (which draws the
    result and stops the polling). Also the fine-tuning page's (viz.ui.finetune_ui)."""
    def panel() -> None:
        job = train_queue().latest(session_owner(), kind)
        if job is None:
            return
        if not job.active:
            st.rerun()
        try:
            draw(job)
        except Exception as err:  # a fragment rerun is outside the page's guard: keep the session alive
            log.exception("live %s panel failed", what)
            st.error(f"The {what}'s progress could not be drawn ({type(err).__name__}); "
                     "it goes on, and the page shows it again on the next update.")

    panel.__qualname__ = f"live_panel_{kind}"  # one fragment per kind
    return st.fragment(panel, run_every=POLL_SECONDS)


_live_panel = live_panel(KIND, lambda job: _job_panel(job), "training")


def _job_panel(job: JobView) -> None:
    st.markdown(f"**Your training:** {job.label}")
    if job.state == QUEUED:
        st.info(f"Waiting: place {job.position} of {job.queued} in the queue. The server trains "
                f"{train_queue().workers} model(s) at a time; yours starts when a place frees up.")
        st.button("Cancel", key="train_cancel", on_click=_cancel, args=(job.id,))
        return
    if job.active:
        loss = f", loss {job.losses[-1]:.3f}" if job.losses else ""
        text = f"step {job.step} of {job.total}{loss}" if job.step else "starting the training process ..."
        st.progress(min(1.0, job.step / max(1, job.total)), text=text)
        st.button("Cancel", key="train_cancel", on_click=_cancel, args=(job.id,))
    elif job.state == DONE:
        r = job.result
        if r.note:
            st.warning(r.note)
        st.success(f"Done: {r.steps} steps in {r.seconds:.1f} s.")
        st.write(f"Fresh model on {TASKS[r.task].example!r}: **{r.output_text or '(nothing)'}** "
                 f"(correct: {r.expected_text}). Held-out exact match on 200 inputs: **{r.accuracy:.0%}**.")
    elif job.state == CANCELLED:
        st.info(job.message)
    elif job.state == FAILED:
        st.error(job.message)
    if job.losses:
        plotly_chart(st, loss_curve(job.losses), key="train_loss")
    if job.snapshots:
        plotly_chart(st, _snapshots_figure(job.id, len(job.snapshots), job.meta, job.snapshots),
                        key="train_snapshots")


@st.cache_resource(show_spinner=False, max_entries=32)
def _snapshots_figure(job_id: int, n: int, task_name: str, _snapshots):
    """The grid changes only when a snapshot arrives (six times), not on every poll: build it
    once per (job, number of snapshots). make_subplots costs tens of ms of the server's GIL."""
    q_tokens, k_tokens = snapshot_axes(task_name)
    return snapshots_grid(_snapshots, q_tokens, k_tokens, title="Cross-attention forming during training")


def moves_ui(trace, layer: int, head: int) -> None:
    """The head's weights beside what it moves (viz.figures.moves), under the scratch heatmaps."""
    from viz.attention import norm_shares, weighted_norms
    from viz.figures.moves import moves_figure

    with st.expander("What moves: the head's weights beside what it moves (‖w·v·W_O‖)", key="scratch_moves_open",
                     on_change="rerun") as box:
        if not box.open:  # closed: nothing to build or send (a fifth of a layer/head change's server CPU)
            return
        shares = norm_shares(weighted_norms(trace.weights, trace.values, trace.w_o))
        plotly_chart(st, moves_figure(trace, shares, layer, head), key="scratch_moves")
        st.caption("Right: of what each row receives through this head, the part each column sends: its weight "
                   "times the length of its value vector after W_O. Where the two panels differ, weight alone "
                   "misleads.")

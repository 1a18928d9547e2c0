"""The lesson's fine-tune, for its step "Fine-tuning: what changes": queued on the server's training
queue (a niced child process, as on the Fine-tuning page) when a teacher starts a class, or when
someone clicks the step's button; never by a student's page run. One run per server and device; the
saved folder (viz.finetune.job.lesson_request names it) then serves every session at once."""

from __future__ import annotations

import threading

import streamlit as st

from viz.finetune.job import finetune_job, lesson_request
from viz.jobs import CANCELLED, FAILED, JobRefused
from viz.lesson import LessonNotReady, lesson_finetune
from viz.ui.scratch_ui import session_owner, train_queue

KIND = "lesson-finetune"
POLL_SECONDS = 2.0
_jobs: dict[str, int] = {}  # device -> the queue's id of this server's lesson fine-tune
_lock = threading.Lock()


def _job(device: str):
    job_id = _jobs.get(device)
    return None if job_id is None else train_queue().get(job_id)


def start(device: str) -> str:
    """Queue the lesson's fine-tune unless it is saved or on its way; '' or why it was not queued."""
    with _lock:
        job = _job(device)
        if job is not None and job.active:
            return ""
        try:
            lesson_finetune()
            return ""  # saved on this server already
        except LessonNotReady:
            pass
        request = lesson_request()
        try:
            _jobs[device] = train_queue().submit(session_owner(), finetune_job(request, device), total=request.steps,
                                                 kind=KIND, label="the lesson's fine-tune", meta=request.folder_name())
        except (JobRefused, ValueError) as err:
            return str(err)
        return ""


def not_ready(where, message: str, device: str) -> None:
    """In the step's figure box: why there is no figure yet, and the run's progress or its button."""
    with where:
        st.info(message)
        job = _job(device)
        if job is not None and job.active:
            st.fragment(_progress, run_every=POLL_SECONDS)(device)
            return
        if job is not None and job.state in (CANCELLED, FAILED):
            st.warning(f"The last run stopped: {job.message}")
        if st.button("Fine-tune the lesson's model now", key="lesson_ft_go", type="primary"):
            problem = start(device)
            if problem:
                st.warning(problem)
            else:
                st.rerun()


def _progress(device: str) -> None:
    job = _job(device)
    if job is None or not job.active:
        st.rerun()  # done (or gone): the whole page runs again and draws the step
    text = (f"Fine-tuning the lesson's model: step {job.step} of {job.total}" if job.step else
            "Fine-tuning the lesson's model: loading it and measuring it before training ...")
    st.progress(min(1.0, job.step / max(1, job.total)), text=text)

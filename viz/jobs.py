"""A bounded queue of heavy jobs (live training), served by a few worker threads. No Streamlit.

    jobs = JobQueue(workers=1, max_queued=8)
    job_id = jobs.submit("session-a", lambda progress: ..., total=3000)   # JobRefused: a sentence
    jobs.get(job_id)            # a JobView: a copy, safe to read from any thread
    jobs.cancel(job_id, "session-a")

A job is `fn(progress) -> result`. It calls `progress.update(step, loss=..., snapshot=...)` as it
goes and `progress.check()` every step; `check` raises JobCancelled once its owner cancelled, so
a running job stops within one step. A queued job that is cancelled leaves the queue at once.

States: queued (with its place in the queue), running, done, cancelled, failed. A job that
raises ends as failed with a sentence; the worker thread goes on to the next job. Each owner (a
session) has at most `per_owner` jobs queued or running; a further submit is refused with a
sentence, and so is one that would make the queue longer than `max_queued`. Finished jobs are
kept `keep_seconds` for their owner to read, then forgotten.

Every read (`get`, `latest`, `queue_length`) copies what it returns under the queue's lock, so a
reader never sees a half-written list.

Configuration from the environment (read by `JobQueue.from_env`):
    ATTENTION_LENS_TRAIN_WORKERS   jobs that run at once on this server (default 1)
    ATTENTION_LENS_TRAIN_QUEUE     jobs that may wait, server-wide (default 8)
(and ATTENTION_LENS_TRAIN_NICE, the training process's niceness, in viz.scratch.live)
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("attention_lens.jobs")

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
ACTIVE = (QUEUED, RUNNING)
ENV_WORKERS = "ATTENTION_LENS_TRAIN_WORKERS"
ENV_QUEUE = "ATTENTION_LENS_TRAIN_QUEUE"


class JobRefused(Exception):
    """The job was not queued; the message is a sentence for the page."""


class JobFailed(Exception):
    """Raised by a job whose message is already a sentence for the page; shown as it is."""


class JobCancelled(Exception):
    """Raised inside a job by `Progress.check()` once its owner has cancelled it."""


@dataclass(frozen=True)
class JobView:
    """One job as it was at the moment of reading. Lists are tuples: nobody can change them."""

    id: int
    owner: str
    label: str
    meta: Any  # what the submitter attached (e.g. the request), returned as it was
    kind: str  # which page's job it is ("train", "finetune"): each page shows its own
    state: str
    position: int  # 1-based place among the queued jobs; 0 when not queued
    queued: int  # how many jobs are queued in all (for "place 2 of 3")
    step: int  # steps finished so far
    total: int
    losses: tuple[float, ...]
    snapshots: tuple[Any, ...]
    message: str  # a sentence: why it failed, or that it was cancelled
    result: Any
    seconds: float  # running time so far, or in all once finished

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass
class _Job:
    id: int
    owner: str
    label: str
    meta: Any
    fn: Callable[[Progress], Any] | None
    total: int
    kind: str = ""
    state: str = QUEUED
    step: int = 0
    losses: list[float] = field(default_factory=list)
    snapshots: list[Any] = field(default_factory=list)
    message: str = ""
    result: Any = None
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    owner_checked: float = float("-inf")  # when owner_alive was last asked
    gone_since: float | None = None  # since when the owner has been gone
    orphaned: bool = False  # gone long enough: the job is cancelled


class Progress:
    """What a running job sees of itself: report steps, losses and snapshots; check for cancel."""

    def __init__(self, job: _Job, lock: threading.Lock, orphaned: Callable[[], bool] = lambda: False):
        self._job, self._lock, self._orphaned = job, lock, orphaned

    @property
    def cancelled(self) -> bool:
        return self._job.cancel.is_set()

    def check(self) -> None:
        if not self._job.cancel.is_set() and self._orphaned():
            self._job.cancel.set()  # the page that started it is gone: stop paying for it
        if self._job.cancel.is_set():
            raise JobCancelled

    def restart(self) -> None:
        """Forget the steps reported so far (the job starts its work again)."""
        with self._lock:
            self._job.step = 0
            self._job.losses.clear()
            self._job.snapshots.clear()

    def update(self, step: int, loss: float | None = None, snapshot: Any = None) -> None:
        with self._lock:
            self._job.step = step
            if loss is not None:
                self._job.losses.append(float(loss))
            if snapshot is not None:
                self._job.snapshots.append(snapshot)


def env_int(name: str, default: int, low: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


class JobQueue:
    def __init__(
        self,
        workers: int = 1,
        max_queued: int = 8,
        per_owner: int = 1,
        keep_seconds: float = 1800.0,
        thread_setup: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        owner_alive: Callable[[str], bool] | None = None,
        orphan_seconds: float = 30.0,
    ):
        """`thread_setup` runs once in each worker thread before its first job (e.g. to limit
        torch's threads and lower the thread's priority; see viz.cpu). `owner_alive(owner)` says
        whether the session that submitted a job is still connected: a job whose owner has been
        gone `orphan_seconds` (a closed or reloaded page) is cancelled, queued or running."""
        if workers < 1 or max_queued < 1 or per_owner < 1:
            raise ValueError("workers, max_queued and per_owner must each be at least 1")
        self.workers, self.max_queued, self.per_owner = workers, max_queued, per_owner
        self.keep_seconds = keep_seconds
        self._thread_setup = thread_setup
        self._clock = clock
        self._owner_alive, self.orphan_seconds = owner_alive, orphan_seconds
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: deque[_Job] = deque()
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._threads = [threading.Thread(target=self._serve, name=f"job-worker-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    @classmethod
    def from_env(cls, **kwargs) -> JobQueue:
        return cls(workers=env_int(ENV_WORKERS, 1, 1), max_queued=env_int(ENV_QUEUE, 8, 1), **kwargs)

    # --- what sessions call -----------------------------------------------------------------

    def submit(self, owner: str, fn: Callable[[Progress], Any], total: int = 0, label: str = "",
               meta: Any = None, kind: str = "") -> int:
        """Queue `fn(progress)` for `owner`; its id. JobRefused (a sentence) if the owner already
        has `per_owner` active jobs or the queue is full."""
        with self._lock:
            if self._closed:
                raise JobRefused("The training queue is shut down; reload the page.")
            self._forget_old()
            mine = sum(1 for j in self._jobs.values() if j.owner == owner and j.state in ACTIVE)
            if mine >= self.per_owner:
                raise JobRefused("You already have a training queued or running: wait for it to "
                                 "finish, or cancel it, before starting another.")
            if len(self._waiting) >= self.max_queued:
                raise JobRefused(f"The training queue is full ({self.max_queued} waiting); "
                                 "try again in a minute.")
            job = _Job(next(self._ids), owner, label, meta, fn, total, kind)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._wake.notify()
            return job.id

    def cancel(self, job_id: int, owner: str) -> bool:
        """Cancel a job of `owner`: a queued one leaves the queue now, a running one stops at its
        next step. False if there is no such active job of that owner."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner or job.state not in ACTIVE:
                return False
            job.cancel.set()
            if job.state == QUEUED:
                self._waiting.remove(job)
                self._finish(job, CANCELLED, "Cancelled before it started.")
            return True

    def get(self, job_id: int) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else self._view(job)

    def latest(self, owner: str, kind: str | None = None) -> JobView | None:
        """The owner's most recent job still kept (active or finished), of `kind` if given, or None."""
        with self._lock:
            self._forget_old()
            mine = [j for j in self._jobs.values() if j.owner == owner and kind in (None, j.kind)]
            return self._view(max(mine, key=lambda j: j.id)) if mine else None

    def forget(self, job_id: int, owner: str) -> None:
        """Drop a finished job of `owner` (its result is no longer needed)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.owner == owner and job.state not in ACTIVE:
                del self._jobs[job_id]

    def queue_length(self) -> int:
        with self._lock:
            return len(self._waiting)

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state == RUNNING)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel everything and stop the workers (tests; the server's queue lives as long as it)."""
        with self._lock:
            self._closed = True
            for job in list(self._waiting):
                self._finish(job, CANCELLED, "The server stopped the queue.")
            self._waiting.clear()
            for job in self._jobs.values():
                job.cancel.set()
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)

    # --- inside the queue ---------------------------------------------------------------------

    def _view(self, job: _Job) -> JobView:  # called with the lock held
        position = self._waiting.index(job) + 1 if job.state == QUEUED else 0
        end = job.finished if job.finished is not None else self._clock()
        return JobView(
            id=job.id, owner=job.owner, label=job.label, meta=job.meta, kind=job.kind, state=job.state, position=position,
            queued=len(self._waiting), step=job.step, total=job.total, losses=tuple(job.losses),
            snapshots=tuple(job.snapshots), message=job.message, result=job.result,
            seconds=0.0 if job.started is None else end - job.started,
        )

    def _finish(self, job: _Job, state: str, message: str = "", result: Any = None) -> None:
        job.state, job.message, job.result = state, message, result
        job.finished = self._clock()

    def _orphaned(self, job: _Job) -> bool:
        """True once the job's owner has been gone orphan_seconds (asked at most once a second)."""
        if self._owner_alive is None:
            return False
        now = self._clock()
        if now - job.owner_checked < 1.0:
            return job.orphaned
        job.owner_checked = now
        if self._owner_alive(job.owner):
            job.gone_since = None
        else:
            job.gone_since = job.gone_since if job.gone_since is not None else now
            job.orphaned = now - job.gone_since >= self.orphan_seconds
        return job.orphaned

    def _forget_old(self) -> None:  # called with the lock held
        now = self._clock()
        for jid in [j.id for j in self._jobs.values()
                    if j.finished is not None and now - j.finished > self.keep_seconds]:
            del self._jobs[jid]

    def _serve(self) -> None:
        if self._thread_setup is not None:
            try:
                self._thread_setup()
            except Exception:  # a worker that cannot lower its priority still serves
                log.exception("job worker set-up failed; serving without it")
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.state, job.started = RUNNING, self._clock()
                progress = Progress(job, self._lock, lambda job=job: self._orphaned(job))
            try:
                result = job.fn(progress)
            except JobCancelled:
                with self._lock:
                    self._finish(job, CANCELLED, (f"Cancelled: the page that started it was closed "
                                                  f"(after {job.step} of {job.total} steps).")
                                 if job.orphaned else f"Cancelled after {job.step} of {job.total} steps.")
            except Exception as err:  # any failure ends this job only; the worker serves on
                log.exception("job %s of %s failed", job.id, job.owner)
                with self._lock:
                    self._finish(job, FAILED, failure_sentence(err))
            else:
                with self._lock:
                    if job.cancel.is_set():  # cancelled after its last step: still cancelled
                        self._finish(job, CANCELLED, "Cancelled as it finished.")
                    else:
                        self._finish(job, DONE, result=result)
            finally:
                job.fn = None  # drop the closure (and whatever it holds) once it has run


def failure_sentence(err: BaseException) -> str:
    if isinstance(err, JobFailed):
        return str(err)
    detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
    what = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    if isinstance(err, MemoryError) or "out of memory" in detail.lower():
        hint = "The server ran out of memory; try fewer steps or try again later."
    else:
        hint = "Try again, perhaps with fewer steps; the details are in the server's log."
    return f"The training stopped with an error ({what}). {hint}"

"""viz.jobs.JobQueue with fake jobs: order, places, caps, bound, cancel, failures, streaming."""

import threading
import time

import pytest

from viz.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobFailed, JobQueue, JobRefused


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Gate:
    """A fake job that reports steps when told to, so tests control exactly where it is."""

    def __init__(self, steps=3, fail=None):
        self.steps, self.fail = steps, fail
        self.go = threading.Semaphore(0)
        self.started = threading.Event()

    def __call__(self, progress):
        self.started.set()
        for i in range(self.steps):
            while not self.go.acquire(timeout=0.02):
                progress.check()  # so that shutdown() can stop a job nobody released
            progress.check()
            progress.update(i + 1, loss=1.0 / (i + 1), snapshot=(i + 1, f"snap{i + 1}"))
        if self.fail:
            raise self.fail
        return f"result after {self.steps}"

    def release(self, n=1):
        for _ in range(n):
            self.go.release()


@pytest.fixture
def queue():
    q = JobQueue(workers=1, max_queued=3)
    yield q
    q.shutdown()


def test_jobs_run_in_order_and_queued_ones_know_their_place(queue):
    a, b, c = Gate(1), Gate(1), Gate(1)
    ja = queue.submit("a", a, total=1)
    a.started.wait(5)
    jb, jc = queue.submit("b", b, total=1), queue.submit("c", c, total=1)
    assert queue.get(ja).state == RUNNING and queue.get(ja).position == 0
    vb, vc = queue.get(jb), queue.get(jc)
    assert (vb.state, vb.position, vb.queued) == (QUEUED, 1, 2)
    assert (vc.state, vc.position, vc.queued) == (QUEUED, 2, 2)
    a.release()
    wait_until(lambda: queue.get(jb).state == RUNNING)
    assert queue.get(ja).state == DONE and queue.get(ja).result == "result after 1"
    assert queue.get(jc).position == 1  # moved up
    assert not c.started.is_set()  # one at a time
    b.release()
    c.release()
    wait_until(lambda: queue.get(jc).state == DONE)


def test_one_active_job_per_session(queue):
    a = Gate(1)
    queue.submit("a", a, total=1)
    with pytest.raises(JobRefused, match="already have a training"):
        queue.submit("a", Gate(1), total=1)
    b = Gate(1)
    queue.submit("b", b, total=1)  # another session may
    a.release()
    b.release()
    wait_until(lambda: queue.latest("a").state == DONE)
    queue.submit("a", Gate(0), total=0)  # once finished, the session may start again
    wait_until(lambda: queue.latest("a").state == DONE)


def test_the_queue_is_bounded(queue):
    first = Gate(1)
    queue.submit("runner", first, total=1)
    first.started.wait(5)  # running, so no longer waiting
    for i in range(3):
        queue.submit(f"s{i}", Gate(1), total=1)
    with pytest.raises(JobRefused, match=r"queue is full \(3 waiting\)"):
        queue.submit("late", Gate(1), total=1)
    assert queue.queue_length() == 3


def test_cancel_a_queued_job_removes_it_from_the_queue(queue):
    a, b, c = Gate(1), Gate(1), Gate(1)
    queue.submit("a", a, total=1)
    a.started.wait(5)
    jb, jc = queue.submit("b", b, total=1), queue.submit("c", c, total=1)
    assert not queue.cancel(jb, "c")  # only its owner can
    assert queue.cancel(jb, "b")
    vb = queue.get(jb)
    assert vb.state == CANCELLED and "before it started" in vb.message
    assert queue.get(jc).position == 1 and queue.queue_length() == 1
    a.release()
    c.release()
    wait_until(lambda: queue.get(jc).state == DONE)
    assert not b.started.is_set()  # the cancelled job never ran


def test_cancel_a_running_job_stops_it_at_its_next_step(queue):
    a = Gate(100)
    ja = queue.submit("a", a, total=100)
    a.release(2)
    wait_until(lambda: queue.get(ja).step == 2)
    assert queue.cancel(ja, "a")
    a.release()  # the job's next step sees the flag
    wait_until(lambda: queue.get(ja).state == CANCELLED)
    v = queue.get(ja)
    assert v.step == 2 and v.message == "Cancelled after 2 of 100 steps."
    assert not queue.cancel(ja, "a")  # nothing left to cancel


def test_a_failing_job_becomes_a_sentence_and_the_worker_serves_on(queue):
    bad = Gate(1, fail=KeyError("boom"))
    jbad = queue.submit("a", bad, total=1)
    good = Gate(1)
    jgood = queue.submit("b", good, total=1)
    bad.release()
    wait_until(lambda: queue.get(jbad).state == FAILED)
    msg = queue.get(jbad).message
    assert msg.startswith("The training stopped with an error (KeyError: 'boom').")
    assert "Traceback" not in msg
    good.release()
    wait_until(lambda: queue.get(jgood).state == DONE)


def test_a_job_failed_sentence_is_shown_as_it_is(queue):
    j = queue.submit("a", Gate(0, fail=JobFailed("The process died; try fewer steps.")))
    wait_until(lambda: queue.get(j).state == FAILED)
    assert queue.get(j).message == "The process died; try fewer steps."


def test_progress_is_visible_while_the_job_runs_and_reads_are_copies(queue):
    a = Gate(5)
    ja = queue.submit("a", a, total=5)
    a.release(2)
    wait_until(lambda: queue.get(ja).step == 2)
    mid = queue.get(ja)
    assert mid.state == RUNNING and mid.losses == (1.0, 0.5)
    assert [s for s, _ in mid.snapshots] == [1, 2]
    a.release(3)
    wait_until(lambda: queue.get(ja).state == DONE)
    assert len(mid.losses) == 2  # the earlier view did not change under the reader
    assert len(queue.get(ja).losses) == 5


def test_readers_in_other_threads_never_see_a_torn_list():
    q = JobQueue(workers=1)

    def busy(progress):
        for i in range(20000):
            progress.update(i + 1, loss=float(i))
        return "ok"

    j = q.submit("a", busy, total=20000)
    bad = []
    while (v := q.get(j)).state != DONE:
        if len(v.losses) != v.step:  # step and losses are written together under the lock
            bad.append((v.step, len(v.losses)))
    q.shutdown()
    assert not bad


def test_finished_jobs_are_kept_a_bounded_time():
    now = [0.0]
    q = JobQueue(workers=1, keep_seconds=60, clock=lambda: now[0])
    j = q.submit("a", lambda p: "done")
    wait_until(lambda: q.get(j).state == DONE)
    now[0] = 59.0
    assert q.latest("a").result == "done"
    now[0] = 61.0
    assert q.latest("a") is None and q.get(j) is None
    q.shutdown()


def test_several_workers_run_jobs_at_once():
    q = JobQueue(workers=2)
    a, b = Gate(1), Gate(1)
    q.submit("a", a, total=1)
    q.submit("b", b, total=1)
    assert a.started.wait(5) and b.started.wait(5)
    assert q.running() == 2
    a.release()
    b.release()
    q.shutdown()


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_WORKERS", "2")
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_QUEUE", "5")
    q = JobQueue.from_env()
    assert (q.workers, q.max_queued) == (2, 5)
    q.shutdown()
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_WORKERS", "zero")
    with pytest.raises(ValueError, match="ATTENTION_LENS_TRAIN_WORKERS must be a whole number"):
        JobQueue.from_env()
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_WORKERS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        JobQueue.from_env()


def test_worker_set_up_runs_in_the_worker_thread():
    seen = []
    q = JobQueue(workers=1, thread_setup=lambda: seen.append(threading.current_thread().name))
    j = q.submit("a", lambda p: threading.current_thread().name)
    wait_until(lambda: q.get(j).state == DONE)
    assert seen == [q.get(j).result] and seen[0].startswith("job-worker")
    q.shutdown()


def test_a_job_whose_page_is_gone_is_cancelled_after_the_grace():
    """The owner's session disconnects (a closed or reloaded page): after orphan_seconds of being
    gone the running job stops at its next check; a blip shorter than that does not stop it."""
    now = [0.0]
    alive = {"a": True}
    q = JobQueue(workers=1, clock=lambda: now[0], owner_alive=lambda owner: alive[owner], orphan_seconds=30)
    try:
        a = Gate(100)
        ja = q.submit("a", a, total=100)
        a.release(2)
        wait_until(lambda: q.get(ja).step == 2)
        alive["a"] = False  # a blip: back within the grace
        now[0] += 2
        a.release()
        wait_until(lambda: q.get(ja).step == 3)
        alive["a"], now[0] = True, now[0] + 20
        a.release()
        wait_until(lambda: q.get(ja).step == 4)
        alive["a"] = False  # gone for good
        for _ in range(3):
            now[0] += 16  # each check is asked at most once a (fake) second
            time.sleep(0.1)  # the gate's loop calls check() every 20 ms
        wait_until(lambda: q.get(ja).state == CANCELLED)
        assert q.get(ja).message == "Cancelled: the page that started it was closed (after 4 of 100 steps)."
    finally:
        q.shutdown()

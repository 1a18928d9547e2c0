"""Live training through the queue, for real: a few steps of the reverse task."""

import sys
import time

import numpy as np
import pytest

from viz.cpu import limit_torch_threads
from viz.jobs import CANCELLED, DONE, FAILED, RUNNING, JobQueue
from viz.scratch.live import LiveResult, snapshot_axes, snapshot_steps, training_job


def wait_for(queue, job_id, cond, timeout=300.0):
    deadline = time.monotonic() + timeout
    while not cond(v := queue.get(job_id)):
        assert time.monotonic() < deadline, f"stuck at {v}"
        time.sleep(0.02)
    return v


@pytest.fixture
def queue():
    q = JobQueue(workers=1, thread_setup=lambda: limit_torch_threads(1))  # as cheap as the child
    yield q
    q.shutdown(timeout=30)


@pytest.mark.parametrize("isolate", [True, False], ids=["child process", "in the worker thread"])
def test_snapshots_and_losses_arrive_while_it_trains(queue, isolate):
    steps = 30  # nice=0: at the shipped nice 19 a busy test machine starves it
    j = queue.submit("a", training_job("reverse", steps, isolate=isolate, n_snapshots=3, nice=0),
                     total=steps)
    mid = wait_for(queue, j, lambda v: v.snapshots or not v.active)
    assert mid.state == RUNNING and 1 <= mid.step < steps  # seen mid-training
    assert len(mid.losses) == mid.step and mid.snapshots[0][0] == 1
    done = wait_for(queue, j, lambda v: not v.active)
    assert done.state == DONE, done.message
    r = done.result
    assert isinstance(r, LiveResult) and r.steps == steps and 0.0 <= r.accuracy <= 1.0
    assert [s for s, _ in done.snapshots] == [1, 15, 30]
    assert len(done.losses) == steps and done.losses[-1] < done.losses[0]  # it learns
    q_tokens, k_tokens = snapshot_axes("reverse")
    assert (r.query_tokens, r.key_tokens) == (q_tokens, k_tokens)
    for _, w in done.snapshots:
        assert w.shape == (len(q_tokens), len(k_tokens))
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)  # rows of attention weights


def test_cancel_stops_the_training_process(queue):
    j = queue.submit("a", training_job("reverse", 3000, nice=0), total=3000)
    wait_for(queue, j, lambda v: v.step >= 3)
    queue.cancel(j, "a")
    v = wait_for(queue, j, lambda v: not v.active, timeout=30)
    assert v.state == CANCELLED and v.step < 3000 and "of 3000 steps" in v.message
    # the worker is free again
    j2 = queue.submit("a", training_job("num2words", 5, n_snapshots=2, nice=0), total=5)
    assert wait_for(queue, j2, lambda v: not v.active).state == DONE


def test_a_training_process_that_dies_becomes_a_sentence(queue, monkeypatch):
    import viz.child as child

    monkeypatch.setattr(child, "_child_command", lambda fd: [sys.executable, "-c", "raise SystemExit(3)"])
    j = queue.submit("a", training_job("reverse", 10), total=10)
    v = wait_for(queue, j, lambda v: not v.active)
    assert v.state == FAILED and "ended without a result (exit code 3)" in v.message


def test_bad_requests_are_refused_before_queueing():
    with pytest.raises(ValueError, match="Steps must be a whole number from 1 to 3000"):
        training_job("reverse", 0)
    with pytest.raises(ValueError, match="no task"):
        training_job("<script>", 10)
    with pytest.raises(ValueError, match="Positional encoding must be one of"):
        training_job("reverse", 10, positional="rope")


def test_snapshot_steps_include_first_and_last():
    assert snapshot_steps(600) == {0, 119, 239, 359, 479, 599}
    assert snapshot_steps(3, 6) == {0, 1, 2}

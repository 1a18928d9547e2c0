"""Live training as a queue job: train a fresh model, streaming losses and snapshots.

    job = training_job("reverse", steps=600)
    job_id = queue.submit(owner, job, total=600)       # viz.jobs.JobQueue
    queue.get(job_id).snapshots                         # (step, (Tt, Ts) cross-attention) so far

By default the training runs in a child process (`isolate=True`, `python -m viz.scratch.live`), at low priority (nice 19) and
on one torch thread, and streams (step, loss, snapshot) back through a pipe; the queue's worker
thread only relays them. A thread would share the server's GIL: the training loop is mostly
Python (sampling and padding 128 strings a step, many tiny ops), and a niced thread that holds
the GIL stalls every session waiting for it (benchmarks/train_background.py measures the three
ways). Cancel stops the child at once. `isolate=False` trains in the calling thread (tests, a
notebook).

The job also evaluates the fresh model (its answer on the task's example, held-out exact match
on 200 inputs) before it returns, so a session's script only draws what the job computed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from viz.device import run_on_device
from viz.jobs import JobFailed, Progress, env_int, failure_sentence
from viz.scratch.run import prepare_input, run, run_on_target
from viz.scratch.tasks import EOS, TASKS
from viz.scratch.train import TrainConfig, evaluate, model_config_for, train

N_SNAPSHOTS = 6
POSITIONALS = ("sinusoidal", "learned", "none")
MAX_STEPS = 3000
ENV_NICE = "ATTENTION_LENS_TRAIN_NICE"  # the training process's niceness, 0..19 (default 19):
# at 19 it gets the CPU the sessions leave; lower numbers trade the class's speed for the training's
CHILD_THREADS = 1  # torch threads in the training process


@dataclass(frozen=True)
class LiveResult:
    task: str
    steps: int
    output_text: str
    expected_text: str
    accuracy: float  # held-out exact match on 200 inputs
    query_tokens: tuple[str, ...]  # the snapshots' axes
    key_tokens: tuple[str, ...]
    seconds: float
    note: str | None  # set when the GPU failed and the CPU trained instead


def snapshot_steps(steps: int, n: int = N_SNAPSHOTS) -> set[int]:
    """The 0-based steps after which a snapshot is taken: n of them, first and last included."""
    return set(np.linspace(0, steps - 1, min(n, steps)).astype(int).tolist())


def snapshot_axes(task_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(query tokens, key tokens) of the snapshots: the decoder positions writing the example's
    correct answer (then </s>), and the example's characters, as run_on_target labels them."""
    task = TASKS[task_name]
    prepared = prepare_input(task, task.example)
    written = tuple(task.tgt_vocab[i] for i in [*task.encode_tgt(task.solve(prepared.text)), EOS])
    return written, tuple(prepared.text)


def check_request(task_name: str, steps: int, positional: str) -> None:
    """Raise ValueError with a sentence if the request cannot be trained."""
    if task_name not in TASKS:
        raise ValueError(f"There is no task {task_name!r}; choose one of {', '.join(TASKS)}.")
    if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"Steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}.")
    if positional not in POSITIONALS:
        raise ValueError(f"Positional encoding must be one of {', '.join(POSITIONALS)}, got {positional!r}.")


def train_live(progress, task_name: str, steps: int, positional: str, device: str,
               n_snapshots: int = N_SNAPSHOTS) -> LiveResult:
    """Train and evaluate, reporting to `progress` (check(), restart(), update(step, loss, snapshot))."""
    task = TASKS[task_name]
    cfg = TrainConfig(steps=steps)
    snap_at = snapshot_steps(steps, n_snapshots)

    def on_step(step: int, loss: float, model) -> None:
        progress.check()  # raises JobCancelled: training stops here
        snapshot = None
        if step in snap_at:
            cross = run_on_target(model, task, task.example).cross
            snapshot = (step + 1, cross.weights[-1].mean(axis=0))  # last layer, mean over heads
        progress.update(step + 1, loss=loss, snapshot=snapshot)

    def train_on(dev: str):
        progress.restart()  # a GPU that failed mid-way: the CPU starts again from step 0
        return train(task, cfg, model_config_for(task, positional=positional), dev, on_step)

    result, note = run_on_device(train_on, device)
    progress.check()
    final = run(result.model, task, task.example)
    acc = evaluate(result.model, task, n=200)
    ref = run_on_target(result.model, task, task.example).cross
    return LiveResult(task_name, steps, final.output_text, final.expected_text, acc,
                      tuple(ref.query_tokens), tuple(ref.key_tokens), result.seconds, note)


class _PipeProgress:
    """The child's side of Progress: everything goes to the parent; cancel is the parent's kill."""

    def __init__(self, conn):
        self.conn = conn

    def check(self) -> None:
        pass

    def restart(self) -> None:
        self.conn.send(("restart",))

    def update(self, step: int, loss: float | None = None, snapshot=None) -> None:
        self.conn.send(("step", step, loss, snapshot))


def _child(conn, args: tuple, nice: int, threads: int) -> None:
    import torch

    try:
        if nice > 0:
            os.nice(nice)
        torch.set_num_threads(threads)  # process-wide, and this process is ours alone
        conn.send(("done", train_live(_PipeProgress(conn), *args)))
    except Exception as err:
        conn.send(("failed", failure_sentence(err)))
    finally:
        conn.close()


ROOT = Path(__file__).resolve().parents[2]  # the repository: the child imports viz from there


def _child_command(fd: int) -> list[str]:
    return [sys.executable, "-m", "viz.scratch.live", str(fd)]


def _relay(progress: Progress, args: tuple, nice: int, threads: int) -> LiveResult:
    """Run train_live in a child process; pass its reports to `progress` until it returns.

    A plain `python -m viz.scratch.live <fd>`, not multiprocessing's spawn: spawn re-runs the
    parent's __main__ in the child, and inside Streamlit that is the app script itself."""
    conn, child_end = mp.Pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(_child_command(child_end.fileno()), pass_fds=[child_end.fileno()],
                             cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    child_end.close()
    try:
        try:
            conn.send((args, nice, threads))
        except OSError:  # it died before reading: reported below, on the first recv
            pass
        while True:
            progress.check()  # JobCancelled: the finally below stops the child
            if not conn.poll(0.1):
                continue
            try:
                msg = conn.recv()
            except (EOFError, OSError):  # the child's end closed before it sent its result
                code = child.wait(5)
                raise JobFailed(f"The training process ended without a result (exit code "
                                f"{code}); perhaps the server ran out of memory. "
                                "Try again with fewer steps.") from None
            if msg[0] == "step":
                progress.update(msg[1], loss=msg[2], snapshot=msg[3])
            elif msg[0] == "restart":
                progress.restart()
            elif msg[0] == "done":
                return msg[1]
            else:
                raise JobFailed(msg[1])
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        conn.close()


def training_job(task_name: str, steps: int, positional: str = "sinusoidal", device: str = "cpu",
                 n_snapshots: int = N_SNAPSHOTS, isolate: bool = True, nice: int | None = None,
                 threads: int = CHILD_THREADS):
    """A function `job(progress) -> LiveResult` for viz.jobs.JobQueue. Checks its arguments now
    (ValueError with a sentence), so a bad request is refused before it waits in the queue."""
    check_request(task_name, steps, positional)
    if nice is None:
        nice = min(19, env_int(ENV_NICE, 19, 0))
    args = (task_name, steps, positional, device, n_snapshots)

    def job(progress: Progress) -> LiveResult:
        if isolate:
            return _relay(progress, args, nice, threads)
        return train_live(progress, *args)

    return job


if __name__ == "__main__":  # the training child: python -m viz.scratch.live <fd of its pipe end>
    from viz.scratch.live import _child as child  # the module by its name: results pickle as
    # viz.scratch.live.LiveResult, which the parent can load (not __main__.LiveResult)

    conn_ = Connection(int(sys.argv[1]))
    child(conn_, *conn_.recv())

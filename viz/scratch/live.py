"""Live training as a queue job: train a fresh model, streaming losses and snapshots.

    job = training_job("reverse", steps=600)
    job_id = queue.submit(owner, job, total=600)       # viz.jobs.JobQueue
    queue.get(job_id).snapshots                         # (step, (Tt, Ts) cross-attention) so far

By default the training runs in a child process (`isolate=True`, viz.child), at low priority
(nice 19) and on one torch thread, and streams (step, loss, snapshot) back through a pipe; the
queue's worker thread only relays them. A thread would share the server's GIL: the training loop
is mostly Python (sampling and padding 128 strings a step, many tiny ops), and a niced thread that
holds the GIL stalls every session waiting for it (benchmarks/train_background.py measures the
three ways). Cancel stops the child at once. `isolate=False` trains in the calling thread (tests, a
notebook).

The job also evaluates the fresh model (its answer on the task's example, held-out exact match
on 200 inputs) before it returns, so a session's script only draws what the job computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viz.child import run_in_child
from viz.device import run_on_device
from viz.jobs import Progress, env_int
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
            return run_in_child(progress, "viz.scratch.live:train_live", args, nice, threads)
        return train_live(progress, *args)

    return job


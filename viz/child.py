"""Run a queue job's work in a child process, niced, on few torch threads. No Streamlit.

    result = run_in_child(progress, "viz.scratch.live:train_live", args, nice=19, threads=1)

`target` names a function `fn(progress, *args) -> result` by module and name. The child is a plain
`python -m viz.child <fd>`, not multiprocessing's spawn: spawn re-runs the parent's __main__ in the
child, and inside Streamlit that is the app script itself. The child calls `fn` with a progress
object whose `update(step, loss, snapshot)` and `restart()` travel back through a pipe; the parent
passes them to the job's own `progress` (viz.jobs.Progress) and, between messages, calls its
`check()`: once the owner cancels, the parent kills the child at once.

Why a process and not a thread: a training loop is mostly Python (many tiny ops), and a niced
thread that holds the server's GIL stalls every session waiting for it
(benchmarks/train_background.py measures it). The arguments and the result cross the pipe
pickled, so they must be plain data or classes of importable modules.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from viz.jobs import JobFailed, Progress, failure_sentence

ROOT = Path(__file__).resolve().parents[1]  # the repository: the child imports viz from there


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


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _child(conn, target: str, args: tuple, nice: int, threads: int) -> None:
    import torch

    try:
        if nice > 0:
            os.nice(nice)
        torch.set_num_threads(threads)  # process-wide, and this process is ours alone
        conn.send(("done", _resolve(target)(_PipeProgress(conn), *args)))
    except Exception as err:
        conn.send(("failed", failure_sentence(err)))
    finally:
        conn.close()


def _child_command(fd: int) -> list[str]:
    return [sys.executable, "-m", "viz.child", str(fd)]


def run_in_child(progress: Progress, target: str, args: tuple, nice: int, threads: int) -> Any:
    """Run `target(progress, *args)` in a child process; pass its reports to `progress` until it
    returns its result. JobFailed (a sentence) if it fails or dies; JobCancelled from
    `progress.check()` once the job is cancelled (the child is killed on the way out)."""
    conn, child_end = mp.Pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(_child_command(child_end.fileno()), pass_fds=[child_end.fileno()],
                             cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    child_end.close()
    try:
        try:
            conn.send((target, args, nice, threads))
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


if __name__ == "__main__":  # the child: python -m viz.child <fd of its pipe end>
    from viz.child import _child as child  # by the module's name: what `target` returns pickles as
    # its own module's classes, which the parent can load (not as __main__'s)

    conn_ = Connection(int(sys.argv[1]))
    child(conn_, *conn_.recv())

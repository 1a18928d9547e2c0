"""Simultaneous submitters without browsers: Locust users speaking Streamlit's protocol.

    python -m tests.load.run --page text --users 30             # one server, started here
    python -m tests.load.run --page text --users 1,5,10,30,60   # one row per count, same server
    python -m tests.load.run --page text --users 30 --replicas 2   # HAProxy + 2 replicas (deploy/)
    python -m tests.load.run --page text --users 30 --trainer   # while one session trains live
    python -m tests.load.run --page text --users 30 --finetuner # while one session fine-tunes BERT
    python -m tests.load.run --page text --users 30 --decoder-trainer --train-steps 1500  # trains a decoder
    python -m tests.load.run --page text --users 5 --url http://127.0.0.1:8500 --pids 123,456

Each user is one Streamlit session (tests/load/locustfile.py). All users open the page, then,
`--rounds` times, all submit a new input at the same moment and wait for their own answer, then
all change layer and head. Locust's statistics give the percentiles (to two significant digits).
Before the users come, one session opens the page and submits once on every replica (the
teacher opening the page before class), so the model load is not in the numbers.

Prints one markdown row per interaction: users, inputs, failures, p50, p95, wall, the server's
CPU seconds during the run (utime + stime from /proc of every server process: replicas and
HAProxy), CPU seconds per input, and the peak resident memory (VmHWM, summed over replicas).
Bounded: every user stops after its rounds, every answer times out after --timeout seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time

import gevent

# Locust patches the standard library for gevent at import: before anything opens a socket
# (websockets, urllib in tests.load).
import locust  # noqa: F401, I001
from locust.env import Environment

from tests.load import locustfile as lf
from tests.load.procstat import cpu_seconds, peak_rss_mb
from tests.load.servers import local_servers
from tests.load.st_client import StreamlitSession

HEADER = ("| page | users | replicas | interaction | inputs | failures | p50 s | p95 s | wall s "
          "| server CPU s | CPU s per input | server peak MB | load avg |")
RULE = "|" + "---|" * (HEADER.count("|") - 1)
def warm_up(url: str, page: str, replicas: int, timeout: float) -> None:
    """Open the page and submit once on every replica, as a teacher would before class.
    Through HAProxy, each new session without its cookie goes to the next replica."""
    work = lf.WORK[page]
    seen: set[str] = set()
    for attempt in range(max(1, 3 * replicas)):
        with StreamlitSession(url, work.path, timeout=timeout) as s:
            s.open()
            s.submit(work.box, work.make_input(attempt, 0, random.Random(attempt)))
            seen.add(s.cookie)
        if len(seen) >= replicas:
            return
    raise RuntimeError(f"warm-up reached {len(seen)} of {replicas} replicas")


# The one more session that trains meanwhile: (its user class, its request's name, the others' label)
TRAINERS = {"train": (lf.TrainerUser, "train", " (while one trains)"),
            "finetune": (lf.FinetunerUser, "finetune", " (while one fine-tunes)"),
            "decoder": (lf.DecoderTrainerUser, "train decoder", " (while one trains a decoder)")}


def measure(url: str, pids: list[int], page: str, users: int, rounds: int, replicas: int,
            trainer: bool, train_steps: int, timeout: float, finetuner: bool = False,
            trains: str = "") -> list[dict]:
    """trains: which one more session trains meanwhile (TRAINERS; finetuner=True means "finetune")."""
    trains = trains or ("finetune" if finetuner else "train")
    trainer_cls, job, during = TRAINERS[trains]
    together = lf.Rendezvous(users, with_trainer=trainer, timeout=timeout)
    user_cls = type(f"{page.capitalize()}Load", (lf.StreamlitUser,), {
        "page": page, "rounds": rounds, "abstract": False, "weight": 1, "together": together})
    classes = [user_cls]
    if trainer:
        classes.append(type("Trainer", (trainer_cls,), {
            "abstract": False, "fixed_count": 1, "train_steps": train_steps,
            "together": user_cls.together}))
    env = Environment(user_classes=classes, host=url)
    runner = env.create_local_runner()
    cpu0 = [None]
    # CPU and wall time count from the moment every session has opened the page (the first
    # rendezvous) to the last answer: the inputs, not the page loads.
    together.on_start = lambda: cpu0.__setitem__(0, cpu_seconds(pids) if pids else None)
    runner.start(users + int(trainer), spawn_rate=users + int(trainer))
    deadline = time.monotonic() + timeout * (4 * rounds + 4)
    gevent.sleep(1)
    while runner.user_count > 0 and time.monotonic() < deadline:
        gevent.sleep(0.2)
    end = time.perf_counter()
    wall = end - together.started if together.started else float("nan")
    cpu = cpu_seconds(pids) - cpu0[0] if pids and cpu0[0] is not None else None
    peak = peak_rss_mb(pids) if pids else None
    runner.quit()
    load = os.getloadavg()[0]
    rows = []
    names = ["submit", "layer/head"] + ([job] if trainer else [])
    total_inputs = sum(env.stats.get(n, lf.REQUEST_TYPE).num_requests for n in names)
    for name in names:
        e = env.stats.get(name, lf.REQUEST_TYPE)
        ok = e.num_requests - e.num_failures
        rows.append(dict(
            page=page, users=users, replicas=replicas,
            interaction=name + (during if trainer and name != job else ""),
            inputs=e.num_requests, failures=e.num_failures,
            p50=e.get_response_time_percentile(0.5) / 1000 if ok else float("nan"),
            p95=e.get_response_time_percentile(0.95) / 1000 if ok else float("nan"),
            wall=wall, cpu=cpu, cpu_per=(cpu / total_inputs if cpu is not None and total_inputs and not trainer else None),
            peak=peak, load=load))
    opened = env.stats.get("open", lf.REQUEST_TYPE)
    errors = [f"{e.name}: {e.error} (x{e.occurrences})" for e in env.stats.errors.values()]
    if opened.num_failures:
        errors.insert(0, f"{opened.num_failures} of {opened.num_requests} sessions failed to open")
    if replicas > 1:
        spread = {}
        for c in together.cookies.values():
            spread[c or "none"] = spread.get(c or "none", 0) + 1
        print(f"    sessions per replica: {dict(sorted(spread.items()))}", file=sys.stderr)
    for r in rows:
        r["errors"] = errors
    return rows


def fmt(r: dict) -> str:
    def n(v, f):
        return "n/a" if v is None else format(v, f)
    return (f"| {r['page']} | {r['users']} | {r['replicas']} | {r['interaction']} | {r['inputs']} | "
            f"{r['failures']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['wall']:.1f} | {n(r['cpu'], '.1f')} | "
            f"{n(r['cpu_per'], '.2f')} | {n(r['peak'], '.0f')} | {r['load']:.1f} |")


@contextlib.contextmanager
def servers(args):
    """Yield (front URL, server pids, replicas): the given URL, a cluster, or one server."""
    if args.url:
        yield args.url, [int(p) for p in args.pids.split(",") if p], args.replicas or 1
    else:
        with local_servers(args.replicas) as (url, pids):
            yield url, pids, args.replicas or 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--page", default="text", choices=sorted(lf.WORK))
    ap.add_argument("--users", default="5", help="simultaneous submitters; a comma list for several rows")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--replicas", type=int, default=0, help="start HAProxy and this many replicas")
    ap.add_argument("--url", help="measure a running server instead (CPU and memory need --pids)")
    ap.add_argument("--pids", default="", help="with --url: the server processes, comma-separated")
    ap.add_argument("--trainer", action="store_true", help="one more session trains live meanwhile")
    ap.add_argument("--finetuner", action="store_true", help="one more session fine-tunes meanwhile")
    ap.add_argument("--decoder-trainer", action="store_true",
                    help="one more session trains a decoder (induction heads) meanwhile")
    ap.add_argument("--train-steps", type=int, default=600, help="the Steps slider (page default 600)")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds one answer may take")
    ap.add_argument("--no-header", action="store_true")
    args = ap.parse_args(argv)
    counts = [int(u) for u in args.users.split(",")]
    failed = 0
    if not args.no_header:
        print(HEADER)
        print(RULE, flush=True)
    with servers(args) as (url, pids, replicas):
        warm_up(url, args.page, replicas, args.timeout)
        for users in counts:
            trains = "decoder" if args.decoder_trainer else "finetune" if args.finetuner else "train"
            rows = measure(url, pids, args.page, users, args.rounds, replicas,
                           args.trainer or args.finetuner or args.decoder_trainer, args.train_steps, args.timeout,
                           trains=trains)
            for r in rows:
                print(fmt(r), flush=True)
            for e in rows[0]["errors"][:10]:
                print("   ", e, file=sys.stderr)
            failed += sum(r["failures"] for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A class of students following the teacher's lesson, without browsers (not part of make test).

    python -m tests.load.class_follow --students 30 --steps 10             # one server, started here
    python -m tests.load.class_follow --students 30 --steps 10 --replicas 2   # HAProxy + replicas
    make load-class STUDENTS=30 STEPS=10 [REPLICAS=2]

Every session speaks Streamlit's own websocket protocol (tests/load/st_client.py), as a browser
would: the teacher opens the Lesson page and presses "Start a class"; each student opens it,
types the code and joins, then does what the student's browser does: fetch the class's version
file every BEACON_MS, or wait on server.py's route for the next version (the page's JavaScript,
class_ui.WATCH_JS), and send the page's trigger when the number changes, and rerun the safety-net fragment every 4 to 6 s. The teacher then presses ▶ `--steps`
times, `--gap` seconds apart; on each question step every student sends an answer, at once
(the worst case: thirty answers land with the next follows) or `--think` seconds later.

Follow latency: from the moment the teacher's ▶ is sent to the moment a student's session has
received the new step's header (the end of the student's rerun; the browser then draws it).
Prints one markdown row: students, steps, follows seen, missed, p50 / p95 / max latency, the
server's CPU seconds during the steps and per student-step, and the answers the class store
counted against those sent (a check that every answer landed once); "(n closed)": answers the
server refused because the teacher moved on while they were on their way, as a student is told.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time

from tests.load.procstat import cpu_seconds, machine_ticks, peak_rss_mb, steal_share
from tests.load.servers import local_servers
from tests.load.st_client import StreamlitSession
from viz.classroom import ClassStore
from viz.lesson import STEPS

HEADER = ("| students | replicas | steps | follows | missed | p50 s | p95 s | max s | answers sent / counted "
          "| server CPU s | CPU ms per student-step | server peak MB | load avg | host's steal |")
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def _step_seen(texts: list[str]) -> int | None:
    """The 0-based step whose header a run sent ("4. Context-aware vectors"), if any."""
    for t in texts:
        for i, s in enumerate(STEPS):
            if t.strip() == f"{i + 1}. {s.title}":
                return i
    return None


class Student(threading.Thread):
    def __init__(self, url: str, code: str, timeout: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.s = StreamlitSession(url, "lesson", timeout=timeout)
        self.code, self.stop = code, stop
        self.seen: dict[int, float] = {}  # step -> when its header first arrived
        self.errors: list[str] = []
        self.sent = 0
        self.closed = 0  # answers the server refused because the teacher had moved on meanwhile
        self.fetches = 0  # version requests (the waiting route's or the file's)
        self.joined = threading.Event()
        self.answer_on: set[int] = set()
        self.think = 0.0  # seconds a student takes to answer (0.5x to 1.5x of it), 0: at once
        self.answer_at: tuple[int, float] | None = None

    def _note(self, r) -> None:
        step = _step_seen(r.texts)
        if step is not None and step not in self.seen:
            self.seen[step] = time.perf_counter()
            if step in self.answer_on:  # answer after `think` seconds (0: at once)
                self.answer_at = (step, self.seen[step] + random.uniform(0.5, 1.5) * self.think if self.think else 0.0)
                self._answer_if_due()

    def _answer_if_due(self) -> None:
        if self.answer_at is None or time.perf_counter() < self.answer_at[1]:
            return
        step, _ = self.answer_at
        self.answer_at = None
        if "Send my answer" in self.s.widgets and max(self.seen, default=-1) == step:  # still that step
            self.s.set_string("Your answer", "7")
            self.s.press("Send my answer")
            r = self.s.finish()
            self._note(r)
            self.sent += 1
            self.closed += r.contains("this question is closed")

    def run(self) -> None:
        try:
            self.s.open()
            self.s.set_string("Class code", self.code)
            self.s.press("Join the class")
            r = self.s.finish()
            if not r.contains(f"In class **{self.code}**"):
                raise RuntimeError("join failed: " + " | ".join(r.texts)[:300])
            self._note(r)
            self.joined.set()
            frag, interval = next(iter(self.s._auto_rerun.items()))
            safety_due = time.perf_counter() + interval
            waiting = True  # the server has the waiting route (server.py); else poll the file
            while not self.stop.is_set():
                # What the page's JavaScript does (class_ui.WATCH_JS): wait on the server's route
                # for a version other than ours (or fetch the version file every every_ms), and
                # send the component's trigger when the number changed. The browser's script does
                # this beside the page; this thread has to come back for the answer and the
                # safety net, so it asks the route to answer by then at the latest (?wait=).
                comp, data = next((k, d) for k, d in self.s.components.items() if isinstance(d, dict) and "url" in d)
                due = min([safety_due] + ([self.answer_at[1]] if self.answer_at else []))
                if waiting and "wait_url" in data:
                    wait = min(max(due - time.perf_counter(), 0.05), 25.0)
                    raw = self.s.get(f"{data['wait_url']}?since={data['version']}&wait={wait:.2f}")
                    waiting = raw is not None
                else:
                    time.sleep(data["every_ms"] / 1000)
                    raw = self.s.get(data["url"])
                self.fetches += 1
                v = json.loads(raw)["v"] if raw else None
                if v is not None and v != data["version"]:
                    self.s.trigger(comp, "moved", v)
                    self._note(self.s.finish())
                self._answer_if_due()
                if time.perf_counter() >= safety_due:  # and the safety-net fragment's timer (4 to 6 s)
                    frag, interval = next(iter(self.s._auto_rerun.items()))
                    self._note(self.s.run(fragment_id=frag, auto=True))
                    safety_due = time.perf_counter() + interval
        except Exception as err:  # counted, shown, and the run goes on
            self.errors.append(f"{type(err).__name__}: {err}"[:300])
            self.joined.set()
        finally:
            self.s.close()


def wait_until_ready(teacher: StreamlitSession, t0: float, timeout: float) -> float:
    """As a teacher would: wait until the banner no longer says the server is getting the lesson's
    steps ready (lesson_ui.warm_up, started by "Start a class"); seconds since the start."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        frag = next(iter(teacher._auto_rerun))  # the banner's fragment, as the browser's timer runs it
        if not teacher.run(fragment_id=frag, auto=True).contains("Getting the lesson ready"):
            return time.perf_counter() - t0
        time.sleep(1)
    raise TimeoutError("the lesson was still being got ready")


def measure(url: str, pids: list[int], students: int, steps: int, gap: float, replicas: int,
            timeout: float, think: float = 0.0) -> dict:
    teacher = StreamlitSession(url, "lesson", timeout=timeout)
    teacher.open()  # the teacher opens the lesson before class: the first step's model is loaded
    teacher.press("Start a class")
    started = time.perf_counter()
    r = teacher.finish()
    found = re.search(r"Class code <b[^>]*>([A-Z2-9]{6})</b>", " ".join(r.texts))
    if not found:
        raise RuntimeError("the teacher's page shows no class code")
    code = found.group(1)
    stop = threading.Event()
    crowd = [Student(url, code, timeout, stop) for _ in range(students)]
    question_steps = {i for i in range(1, steps + 1) if i < len(STEPS) and STEPS[i].kind == "number"}
    for s in crowd:
        s.answer_on, s.think = question_steps, think
        s.start()
        time.sleep(0.05)  # a class arrives over a few seconds, not in one packet
    for s in crowd:
        s.joined.wait(timeout)
    ready = wait_until_ready(teacher, started, timeout)
    print(f"    the teacher's banner said the lesson was ready {ready:.1f} s after the class started",
          file=sys.stderr)
    time.sleep(2)
    cpu0, moved, teacher_runs = cpu_seconds(pids) if pids else None, {}, []
    ticks0 = machine_ticks()
    own0 = sum(os.times()[:2])  # this process: the 31 clients' threads
    for step in range(1, steps + 1):
        teacher.press("Next step")
        moved[step] = time.perf_counter()
        teacher_runs.append(teacher.finish().seconds)
        time.sleep(gap)
    cpu = cpu_seconds(pids) - cpu0 if pids else None
    steal = steal_share(ticks0, machine_ticks())
    own = sum(os.times()[:2]) - own0
    stop.set()
    for s in crowd:
        s.join(timeout)
    latencies, missed, worst = [], 0, {}
    for s in crowd:
        for step, t0 in moved.items():
            if step in s.seen and s.seen[step] >= t0:
                latencies.append(s.seen[step] - t0)
                worst[step] = max(worst.get(step, 0.0), latencies[-1])
            else:
                missed += 1
    print("    slowest follow per step (s): " + ", ".join(f"{STEPS[k].slug} {v:.2f}" for k, v in sorted(worst.items())),
          file=sys.stderr)
    print("    the teacher's own run per step (s): " + ", ".join(f"{t:.2f}" for t in teacher_runs), file=sys.stderr)
    print(f"    the load generator itself used {own:.1f} CPU s of the same machine meanwhile", file=sys.stderr)
    routed = any("wait_url" in str(student.s.components) for student in crowd)
    print(f"    version requests: {sum(student.fetches for student in crowd)} "
          f"({'the waiting route' if routed else 'the file'})", file=sys.stderr)
    store = ClassStore(os.environ["ATTENTION_LENS_CLASS_DB"])  # the file the server(s) write
    counted = sum(len(store.answers(code, step)) for step in moved)
    teacher.close()
    errors = [e for s in crowd for e in s.errors]
    lat = sorted(latencies) or [float("nan")]
    return dict(students=students, replicas=replicas, steps=steps, follows=len(latencies), missed=missed,
                p50=statistics.median(lat), p95=lat[min(len(lat) - 1, int(0.95 * len(lat)))], max=lat[-1],
                sent=sum(s.sent for s in crowd), counted=counted, closed=sum(s.closed for s in crowd), cpu=cpu,
                cpu_per=None if cpu is None else 1000 * cpu / (students * steps),
                peak=peak_rss_mb(pids) if pids else None, load=os.getloadavg()[0], steal=steal, errors=errors)


def fmt(r: dict) -> str:
    def n(v, f):
        return "n/a" if v is None else format(v, f)
    return (f"| {r['students']} | {r['replicas']} | {r['steps']} | {r['follows']} | {r['missed']} | {r['p50']:.2f} | "
            f"{r['p95']:.2f} | {r['max']:.2f} | {r['sent']} / {r['counted']}"
            f"{f' ({c} closed)' if (c := r.get('closed')) else ''} | {n(r['cpu'], '.1f')} | "
            f"{n(r['cpu_per'], '.0f')} | {n(r['peak'], '.0f')} | {r['load']:.1f} | {100 * r['steal']:.0f}% |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--gap", type=float, default=4.0, help="seconds between the teacher's steps")
    ap.add_argument("--replicas", type=int, default=0, help="0: one server; N: HAProxy and N replicas")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds a student takes to answer (each 0.5 to 1.5 times it); 0: at once, the worst case")
    args = ap.parse_args(argv)
    if args.steps >= len(STEPS):
        ap.error(f"--steps: at most {len(STEPS) - 1} (the lesson has {len(STEPS)} steps)")
    # The class store in a file, as replicas need it: here it also lets this script count the answers.
    os.environ["ATTENTION_LENS_CLASS_DB"] = os.path.join(tempfile.mkdtemp(prefix="class-load-"), "class.db")
    with local_servers(args.replicas) as (url, pids):
        r = measure(url, pids, args.students, args.steps, args.gap, args.replicas or 1, args.timeout, args.think)
    print(HEADER)
    print(RULE)
    print(fmt(r), flush=True)
    for e in r["errors"][:10]:
        print("   ", e, file=sys.stderr)
    return 1 if r["errors"] or r["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Locust users that are Streamlit sessions, speaking its websocket protocol (st_client.py).

Locust runs the users, the ramp and the statistics; this file only says what one student does.
The bounded, printed measurement is `python -m tests.load.run` (it drives these classes through
Locust's library API). Locust's own command line works too, e.g. against `make serve`:

    .venv/bin/locust -f tests/load/locustfile.py --headless -u 30 -r 30 --run-time 60s \\
        --host http://127.0.0.1:8500 TextUser

A student: open the page (one session), then per round type a new input and wait for its own
answer, then move the Layer and Head selectboxes and wait for that chart. Every answer is checked
to be this session's own, as tests/load/classroom.py checks it in chromium: on the text page the
lowercase animal of this session's sentence (the box holds it capitalised, so only the model's
tokens can bring the lowercase word), on the scratch page the reversal of this session's random
word. A missing answer is a failure, so a result that leaked to another session shows up here.
The scratch page also fails an answer that carries another session's word.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass

from locust import User, constant, task
from locust.exception import StopUser

from tests.load.classroom import _animal, _sentence, _word
from tests.load.st_client import ProtocolError, StreamlitSession

REQUEST_TYPE = "st"  # the "method" column of Locust's table


@dataclass(frozen=True)
class Work:
    path: str  # the page's URL path
    box: str  # label of its text box
    make_input: callable  # session index, round, rng -> text
    expected: callable  # text -> what its answer must carry
    view: callable  # layer, head -> what that layer/head's chart carries


WORK = {
    "text": Work("text", "Your text", _sentence, _animal,
                 lambda layer, head: f"layer{layer}_head{head}"),  # the chart's export file name
    "scratch": Work("scratch", "Your input", lambda i, r, rng: _word(rng), lambda t: t[::-1],
                    lambda layer, head: f"layer {layer}, head {head}"),  # the heatmap's title
}


class Leak(AssertionError):
    """An answer without this session's own result, or with another session's."""


class Rendezvous:
    """What the users of one bounded run share: a barrier per step, so all submit at the same
    moment (a teacher saying "now press Enter"), and the words sent so far (leak check)."""

    def __init__(self, parties: int, with_trainer: bool = False, timeout: float = 300.0):
        self.with_trainer = with_trainer
        self.started: float | None = None  # when every session had opened (first crossing)
        self.on_start = lambda: None  # called once then: the driver reads the server's CPU
        self.barrier = threading.Barrier(parties, action=self._first_crossing)
        self.timeout = timeout
        self.training = threading.Event()  # set once a trainer's run is under way
        self.words: dict[str, int] = {}  # expected answer -> session index
        self.cookies: dict[int, str] = {}  # session index -> the balancer's cookie (its replica)

    def _first_crossing(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()
            self.on_start()

    def wait(self) -> None:
        try:
            self.barrier.wait(self.timeout)
        except threading.BrokenBarrierError:
            pass  # a session hung: the others go on unsynchronised rather than deadlock


_index = itertools.count()


class StreamlitUser(User):
    """One student on one page. The driver sets `rounds` and `together`; Locust's command line
    leaves them None: the student then loops until the run ends, with a pause to read."""

    abstract = True
    page = "text"
    rounds: int | None = None
    together: Rendezvous | None = None
    wait_time = constant(1)

    def on_start(self):
        self.index = next(_index)
        self.rng = random.Random(self.index * 1000 + 7)
        self.work = WORK[self.page]
        self.round = 0
        self.session = StreamlitSession(self.host, self.work.path)
        self.measure("open", self.session.open)
        if self.together is not None:
            self.together.cookies[self.index] = self.session.cookie

    def on_stop(self):
        self.session.close()

    def measure(self, name: str, fn, want: str | None = None, chart: bool = True):
        """Time one interaction and report it through Locust's request event."""
        start = time.perf_counter()
        exc, size, result = None, 0, None
        try:
            result = fn()
            size = sum(len(d) for d in result.deltas)
            if want is not None and not result.contains(want):
                raise Leak(f"session {self.index}: its answer {want!r} is not in its page")
            if chart and result.charts == 0:
                raise ProtocolError(f"session {self.index}: no chart in the answer")
            others = self.together.words if self.together else {}
            if self.page == "scratch":
                stray = [w for w, i in list(others.items()) if i != self.index and result.contains(w)]
                if stray:
                    raise Leak(f"session {self.index}: another session's answer {stray[0]!r} is in its page")
        except Exception as err:
            exc = err
            if isinstance(err, (OSError, TimeoutError)) or "closed" in str(err).lower():
                self.session.close()  # reconnect on the next interaction, as the frontend does
        elapsed = (result.seconds if result is not None and exc is None
                   else time.perf_counter() - start)
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=name, response_time=elapsed * 1000,
            response_length=size, exception=exc, context={"session": self.index},
        )
        return result

    @task
    def one_round(self):
        if self.rounds is not None and self.round >= self.rounds:
            raise StopUser()
        if self.together is not None and self.round == 0 and self.together.with_trainer:
            self.together.training.wait(self.together.timeout)  # measure while it trains
        text = self.work.make_input(self.index, self.round, self.rng)
        want = self.work.expected(text)
        if self.together is not None:
            self.together.words[want] = self.index
        self._together()
        self.measure("submit", lambda: self.session.submit(self.work.box, text), want)
        self._together()
        layer_w, head_w = self.session.widgets.get("Layer"), self.session.widgets.get("Head")
        if layer_w is not None and head_w is not None:
            layers, heads = list(layer_w.proto.options), list(head_w.proto.options)
            layer = layers[(self.round + 1) % len(layers)]
            head = heads[(self.index + self.round + 1) % len(heads)]

            def view():
                self.session.set_string("Layer", layer)
                self.session.set_string("Head", head)
                r = self.session.run()
                if not r.contains(self.work.view(layer, head)):
                    raise ProtocolError(f"session {self.index}: no chart for layer {layer}, head {head}")
                return r

            self.measure("layer/head", view, want)
        else:  # the submit failed before the page drew its view: count it, keep the rendezvous
            def missing():
                raise ProtocolError(f"session {self.index}: no Layer/Head selectbox on the page")

            self.measure("layer/head", missing)
        self.round += 1

    def _together(self):
        if self.together is not None:
            self.together.wait()


class TextUser(StreamlitUser):
    page = "text"


class ScratchUser(StreamlitUser):
    page = "scratch"


TRAIN_DONE = "Held-out exact match"  # the sentence live training writes when it has finished


class TrainerUser(User):
    """The teacher (or one student) who clicks "Train a fresh model" on the scratch page's
    "Train live" tab while the others type. Reports one "train" request: click to the end.
    `train_steps` sets the tab's Steps slider. The others start once the click is sent.
    FinetunerUser does the same on the fine-tuning page."""

    abstract = True  # the driver makes a concrete copy with fixed_count = 1
    train_steps = 600  # the slider's default: what a student who just clicks gets
    together: Rendezvous | None = None
    wait_time = constant(1)
    page, button, done, name, timeout = "scratch", "Train a fresh model", TRAIN_DONE, "train", 1200

    def on_start(self):
        self.session = StreamlitSession(self.host, self.page, timeout=self.timeout)
        self.session.open()

    def set_steps(self) -> None:
        self.session.set_number("Steps", self.train_steps)

    @task
    def train(self):
        start = time.perf_counter()
        exc = None
        try:
            self.set_steps()
            self.session.press(self.button)
            if self.together is not None:
                self.together.training.set()
            r = self.session.finish()
            if not r.contains(self.done):
                r = self.session.follow(self.done, timeout=self.timeout)
                if r is None:
                    raise ProtocolError(f"{self.name} ended without its result")
        except Exception as err:
            exc = err
        finally:
            if self.together is not None:
                self.together.training.set()
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=self.name, response_time=(time.perf_counter() - start) * 1000,
            response_length=0, exception=exc, context={},
        )
        self.session.close()
        raise StopUser()


class DecoderTrainerUser(TrainerUser):
    """One student who trains a fresh decoder on the Decoder page's "Train live" tab (opened by its
    link, ?tab=train) while the others type: the induction-head run, `train_steps` steps of 64.
    Reports one "train decoder" request, click to result."""

    abstract = True
    page, button, done, name, timeout = "decoder", "Train a fresh decoder", "Done:", "train decoder", 1800

    def on_start(self):
        self.session = StreamlitSession(self.host, self.page, timeout=self.timeout)
        self.session.query_string = "tab=train"
        self.session.open()

    def set_steps(self) -> None:
        self.session.set_number("Steps (batches of 64)", self.train_steps)


class FinetunerUser(TrainerUser):
    """One student who presses "Start fine-tuning" on the fine-tuning page (its defaults: the
    agreement task, 600 steps) while the others type; reports one "finetune" request, click to
    result. `train_steps` sets the page's Steps box."""

    abstract = True
    page, button, done, name, timeout = "finetune", "Start fine-tuning", "Verdict:", "finetune", 1800

    def set_steps(self) -> None:
        self.session.set_int("Steps (batches of 16)", self.train_steps)

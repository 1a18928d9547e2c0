"""The class store (viz.classroom): codes, keys, following, answers, limits, expiry, replicas."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sqlite3
import time

import pytest

from viz.classroom import ClassError, ClassLimits, ClassStore, beacon, normalise_code
from viz.classroom.store import ALPHABET, CODE_LENGTH
from viz.figures.classroom import answer_counts_figure
from viz.lesson import STEPS, UNREADABLE, Question, tally


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    return ClassStore(limits=ClassLimits(max_classes=3, max_students=4, failures_per_minute=5), clock=clock)


Q = Question("Which word?", "token", "cat").to_dict()


def test_a_class_starts_with_a_readable_code_and_a_separate_key(store):
    code, key = store.start()
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert key and key != code and len(key) >= 16
    state = store.state(code)
    assert (state.step, state.students, state.question, state.revealed) == (0, 0, None, ())
    assert store.start()[0] != code  # another class, another code


def test_typed_codes_are_forgiving_about_case_spaces_and_dashes_and_strict_otherwise():
    assert normalise_code(" k7m-2qx ") == "K7M2QX"
    for bad in ("", "K7M2Q", "K7M2QXX", "K7M2Q0", "<script>", "'; DROP TABLE classes; --", "K7M2Q\x00"):
        with pytest.raises(ClassError):
            normalise_code(bad)


def test_students_follow_the_teachers_step_inputs_and_question(store):
    code, key = store.start()
    _, sid = store.join(code.lower())
    v0 = store.state(code).version
    state = store.move(code, key, 4, {"text": "The bank by the river."}, Q)
    assert (state.step, state.inputs, state.question, state.students) == (4, {"text": "The bank by the river."}, Q, 1)
    assert state.version > v0
    assert store.move(code, key, 4, {"text": "The bank by the river."}, Q).version == state.version  # no change
    store.answer(code, sid, 4, "Cat")
    store.answer(code, sid, 4, "mat")  # a changed answer replaces the first: one per student
    assert store.answers(code, 4) == ["mat"] and store.my_answer(code, sid, 4) == "mat"


def test_only_the_teacher_key_moves_reveals_or_ends_the_class(store):
    code, key = store.start()
    _, sid = store.join(code)
    before = store.state(code)
    for n, wrong in enumerate(("", "not-the-key", key + "x", sid)):
        client = f"student{n}"  # each under the rate limit
        for act in (lambda k, c: store.move(code, k, 3, {}, Q, client=c), lambda k, c: store.reveal(code, k, 0, client=c),
                    lambda k, c: store.end(code, k, client=c)):
            with pytest.raises(ClassError, match="does not match"):
                act(wrong, client)
    assert store.state(code) == before  # nothing changed
    store.reveal(code, key, 0)
    assert store.state(code).answer_revealed


def test_answers_close_when_the_class_moves_on_or_the_answer_is_revealed(store):
    code, key = store.start()
    _, sid = store.join(code)
    store.move(code, key, 2, {}, Q)
    with pytest.raises(ClassError, match="moved to another step"):
        store.answer(code, sid, 1, "cat")
    with pytest.raises(ClassError, match="not in this class"):
        store.answer(code, "someone-else", 2, "cat")
    with pytest.raises(ClassError, match="at most 100"):
        store.answer(code, sid, 2, "x" * 101)
    with pytest.raises(ClassError, match="Type an answer"):
        store.answer(code, sid, 2, "   ")
    store.reveal(code, key, 2)
    with pytest.raises(ClassError, match="revealed"):
        store.answer(code, sid, 2, "cat")
    assert store.answers(code, 2) == []


def test_a_student_who_leaves_and_rejoins_keeps_one_answer(store):
    code, key = store.start()
    _, sid = store.join(code)
    assert store.join(code, sid=sid) == (code, sid)
    assert store.state(code).students == 1


def test_classes_end_and_expire(store, clock):
    code, key = store.start()
    _, sid = store.join(code)
    store.end(code, key)
    assert store.state(code) is None
    with pytest.raises(ClassError, match="no open class"):
        store.join(code)
    code2, _ = store.start()
    clock.t += 3 * 3600 + 1  # the default three hours
    assert store.state(code2) is None
    with pytest.raises(ClassError, match="no open class"):
        store.join(code2)


def test_the_store_is_bounded(store, clock):
    codes = [store.start()[0] for _ in range(3)]
    with pytest.raises(ClassError, match="limit"):
        store.start()
    for _ in range(4):
        store.join(codes[0], client=f"c{_}")
    with pytest.raises(ClassError, match="full"):
        store.join(codes[0])
    clock.t += 3 * 3600 + 1  # expired classes are purged when a new one starts
    store.start()
    assert store._read("SELECT COUNT(*) FROM students")[0][0] == 0


def test_long_inputs_are_not_published(store):
    code, key = store.start()
    state = store.move(code, key, 0, {"text": "x" * 5000, "word": "it"}, None)
    assert state.inputs == {"word": "it"}


def test_guessing_codes_is_rate_limited_per_client(store, clock):
    code, key = store.start()
    for guess in ("AAAAAA", "BBBBBB", "<b>hi</b>", "CCCCCC", "DDDDDD"):
        with pytest.raises(ClassError, match="no open class|not a class code"):
            store.join(guess, client="10.0.0.9")
    with pytest.raises(ClassError, match="Too many"):
        store.join(code, client="10.0.0.9")  # even the right code, for a minute
    with pytest.raises(ClassError, match="Too many"):
        store.check_key(code, key, client="10.0.0.9")
    assert store.join(code, client="10.0.0.10")[0] == code  # another client is not blocked
    clock.t += 61
    assert store.join(code, client="10.0.0.9")[0] == code


def _join_in_another_process(path: str, code: str, q) -> None:
    other = ClassStore(path)
    _, sid = other.join(code)
    q.put((other.state(code).step, sid))
    other.answer(code, sid, 3, "cat")


def test_replicas_share_the_class_through_one_sqlite_file(tmp_path):
    """Two server processes (replicas) open the same file: one starts and moves, the other joins
    and answers, and each sees the other's writes."""
    path = str(tmp_path / "class.db")
    teacher = ClassStore(path)
    code, key = teacher.start()
    teacher.move(code, key, 3, {"text": "hi"}, Q)
    q = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_join_in_another_process, args=(path, code, q))
    p.start()
    step, sid = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and step == 3
    assert teacher.state(code).students == 1 and teacher.answers(code, 3) == ["cat"]


# --- counting answers --------------------------------------------------------------------------------

def test_tally_groups_answers_as_read_and_marks_the_right_one():
    number = Question("p", "number", 0.41, tolerance=0.01)
    rows = tally(number, [".41", "0.410", " 0.41 ", "0.5", "banana", "<script>alert(1)</script>"])
    assert rows[0] == ("0.41", 3, True)
    assert ("0.50", 1, False) in rows and (UNREADABLE, 2, False) in rows
    shape = Question("p", "shape", (12, 12))
    assert tally(shape, ["12x12", "12 × 12", "(12, 12)", "11 x 12"])[:2] == [("12 × 12", 3, True), ("11 × 12", 1, False)]
    token = Question("p", "token", "cat")
    assert tally(token, ["Cat", "'cat'", "##cat", "mat"]) == [("cat", 3, True), ("mat", 1, False)]
    assert sum(n for _, n, _ in rows) == 6  # every answer counted once


def test_every_lesson_question_kind_survives_the_store():
    kinds = {s.kind for s in STEPS}
    assert kinds == {"number", "shape", "token"}
    for q in (Question("p", "shape", (3, 4), decoys=(((4, 3), "swapped"),)), Question("p", "number", 7),
              Question("p", "number", 0.25, tolerance=0.005), Question("p", "token", "bank")):
        again = Question.from_dict(q.to_dict())
        assert again == q and again.bucket(q.answer_text) == (q.answer_text, True)


def test_the_histogram_escapes_students_text_and_colours_the_answer_only_once_revealed():
    rows = [("cat", 5, True), ("<script>alert(1)</script>", 2, False)]  # most frequent first
    hidden = answer_counts_figure(rows, students=9, revealed=False)
    shown = answer_counts_figure(rows, students=9, revealed=True)
    ticks = hidden.layout.yaxis.ticktext
    assert all("<script>" not in t for t in ticks) and any("&lt;script&gt;" in t for t in ticks)
    assert len(set(hidden.data[0].marker.color)) == 1  # the projector does not give it away
    assert len(set(shown.data[0].marker.color)) == 2
    assert list(shown.data[0].x) == [2, 5] and "7 of 9 answered" in shown.layout.title.text
    many = [(f"a{i}", 1, False) for i in range(30)]
    fig = answer_counts_figure(many, students=30, revealed=False)
    assert len(fig.data[0].x) == 12 and sum(fig.data[0].x) == 30 and "19 other answers" in fig.layout.yaxis.ticktext[0]


def test_each_class_has_its_own_unguessable_watch_token(store):
    a, b = store.start()[0], store.start()[0]
    ta, tb = store.state(a).watch, store.state(b).watch
    assert ta != tb and len(ta) >= 24 and beacon.url(ta) == f"app/static/class/{ta}.json"


def test_the_version_file_follows_the_class_and_holds_only_the_number(tmp_path, store):
    code, key = store.start()
    token = store.state(code).watch
    beacon.write(token, store.state(code).version, tmp_path)
    state = store.move(code, key, 3, {"text": "a secret sentence"}, None)
    beacon.write(token, state.version, tmp_path)
    assert beacon.read(token, tmp_path) == state.version == 1
    assert json.loads((tmp_path / f"{token}.json").read_text()) == {"v": 1}  # no step, no inputs
    assert [p.name for p in tmp_path.iterdir()] == [f"{token}.json"]  # the temporary file is gone
    beacon.remove(token, tmp_path)
    assert beacon.read(token, tmp_path) is None


@pytest.mark.parametrize("token", ["", "short", "../../etc/passwd", "a/b" * 10, "x" * 65, "é" * 20])
def test_a_token_cannot_name_another_file(tmp_path, token):
    with pytest.raises(ValueError):
        beacon.write(token, 1, tmp_path)
    with pytest.raises(ValueError):
        beacon.url(token)


def test_version_files_of_expired_classes_are_pruned(tmp_path):
    beacon.write("o" * 24, 1, tmp_path)
    beacon.write("n" * 24, 1, tmp_path)
    old = tmp_path / ("o" * 24 + ".json")
    os.utime(old, (time.time() - 4 * 3600, time.time() - 4 * 3600))
    assert beacon.prune(3 * 3600, tmp_path) == 1
    assert not old.exists() and beacon.read("n" * 24, tmp_path) == 1


def test_a_store_file_from_before_the_watch_token_still_opens(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE classes (code TEXT PRIMARY KEY, key_hash TEXT NOT NULL, created REAL NOT NULL, "
                   "expires REAL NOT NULL, ended INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL DEFAULT 0, "
                   "inputs TEXT NOT NULL DEFAULT '{}', question TEXT, revealed TEXT NOT NULL DEFAULT '[]', "
                   "version INTEGER NOT NULL DEFAULT 0)")
    store = ClassStore(str(path))
    code, _ = store.start()
    assert store.state(code).watch


# --- the waiting route (server.py): a student's page waits for the class's next version ----------

def _in_a_loop(coro):
    """Run a coroutine in an event loop of its own (a browser test may have one running here)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _next(token: str, since, wait: float, folder) -> tuple[int | None, float]:
    t0 = time.monotonic()
    return _in_a_loop(beacon.next_version(token, since, wait, folder)), time.monotonic() - t0


def test_next_version_answers_when_the_version_differs_or_the_wait_is_over(tmp_path):
    import threading

    token = "t" * 24
    beacon.write(token, 3, tmp_path)
    assert _next(token, None, 20, tmp_path)[0] == 3  # no version of ours: at once
    assert _next(token, 2, 20, tmp_path)[0] == 3  # another version than ours: at once
    version, took = _next(token, 3, 0.3, tmp_path)  # ours: the same number, after the wait
    assert version == 3 and 0.25 <= took < 2
    later = threading.Timer(0.3, beacon.write, (token, 4, tmp_path))  # the teacher moves meanwhile
    later.start()
    version, took = _next(token, 3, 20, tmp_path)
    assert version == 4 and 0.25 <= took < 5  # answered at the move, not after 20 s
    later.join()
    beacon.remove(token, tmp_path)
    assert _next(token, 4, 20, tmp_path)[0] is None  # the class ended: its page stops asking
    for bad in (("../../etc/passwd", None, 1), (token, 4, float("nan"))):
        with pytest.raises(ValueError):
            _next(bad[0], bad[1], bad[2], tmp_path)
    assert beacon.WAIT_MAX_S <= 30  # below HAProxy's and browsers' idle timeouts


def _get(server, token: str, query: str = "") -> tuple[int, dict]:
    """Call server.py's endpoint as Starlette would."""
    from starlette.requests import Request

    request = Request({"type": "http", "method": "GET", "path": f"/class-version/{token}", "headers": [],
                       "query_string": query.encode(), "path_params": {"token": token}})
    response = _in_a_loop(server.class_version(request))
    return response.status_code, json.loads(response.body)


def test_server_py_serves_the_app_with_the_waiting_route(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "server.py"
    spec = importlib.util.spec_from_file_location("attention_lens_server", path)
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    assert {r.path: r.endpoint for r in server.app._user_routes} == {beacon.WAIT_ROUTE: server.class_version}
    assert beacon.wait_url("a" * 20) == "class-version/" + "a" * 20
    monkeypatch.setattr(beacon, "FOLDER", tmp_path)
    token = "t" * 24
    beacon.write(token, 5, tmp_path)
    assert _get(server, token, "since=4") == (200, {"v": 5})
    assert _get(server, token, "since=5&wait=0.1") == (200, {"v": 5})
    for bad_token, query in (("../../etc/passwd", ""), (token, "since=<script>"), (token, "wait=x"),
                             (token, "since=1&wait=nan")):
        assert _get(server, bad_token, query)[0] == 404, (bad_token, query)
    monkeypatch.setattr(server, "MAX_WAITING", 0)
    assert _get(server, token, "since=5")[0] == 503  # a bounded number of waiting requests
    monkeypatch.setattr(server, "MAX_WAITING", 10)
    beacon.remove(token, tmp_path)
    assert _get(server, token, "since=5") == (410, {"gone": True})
    assert server._waiting == 0  # every request gave its place back

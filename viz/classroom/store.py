"""Class state for a class that follows the teacher's lesson. No streamlit.

One small interface, one implementation on SQLite (Python's own sqlite3: an existing store, not a
home-made one). By default the database is a private file in a temporary folder, deleted with the
store; replicas that serve one class open the same file instead (ATTENTION_LENS_CLASS_DB=
/path/class.db). SQLite locks the file and WAL mode lets readers run beside a writer, so each
thread takes its own connection from a small pool and reads hold no Python lock: one connection
behind a lock made 30 following students queue on it (each query waits for the GIL while it holds
the lock), about 0.17 s per read (docs/capacity.md). Writes of one process take turns on a lock.

    store = ClassStore.from_env()
    code, key = store.start()                      # code: read out; key: only the teacher's browser holds it
    store.move(code, key, step, values, question)  # the teacher: the class is on this step, with these inputs
    code, sid = store.join(typed, client)          # a student; ClassError (a sentence) on a bad code
    store.state(code) -> ClassState                # step, inputs, question, revealed, version ...
    store.answer(code, sid, step, text)            # one answer per student per question (the last one counts)
    store.answers(code, step) -> list[str]         # the typed answers, for the teacher's counts
    store.reveal(code, key, step); store.end(code, key)

Every teacher action checks the key (stored as a SHA-256, compared in constant time). Wrong codes
and wrong keys count against the client that sent them: past `failures_per_minute` it is refused
for a minute, so guessing one of 32^6 codes is hopeless. Everything is bounded: classes, students
per class, answer length, the length of each input the teacher publishes. Codes expire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: a code read aloud is not misheard
CODE_LENGTH = 6
POOL_SIZE = 16  # idle connections kept per store; more threads at once open more, then close them
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, key_hash TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL DEFAULT 0, inputs TEXT NOT NULL DEFAULT '{}',
    question TEXT, revealed TEXT NOT NULL DEFAULT '[]', version INTEGER NOT NULL DEFAULT 0,
    watch TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL, sid TEXT NOT NULL, joined REAL NOT NULL, PRIMARY KEY (code, sid));
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, step INTEGER NOT NULL, sid TEXT NOT NULL, text TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (code, step, sid));
CREATE TABLE IF NOT EXISTS failures (client TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_by_client ON failures (client, at);
"""


class ClassError(ValueError):
    """Something a user did that the class refuses; the message says what to do."""


@dataclass(frozen=True)
class ClassLimits:
    hours: float = 3.0  # a code expires this long after the class starts
    max_classes: int = 50  # classes open at once on this store
    max_students: int = 200  # per class
    answer_chars: int = 100
    input_chars: int = 1000  # a published input longer than this is not shared (followers keep theirs)
    failures_per_minute: int = 30  # wrong codes or keys per client address (a classroom may share one)

    @classmethod
    def from_env(cls) -> ClassLimits:
        env = os.environ.get
        return cls(hours=float(env("ATTENTION_LENS_CLASS_HOURS", cls.hours)),
                   max_classes=int(env("ATTENTION_LENS_CLASS_MAX", cls.max_classes)),
                   max_students=int(env("ATTENTION_LENS_CLASS_STUDENTS", cls.max_students)))


@dataclass(frozen=True)
class ClassState:
    code: str
    step: int  # 0-based lesson step the teacher is on
    inputs: dict  # the teacher's inputs for that step {field name: str}
    question: dict | None  # the step's question as the teacher's data made it (Question.to_dict())
    revealed: tuple[int, ...]  # steps whose answer the teacher has revealed
    version: int  # grows with every move and reveal: followers compare it
    students: int
    expires: float  # unix time
    watch: str = ""  # the name of the class's version file (viz.classroom.beacon); random per class

    @property
    def answer_revealed(self) -> bool:
        return self.step in self.revealed


def normalise_code(typed: str) -> str:
    """A typed code in its stored form, or ClassError. Spaces, dashes and case do not matter."""
    code = re.sub(r"[\s\-]", "", str(typed or "")).upper()
    if not code:
        raise ClassError("Type the class code your teacher reads out (6 letters and digits).")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise ClassError(f"That is not a class code: a code is {CODE_LENGTH} letters and digits, "
                         "like K7M2QX. Check it with your teacher.")
    return code


def _hash(key: str) -> str:
    return hashlib.sha256(str(key).encode("utf-8", "replace")).hexdigest()


class ClassStore:
    def __init__(self, path: str | None = None, limits: ClassLimits | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits, self.clock = limits or ClassLimits(), clock
        self._tmp = None
        if not path or path == ":memory:":  # SQLite's memory database belongs to one connection
            self._tmp = tempfile.TemporaryDirectory(prefix="attention-lens-class-")
            path = os.path.join(self._tmp.name, "class.db")
        self.path = path
        self._idle: list[sqlite3.Connection] = []  # list.append and list.pop are atomic
        self._write_lock = threading.Lock()
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            if "watch" not in {row[1] for row in db.execute("PRAGMA table_info(classes)")}:  # an older file
                db.execute("ALTER TABLE classes ADD COLUMN watch TEXT NOT NULL DEFAULT ''")

    @classmethod
    def from_env(cls) -> ClassStore:
        return cls(os.environ.get("ATTENTION_LENS_CLASS_DB") or None, ClassLimits.from_env())

    @contextmanager
    def _connection(self):
        """A connection for this thread alone while the block runs; back to the pool afterwards."""
        try:
            db = self._idle.pop()
        except IndexError:
            # timeout: how long SQLite waits for another writer (a replica, another thread) to finish.
            db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit is durable at the next checkpoint
        try:
            yield db
        finally:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(db)
            else:
                db.close()

    @contextmanager
    def _write(self):
        """One transaction that holds SQLite's write lock from its start (no lost updates). Writers
        of this process queue on a lock first: left to SQLite's busy handler, which sleeps and
        retries with growing pauses, thirty answers arriving together made the teacher's ▶ wait
        behind them for up to 2 s."""
        with self._write_lock, self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._connection() as db:
            return db.execute(sql, args).fetchall()

    # --- refusals that count ---------------------------------------------------------------------

    def _check_rate(self, db, client: str) -> None:
        """A read: the teacher's every move and each student's code pass through here, and a write
        transaction each would queue them behind the class's answers."""
        (n,) = db.execute("SELECT COUNT(*) FROM failures WHERE client = ? AND at >= ?",
                          (client, self.clock() - 60)).fetchone()
        if n >= self.limits.failures_per_minute:
            raise ClassError("Too many wrong class codes or keys from here: wait a minute, then try again.")

    def _fail(self, client: str, message: str) -> ClassError:
        now = self.clock()
        with self._write() as db:
            db.execute("DELETE FROM failures WHERE at < ?", (now - 60,))
            db.execute("INSERT INTO failures VALUES (?, ?)", (client, now))
        return ClassError(message)

    def _open_class(self, db, code: str) -> tuple:
        row = db.execute("SELECT key_hash, expires, ended FROM classes WHERE code = ?", (code,)).fetchone()
        if row is None or row[2] or row[1] <= self.clock():
            return None
        return row

    # --- the teacher ------------------------------------------------------------------------------

    def start(self) -> tuple[str, str]:
        """A new class: (code to read out, teacher key)."""
        key = secrets.token_urlsafe(12)
        now = self.clock()
        with self._write() as db:
            self._purge(db, now)
            (n,) = db.execute("SELECT COUNT(*) FROM classes").fetchone()
            if n >= self.limits.max_classes:
                raise ClassError(f"This server already runs {n} classes, its limit: end a class that is "
                                 "over, or wait for one to expire.")
            while True:
                code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
                if db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone() is None:
                    break
            db.execute("INSERT INTO classes (code, key_hash, created, expires, watch) VALUES (?, ?, ?, ?, ?)",
                       (code, _hash(key), now, now + self.limits.hours * 3600, secrets.token_urlsafe(18)))
        return code, key

    def check_key(self, typed_code: str, key: str, client: str = "") -> str:
        """The class's code if `key` is its teacher key; ClassError (counted) otherwise."""
        code = self._code(typed_code, client)
        with self._connection() as db:
            self._check_rate(db, client)
            row = self._open_class(db, code)
        if row is None:
            raise self._fail(client, "There is no open class with that code (it may have ended or expired).")
        if not key or not hmac.compare_digest(row[0], _hash(key)):
            raise self._fail(client, "That teacher key does not match this class: nothing was changed. "
                                     "Only the teacher's browser holds the key.")
        return code

    def move(self, code: str, key: str, step: int, inputs: dict, question: dict | None,
             client: str = "") -> ClassState:
        """The teacher is on `step` with these inputs: followers go there."""
        code = self.check_key(code, key, client)
        shared = {str(k): str(v) for k, v in (inputs or {}).items() if len(str(v)) <= self.limits.input_chars}
        blob = json.dumps(shared, sort_keys=True)
        qblob = None if question is None else json.dumps(question, sort_keys=True)
        with self._write() as db:
            db.execute("UPDATE classes SET step = ?, inputs = ?, question = ?, version = version + 1 "
                       "WHERE code = ? AND (step != ? OR inputs != ? OR IFNULL(question, '') != IFNULL(?, ''))",
                       (int(step), blob, qblob, code, int(step), blob, qblob))
        return self.state(code)

    def reveal(self, code: str, key: str, step: int, client: str = "") -> ClassState:
        code = self.check_key(code, key, client)
        with self._write() as db:
            (shown,) = db.execute("SELECT revealed FROM classes WHERE code = ?", (code,)).fetchone()
            steps = sorted(set(json.loads(shown)) | {int(step)})
            db.execute("UPDATE classes SET revealed = ?, version = version + 1 WHERE code = ?",
                       (json.dumps(steps), code))
        return self.state(code)

    def end(self, code: str, key: str, client: str = "") -> None:
        code = self.check_key(code, key, client)
        with self._write() as db:
            db.execute("UPDATE classes SET ended = 1, version = version + 1 WHERE code = ?", (code,))

    def answers(self, code: str, step: int) -> list[str]:
        """Every student's answer to this step's question (one each), in no particular order."""
        return [t for (t,) in self._read("SELECT text FROM answers WHERE code = ? AND step = ?", (code, int(step)))]

    # --- students ---------------------------------------------------------------------------------

    def _code(self, typed: str, client: str) -> str:
        with self._connection() as db:
            self._check_rate(db, client)
        try:
            return normalise_code(typed)
        except ClassError as err:
            raise self._fail(client, str(err)) from None

    def join(self, typed_code: str, client: str = "", sid: str | None = None) -> tuple[str, str]:
        """(code, student id), or ClassError with a sentence. A student who left and comes back
        with their old `sid` gets it again: still one answer per student per question."""
        code = self._code(typed_code, client)
        with self._write() as db:
            row = self._open_class(db, code)
            if row is not None:
                if sid and db.execute("SELECT 1 FROM students WHERE code = ? AND sid = ?", (code, sid)).fetchone():
                    return code, sid
                (n,) = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()
                if n >= self.limits.max_students:
                    raise ClassError(f"This class is full ({n} students).")
                sid = secrets.token_hex(8)
                db.execute("INSERT INTO students VALUES (?, ?, ?)", (code, sid, self.clock()))
                return code, sid
        raise self._fail(client, "There is no open class with that code: check it with your teacher "
                                 "(a class ends when the teacher ends it, or after a few hours).")

    def answer(self, code: str, sid: str, step: int, text: str) -> None:
        text = str(text or "").strip()
        if not text:
            raise ClassError("Type an answer first.")
        if len(text) > self.limits.answer_chars:
            raise ClassError(f"An answer is at most {self.limits.answer_chars} characters; yours has {len(text)}.")
        with self._write() as db:
            if self._open_class(db, code) is None:
                raise ClassError("The class has ended: your answer was not sent.")
            if db.execute("SELECT 1 FROM students WHERE code = ? AND sid = ?", (code, sid)).fetchone() is None:
                raise ClassError("You are not in this class any more: join again with the code.")
            step_now, shown = db.execute("SELECT step, revealed FROM classes WHERE code = ?", (code,)).fetchone()
            if step_now != int(step):
                raise ClassError("The class has moved to another step: this question is closed.")
            if int(step) in json.loads(shown):
                raise ClassError("The answer has been revealed: this question is closed.")
            db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                       (code, int(step), sid, text, self.clock()))

    def my_answer(self, code: str, sid: str, step: int) -> str | None:
        rows = self._read("SELECT text FROM answers WHERE code = ? AND step = ? AND sid = ?", (code, int(step), sid))
        return rows[0][0] if rows else None

    def state(self, code: str) -> ClassState | None:
        """The class as followers see it; None once it has ended or expired."""
        rows = self._read("SELECT step, inputs, question, revealed, version, expires, ended, "
                          "(SELECT COUNT(*) FROM students s WHERE s.code = c.code), watch FROM classes c WHERE code = ?",
                          (code,))
        if not rows or rows[0][6] or rows[0][5] <= self.clock():
            return None
        step, inputs, question, revealed, version, expires, _, n, watch = rows[0]
        return ClassState(code, step, json.loads(inputs), None if question is None else json.loads(question),
                          tuple(json.loads(revealed)), version, n, expires, watch)

    def _purge(self, db, now: float) -> None:
        """Forget classes that ended or expired, with their students and answers."""
        gone = [c for (c,) in db.execute("SELECT code FROM classes WHERE ended = 1 OR expires <= ?", (now,))]
        for table in ("answers", "students", "classes"):
            db.executemany(f"DELETE FROM {table} WHERE code = ?", [(c,) for c in gone])

"""Replicas behind HAProxy (deploy/serve.py, as `make serve REPLICAS=2` starts them).

Sessions stick to their replica by HAProxy's SERVERID cookie (every client here is 127.0.0.1,
so IP hashing could not tell them apart). An upload works on both replicas through the balancer
(XSRF on). When one replica dies mid-session, its browser reconnects through HAProxy to the
other and answers a new input; the session on the other replica never notices. A class survives
its replicas: the student's, then the teacher's, are killed, and both are back in the class on the
teacher's step (the seconds it took are printed), the student with their id and answer, the teacher able to move, reveal
and end, the teacher key never in a URL, on the screen or in anything a student's browser receives.
"""

from __future__ import annotations

import io
import random
import re
import string
import time

import pytest

from deploy.serve import HAPROXY_HINT, cluster, haproxy_path
from tests.browser.harness import (
    ARTIFACTS,
    describe,
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_text,
)
from tests.load.st_client import StreamlitSession
from viz.lesson import STEPS, LocalSources

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(haproxy_path() is None, reason=HAPROXY_HINT),
]

# Records every change of the frontend's connection state (CONNECTED, PINGING_SERVER, ...), and
# when it last became CONNECTED (performance.now(), ms).
WATCH_CONNECTION = """
window.__conn = []; window.__connectedAt = 0;
setInterval(() => {
  const s = document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state');
  if (s && s !== window.__conn[window.__conn.length - 1]) {
    window.__conn.push(s);
    if (s === "CONNECTED") window.__connectedAt = performance.now();
  }
}, 50);
"""
# The promise is back in the class within 10 s of reconnecting: measured and printed here, and quoted in
# docs/capacity.md, not asserted (a timed assertion measures the machine: 0.1 to 0.5 s alone, 14 to 37 s
# while the rest of the suite loads the same 2 cores). The test asserts that they come back at all.
BACK_S = 90


@pytest.fixture(scope="module")
def two():
    with cluster(2) as c:
        yield c


@pytest.fixture()
def three(monkeypatch):
    # The class below uses the lesson's first 3 steps: each replica warms only those. Warming all 13
    # (BERT, ViT, the decoder) on 3 replicas at once held the 2 cores, and a teacher's page run on a
    # warming replica took 37 s in a full suite run.
    monkeypatch.setenv("ATTENTION_LENS_WARM_STEPS", "3")
    with cluster(3) as c:
        yield c


def replica_of(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "SERVERID"), "")


def one_per_replica(browser, url: str, path: str, viewport=(1200, 900)):
    """Open sessions until one sits on r1 and one on r2 (round robin: usually the first two)."""
    pages, extra = {}, []
    for _ in range(6):
        page, log = new_page(browser, url, viewport=viewport)
        page.add_init_script(WATCH_CONNECTION)
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        name = replica_of(page)
        if name and name not in pages:
            pages[name] = (page, log)
        else:
            extra.append(page)
        if len(pages) == 2:
            break
    for p in extra:
        p.context.close()
    assert sorted(pages) == ["r1", "r2"], f"sessions did not spread over both replicas: {sorted(pages)}"
    return pages


def _png() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48), (20, 40, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_upload_through_haproxy_on_both_replicas(two):
    """An upload as the frontend sends it (upload URL from the session, PUT with the XSRF cookie
    and header) is accepted through HAProxy on both replicas, also with the XSRF cookie that the
    other replica set, as a browser has it after a failover. A wrong token is refused (403).
    (Protocol-level: a browser upload on the image page would load DINOv2 on both replicas.)"""
    sessions = {}
    for _ in range(6):
        s = StreamlitSession(two.url, "")
        s.open()
        if s.replica in sessions or not s.replica:
            s.close()
        else:
            sessions[s.replica] = s
        if len(sessions) == 2:
            break
    try:
        assert sorted(sessions) == ["r1", "r2"], f"sessions did not spread: {sorted(sessions)}"
        xsrf = {name: s.xsrf_cookie() for name, s in sessions.items()}
        for name, s in sessions.items():
            for minted_by in ("r1", "r2"):
                status = s.upload(f"halves-{name}.png", _png(), "image/png", xsrf[minted_by])
                assert status == 204, f"upload on {name} with {minted_by}'s XSRF cookie: HTTP {status}"
            other = xsrf["r2" if name == "r1" else "r1"]
            status = s.upload("forged.png", _png(), "image/png", xsrf[name], token=other)
            assert status == 403, f"a wrong XSRF token was accepted on {name} (HTTP {status})"
    finally:
        for s in sessions.values():
            s.close()


def _word(rng) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


def _ask(page, word: str) -> None:
    box = page.get_by_role("textbox", name="Your input")
    box.fill(word)
    box.press("Enter")
    assert wait_for_text(page, word[::-1], timeout_ms=90_000), f"no answer to {word!r}"


def test_killed_replica_sessions_reconnect_to_the_other(browser, two):
    rng = random.Random(10)
    pages = one_per_replica(browser, two.url, "scratch")
    (victim, _), (survivor, _) = pages["r1"], pages["r2"]
    before = {}
    for name, (page, _) in pages.items():
        before[name] = _word(rng)
        _ask(page, before[name])
    survivor_states = survivor.evaluate("window.__conn.slice()")
    assert survivor_states[-1] == "CONNECTED"

    r1 = two.replica("r1")
    r1.proc.kill()  # SIGKILL: no goodbye to the browsers
    r1.proc.wait(10)

    # the victim's frontend notices, pings /_stcore/health (HAProxy answers from r2), reconnects
    victim.wait_for_function(
        "() => window.__conn.length > 1 && window.__conn[window.__conn.length - 1] === 'CONNECTED'"
        " && window.__conn.slice(1).some(s => s !== 'CONNECTED')", timeout=90_000)
    wait_for_app(victim)
    after = _word(rng)
    _ask(victim, after)
    assert replica_of(victim) == "r2", "HAProxy did not move the session's cookie to r2"
    assert victim.get_by_role("textbox", name="Your input").input_value() == after
    victim.screenshot(path=ARTIFACTS / "failover-reconnected.png", full_page=True)

    # the session on r2 never lost its connection, its page, or its state
    assert survivor.evaluate("window.__conn.slice()") == survivor_states
    assert wait_for_text(survivor, before["r2"][::-1], timeout_ms=1000)
    assert survivor.get_by_role("textbox", name="Your input").input_value() == before["r2"]
    _ask(survivor, _word(rng))
    assert survivor.evaluate("window.__conn.slice()") == survivor_states
    assert replica_of(survivor) == "r2"
    for page in (victim, survivor):
        assert page.locator("[data-testid='stException']").count() == 0
        page.context.close()


def _kill(cluster_, name: str) -> None:
    r = cluster_.replica(name)
    r.proc.kill()  # SIGKILL: no goodbye to the browsers
    r.proc.wait(10)


FRESH_JS = """(texts) => {
  const conn = window.__conn;
  if (!(conn.slice(1).some(s => s !== 'CONNECTED') && conn[conn.length - 1] === 'CONNECTED')) return false;
  if (!(window.__lastRunChange > window.__connectedAt)) return false;  // the new session has run
  const fresh = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]')]
    .filter(e => !e.closest('[data-stale="true"]')).map(e => e.innerText).join('\\n');
  return texts.every(t => fresh.includes(t));
}"""


def _back(page, *texts: str) -> float:
    """Wait for the frontend to lose its server and reconnect, then for `texts` on the page in
    elements the new session drew (not the dead session's, which stay on screen, stale, until
    replaced); return the seconds from the reconnection to that moment."""
    try:
        page.wait_for_function(FRESH_JS, arg=list(texts), timeout=90_000, polling=50)
    except Exception as err:
        raise AssertionError(f"not back with {texts}: {describe(page)}") from err
    return page.evaluate("() => (performance.now() - window.__connectedAt) / 1000")


def _received(page) -> list[bytes]:
    """Every websocket frame the page receives (Streamlit's protobuf deltas), to search for a secret."""
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda f: frames.append(f if isinstance(f, bytes) else str(f).encode())))
    return frames


def test_a_class_survives_the_death_of_the_students_replica_then_the_teachers(browser, three):
    step0 = STEPS[0]
    right = step0.question(step0.compute(LocalSources(), step0.values())).answer_text
    teacher, tlog = new_page(browser, three.url, viewport=(1280, 720))
    teacher.add_init_script(WATCH_CONNECTION)
    teacher.goto(f"{three.url}/lesson")
    wait_for_app(teacher)
    teacher.get_by_text("Class: follow a teacher's lesson, or teach one").click()
    teacher.get_by_role("button", name="Start a class").click()
    wait_for_app(teacher)
    assert wait_for_text(teacher, "End the class")
    code = re.search(r"Class code ([A-Z2-9]{6})", teacher.locator("[data-testid='stMain']").inner_text()).group(1)
    kept = teacher.evaluate("() => JSON.parse(sessionStorage.getItem('attention-lens-teacher') || 'null')")
    assert kept and kept["code"] == code and len(kept["key"]) >= 16, kept
    key = kept["key"]
    t_replica = replica_of(teacher)

    # a student on each replica, by the join link, as a class spreads over them (each replica then
    # has built the lesson's first views); the one followed here sits on another than the teacher's
    students = {}
    for _ in range(8):
        page, log = new_page(browser, three.url)
        page.add_init_script(WATCH_CONNECTION)
        got = _received(page)
        page.goto(f"{three.url}/lesson?join={code}")
        assert wait_for_text(page, f"In class {code}"), describe(page)
        if replica_of(page) in students:
            page.context.close()
        else:
            students[replica_of(page)] = (page, log, got)
        if len(students) == 3:
            break
    assert len(students) == 3, f"students did not spread over the 3 replicas: {sorted(students)}"
    for page, _, _ in students.values():  # every replica has drawn the step for its student
        assert wait_for_text(page, "Class question", timeout_ms=60_000), describe(page)
    s_replica = next(r for r in sorted(students) if r != t_replica)
    student, slog, frames = students[s_replica]
    student.wait_for_function("() => /[?&]sid=[0-9a-f]{16}/.test(location.search)", timeout=30_000)
    sid = re.search(r"[?&]sid=([0-9a-f]{16})", student.url).group(1)
    assert wait_for_text(student, "Class question")
    student.get_by_role("textbox", name="Your answer").fill(right)
    student.get_by_role("button", name="Send my answer").click()
    assert wait_for_text(student, "Sent:")
    teacher.wait_for_function("() => /1 of \\d+ have answered/.test(document.body.innerText)", timeout=10_000)
    joined = re.search(r"1 of (\d+) have answered", teacher.inner_text("body")).group(1)  # closed tries count

    # 1. the student's replica dies: back in the class, same id, answer kept, one answer counted
    _kill(three, s_replica)
    took = _back(student, f"In class {code}", f"1. {step0.title}")
    assert took <= BACK_S, f"the student was back in the class {took:.1f} s after reconnecting"
    wait_for_app(student)  # the step's figure and question follow (a busy replica may still be building them)
    assert wait_for_text(student, f"Sent: '{right}'", timeout_ms=60_000), describe(student)  # their answer
    deadline = time.monotonic() + 15  # HAProxy rewrites the SERVERID cookie on a later response
    while replica_of(student) == s_replica and time.monotonic() < deadline:
        student.wait_for_timeout(200)
    assert replica_of(student) != s_replica and re.search(rf"[?&]sid={sid}\b", student.url), student.url
    assert wait_for_text(teacher, f"1 of {joined} have answered", timeout_ms=10_000)  # not a new student
    print(f"student back {took:.1f} s after reconnecting, on {replica_of(student)}")

    teacher.get_by_role("button", name="Next step", exact=True).click()
    # 60 s, as for the answer above: in a full suite on 2 cores 15 s ran out once (the cause not
    # found; the test passed alone and in smaller runs the same hour)
    assert wait_for_text(student, f"2. {STEPS[1].title}", timeout_ms=60_000), describe(student)

    # 2. the teacher's replica dies: the teacher's tab takes the class back by itself
    _kill(three, t_replica)
    took = _back(teacher, "End the class", f"2. {STEPS[1].title}")
    assert took <= BACK_S, f"the teacher was back in the class {took:.1f} s after reconnecting"
    deadline = time.monotonic() + 15
    while replica_of(teacher) == t_replica and time.monotonic() < deadline:
        teacher.wait_for_timeout(200)
    assert replica_of(teacher) != t_replica
    assert wait_for_text(teacher, f"2. {STEPS[1].title}") and wait_for_text(teacher, f"Class code {code}")
    print(f"teacher back {took:.1f} s after reconnecting, on {replica_of(teacher)}")
    teacher.get_by_role("button", name="Next step", exact=True).click()  # still moves the class
    assert wait_for_text(student, f"3. {STEPS[2].title}", timeout_ms=20_000), describe(student)
    wait_for_app(teacher)
    teacher.get_by_role("button", name="Reveal the answer to the class").click()  # and reveals
    assert wait_for_text(student, "The answer:", timeout_ms=20_000), describe(student)
    teacher.screenshot(path=ARTIFACTS / "failover-teacher-back.png")

    # the key: in no URL, not on the teacher's screen, nowhere in what the student's browser got
    assert key not in teacher.url and key not in teacher.inner_text("body")
    assert key not in student.url and key not in student.content()
    stored = student.evaluate("() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
    assert key not in stored and frames and not any(key.encode() in f for f in frames)

    teacher.get_by_role("button", name="End the class").click()  # and ends
    assert wait_for_text(student, "has ended", timeout_ms=20_000), describe(student)
    wait_for_app(teacher)
    assert teacher.evaluate("() => sessionStorage.getItem('attention-lens-teacher')") is None
    for page, log in ((teacher, tlog), (student, slog)):
        assert not failed_on_page(page)
        assert not log.dialogs and not log.blocked, (log.dialogs, log.blocked)

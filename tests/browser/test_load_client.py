"""The load generator's protocol client and driver (tests/load/), against the session's server.

No browser here, but the shared app server of tests/browser/conftest.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.browser.harness import ROOT
from tests.load.st_client import StreamlitSession

pytestmark = pytest.mark.slow


def test_protocol_sessions_each_get_their_own_answer(server):
    a, b = StreamlitSession(server.url, "scratch"), StreamlitSession(server.url, "scratch")
    try:
        for s in (a, b):
            first = s.open()
            assert first.charts >= 1 and "Your input" in s.widgets and "Train a fresh model" in s.widgets
        assert a.session_id and b.session_id and a.session_id != b.session_id
        # both runs in flight at once: each answer must carry its own word and not the other's
        a.set_string("Your input", "abcdefghij")
        b.set_string("Your input", "klmnopqrst")
        a.send()
        b.send()
        ra, rb = a.finish(), b.finish()
        assert ra.contains("jihgfedcba") and not ra.contains("tsrqponmlk")
        assert rb.contains("tsrqponmlk") and not rb.contains("jihgfedcba")
        # a layer/head change reruns on the same page with the same input
        a.set_string("Layer", "0")
        a.set_string("Head", "2")
        rv = a.run()
        assert rv.contains("layer 0, head 2") and rv.contains("jihgfedcba")
    finally:
        a.close()
        b.close()


def test_load_driver_prints_a_row_without_failures(server):
    # a subprocess: Locust patches the standard library for gevent, not for this pytest process
    out = subprocess.run(
        [sys.executable, "-m", "tests.load.run", "--page", "scratch", "--users", "2", "--rounds", "1",
         "--url", server.url, "--pids", str(server.pid), "--timeout", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    rows = {line.split("|")[4].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in out.stdout.splitlines() if line.startswith("| scratch ")}
    assert set(rows) == {"submit", "layer/head"}, out.stdout
    for cells in rows.values():
        _, users, _, _, inputs, failures, p50, p95, _, cpu, _, peak, _ = cells
        assert (users, inputs, failures) == ("2", "2", "0"), out.stdout
        assert 0 < float(p50) <= float(p95) and float(cpu) > 0 and float(peak) > 100


def test_a_select_slider_moves_by_its_formatted_option(server):
    """Streamlit sends a select_slider's value as its option's text (string_array_value)."""
    s = StreamlitSession(server.url, "softmax")
    try:
        s.open()
        s.set_choice("Temperature T (log scale)", "1.12")
        r = s.run()
        assert r.exceptions == 0 and r.charts >= 5 and "temperature=1.12" in s.query_string
        with pytest.raises(Exception, match="no option"):
            s.set_choice("Temperature T (log scale)", "1.13")
    finally:
        s.close()


def test_server_cost_benchmark_runs_without_a_browser(server):
    """benchmarks.interaction_cost --client protocol (how the GPU rows are taken): every interaction
    but the image page's and training's (minutes on this machine) checks its answer and is timed."""
    from benchmarks import interaction_cost as ic

    its = [it for it in ic.INTERACTIONS if it.name not in ("image_sample", "train_step")]
    results = ic.measure({"shipped": server}, None, its, repeats=2, train_repeats=1)
    assert sorted(name for name, _ in results) == sorted(it.name for it in its)
    for sample in results.values():
        assert len(sample.cpu_ms) == 2 and all(w > 0 for w in sample.wall_ms)
    assert "| text_input | shipped | 2 |" in ic.table(results, its, ["shipped"])


def test_a_lesson_step_writes_its_url_in_one_message(server):
    """The lesson page writes its step and inputs into the URL at the end of each run: one
    page_info_changed per run (it was one per parameter, five a run, 50 a class step for ten)."""
    s = StreamlitSession(server.url, "lesson", timeout=600)
    try:
        s.open()
        for step in (2, 3):
            s.press("Next step")
            r = s.finish()
            assert r.messages["page_info_changed"] == 1, r.messages
            assert s.query_string.startswith(f"step={step}&"), s.query_string  # with the step's inputs
    finally:
        s.close()

"""The lesson in front of a class, in chromium: every step fits a projector in presenter mode,
its figures' texts keep apart and read from the back row, no step shows its answer before it is
answered, and the keyboard (a presentation clicker) steps the lesson.

The checks are tests/browser/figure_checks.py's; test_checks_fail.py shows them failing."""

import re

import pytest

from tests.browser import figure_checks as fc
from tests.browser.harness import (
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_plots,
    wait_for_text,
)
from viz.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PROJECTORS = ((1280, 720), (1024, 768))


def _open(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    wait_for_plots(page)


@pytest.mark.parametrize("size", PROJECTORS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_step_fits_the_projector_and_reads_from_the_back_row(browser, app_url, size):
    """Title, whole figure and question on the first screen; no figure text on another; chart
    text at 4.5:1; ticks of 16 px at least; the disabled ◀ of step 1 looks disabled."""
    w, h = size
    page, log = new_page(browser, app_url, viewport=size)
    problems = []
    for i, step in enumerate(STEPS):
        _open(page, f"{app_url}/lesson?step={i + 1}&present=1")
        assert wait_for_text(page, f"{i + 1}. {step.title}"), step.slug
        figures = fc.figure_texts(page)
        where = f"step {i + 1} ({step.slug}): "
        problems += [where + p for p in fc.fit_problems(page, w, h)]
        problems += fc.overlap_problems(figures, where) + fc.contrast_problems(figures, where)
        problems += fc.tick_problems(figures, where, min_px=16)
        assert not failed_on_page(page), step.slug
        if i == 0:
            opacity = page.locator(".st-key-lesson_prev button").evaluate("b => getComputedStyle(b).opacity")
            assert page.locator(".st-key-lesson_prev button").is_disabled() and float(opacity) <= 0.5
    assert not problems, "\n".join(problems)
    assert not page.get_by_text("Built from:").count(), "the developer footer is on the projected screen"
    assert not log.console_errors and not log.blocked, (log.console_errors, log.blocked)


def _leaks(answer: str, kind: str, texts: list[str]) -> list[str]:
    """The texts that state the answer: a token as a whole word, a shape as 'a × b', a number as
    itself (not as part of a longer number)."""
    if kind == "shape":
        a, b = re.findall(r"\d+", answer)[:2]
        pattern = rf"(?<!\d){a}\s*[×x]\s*{b}(?!\d)"
    elif kind == "token":
        pattern = rf"(?<!\w){re.escape(answer)}(?!\w)"
    else:
        pattern = rf"(?<![\d.]){re.escape(answer)}(?!\.?\d)"
    return [t for t in texts if re.search(pattern, t, flags=re.IGNORECASE)]


SHOWN = ('[data-testid="stMain"] :is([data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"], '
         '[data-testid="stAlert"], .al-figure-alt)')  # .al-figure-alt: what a screen reader reads of a figure
SHOWN_JS = """(skip) => [...document.querySelectorAll(__SHOWN__)]
    .filter(e => !e.closest('[data-testid="stExpander"] details:not([open])'))
    .map(e => e.innerText.trim()).filter(t => t && !skip.some(s => t.startsWith(s)))""".replace("__SHOWN__", repr(SHOWN))


def test_no_step_shows_its_answer_before_it_is_answered(browser, app_url):
    """A student alone on every step: all text outside the answer box (markdown, captions, alerts,
    figure titles, annotations and labels) is read, then the teacher's answer; no step may have
    shown it. Left out: the step's explanation (the same words for every input) and the question
    itself, and a grid's "head N" panel titles (every head is named; naming them is no answer)."""
    page, log = new_page(browser, app_url)
    shown_early = []
    for i, step in enumerate(STEPS):
        _open(page, f"{app_url}/lesson?step={i + 1}")
        texts = page.evaluate(SHOWN_JS, [step.explanation[:40], "Question.", "Answer:"])
        texts += [t["text"] for f in fc.figure_texts(page) for t in f["texts"]
                  if t["kind"] in ("title", "annotation", "other") and not re.fullmatch(r"head \d+", t["text"])]
        assert not any(t.startswith("What to notice") for t in texts), f"{step.slug}: the notice shows early"
        page.get_by_text("Show the answer (teacher)").click()
        wait_for_app(page)
        shown = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="Answer:").last.inner_text()
        answer = shown.split("Answer:", 1)[1].strip()
        leaks = _leaks(answer, step.kind, texts)
        if leaks:
            shown_early.append(f"step {i + 1} ({step.slug}), answer {answer!r}: {leaks}")
        assert wait_for_text(page, "What to notice"), f"{step.slug}: no notice once the answer is shown"
    assert not shown_early, "\n".join(shown_early)
    assert not log.console_errors, log.console_errors


def _step(page) -> str:
    return page.locator("[data-testid='stMain'] h2").first.inner_text().split(".")[0]


def test_the_keyboard_and_a_clicker_step_the_lesson(browser, app_url):
    """→ and PageDown forward, ← and PageUp back, not while typing in a box; the buttons are named
    for screen readers; the keyboard focus is visible at 3:1."""
    page, log = new_page(browser, app_url, viewport=(1280, 720))
    _open(page, f"{app_url}/lesson?present=1")
    assert page.get_by_role("button", name="Next step", exact=True).count() == 1
    assert page.get_by_role("button", name="Previous step", exact=True).count() == 1
    page.locator("[data-testid='stMain'] h2").first.click()  # the focus on the slide, not in a box
    for key, expected in (("ArrowRight", "2"), ("PageDown", "3"), ("PageUp", "2"), ("ArrowLeft", "1")):
        page.keyboard.press(key)
        page.wait_for_function("n => document.querySelector('[data-testid=\"stMain\"] h2')?.innerText"
                               ".startsWith(n + '.')", arg=expected, timeout=30_000)
        wait_for_app(page)
    page.get_by_text("Change the input").click()
    box = page.get_by_role("textbox", name="Sentence")
    box.click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    page.wait_for_timeout(800)
    assert _step(page) == "1", "a key pressed while typing moved the lesson"
    page.locator(".st-key-lesson_next button").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus, so :focus-visible applies
    ring = page.locator(".st-key-lesson_next button").evaluate(
        "b => { const s = getComputedStyle(b); return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }")
    assert ring[0] != "none" and ring[1] >= 2, ring
    assert fc.contrast(ring[2]) >= 3, f"focus ring {ring[2]} is {fc.contrast(ring[2]):.1f}:1 on white"
    assert not log.console_errors, log.console_errors

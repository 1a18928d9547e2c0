"""Browser checks that can fail, shared by the tests and by the proofs that they do fail.

Each check returns None when the page passes and a sentence saying what is wrong otherwise, so a
test can collect the problems of many inputs and report them together. tests/browser/
test_checks_fail.py runs the same functions on a deliberately broken app and asserts that they
report a problem there.

- `answer_problem`: the box that was typed into got an answer of its own. Its answer is the first
  message or chart/table that follows the box on the page (document order, the sidebar before the
  main area); that element must be a message (st.error, st.warning, ...), or the box's own result,
  named by a CSS selector (its Streamlit key: ".st-key-scratch_heatmap"). A chart elsewhere on the
  page, or one further down that belongs to another input, does not answer the box. After a rerun
  every element on the page comes from that rerun (Streamlit drops what the run did not draw
  again), so the answer is one to the value just entered.
- `title_problem`: the box's result chart carries a text in its own plotly title (the model's name,
  not a caption or a label that is always on the page).
- `change_problem`: an action (a slider moved, an option chosen) changed a given figure, table or
  embedded view, read from the DOM before and after.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.browser.harness import wait_for_app, wait_for_text

# What can answer an input: messages, and elements that draw results. A chart or table whose code is
# still loading shows a skeleton: it counts as an element, and its key is read, but it is not drawn.
ANSWERS = ("[data-testid='stAlert'], [data-testid='stSkeleton'], .js-plotly-plot, [data-testid='stPlotlyChart'], "
           "[data-testid='stDataFrame'], [data-testid='stTable']")
_FIRST_ANSWER = """([box, result]) => {
  if (!box.isConnected) return {state: 'the box was replaced'};
  const own = box.closest('[data-testid="stElementContainer"]') || box;
  const first = [...document.querySelectorAll('[data-testid="stElementContainer"]')].find(c =>
      !c.contains(own) && !own.contains(c) && (own.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING)
      && c.querySelector(__ANSWERS__));
  if (!first) return {state: 'nothing'};
  if (first.querySelector('[data-testid="stAlert"]'))
    return {state: 'message', text: first.innerText.slice(0, 120)};
  const key = [...first.classList].find(c => c.startsWith('st-key-')) || 'an element without a key';
  if (!result || !first.matches(result)) return {state: 'other', key};
  const drawn = first.querySelector('.js-plotly-plot .main-svg, [data-testid="stDataFrame"] canvas, '
                                    + '[data-testid="stTable"] table');
  return {state: drawn ? 'result' : 'loading', key};
}""".replace("__ANSWERS__", json.dumps(ANSWERS))


def first_answer(page, box, result: str | None) -> dict:
    """What follows the box: {'state': 'message' | 'result' | 'loading' | 'other' | 'nothing', ...}."""
    if box.count() != 1:
        return {"state": f"{box.count()} boxes of that name"}
    return page.evaluate(_FIRST_ANSWER, [box.element_handle(), result])


def answer_problem(page, box, result: str | None, allow_message: bool = True,
                   timeout_ms: int = 20_000) -> str | None:
    """None once the first message or chart/table after `box` (a locator) is a message (when
    allow_message) or the drawn element matching `result`; else what came first instead.
    Polled from here, with the box found again each time (a rerun may replace its element)."""
    wanted = {"result", "message"} if allow_message else {"result"}
    deadline = time.monotonic() + timeout_ms / 1000
    while (seen := first_answer(page, box, result))["state"] not in wanted and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    if seen["state"] in wanted:
        return None
    expected = f"a message or {result}" if allow_message else str(result)
    if seen["state"] == "other":
        return f"the first chart or table after the box is {seen['key']}, not {expected}"
    if seen["state"] == "message":
        return f"a message ({seen['text']!r}) instead of {expected}"
    if seen["state"] == "loading":
        return f"{result} never finished drawing"
    return f"nothing answers the box ({seen['state']}): expected {expected} after it"


_TITLES = """sel => [...document.querySelectorAll(sel)].map(c => c.querySelector('.js-plotly-plot'))
                 .filter(gd => gd && gd.layout).map(gd => String(gd.layout.title?.text ?? ''))"""


def title_problem(page, result: str, text: str, timeout_ms: int = 30_000) -> str | None:
    """None once a plotly chart in `result` (a CSS selector) has `text` in its own title."""
    try:
        page.wait_for_function(f"([sel, t]) => ({_TITLES})(sel).some(s => s.includes(t))", arg=[result, text],
                               timeout=timeout_ms)
        return None
    except Exception:
        return f"no chart in {result} has {text!r} in its title (titles: {page.evaluate(_TITLES, result)})"


# A figure, a table or an embedded view as one string, read from the DOM: a plotly chart's title,
# subplot titles, shapes and every trace's data; a table's rendered cells; an iframe's document.
_STATE = """sel => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const gd = el.querySelector('.js-plotly-plot');
  if (gd) {
    if (!gd.data || !gd.querySelector('.main-svg')) return null;
    const strip = s => String(s ?? '').replace(/<\\/?b>/g, '');
    return JSON.stringify({title: strip(gd.layout?.title?.text),
      notes: (gd.layout?.annotations || []).map(a => a.text), shapes: gd.layout?.shapes,
      images: (gd.layout?.images || []).map(i => [i.source, i.opacity]),
      data: gd.data.map(t => [t.type, t.name, t.x, t.y, t.z, t.text, t.source, t.opacity, t.marker?.color])});
  }
  const cells = el.querySelectorAll('[role="gridcell"]');
  if (cells.length) return JSON.stringify([...cells].map(c => c.textContent));
  const frame = el.matches('iframe') ? el : el.querySelector('iframe');
  if (frame) {
    const s = frame.getAttribute('srcdoc') || frame.getAttribute('src') || '';
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    return `${s.length}:${h >>> 0}`;
  }
  return null;
}"""


def state_of(page, selector: str) -> str | None:
    """The drawn state of the chart, table or iframe in `selector`; None when nothing is drawn."""
    return page.evaluate(_STATE, selector)


def change_problem(page, selector: str, act: Callable[[], None], what: str,
                   timeout_ms: int = 15_000) -> str | None:
    """Do `act` (which waits for the rerun); None once the chart/table/iframe in `selector` is
    drawn and differs from before; else a sentence naming `what` was done."""
    target = page.locator(selector).first
    if target.count():
        target.scroll_into_view_if_needed()  # a table draws its rows once it is in view
    try:
        page.wait_for_function(f"sel => ({_STATE})(sel) !== null", arg=selector, timeout=timeout_ms)
    except Exception:
        return f"{what}: nothing drawn in {selector} before"
    before = state_of(page, selector)
    act()
    try:
        page.wait_for_function(f"([sel, b]) => {{ const s = ({_STATE})(sel); return s !== null && s !== b; }}",
                               arg=[selector, before], timeout=timeout_ms)
        return None
    except Exception:
        now = state_of(page, selector)
        return f"{what}: {selector} " + ("is no longer drawn" if now is None else "did not change")


def unchanged_problem(page, selector: str, act: Callable[[], None], what: str) -> str | None:
    """Do `act`; None when the chart in `selector` is drawn and the same as before (a figure that
    must not depend on what was changed)."""
    before = state_of(page, selector)
    act()
    page.wait_for_timeout(300)
    after = state_of(page, selector)
    if before is None or after is None:
        return f"{what}: {selector} is not drawn"
    return None if after == before else f"{what}: {selector} changed, and must not"


# --- acting on widgets --------------------------------------------------------------------------

def slide(page, name: str, key: str = "End", times: int = 1) -> str:
    """Move the slider (or select slider) labelled `name` with the keyboard, wait for the rerun;
    return its new value as the page shows it."""
    # By its aria-label: the slider's accessible name repeats its group's label, so get_by_role's
    # exact name would be the label twice.
    slider = page.locator(f"input[type='range'][aria-label={json.dumps(name)}]")
    slider.focus()
    for _ in range(times):
        slider.press(key)
    wait_for_app(page)
    return slider.get_attribute("aria-valuetext") or slider.input_value()


def choose(page, key: str, option: str) -> None:
    """Pick `option` (its shown text) in the selectbox or multiselect with Streamlit key `key`."""
    box = page.locator(f".st-key-{key} input[role='combobox']")
    box.click()
    if box.get_attribute("aria-expanded") != "true":  # a click on a box that has the focus may not open it
        box.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    if box.get_attribute("aria-expanded") == "true":  # a multiselect stays open after a pick
        box.press("Escape")
    wait_for_app(page)


def good_value_problems(page, box, entry, timeout_ms: int = 30_000) -> list[str]:
    """After a catalogue entry's good value (tests/browser/catalogue.Box): its own result answers
    (not a message, where it has a result), and the expected text shows: in the result's plotly
    title when entry.in_title, else anywhere in the main area."""
    problems = [answer_problem(page, box, entry.result, allow_message=entry.result is None, timeout_ms=timeout_ms)]
    if entry.in_title:
        problems.append(title_problem(page, entry.result, entry.expected, timeout_ms))
    elif not wait_for_text(page, entry.expected, timeout_ms):
        problems.append(f"{entry.expected!r} did not show")
    return [p for p in problems if p]

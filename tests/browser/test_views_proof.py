"""Every view and every slider in chromium, with checks that can fail: each view's own figure or
table shows (a title, axis or caption only that view has), and each slider or choice it offers,
moved once with the keyboard or the mouse, changes that figure (read from the DOM before and after,
tests/browser/checks.py), not only leaves the page without an error.

One page load per page; the text page's views are walked in one session. Sliders on the other
pages: the softmax lab's three, the positional page's five, the image page's two. The Train live
tab's "Steps" slider is moved in test_train_live.py. Comparing inputs of different lengths and the
scratch page's What moves are opened here too.
"""

import functools
import re
from urllib.parse import quote

import pytest

from tests.browser.checks import change_problem, choose, slide, unchanged_problem
from tests.browser.harness import (
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_plots,
    wait_for_text,
)

pytestmark = pytest.mark.browser

# 86 tokens with [CLS] and [SEP]: more than the heatmap's 40-token window and bertviz's 64.
LONG = " ".join(["The quick brown fox jumps over the lazy dog near the river bank."] * 6)


def chart(key: str) -> str:
    return f".st-key-{key}"


def pick_view(page, label: str) -> None:
    page.locator("[data-testid='stRadio'] label").filter(has_text=label).first.click()
    wait_for_app(page)


def title_of(page, key: str) -> str:
    """A plotly chart's title and subplot titles, as drawn (SVG text)."""
    return " | ".join(page.locator(f"{chart(key)} .js-plotly-plot").first.locator(
        ".gtitle, .annotation-text").all_text_contents())


def hover_text(page, where: str, fx: float, fy: float) -> str:
    """The hover label plotly draws with the mouse at (fx, fy) of the plot area (0..1 from the top left)."""
    page.locator(where).first.scroll_into_view_if_needed()
    box = page.locator(f"{where} .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    label = page.locator(f"{where} .hoverlayer .hovertext")
    label.first.wait_for(timeout=5000)
    return " ".join(label.first.locator("text").all_text_contents())


def quiet(page, log) -> list[str]:
    return ((["an exception or the app's guard message on the page"] if failed_on_page(page) else [])
            + [f"console: {e}" for e in log.console_errors] + [f"left the machine: {u}" for u in log.blocked]
            + [f"failed: {u}" for u in log.failed] + [f"dialog: {d}" for d in log.dialogs])


def test_text_views_neuron_table_rollout_compare_combine(browser, app_url):
    """The five text views no browser test opened: each shows its own figure or table, and each
    choice it offers, and the page's layer and head, change what it draws."""
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=neuron&layer=2&head=5")
    wait_for_app(page)
    wait_for_plots(page, 1)
    problems = []

    # Neuron (q·k): how one score is built, for the query and key tokens chosen.
    neuron = chart("text_chart_neuron")
    assert "q∘k for each of the head's 32 dimensions" in title_of(page, "text_chart_neuron")
    assert "softmax over the row of “the”: weight on “cat”" in title_of(page, "text_chart_neuron")
    problems += [
        change_problem(page, neuron, lambda: choose(page, "text_neuron_q", "4: on"), "neuron: query token"),
        change_problem(page, neuron, lambda: choose(page, "text_neuron_k", "6: mat"), "neuron: key token"),
        change_problem(page, neuron, lambda: choose(page, "text_layer", "4"), "neuron: layer"),
        change_problem(page, neuron, lambda: choose(page, "text_head", "0"), "neuron: head"),
    ]
    assert "softmax over the row of “on”: weight on “mat”" in title_of(page, "text_chart_neuron")

    # Head table: one row per head (6 layers x 12 heads, Clark et al.'s statistics); a row opens its heatmap.
    pick_view(page, "Head table")
    grid = page.locator(".st-key-text_table [role='grid']")
    grid.wait_for(state="attached", timeout=60_000)
    assert grid.get_attribute("aria-rowcount") == str(6 * 12 + 1)  # with the header row
    headers = grid.locator("[role='columnheader']").all_text_contents()
    assert headers[:4] == ["layer", "head", "entropy (nats)", "mean distance"], headers
    assert wait_for_text(page, "Clark et al. 2019")
    # The grid is a canvas: click the selection box of its second row (layer 0, head 1). Streamlit's
    # grid draws the header and every row 35 px high; the heatmap's title below proves which row it was.
    canvas = page.locator(".st-key-text_table canvas[data-testid='data-grid-canvas']").bounding_box()
    page.mouse.click(canvas["x"] + 12, canvas["y"] + 35 * 2.5)
    wait_for_app(page)
    page.wait_for_function("() => location.search.includes('view=heatmap')", timeout=30_000)
    wait_for_plots(page, 1)
    assert "layer 0, head 1" in title_of(page, "text_chart_heatmap"), title_of(page, "text_chart_heatmap")

    # Rollout: every layer multiplied up; the same whatever layer is picked, new for a new text.
    pick_view(page, "Rollout")
    rollout = chart("text_chart_rollout")
    wait_for_plots(page, 1)
    assert "Attention rollout: how much each token" in title_of(page, "text_chart_rollout")
    problems += [
        unchanged_problem(page, rollout, lambda: choose(page, "text_layer", "3"), "rollout: layer"),
        change_problem(page, rollout, lambda: type_text(page, "The dog slept because it was tired."), "rollout: text"),
    ]

    # Compare: head A minus head B on a -1..1 scale; layer B and head B change B.
    pick_view(page, "Compare")
    compare = chart("text_chart_compare")
    wait_for_plots(page, 1)
    title = title_of(page, "text_chart_compare")  # head 1: the table's row set it
    assert "A = layer 3 head 1" in title and "B = layer 3 head 2" in title, title
    problems += [
        change_problem(page, compare, lambda: choose(page, "text_cmp_layer", "5"), "compare: layer B"),
        change_problem(page, compare, lambda: choose(page, "text_cmp_head", "7"), "compare: head B"),
    ]
    assert "B = layer 5 head 7" in title_of(page, "text_chart_compare")

    # Combine tokens: the chosen tokens' mean row, in this head and per layer.
    pick_view(page, "Combine tokens")
    combine = chart("text_chart_combine")
    wait_for_plots(page, 1)
    assert "Mean attention of the, dog in layer 3, head 1" in title_of(page, "text_chart_combine")
    problems += [
        change_problem(page, combine, lambda: choose(page, "text_combine", "3: slept"), "combine: a third token"),
        change_problem(page, combine, lambda: choose(page, "text_head", "9"), "combine: head"),
    ]
    assert "Mean attention of the, dog, slept in layer 3, head 9" in title_of(page, "text_chart_combine")
    problems += quiet(page, log)
    assert not [p for p in problems if p], problems


def type_text(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Your text")
    box.fill(text)
    box.press("Control+Enter")
    wait_for_app(page)


def bertviz_tokens(page, not_first: str = "") -> list[str]:
    """The tokens bertviz's head view drew (its d3 SVG, inside the iframe), once the first one is
    not `not_first`: a new srcdoc loads and draws a moment after the rerun."""
    texts = page.frame_locator("[data-testid='stIFrame']").locator("svg text")
    for _ in range(180):  # 90 s: under a busy machine (two test workers) a 1.8 MB srcdoc takes a while
        tokens = texts.all_text_contents()
        if tokens and tokens[0] != not_first:
            return tokens
        page.wait_for_timeout(500)
    return tokens


def test_what_moves_at_512_tokens_names_tokens_and_values_on_hover(browser, app_url):
    """At 512 tokens What moves' two panels are more cells than float32 numbers may carry: each
    value travels as a whole percent, and the hover still names the query, the key and the value."""
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=moves&layer=1&head=2&text={quote('a ' * 700)}")
    wait_for_app(page)
    assert wait_for_text(page, "6 layers × 12 heads, 512 tokens")
    wait_for_plots(page, 2)
    hover = hover_text(page, chart("text_chart_moves"), 0.2 / 512, 1 - 1 / 512)  # a bottom row, the first key
    assert re.search(r"query 5\d\d: (a|\[SEP\])", hover) and "key 0: [CLS]" in hover, hover
    assert re.search(r"weight \d{1,3}%", hover), hover
    assert quiet(page, log) == []


def test_text_page_sliders_on_a_long_input(browser, app_url):
    """On an 86-token input: the heatmap's and What moves' 40-token window sliders, the Lines view's
    threshold and bertviz's 40-token window each change what they draw; the whole matrices' hover
    names both tokens and the weight."""
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=heatmap&layer=1&head=2&text={quote(LONG)}")
    wait_for_app(page)
    wait_for_plots(page, 2)
    assert wait_for_text(page, "6 layers × 12 heads, 86 tokens")
    window = chart("text_chart_heatmap_window")
    assert "queries 0–39, keys 0–39" in title_of(page, "text_chart_heatmap_window")
    problems = [
        change_problem(page, window, lambda: slide(page, "Queries from position", "End"), "window: queries"),
        change_problem(page, window, lambda: slide(page, "Keys from position", "ArrowRight", 5), "window: keys"),
        change_problem(page, chart("text_chart_heatmap"), lambda: choose(page, "text_head", "3"), "heatmap: head"),
    ]
    title = title_of(page, "text_chart_heatmap_window")
    assert "Layer 1, head 3: queries 46–85, keys 5–44" in title, title  # End: the last 40 of 86 tokens
    # the whole 86 x 86 matrix (past 64 x 64, no hover string per cell) still names both tokens
    # and the weight: the last query row ([SEP], position 85) against the first key ([CLS])
    hover = hover_text(page, chart("text_chart_heatmap"), 0.2 / 86, 1 - 0.5 / 86)
    assert "query 85: [SEP]" in hover and "key 0: [CLS]" in hover and "weight 0." in hover, hover

    pick_view(page, "What moves")
    assert wait_for_text(page, "looking against moving, queries 0–39, keys 0–39")
    problems.append(change_problem(page, chart("text_chart_moves_window"),
                                   lambda: slide(page, "Queries from position", "End"), "what moves: window"))
    assert "queries 46–85" in title_of(page, "text_chart_moves_window")
    hover = hover_text(page, chart("text_chart_moves"), 0.2 / 86, 1 - 0.5 / 86)
    assert "query 85: [SEP]" in hover and "key 0: [CLS]" in hover and "weight 0." in hover, hover

    pick_view(page, "Lines")
    wait_for_plots(page, 1)
    assert "Layer 1: lines for weights ≥ 0.1" in title_of(page, "text_chart_lines")
    problems.append(change_problem(page, chart("text_chart_lines"), lambda: slide(page, "Draw weights from", "End"),
                                   "lines: draw weights from"))
    assert "lines for weights ≥ 0.9" in title_of(page, "text_chart_lines")

    pick_view(page, "bertviz")
    first = bertviz_tokens(page)
    assert first[:2] == ["[CLS]", "the"], first[:3]
    problems.append(change_problem(page, "[data-testid='stIFrame']",
                                   lambda: slide(page, "bertviz's 40 tokens, from position", "End"),
                                   "bertviz: token window"))
    assert wait_for_text(page, "bertviz shows tokens 46 to 85 of 86")
    moved = bertviz_tokens(page, not_first="[CLS]")
    assert moved[:2] == ["fox", "jumps"], moved[:3]  # token 46: word 3 of the fourth sentence
    problems += quiet(page, log)
    assert not [p for p in problems if p], problems


# path, figures to wait for, [(slider label, key to press, times, what it must change: a CSS selector)]
PAGE_SLIDERS = [
    ("softmax", 5, [
        ("Temperature T (log scale)", "End", 1, chart("softmax_bars")),
        ("d_k", "Home", 1, chart("softmax_hist")),
        ("Padding tokens", "End", 1, chart("softmax_mask")),
        ("Temperature T for this query (log scale)", "End", 1, chart("softmax_real")),
    ]),
    ("positional", 7, [
        ("positions", "End", 1, chart("pos_heatmap")),
        ("d_model", "ArrowLeft", 1, chart("pos_heatmap")),
        ("offset k", "ArrowRight", 1, chart("pos_rotation")),
        # "position pos" changes only the rotation table, the page's one table (a table without
        # on_select carries no st-key- class to find it by)
        ("position pos", "End", 1, "[data-testid='stMain'] [data-testid='stDataFrame']"),
        ("d (per head)", "End", 1, chart("pos_rope")),
    ]),
    ("image?tab=rollout", 3, [
        ("Overlay opacity", "Home", 1, chart("image_rollout")),
        ("Discard ratio (lowest weights per row dropped)", "End", 1, chart("image_rollout")),
    ]),
]


@pytest.mark.parametrize("path, n_plots, sliders", PAGE_SLIDERS, ids=[p[0].split("?")[0] for p in PAGE_SLIDERS])
def test_every_slider_changes_its_figure(browser, app_url, path, n_plots, sliders):
    page, log = new_page(browser, app_url, viewport=(1400, 1600))
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    wait_for_plots(page, n_plots)
    problems = []
    for label, key, times, target in sliders:
        problems.append(change_problem(page, target, functools.partial(slide, page, label, key, times),
                                       f"{label} ({key} x{times})"))
    problems += quiet(page, log)
    assert not [p for p in problems if p], problems


def test_compare_two_inputs_of_different_lengths_and_the_scratch_pages_what_moves(browser, app_url):
    """Two views issue 13 added that no browser test opened: comparing the same head on inputs of
    different lengths (both heads on one scale, and A − B where the tokens line up), and What moves
    under the scratch page's heatmaps."""
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=compare&layer=2&head=5")
    wait_for_app(page)
    page.locator("[data-testid='stRadio'] label").filter(has_text="another input").first.click()
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Input B (any length: the difference is drawn where the tokens align)")
    box.fill("The cat slept.")
    box.press("Enter")
    wait_for_app(page)
    wait_for_plots(page, 3)
    assert title_of(page, "text_chart_compare_a").startswith("A (13 tokens)")
    assert title_of(page, "text_chart_compare_b").startswith("B (6 tokens)")
    assert "tokens both inputs share, in order" in title_of(page, "text_chart_compare")
    assert wait_for_text(page, "A has 13 tokens and B 6")
    problems = quiet(page, log)

    page.goto(f"{app_url}/scratch")
    wait_for_app(page)
    page.get_by_text("What moves: the head's weights beside what it moves").click()
    page.locator(f"{chart('scratch_moves')} .js-plotly-plot").first.wait_for(timeout=30_000)
    titles = title_of(page, "scratch_moves")
    assert "weights: where it looks" in titles and "what it moves" in titles, titles
    problems += quiet(page, log)
    assert not [p for p in problems if p], problems

"""A classroom at once: N browser sessions type different inputs into one server.

    python -m tests.load.classroom --sessions 30 [--page scratch] [--rounds 3]

Each session is its own browser context (its own Streamlit session). For every input it times
input -> its own answer and chart rendered, and checks the answer is its own (no session sees
another's result). Prints a markdown table row: p50, p95, failures, the server's peak memory.
Not part of `make test`: it measures, it does not assert a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import time
from dataclasses import dataclass

from playwright.async_api import async_playwright

from tests.browser.harness import CHROMIUM_ARGS, chromium_path, serve_app


@dataclass(frozen=True)
class Workload:
    path: str  # url path of the page
    box: str  # accessible name of its text box
    make_input: callable  # session index, round, rng -> text
    expected: callable  # text -> what must appear for that text


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


# Words whole in BERT's vocabulary. The box holds them capitalised; MiniLM lowercases, so the
# lowercase word on the page can only come from the model's tokens of this session's text.
ANIMALS = ("cat dog horse cow sheep goat pig duck goose eagle owl fox wolf bear lion tiger zebra "
           "camel whale shark dolphin frog snake spider rabbit mouse deer monkey parrot turtle").split()


def _sentence(i: int, r: int, rng: random.Random) -> str:
    return f"The {ANIMALS[(i + 7 * r) % len(ANIMALS)].capitalize()} sat near the river bank at dawn."


def _animal(text: str) -> str:
    return text.split()[1].lower()


WORKLOADS = {
    "scratch": Workload("scratch", "Your input", lambda i, r, rng: _word(rng), lambda t: t[::-1]),
    "text": Workload("text", "Your text", _sentence, _animal),
}


async def one_session(browser, url: str, work: Workload, index: int, rounds: int, results: list, errors: list):
    rng = random.Random(index * 1000 + 7)
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
    try:
        await page.goto(f"{url}/{work.path}", timeout=120_000)
        await page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        for r in range(rounds):
            text = work.make_input(index, r, rng)
            want = work.expected(text)
            box = page.get_by_role("textbox", name=work.box)
            await box.fill(text)
            start = time.perf_counter()
            is_area = await box.evaluate("e => e.tagName") == "TEXTAREA"
            await box.press("Control+Enter" if is_area else "Enter")
            await page.wait_for_function(
                """w => document.querySelector('[data-testid="stMain"]').innerText.includes(w)
                       && document.querySelectorAll('.js-plotly-plot .main-svg').length > 0""",
                arg=want, timeout=120_000,
            )
            results.append(time.perf_counter() - start)
    except Exception as err:  # recorded, not raised: the run reports its failures
        errors.append(f"session {index}: {type(err).__name__}: {str(err)[:200]}")
    finally:
        await context.close()


async def main_async(sessions: int, page_name: str, rounds: int) -> dict:
    work = WORKLOADS[page_name]
    results: list[float] = []
    errors: list[str] = []
    with serve_app() as server:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            # Warm the model cache once, as a teacher opening the page before class would.
            await one_session(browser, server.url, work, -1, 1, [], [])
            base_mb = server.peak_rss_mb()
            t0 = time.perf_counter()
            await asyncio.gather(*(one_session(browser, server.url, work, i, rounds, results, errors)
                                   for i in range(sessions)))
            wall = time.perf_counter() - t0
            await browser.close()
        peak_mb = server.peak_rss_mb()
    q = statistics.quantiles(results, n=20) if len(results) >= 2 else [float("nan")] * 19
    return dict(sessions=sessions, page=page_name, inputs=len(results), failures=len(errors),
                p50=statistics.median(results) if results else float("nan"), p95=q[18], wall=wall,
                base_mb=base_mb, peak_mb=peak_mb, errors=errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--page", default="text", choices=sorted(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    r = asyncio.run(main_async(args.sessions, args.page, args.rounds))
    print("| page | sessions | inputs | failures | p50 s | p95 s | wall s | server MB after warm-up | server peak MB |")
    print(f"| {r['page']} | {r['sessions']} | {r['inputs']} | {r['failures']} | {r['p50']:.2f} | "
          f"{r['p95']:.2f} | {r['wall']:.1f} | {r['base_mb']:.0f} | {r['peak_mb']:.0f} |")
    for e in r["errors"][:10]:
        print("  ", e)


if __name__ == "__main__":
    main()

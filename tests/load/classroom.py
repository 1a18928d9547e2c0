"""A classroom at once: N browser sessions type different inputs into one server.

    python -m tests.load.classroom --sessions 30 [--page scratch] [--rounds 3] [--trainer]

Each session is its own browser context (its own Streamlit session). For every input it times
input -> its own answer and chart rendered, and checks the answer is its own (no session sees
another's result). Prints a markdown table row: p50, p95, failures, the server's peak memory.
Not part of `make test`: it measures, it does not assert a speed.

--trainer: on the same server, run the classroom twice: first as above, then again while one
more session trains a model live (from-scratch page, "Train live" tab, Steps slider at 3000, the
"Train a fresh model" button, key train_go). Prints one row each, the ratio of the p95s, how many
training steps ran during the second run, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import string
import time
from dataclasses import dataclass

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


TIMES = "dawn noon dusk night midnight sunrise sunset evening morning".split()


def _sentence(i: int, r: int, rng: random.Random) -> str:
    """Session i's sentence in round r: distinct for every session and round (up to len(TIMES)
    rounds), so no round is answered from the traces of an earlier one."""
    return (f"The {ANIMALS[(i + 7 * r) % len(ANIMALS)].capitalize()} sat near the river bank at "
            f"{TIMES[r % len(TIMES)]}.")


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


async def start_trainer(browser, url: str):
    """One more session that starts a 3000-step live training; returns (context, page)."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
    await page.goto(f"{url}/scratch", timeout=120_000)
    await page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    await page.get_by_role("tab", name="Train live").click()
    slider = page.get_by_role("slider").first  # the Steps slider (the tab's only slider)
    await slider.focus()
    await slider.press("End")  # 3000 steps
    await page.wait_for_timeout(1000)
    await page.get_by_role("button", name="Train a fresh model").click()
    await page.wait_for_function(
        "() => /step \\d+ of 3000/.test(document.querySelector('[data-testid=\"stMain\"]').innerText)",
        timeout=300_000)
    return context, page


async def trainer_step(page) -> int:
    text = await page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').innerText")
    m = re.search(r"step (\d+) of 3000", text)
    return int(m.group(1)) if m else -1


async def classroom(browser, url: str, work: Workload, sessions: int, rounds: int) -> dict:
    results: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(one_session(browser, url, work, i, rounds, results, errors)
                           for i in range(sessions)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(results, n=20) if len(results) >= 2 else [float("nan")] * 19
    return dict(sessions=sessions, inputs=len(results), failures=len(errors),
                p50=statistics.median(results) if results else float("nan"), p95=q[18], wall=wall,
                errors=errors)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


async def main_async(sessions: int, page_name: str, rounds: int, trainer: bool = False) -> dict:
    # here, not at the top: the protocol load test imports this module's inputs on machines
    # without playwright (a GPU machine, benchmarks/on_gpu.sh)
    from playwright.async_api import async_playwright

    work = WORKLOADS[page_name]
    out = dict(page=page_name, sessions=sessions)
    with serve_app() as server:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            # Warm the model cache once, as a teacher opening the page before class would.
            await one_session(browser, server.url, work, -1, 1, [], [])
            out["base_mb"] = server.peak_rss_mb()
            out["load_before"] = loadavg()
            out["plain"] = await classroom(browser, server.url, work, sessions, rounds)
            out["load_plain"] = loadavg()
            if trainer:
                context, page = await start_trainer(browser, server.url)
                step0 = await trainer_step(page)
                out["training"] = await classroom(browser, server.url, work, sessions, rounds)
                out["train_steps"] = (step0, await trainer_step(page))
                out["load_training"] = loadavg()
                await context.close()
            await browser.close()
        out["peak_mb"] = server.peak_rss_mb()
    return out


def row(r: dict, label: str, out: dict) -> str:
    return (f"| {out['page']} | {label} | {r['sessions']} | {r['inputs']} | {r['failures']} | {r['p50']:.2f} | "
            f"{r['p95']:.2f} | {r['wall']:.1f} | {out['base_mb']:.0f} | {out['peak_mb']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--page", default="text", choices=sorted(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trainer", action="store_true",
                    help="run the classroom again while one more session trains live (3000 steps)")
    args = ap.parse_args()
    out = asyncio.run(main_async(args.sessions, args.page, args.rounds, args.trainer))
    print("| page | live training | sessions | inputs | failures | p50 s | p95 s | wall s "
          "| server MB after warm-up | server peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(row(out["plain"], "none", out))
    if "training" in out:
        print(row(out["training"], "one session, 3000 steps", out))
        ratio = out["training"]["p95"] / out["plain"]["p95"]
        s0, s1 = out["train_steps"]
        print(f"\np95 with training / without: {ratio:.2f}. Training steps during the second run: "
              f"{s0} -> {s1}.")
    print(f"Load average (1, 5, 15 min): before {out['load_before']}, after the first run "
          f"{out['load_plain']}" + (f", after the second {out['load_training']}" if "training" in out else ""))
    for r in (out.get("plain", {}), out.get("training", {})):
        for e in r.get("errors", [])[:10]:
            print("  ", e)


if __name__ == "__main__":
    main()

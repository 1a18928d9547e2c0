"""Does the server's memory stay bounded over many interactions?

    python -m benchmarks.soak --interactions 500                    # the app as it ships
    python -m benchmarks.soak --interactions 500 --config shipped nogc

One headless chromium page per config on the text page: every third interaction is a new
sentence, the others change the head. The shared trace cache keeps every trace up to its byte
budget, and benchmarks.interaction_cost.sentence repeats after 112 sentences (336 interactions):
memory grows with the cache until then, and a leak would show as a climb after it. The configs take turns, as in benchmarks.interaction_cost. Every `--every`
interactions it reads the server's resident memory (VmRSS, /proc/<pid>/status) once the server
is idle. Prints a markdown table of RSS against interactions, and the growth over the second
half of the run, where a leak would show as a steady climb and a bounded heap as a plateau.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.interaction_cost import (
    CONFIGS,
    _head_act,
    _server_with,
    _text_act,
    _text_open,
    machine,
    wait_idle,
)
from tests.browser.harness import new_page, open_browser


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def interact(page, i: int) -> None:
    if i % 3 == 0:
        _text_act(page, 2000 + i)  # a sentence not used by the warm-up
    else:
        _head_act(page, i)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interactions", type=int, default=500)
    ap.add_argument("--every", type=int, default=50, help="read RSS every N interactions")
    ap.add_argument("--config", nargs="+", default=["shipped"], choices=list(CONFIGS))
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[tuple[int, dict[str, float]]] = []
    with ExitStack() as stack:
        servers = {c: stack.enter_context(_server_with(CONFIGS[c])) for c in args.config}
        p = stack.enter_context(sync_playwright())
        browser = open_browser(p)
        stack.callback(browser.close)
        pages = {}
        for c, server in servers.items():
            page, _ = new_page(browser, server.url)
            _text_open(page, server.url)
            pages[c] = page
        for server in servers.values():
            wait_idle(server.pid)
        rows.append((0, {c: rss_mb(s.pid) for c, s in servers.items()}))
        t0 = time.monotonic()
        for i in range(1, args.interactions + 1):
            for c in servers:
                interact(pages[c], i)
            if i % args.every == 0 or i == args.interactions:
                for s in servers.values():
                    wait_idle(s.pid)
                rows.append((i, {c: rss_mb(s.pid) for c, s in servers.items()}))
                print(f"  {i} interactions, {time.monotonic() - t0:.0f} s: "
                      + ", ".join(f"{c} {v:.0f} MB" for c, v in rows[-1][1].items()), flush=True)
        peak = {c: servers[c].peak_rss_mb() for c in servers}
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    print(f"\nServer memory over {args.interactions} interactions on the text page, {started}, {machine()}.")
    print(f"Load average (1, 5, 15 min) before: {' '.join(load_before)}; after: {' '.join(load_after)}.\n")
    print("| interactions | " + " | ".join(f"{c} RSS (MB)" for c in args.config) + " |")
    print("|---|" + "---|" * len(args.config))
    for i, mb in rows:
        print(f"| {i} | " + " | ".join(f"{mb[c]:.0f}" for c in args.config) + " |")
    half = min(rows, key=lambda r: abs(r[0] - args.interactions / 2))
    print("| peak (VmHWM) | " + " | ".join(f"{peak[c]:.0f}" for c in args.config) + " |")
    for c in args.config:
        print(f"- {c}: {half[1][c]:.0f} MB after {half[0]} interactions, {rows[-1][1][c]:.0f} MB after "
              f"{rows[-1][0]}: {rows[-1][1][c] - half[1][c]:+.0f} MB over the second half.")


if __name__ == "__main__":
    main()

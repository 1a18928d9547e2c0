"""What each page sends the browser on every run: the bytes of its figures' JSON, page by page.

    python -m benchmarks.page_bytes [--pages text image ...]

Streamlit sends every element of a page on every run of it (a slider move, a head change), so a
page's figures cross the network once per click per student: 30 students on one classroom
access point multiply it by 30. Each page is opened headless (streamlit.testing.v1.AppTest,
the page's defaults, the bundled models) and its plotly charts' JSON specs are counted; the
rest of a run (text, widgets) is small beside them. A measurement, not a test.
"""

from __future__ import annotations

import argparse

PAGES = ["lesson", "scratch", "softmax", "dimensions", "positional", "text", "image"]


def page_bytes(page: str) -> dict[str, int]:
    """{chart key: bytes of its JSON spec} on the first view of app_pages/<page>.py."""
    from tests.apptest_helpers import open_page

    at = open_page(f"app_pages/{page}.py")
    return {node.key: len(node.proto.spec) for node in at.get("plotly_chart")}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", nargs="+", choices=PAGES, default=PAGES)
    args = ap.parse_args(argv)
    print("| page | figures | kB of figure JSON per run | largest |\n|---|---|---|---|")
    for page in args.pages:
        sizes = page_bytes(page)
        key, largest = max(sizes.items(), key=lambda kv: kv[1], default=("-", 0))
        print(f"| {page} | {len(sizes)} | {sum(sizes.values()) / 1000:.0f} | {key} ({largest / 1000:.0f} kB) |",
              flush=True)


if __name__ == "__main__":
    main()

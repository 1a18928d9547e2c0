"""bertviz's own head and model views as HTML that draws offline and never runs typed text.

bertviz builds its HTML from `head_view.js` / `model_view.js` with the data pasted in as
`json.dumps(params)` (twice: the template marker also sits in a comment), and loads require.js,
d3 and jQuery from cdnjs. Two fixes, applied to the HTML bertviz returns:

- The scripts come from `static/vendor/`, copied there by `make` from the npm packages pinned in
  package.json, and served by Streamlit at /app/static/vendor/. Missing: the CDN stays, with a note.
- json.dumps leaves "<", ">" and "&" as they are, so a token "</script><script>alert(1)" would
  close bertviz's script block and open its own. The data line is rewritten with those three
  characters as \\u escapes: the same JSON value, nothing the HTML parser can see as a tag.
  (bertviz then puts tokens on the page with d3's .text(), which never parses HTML.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from viz.trace import AttentionTrace

ROOT = Path(__file__).resolve().parents[1]
VENDOR_DIR = ROOT / "static" / "vendor"
VENDOR_URL = "/app/static/vendor"
# file served locally -> (what bertviz's HTML loads from the CDN, local URL; require.js paths drop ".js")
VENDOR = {
    "require.js": ("https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js", f"{VENDOR_URL}/require.js"),
    "d3.min.js": ("https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min", f"{VENDOR_URL}/d3.min"),
    "jquery.min.js": ("https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min", f"{VENDOR_URL}/jquery.min"),
}
MAX_TOKENS = 40  # bertviz sends every weight as text: 1.85 MB for its views at 64 tokens, 0.7 MB at 40
DECIMALS = 3  # weights are rounded for bertviz, which shows them as line opacity anyway
_MARKER = "const params = "
_TAIL = " is a template marker that is replaced by actual params."
_MID = "; // HACK: "


class BertvizError(ValueError):
    """The input cannot be shown in bertviz's views; the message says why."""


def vendor_available(vendor_dir: Path = VENDOR_DIR) -> bool:
    return all((vendor_dir / name).is_file() for name in VENDOR)


def _escape_json(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def make_inert(html: str) -> str:
    """Rewrite bertviz's `const params = <json>; // HACK: <json> is ...` line so no "<" survives.

    The JSON has no newline (json.dumps without indent) and appears twice on that one line, so
    its exact text is recovered from the line's length. Raises if the line is not as expected.
    """
    lines = html.split("\n")
    for n, line in enumerate(lines):
        start = line.find(_MARKER)
        if start < 0 or not line.endswith(_TAIL):
            continue
        body = line[start + len(_MARKER): len(line) - len(_TAIL)]  # json; // HACK: json
        size = (len(body) - len(_MID)) // 2
        data, mid, again = body[:size], body[size:size + len(_MID)], body[size + len(_MID):]
        if mid != _MID or data != again:
            break
        json.loads(data)  # it must be the JSON we think it is
        lines[n] = line[:start] + _MARKER + _escape_json(data) + ";"
        return "\n".join(lines)
    raise BertvizError("bertviz's HTML did not have the expected data line; its version may have changed.")


def bertviz_html(trace: AttentionTrace, view: str = "head", layer: int = 0, local: bool | None = None,
                 start: int = 0) -> tuple[str, list[str]]:
    """bertviz's `head_view` or `model_view` of a trace, as inert HTML. Returns (html, notes).

    `local`: load the scripts from /app/static/vendor (default: when they are installed). Inputs
    longer than MAX_TOKENS are shown as the window of MAX_TOKENS tokens from `start` (as queries
    and as keys), with a note that says so: bertviz writes every weight into the page as text.
    """
    import torch
    from bertviz import head_view, model_view

    if view not in ("head", "model"):
        raise BertvizError(f"bertviz view must be 'head' or 'model', got {view!r}")
    T = len(trace.query_tokens)
    notes = []
    window = slice(0, T)
    if T > MAX_TOKENS:
        start = min(max(int(start), 0), T - MAX_TOKENS)
        window = slice(start, start + MAX_TOKENS)
        notes.append(f"bertviz shows tokens {start} to {window.stop - 1} of {T}, as queries and as keys: it writes "
                     f"every weight into the page as text, so it gets a window of {MAX_TOKENS}. A row's weights "
                     "to keys outside the window are left out, so rows may sum to less than 1.")
    rounded = np.round(trace.weights[:, :, window, window].astype(np.float64), DECIMALS)  # (L, H, W, W)
    attention = [torch.from_numpy(rounded[i:i + 1]) for i in range(trace.n_layers)]  # L x (1, H, W, W)
    tokens = list(trace.query_tokens[window])
    pair = trace.meta.get("pair_start")
    pair = pair - window.start if pair is not None and window.start < pair < window.stop else None
    if view == "head":
        html = head_view(attention, tokens, sentence_b_start=pair, layer=layer, html_action="return").data
    else:
        html = model_view(attention, tokens, sentence_b_start=pair, html_action="return").data
    html = make_inert(html)
    if local is None:
        local = vendor_available()
    if local:
        for cdn, url in VENDOR.values():
            html = html.replace(cdn, url)
    else:
        notes.append(
            "bertviz's scripts (require.js, d3, jQuery) are not installed locally, so this view loads "
            "them from cdnjs and stays blank without internet. Run `make run` (it installs them with npm)."
        )
    return html, notes

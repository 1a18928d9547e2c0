"""No view of the text page sends more than 1 MB at the model's longest input (~510 tokens).

The bytes are those of the page's elements as Streamlit serialises them for the browser (each
element's protobuf, figures' JSON included), the page's input box and controls with them: what a
student's browser receives when it opens that view.
"""

import pytest

from tests.apptest_helpers import assert_clean, open_page
from viz.ui.text_ui import VIEWS

pytestmark = pytest.mark.slow
WORDS = "the cat sat on a mat while rain fell over quiet hills and old friends spoke softly".split()
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(508))  # 510 tokens with [CLS] and [SEP]
BUDGET = 1_000_000


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def page_bytes(at) -> int:
    return sum(n.proto.ByteSize() for n in _nodes(at._tree) if hasattr(getattr(n, "proto", None), "ByteSize"))


def test_every_text_view_at_510_tokens_sends_at_most_1_mb():
    at = open_page("app_pages/text.py")
    at.text_area(key="text_text").set_value(LONG).run()
    assert_clean(at)
    assert any("510 tokens" in c.value for c in at.caption), [c.value for c in at.caption][:3]
    sizes = {}
    for view in VIEWS:
        at.radio(key="text_view").set_value(view).run()
        assert_clean(at)
        sizes[view] = page_bytes(at)
    assert sizes["model"] > 100_000  # the measure sees the figures (the model grid is one PNG)
    over = {v: n for v, n in sizes.items() if n > BUDGET}
    assert not over, sizes
